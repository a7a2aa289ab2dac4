"""What a :class:`~supportkit.typing.DeskStore` implementation needs besides the protocol.

``SqliteStore`` and the ``supportkit-postgres`` plugin are built from these, and a store for
another database uses them the same way, so every store refuses the same things with the
same errors and keeps the same JSON:

- **checks** before anything is written: :func:`check_batch` (only events of the ticket),
  :func:`check_version` (the compare-and-set of ``append`` and ``commit``),
  :func:`check_article_append` (an article log's version and fold);
- **the errors of a refused commit**: :func:`duplicate_message` (the channel message id was
  already ingested) and :func:`alert_conflict` (an SLA alert key was already recorded), both
  :class:`~supportkit.ConcurrencyError`;
- **JSON of snapshots**: :func:`ticket_to_dict` and :func:`ticket_from_dict`;
- **search**: :func:`query_terms` (how ``search_articles`` terms are made from a query),
  :func:`check_search` (the terms and ``k`` a ``search_articles`` accepts),
  :func:`article_text` (the plain text of an article body that a store indexes and takes
  snippets from) and :data:`SNIPPET_WORDS` (about how many words a hit's snippet has);
- **the session stream**: :func:`check_sessions` (what ``append_sessions`` accepts),
  :func:`since_epoch` (the ``since`` of ``session_events``) and :func:`redacted_session` (a
  session event as ``redact_sessions`` rewrites it);
- **plugin state**: :data:`STATE_PRUNE_BATCH` (how many expired entries a state write may
  drop on the way);
- **moving data**: :func:`export_lines` / :func:`import_lines` (every record of a store as JSON
  Lines and back, as ``supportkit export`` / ``import`` do) and :func:`event_runs` (a global
  log as per-ticket runs to append);
- **batches**: :class:`PendingCommits`, a batch's commits checked at once and held back to be
  written together (a statement per table), as both built-in stores do inside ``batch()``;
- :class:`MemorySidecar`, the desk's extras in process memory around a plain
  :class:`~supportkit.typing.EventStore` (what the desk wraps such a store in; handy in tests).

``supportkit.testing.stores.DeskStoreContract`` is the test suite a store must pass.
"""

from __future__ import annotations

from ._deskstore import (
    STATE_PRUNE_BATCH,
    MemorySidecar,
    PendingCommits,
    alert_conflict,
    duplicate_message,
    event_runs,
    ticket_from_dict,
    ticket_to_dict,
)
from ._kbhtml import article_text
from ._knowledge import SNIPPET_WORDS, check_article_append, check_search, query_terms
from ._selfservice import check_sessions, redacted_session, since_epoch
from ._store import check_batch, check_version
from ._transfer import export_lines, import_lines

__all__ = [
    "SNIPPET_WORDS",
    "STATE_PRUNE_BATCH",
    "MemorySidecar",
    "PendingCommits",
    "alert_conflict",
    "article_text",
    "check_article_append",
    "check_batch",
    "check_search",
    "check_sessions",
    "check_version",
    "duplicate_message",
    "event_runs",
    "export_lines",
    "import_lines",
    "query_terms",
    "redacted_session",
    "since_epoch",
    "ticket_from_dict",
    "ticket_to_dict",
]
