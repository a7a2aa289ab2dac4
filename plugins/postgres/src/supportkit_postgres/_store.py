"""``PostgresStore``: the full :class:`~supportkit.typing.DeskStore` in one PostgreSQL schema."""

from __future__ import annotations

import itertools
import json
import logging
import re
import select
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
from psycopg import errors, sql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from supportkit import (
    ArticleEvent,
    ArticleHit,
    Commit,
    ConfigurationError,
    InboundMessage,
    OutboxMessage,
    SessionEvent,
    StoreError,
    Ticket,
    TicketEvent,
)
from supportkit.storekit import (
    SNIPPET_WORDS,
    STATE_PRUNE_BATCH,
    PendingCommits,
    alert_conflict,
    article_text,
    check_article_append,
    check_batch,
    check_search,
    check_sessions,
    check_version,
    duplicate_message,
    event_runs,
    query_terms,
    redacted_session,
    since_epoch,
    ticket_from_dict,
    ticket_to_dict,
)

__all__ = ["MIGRATIONS", "PostgresStore"]

log = logging.getLogger("supportkit_postgres")

T = TypeVar("T")

_SYNCHRONOUS_COMMIT = {"full": "on", "normal": "off"}

_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _plain_text_index(cur: psycopg.Cursor[Any]) -> None:
    """Index each published article's body as plain text (``article_text``), no longer its
    Markdown, so a snippet's only ``**`` are its match highlights: the indexed bodies are
    rebuilt from the article log."""
    rows = cur.execute(
        "SELECT s.article_id, e.body FROM article_search s JOIN article_events e"
        " ON e.article_id = s.article_id ORDER BY s.article_id, e.version"
    ).fetchall()
    for article_id, found in itertools.groupby(rows, key=lambda row: row[0]):
        log = [ArticleEvent.from_dict(json.loads(body)) for _, body in found]
        article = check_article_append(article_id, log, [], len(log))
        if article is not None:
            text = article_text(article.body)
            cur.execute(
                "UPDATE article_search SET body = %s, doc = setweight(to_tsvector(cfg, title),"
                " 'A') || setweight(to_tsvector(cfg, %s), 'B') WHERE article_id = %s",
                (text, text, article_id),
            )


#: A migration step: an SQL statement, or a function run on the migrating transaction's cursor.
Step = str | Callable[[psycopg.Cursor[Any]], None]

#: Schema migrations in order; after migration *n* (1-based) ``supportkit_schema.version`` is n.
MIGRATIONS: tuple[tuple[Step, ...], ...] = (
    (  # 1: the log, message index, snapshots, outbox, due index, alerts, meta
        "CREATE TABLE streams (ticket_id text PRIMARY KEY, version integer NOT NULL,"
        " seq bigserial NOT NULL)",
        "CREATE TABLE events (seq bigserial PRIMARY KEY, ticket_id text NOT NULL,"
        " version integer NOT NULL, event_id text NOT NULL UNIQUE, body text NOT NULL,"
        " UNIQUE (ticket_id, version))",
        "CREATE TABLE messages (channel text NOT NULL, message_id text NOT NULL,"
        " ticket_id text NOT NULL, PRIMARY KEY (channel, message_id))",
        "CREATE TABLE snapshots (ticket_id text PRIMARY KEY, version integer NOT NULL,"
        " body text NOT NULL)",
        "CREATE TABLE outbox (key text PRIMARY KEY, ticket_id text NOT NULL, topic text NOT NULL,"
        " payload text NOT NULL, status text NOT NULL DEFAULT 'pending',"
        " attempts integer NOT NULL DEFAULT 0, next_attempt_at bigint NOT NULL,"
        " last_error text, created_at bigint NOT NULL, delivered_at bigint,"
        " seq bigserial NOT NULL)",
        "CREATE INDEX outbox_due ON outbox (next_attempt_at, created_at) WHERE status = 'pending'",
        "CREATE TABLE due (ticket_id text PRIMARY KEY, due_at bigint NOT NULL)",
        "CREATE INDEX due_at ON due (due_at, ticket_id)",
        "CREATE TABLE alerts (ticket_id text NOT NULL, key text NOT NULL,"
        " PRIMARY KEY (ticket_id, key))",
        "CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL)",
    ),
    (  # 2: plugin state with expiry, claims on the due index
        "CREATE TABLE plugin_state (namespace text NOT NULL, key text NOT NULL,"
        " value text NOT NULL, expires_at bigint, PRIMARY KEY (namespace, key))",
        "CREATE INDEX plugin_state_expiry ON plugin_state (expires_at)"
        " WHERE expires_at IS NOT NULL",
        "ALTER TABLE due ADD COLUMN claimed_until bigint",
    ),
    (  # 3: the knowledge base: the article log, published articles under full-text search
        "CREATE TABLE article_events (seq bigserial PRIMARY KEY, article_id text NOT NULL,"
        " version integer NOT NULL, body text NOT NULL, UNIQUE (article_id, version))",
        "CREATE TABLE article_search (article_id text PRIMARY KEY, locale text NOT NULL,"
        " area text, tags text[] NOT NULL, title text NOT NULL, body text NOT NULL,"
        " cfg regconfig NOT NULL, doc tsvector NOT NULL)",
        "CREATE INDEX article_search_doc ON article_search USING gin (doc)",
    ),
    (  # 4: the self-service session stream (help-centre searches and views)
        "CREATE TABLE session_events (seq bigserial PRIMARY KEY, at bigint NOT NULL,"
        " customer text, body text NOT NULL)",
        "CREATE INDEX session_events_at ON session_events (at)",
        "CREATE INDEX session_events_customer ON session_events (customer)",
    ),
    (_plain_text_index,),  # 5: article bodies indexed as plain text, not Markdown
)

# PostgreSQL's stemming configurations by language subtag; other locales use 'simple'.
_TEXT_SEARCH = {
    "da": "danish",
    "de": "german",
    "en": "english",
    "es": "spanish",
    "fi": "finnish",
    "fr": "french",
    "hu": "hungarian",
    "it": "italian",
    "nb": "norwegian",
    "nl": "dutch",
    "no": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sv": "swedish",
    "tr": "turkish",
}
#: Every text search configuration an article can have (its locale's, else ``simple``).
_CONFIGS = tuple(sorted({*_TEXT_SEARCH.values(), "simple"}))

_OUTBOX_COLUMNS = (
    "key, topic, ticket_id, payload, created_at, status, attempts, next_attempt_at, last_error,"
    " delivered_at"
)

# The outbox columns of a claimed row, as they were before the claim moved next_attempt_at.
_CLAIMED_COLUMNS = ", ".join(
    "taken.due" if name == "next_attempt_at" else f"outbox.{name}"
    for name in _OUTBOX_COLUMNS.split(", ")
)

# Errors after which the transaction surely rolled back and may be run again.
_RETRYABLE = (errors.SerializationFailure, errors.DeadlockDetected)
_ATTEMPTS = 3

_IDLE = psycopg.pq.TransactionStatus.IDLE

#: At most this many plugin state entries a batch reads ahead (see PostgresStore.batch).
_HOT = 64


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# Rows of a bulk statement travel as one JSON array of arrays, read back by the statement with
# ``json_array_elements`` (``r->>n`` a column as text, ``(r->n)::text`` a JSON document
# exactly as encoded here): the encoder writes the whole array in C, where psycopg dumps a
# list parameter element by element in Python (a sixth of a batch's CPU time in the desk
# process with a column per array; cProfile, 10,000 messages in batches of 100).
_ROWS = "json_array_elements(%s::json) AS r"


def _outbox_row(row: tuple[Any, ...]) -> OutboxMessage:
    key, topic, ticket_id, payload, created, status, attempts, next_at, error, delivered = row
    return OutboxMessage(
        key=key,
        topic=topic,
        ticket_id=ticket_id,
        payload=json.loads(payload),
        created_at=created,
        status=status,
        attempts=attempts,
        next_attempt_at=next_at,
        last_error=error,
        delivered_at=delivered,
    )


def _check(conn: psycopg.Connection[Any]) -> None:
    """The pool's health check before each use: free while the connection is quiet.

    An idle connection has nothing to read; if it has (the server said it is shutting the
    session down, or closed it), a real round trip decides, and a dead one is replaced.
    """
    if conn.closed or select.select([conn.fileno()], [], [], 0)[0]:
        ConnectionPool.check_connection(conn)


class _Conflict(Exception):
    """Raised inside a commit's transaction to roll it back; carries the error to raise."""

    def __init__(self, error: StoreError) -> None:
        self.error = error


class _Batch:
    """The transaction of an open :meth:`PostgresStore.batch` block on one thread."""

    def __init__(self, cur: psycopg.Cursor[Any]) -> None:
        self.cur = cur
        self.broken: BaseException | None = None  # what ended the transaction early
        # Commits held back until the batch writes them together (see PostgresStore._hold);
        # its versions are those of the stream rows this batch has locked.
        self.pending = PendingCommits()
        # Whether the store has a published article, read once per batch (None: not yet).
        self.articles: bool | None = None
        # What PostgresStore._read_ahead learned and took for the messages of the batch:
        # message ids and their tickets (indexed before the batch, or by a held commit of
        # it), ids it claimed (rows with an empty ticket id, filled in by ``named`` when a
        # held commit uses them, deleted at the end if none does), and stream rows it created
        # at version 0 (deleted at the end if still at 0).
        self.indexed: dict[tuple[str, str], str] = {}
        self.claimed: set[tuple[str, str]] = set()
        self.named: list[tuple[str, str, str]] = []
        self.created: set[str] = set()
        # Plugin state entries this batch read or wrote: (value as JSON text, expires_at), or
        # None where there is no row; each read once, then answered from here (see
        # PostgresStore.state_get), with how often each was asked for.
        self.state: dict[tuple[str, str], tuple[str, int | None] | None] = {}
        self.asked: dict[tuple[str, str], int] = {}


_KEPT = re.compile(r"(\d+) dead row versions cannot be removed yet")


def _vacuum_full(cur: psycopg.Cursor[Any]) -> int:
    """``VACUUM FULL`` the tables an erasure rewrites (the session stream's too, which
    ``redact_sessions`` rewrote just before); return how many dead row versions it had to keep
    (``VERBOSE`` reports them; 0 if the server's messages are not in English)."""
    details: list[str] = []

    def note(diagnostic: psycopg.errors.Diagnostic) -> None:
        details.append(diagnostic.message_detail or "")

    cur.connection.add_notice_handler(note)
    try:
        cur.execute("VACUUM (FULL, VERBOSE) events, messages, snapshots, outbox, session_events")
    finally:
        cur.connection.remove_notice_handler(note)
    return sum(int(found.group(1)) for d in details if (found := _KEPT.search(d)))


class PostgresStore:
    """A :class:`~supportkit.typing.DeskStore` in PostgreSQL: every desk on the database shares
    one event log, message index, snapshots, due index, outbox, settings and plugin state.

    *url* is a libpq connection string (``postgresql://user@host:5432/db``); *schema* the
    PostgreSQL schema holding the tables (created if missing). Connections come from a
    ``psycopg_pool`` pool of *min_size* to *max_size* connections; a connection is checked
    before use when *check* is true. Every write is one transaction at ``READ COMMITTED`` whose
    version check is a row-version compare-and-set on the ticket's stream row; outbox and due
    claims use ``FOR UPDATE SKIP LOCKED``. A dropped connection is retried on a fresh one
    where that is safe; otherwise a :class:`~supportkit.StoreError` names the operation.
    ``durability="full"`` (the default, ``synchronous_commit=on``): an acknowledged write
    survives a crash of the database server; ``"normal"`` (``synchronous_commit=off``, like
    SQLite's ``normal``): it survives the application being killed, and a server crash may
    lose the last fraction of a second of acknowledged writes (never half of one).

    :meth:`wait_for_work` blocks until another process adds outbox rows or due entries
    (``LISTEN``/``NOTIFY``) or a timeout passes; the desk's worker uses it between rounds.
    """

    def __init__(
        self,
        url: str,
        *,
        schema: str = "supportkit",
        min_size: int = 1,
        max_size: int = 4,
        timeout: float = 30.0,
        check: bool = True,
        durability: str = "full",
    ) -> None:
        if not isinstance(url, str) or not url:
            raise ConfigurationError(
                "the postgres store needs a url, e.g. store_options={'url': "
                "'postgresql://user@127.0.0.1:5432/db'}"
            )
        if not isinstance(schema, str) or not _SCHEMA_NAME.fullmatch(schema):
            raise ConfigurationError(
                f"schema must be a lower-case PostgreSQL identifier (letters, digits, _), "
                f"got {schema!r}"
            )
        if not all(type(size) is int for size in (min_size, max_size)) or min_size < 1:
            raise ConfigurationError(
                f"pool sizes must be whole numbers >= 1, got {min_size!r} and {max_size!r}"
            )
        if type(timeout) not in (int, float) or not 0 < timeout < float("inf"):
            raise ConfigurationError(
                f"timeout must be a number of seconds above 0, got {timeout!r}"
            )
        if not isinstance(check, bool):
            raise ConfigurationError(f"check must be true or false, got {check!r}")
        if max_size < min_size:
            raise ConfigurationError(f"max_size {max_size} is below min_size {min_size}")
        if durability not in _SYNCHRONOUS_COMMIT:
            raise ConfigurationError(
                f"durability must be 'full' (synchronous_commit=on: an acknowledged write "
                f"survives a database server crash) or 'normal' (synchronous_commit=off: it "
                f"survives the application being killed), got {durability!r}"
            )
        self.durability = durability
        self.url = url
        try:
            conninfo_to_dict(url)
        except psycopg.Error as exc:
            raise ConfigurationError(
                f"url {self._where()!r} is not a PostgreSQL URL "
                f"(postgresql://user@host:5432/db) or libpq connection string: {exc}"
            ) from None
        self.schema = schema
        self.channel = f"supportkit_{schema}"
        self._listener: psycopg.Connection[Any] | None = None
        self._listen_lock = threading.Lock()
        self._local = threading.local()  # .batch: this thread's open batch() transaction
        # Plugin state entries the last batch asked for more than once (see batch()).
        self._hot: list[tuple[str, str]] = []
        self._pool = ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            kwargs={
                "options": f"-c search_path={schema}"
                f" -c synchronous_commit={_SYNCHRONOUS_COMMIT[durability]}",
                "autocommit": True,
                # No server-side prepared statements: a pipeline aborted by a failed check
                # would leave psycopg believing in statements the server never prepared.
                "prepare_threshold": None,
            },
            check=_check if check else None,
            open=False,
            name=f"supportkit-{schema}",
        )
        try:
            self._pool.open(wait=True, timeout=timeout)
        except PoolTimeout as exc:
            self._pool.close()
            raise StoreError(
                f"cannot connect to PostgreSQL at {self._where()} within {timeout} s "
                f"(is the server up and the login allowed?): {exc}{self._why(timeout)}"
            ) from exc
        try:
            self._migrate()
        except BaseException:
            self._pool.close()
            raise

    # --- plumbing ------------------------------------------------------------------------------

    def _where(self) -> str:
        # Never print a password: neither user:password@ nor password=... (a URL's query
        # parameter or a key=value connection string).
        where = re.sub(r"//([^:@/]*):[^@/]*@", r"//\1:***@", self.url)
        return re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^&\s]*)", r"\1***", where)

    def _why(self, timeout: float) -> str:
        """The reason one direct connection attempt fails (the pool only logs its own), as
        ``"; last error: ..."``; empty if it succeeds."""
        try:
            psycopg.connect(self.url, connect_timeout=max(1, min(round(timeout), 5))).close()
        except psycopg.Error as exc:
            return f"; last error: {' '.join(str(exc).split())}"
        return ""

    def _fail(self, exc: BaseException, what: str, note: str = "") -> StoreError:
        return StoreError(f"PostgreSQL store {self._where()}: {what} failed{note}: {exc}")

    def _run(
        self,
        what: str,
        body: Callable[[psycopg.Cursor[Any]], T],
        *,
        replay: bool = True,
        write: bool = True,
        sent: bool = False,
        flush: bool = True,
    ) -> T:
        """Run *body* in one transaction on a pooled connection.

        A serialization failure or deadlock is retried, and so is a lost connection before
        COMMIT was sent (the transaction surely rolled back). A connection lost during
        COMMIT leaves the outcome unknown: retried only when *replay* says running *body*
        again is harmless, else a StoreError saying so. Inside :meth:`batch`, *body* runs in
        the batch's transaction instead (see :meth:`_in_batch`).
        """
        batch: _Batch | None = getattr(self._local, "batch", None)
        if batch is not None:
            return self._in_batch(batch, what, body, write=write, flush=flush)
        for attempt in range(1, _ATTEMPTS + 1):
            committing = sent
            try:
                # Pool connections are in autocommit mode: a read is one statement, a write
                # is BEGIN ... COMMIT sent here, so a failure is known to be before or during
                # COMMIT.
                with self._pool.connection() as conn, conn.cursor() as cur:
                    if not write:
                        return body(cur)
                    cur.execute("BEGIN")
                    try:
                        result = body(cur)
                        committing = True
                        cur.execute("COMMIT")
                    except BaseException:
                        if not conn.broken and not committing:
                            cur.execute("ROLLBACK")
                        raise
                return result
            except _Conflict as conflict:
                raise conflict.error from None
            except PoolClosed as exc:  # an OperationalError, but no connection was lost
                raise StoreError(
                    f"PostgreSQL store {self._where()}: {what} on a closed store (after "
                    "close(); open a new PostgresStore)"
                ) from exc
            except _RETRYABLE as exc:
                if attempt == _ATTEMPTS:
                    raise self._fail(exc, what, f" after {attempt} attempts") from exc
                log.info("%s: %s; retrying", what, exc)
            except (psycopg.OperationalError, PoolTimeout) as exc:
                if committing and not replay:
                    raise self._fail(
                        exc,
                        what,
                        " (the connection was lost while committing: the outcome is unknown,"
                        " re-read before retrying)",
                    ) from exc
                if attempt == _ATTEMPTS:
                    raise self._fail(exc, what, f" after {attempt} attempts") from exc
                log.warning("%s: connection lost (%s); retrying on a fresh connection", what, exc)
            except psycopg.Error as exc:
                raise self._fail(exc, what) from exc
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _in_batch(
        self,
        batch: _Batch,
        what: str,
        body: Callable[[psycopg.Cursor[Any]], T],
        *,
        write: bool,
        flush: bool,
    ) -> T:
        """Run *body* in the open batch's transaction: a write in a savepoint (a refused write
        undoes itself only; a serialization failure or deadlock retries it), a read as it is.
        First the batch's held commits are written, unless *flush* is false (a read of what
        they do not touch).

        Anything else that fails ends the transaction: the batch is over and none of it is
        written (its exit raises too).
        """
        if flush or write:
            self._flush(batch)
        if batch.broken is not None:
            raise self._fail(batch.broken, what, " (the batch was rolled back before)")
        if write:
            batch.pending.forget()  # the body may move versions: lock and read them again
            batch.state.clear()  # and plugin state (a state write prunes expired entries)
        cur = batch.cur
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                if not write:  # a read, or a pipeline that keeps its own savepoint
                    return body(cur)
                cur.execute("SAVEPOINT write")
                try:
                    result = body(cur)
                    cur.execute("RELEASE SAVEPOINT write")
                except BaseException:
                    if not cur.connection.broken:
                        cur.execute("ROLLBACK TO SAVEPOINT write")
                        cur.execute("RELEASE SAVEPOINT write")
                    raise
                return result
            except _Conflict as conflict:
                raise conflict.error from None
            except _RETRYABLE as exc:
                if attempt == _ATTEMPTS:
                    batch.broken = exc
                    raise self._fail(exc, what, f" after {attempt} attempts") from exc
                log.info("%s: %s; retrying", what, exc)
            except psycopg.Error as exc:
                batch.broken = exc
                raise self._fail(
                    exc, what, " (the batch was rolled back: nothing of it was written)"
                ) from exc
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    @contextmanager
    def batch(self, messages: Sequence[InboundMessage] = ()) -> Iterator[None]:
        """One transaction on one pooled connection for this thread's operations inside the
        block, each write a savepoint in it; see :meth:`~supportkit.typing.DeskStore.batch`.
        With *messages*, what their ingest looks up is read and claimed at once (see
        :meth:`_read_ahead`).

        Rows the block writes stay locked until it ends, so keep blocks short (a few hundred
        commits): another process writing the same ticket or message id waits for them.
        """
        if getattr(self._local, "batch", None) is not None:
            yield  # joins the outer block
            return
        committing = False
        try:
            with self._pool.connection() as conn, conn.cursor() as cur:
                batch = self._local.batch = _Batch(cur)
                try:
                    if messages:
                        self._read_ahead(batch, messages)  # BEGIN goes with it
                    else:
                        cur.execute("BEGIN")
                    yield
                    committing = True
                    self._flush(batch, last=True)  # and COMMIT, in one round trip
                except BaseException:
                    if not conn.broken and conn.info.transaction_status != _IDLE:
                        cur.execute("ROLLBACK")  # (none open if COMMIT failed)
                    raise
                finally:
                    self._local.batch = None
                    # Entries the batch asked for more than once, for the next one to read
                    # ahead (a hint: what it reads is the truth).
                    self._hot = [name for name, n in batch.asked.items() if n > 1][:_HOT]
        except (psycopg.OperationalError, PoolTimeout) as exc:
            note = (
                " (the connection was lost while committing: the outcome is unknown, re-read"
                " before retrying)"
                if committing
                else " (nothing of it was written)"
            )
            raise self._fail(exc, "batch", note) from exc
        except psycopg.Error as exc:
            raise self._fail(exc, "batch", " (nothing of it was written)") from exc

    def _read_ahead(self, batch: _Batch, messages: Sequence[InboundMessage]) -> None:
        """In one round trip at the start of a batch: claim the message ids of *messages*
        (rows with an empty ticket id: a concurrent ingest of one waits for this batch, as it
        waits for a held commit's row), read which of them and of their references are
        indexed already, and lock the stream rows of the tickets they name (created at
        version 0 where missing), so their ingests need no query of their own. Keys and
        tickets go in sorted order, so batches claiming overlapping rows do not deadlock.
        """
        own = sorted({(m.channel, m.message_id) for m in messages})
        keys = sorted({*own, *((m.channel, r) for m in messages for r in m.references)})
        tickets = sorted({t for m in messages for t in (m.ticket_hint, m.ticket_id) if t})
        hot = self._hot
        conn = batch.cur.connection
        try:
            with conn.pipeline():
                batch.cur.execute("BEGIN")
                claim, found, streams = conn.cursor(), conn.cursor(), conn.cursor()
                articles, state = conn.cursor(), conn.cursor()
                claim.execute(
                    "INSERT INTO messages (channel, message_id, ticket_id) SELECT r->>0, r->>1,"
                    f" '' FROM {_ROWS} ON CONFLICT DO NOTHING RETURNING channel, message_id",
                    (_dumps(own),),
                )
                found.execute(
                    "SELECT channel, message_id, ticket_id FROM messages WHERE ticket_id <> ''"
                    f" AND (channel, message_id) IN (SELECT r->>0, r->>1 FROM {_ROWS})",
                    (_dumps(keys),),
                )
                streams.execute(
                    "INSERT INTO streams (ticket_id, version) SELECT t, 0 FROM"
                    " json_array_elements_text(%s::json) AS t ON CONFLICT (ticket_id)"
                    " DO UPDATE SET version = streams.version RETURNING ticket_id, version,"
                    " xmax = 0",
                    (_dumps(tickets),),
                )
                # What search_articles and state_get would each ask once in the batch.
                articles.execute("SELECT EXISTS (SELECT 1 FROM article_search)")
                if hot:
                    state.execute(
                        "SELECT namespace, key, value, expires_at FROM plugin_state WHERE"
                        f" (namespace, key) IN (SELECT r->>0, r->>1 FROM {_ROWS})",
                        (_dumps(hot),),
                    )
            batch.claimed.update((c, m) for c, m in claim.fetchall())
            batch.indexed.update(((c, m), t) for c, m, t in found.fetchall())
            for ticket_id, version, created in streams.fetchall():
                batch.pending.versions[ticket_id] = int(version)
                if created:
                    batch.created.add(ticket_id)
            batch.articles = bool(articles.fetchone()[0])  # type: ignore[index]
            if hot:
                batch.state.update(dict.fromkeys(hot))  # no row
                batch.state.update(((n, k), (v, e)) for n, k, v, e in state.fetchall())
        except psycopg.Error as exc:
            batch.broken = exc
            raise self._fail(exc, "batch", " (nothing of it was written)") from exc

    def _release(self, batch: _Batch, message: tuple[str, str] | None, ticket_id: str) -> None:
        """Give up the batch's claims on *message* and on *ticket_id*'s stream row before a
        write that inserts them itself (a commit written directly, a recorded message id)."""
        if message in batch.claimed:
            batch.claimed.discard(message)
            batch.cur.execute(
                "DELETE FROM messages WHERE channel = %s AND message_id = %s AND ticket_id = ''",
                message,
            )
        if ticket_id in batch.created and batch.pending.versions.get(ticket_id, 0) == 0:
            batch.created.discard(ticket_id)
            batch.pending.versions.pop(ticket_id, None)
            batch.cur.execute(
                "DELETE FROM streams WHERE ticket_id = %s AND version = 0", (ticket_id,)
            )

    @staticmethod
    def _unclaim(batch: _Batch) -> None:
        """At the end of a batch (in its last pipeline): delete the message ids and stream rows
        it claimed and did not use (see :meth:`_read_ahead`)."""
        cur = batch.cur
        if batch.claimed:
            cur.execute(
                "DELETE FROM messages WHERE ticket_id = '' AND (channel, message_id) IN"
                f" (SELECT r->>0, r->>1 FROM {_ROWS})",
                (_dumps(sorted(batch.claimed)),),
            )
        if batch.created:
            cur.execute(
                "DELETE FROM streams WHERE version = 0 AND ticket_id IN"
                " (SELECT json_array_elements_text(%s::json))",
                (_dumps(sorted(batch.created)),),
            )

    def _flush(self, batch: _Batch, *, last: bool = False) -> None:
        """Write the batch's held commits, a statement per table in one round trip (their
        message ids and stream rows are in already: see :meth:`_hold`); a failure ends the
        batch. *last*: the batch ends; what it claimed and did not use goes, and COMMIT is
        sent in the same round trip."""
        pending = batch.pending
        if batch.broken is not None:
            if last:
                raise self._fail(batch.broken, "batch", " (nothing of it was written)")
            return
        if not pending and not last:
            return
        cur = batch.cur
        try:
            with cur.connection.pipeline():
                if pending:
                    self._write_held(batch)
                if last:
                    self._unclaim(batch)
                    cur.execute("COMMIT")
        except psycopg.Error as exc:
            batch.broken = exc
            note = " (the batch was rolled back: nothing of it was written)"
            if last and isinstance(exc, psycopg.OperationalError):
                note = (
                    " (the connection was lost while committing: the outcome is unknown,"
                    " re-read before retrying)"
                )
            raise self._fail(exc, "batch", note) from exc
        pending.written()

    def _write_held(self, batch: _Batch) -> None:
        """Send the statements that write the held commits (inside :meth:`_flush`'s pipeline)."""
        pending = batch.pending
        named, batch.named = batch.named, []
        # Stream rows the read-ahead created (in ticket id order) take their place in the order
        # of creation (streams.seq) when their ticket's first events are written.
        fresh = [t for t in pending.streams if t in batch.created]
        batch.created.difference_update(fresh)
        cur = batch.cur
        due = [(t, at) for t, at in pending.due.items() if at is not None]
        gone = [t for t, at in pending.due.items() if at is None]
        outbox = list(pending.outbox.values())
        cur.execute(
            "INSERT INTO events (ticket_id, version, event_id, body) SELECT r->>0,"
            f" (r->>1)::integer, r->>2, (r->3)::text FROM {_ROWS}",
            (_dumps([(t, n, e.id, e.to_dict()) for t, n, e in pending.events]),),
        )
        cur.execute(
            "UPDATE streams SET version = (r->>1)::integer FROM"
            f" {_ROWS} WHERE streams.ticket_id = r->>0",
            (_dumps(list(pending.streams.items())),),
        )
        if fresh:
            cur.execute(
                "UPDATE streams SET seq = s.seq FROM (SELECT t, nextval("
                "pg_get_serial_sequence('streams', 'seq')) AS seq FROM"
                " json_array_elements_text(%s::json) WITH ORDINALITY AS v(t, n) ORDER BY n)"
                " AS s WHERE streams.ticket_id = s.t",
                (_dumps(fresh),),
            )
        if named:
            cur.execute(
                f"UPDATE messages SET ticket_id = r->>2 FROM {_ROWS}"
                " WHERE (channel, message_id) = (r->>0, r->>1)",
                (_dumps(named),),
            )
        if pending.snapshots:
            cur.execute(
                "INSERT INTO snapshots (ticket_id, version, body) SELECT r->>0,"
                f" (r->>1)::integer, (r->2)::text FROM {_ROWS} ON CONFLICT (ticket_id)"
                " DO UPDATE SET version = excluded.version, body = excluded.body",
                (
                    _dumps(
                        [(t, k.version, ticket_to_dict(k)) for t, k in pending.snapshots.items()]
                    ),
                ),
            )
        if gone:
            cur.execute("DELETE FROM due WHERE ticket_id = ANY(%s)", (gone,))
        if due:
            cur.execute(
                f"INSERT INTO due (ticket_id, due_at) SELECT r->>0, (r->>1)::bigint FROM {_ROWS}"
                " ON CONFLICT (ticket_id) DO UPDATE SET due_at = excluded.due_at,"
                " claimed_until = NULL",
                (_dumps(due),),
            )
        if outbox:
            self._insert_outbox(cur, outbox)
        if outbox or due:
            cur.execute("SELECT pg_notify(%s, '')", (self.channel,))

    def _query(
        self, what: str, query: str, params: Sequence[Any] = (), *, flush: bool = True
    ) -> list[Any]:
        def body(cur: psycopg.Cursor[Any]) -> list[Any]:
            return cur.execute(query, params).fetchall()

        return self._run(what, body, write=False, flush=flush)

    def _migrate(self) -> None:
        def run(cur: psycopg.Cursor[Any]) -> None:
            # One migrator at a time per schema, across processes (a transaction lock).
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.channel,))
            cur.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
            )
            cur.execute("CREATE TABLE IF NOT EXISTS supportkit_schema (version integer NOT NULL)")
            row = cur.execute("SELECT version FROM supportkit_schema").fetchone()
            if row is None:
                cur.execute("INSERT INTO supportkit_schema (version) VALUES (0)")
            current = 0 if row is None else int(row[0])
            if current > len(MIGRATIONS):
                raise _Conflict(
                    StoreError(
                        f"PostgreSQL schema {self.schema!r} has supportkit schema version "
                        f"{current} but this supportkit-postgres knows versions up to "
                        f"{len(MIGRATIONS)}: upgrade supportkit-postgres"
                    )
                )
            for number, statements in enumerate(MIGRATIONS[current:], current + 1):
                for step in statements:
                    if callable(step):
                        step(cur)
                    else:
                        cur.execute(step)
                cur.execute("UPDATE supportkit_schema SET version = %s", (number,))

        self._run("schema migration", run)

    @property
    def schema_version(self) -> int:
        """The schema's supportkit version (``supportkit_schema.version``)."""
        return int(self._query("schema version", "SELECT version FROM supportkit_schema")[0][0])

    def close(self) -> None:
        """Close the pool and the listening connection (idempotent)."""
        with self._listen_lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
        self._pool.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"PostgresStore({self._where()!r}, schema={self.schema!r}, "
            f"durability={self.durability!r})"
        )

    # --- wake-ups ------------------------------------------------------------------------------

    def wait_for_work(self, timeout: float) -> bool:
        """Block until a commit adds outbox rows or due entries (``NOTIFY`` from any process)
        or *timeout* seconds pass; ``True`` if woken by a notification.

        Polling stays the fallback: the caller works after every return either way. A lost
        listening connection is reopened on the next call (and this one just waits).
        """
        with self._listen_lock:
            try:
                if self._listener is None or self._listener.closed:
                    self._listener = psycopg.connect(self.url, autocommit=True)
                    self._listener.execute(
                        sql.SQL("LISTEN {}").format(sql.Identifier(self.channel))
                    )
                listener = self._listener
                for _ in listener.notifies(timeout=timeout, stop_after=1):
                    return True
                return False
            except psycopg.Error as exc:
                log.warning("LISTEN connection failed (%s); polling instead", exc)
                if self._listener is not None:
                    self._listener.close()
                    self._listener = None
        threading.Event().wait(timeout)
        return False

    # --- EventStore ----------------------------------------------------------------------------

    @staticmethod
    def _insert_events(
        cur: psycopg.Cursor[Any], ticket_id: str, events: Sequence[TicketEvent], at: int
    ) -> None:
        cur.execute(
            "INSERT INTO events (ticket_id, version, event_id, body)"
            f" SELECT %s, (r->>0)::integer, r->>1, (r->2)::text FROM {_ROWS}",
            (ticket_id, _dumps([(n, e.id, e.to_dict()) for n, e in enumerate(events, at + 1)])),
        )

    @staticmethod
    def _advance(cur: psycopg.Cursor[Any], ticket_id: str, expected: int, count: int) -> bool:
        """Compare-and-set the ticket's version from *expected* to *expected + count*; the
        stream row stays locked until the transaction ends. False if the version was stale."""
        if expected == 0:
            if count == 0:
                found = cur.execute(
                    "SELECT 1 FROM streams WHERE ticket_id = %s", (ticket_id,)
                ).fetchone()
                return found is None
            cur.execute(
                "INSERT INTO streams (ticket_id, version) VALUES (%s, %s)"
                " ON CONFLICT (ticket_id) DO NOTHING",
                (ticket_id, count),
            )
        else:
            cur.execute(
                "UPDATE streams SET version = version + %s WHERE ticket_id = %s AND version = %s",
                (count, ticket_id, expected),
            )
        return cur.rowcount == 1

    @staticmethod
    def _version(cur: psycopg.Cursor[Any], ticket_id: str) -> int:
        row = cur.execute(
            "SELECT version FROM streams WHERE ticket_id = %s", (ticket_id,)
        ).fetchone()
        return 0 if row is None else int(row[0])

    def _stale(self, cur: psycopg.Cursor[Any], ticket_id: str, expected: int) -> _Conflict:
        try:
            check_version(ticket_id, expected, self._version(cur, ticket_id))
        except StoreError as error:
            return _Conflict(error)
        raise AssertionError("a stale version compared equal")  # pragma: no cover

    def append(
        self, ticket_id: str, events: Sequence[TicketEvent], *, expected_version: int
    ) -> int:
        """Append *events* at *expected_version* in one transaction; see ``EventStore``."""
        events = list(events)
        check_batch(ticket_id, events)
        check_version(ticket_id, expected_version, expected_version)  # refuses bad numbers

        def run(cur: psycopg.Cursor[Any]) -> int:
            if not self._advance(cur, ticket_id, expected_version, len(events)):
                raise self._stale(cur, ticket_id, expected_version)
            if events:
                self._insert_events(cur, ticket_id, events, expected_version)
            return expected_version + len(events)

        # A lost COMMIT is not replayed: the retry would see its own append as a conflict.
        return self._run(f"append to ticket {ticket_id}", run, replay=False)

    def read(self, ticket_id: str, *, after: int = 0) -> list[TicketEvent]:
        """Return the ticket's events after version *after*, in log order."""
        rows = self._query(
            f"read ticket {ticket_id}",
            "SELECT body FROM events WHERE ticket_id = %s AND version > %s ORDER BY version",
            (ticket_id, after),
        )
        return [TicketEvent.from_dict(json.loads(body)) for (body,) in rows]

    def version(self, ticket_id: str) -> int:
        """Return the ticket's version (0 if unknown)."""
        batch: _Batch | None = getattr(self._local, "batch", None)
        if batch is not None and ticket_id in batch.pending.versions:
            return batch.pending.versions[ticket_id]  # its rows may be held back
        rows = self._query(
            f"version of ticket {ticket_id}",
            "SELECT version FROM streams WHERE ticket_id = %s",
            (ticket_id,),
            flush=False,  # a ticket with held rows is in pending.versions
        )
        return int(rows[0][0]) if rows else 0

    def ticket_ids(self) -> list[str]:
        """Return every ticket id in order of creation."""
        return [
            t for (t,) in self._query("ticket ids", "SELECT ticket_id FROM streams ORDER BY seq")
        ]

    def read_all(self, *, batch: int = 2000) -> Iterator[TicketEvent]:
        """Yield every committed event in global append order, *batch* rows at a time."""
        seq = 0
        while True:
            rows = self._query(
                "read all events",
                "SELECT seq, body FROM events WHERE seq > %s ORDER BY seq LIMIT %s",
                (seq, batch),
            )
            for seq, body in rows:  # noqa: B007 - seq carries over to the next page
                yield TicketEvent.from_dict(json.loads(body))
            if len(rows) < batch:
                return

    # --- DeskStore -----------------------------------------------------------------------------

    def commit(self, commit: Commit) -> int:
        """Write *commit* in one transaction; see :class:`~supportkit.typing.DeskStore`.

        The transaction is sent as one pipeline (one round trip): the checks are constraint
        violations in the database (message id, stream version, alert keys), so a failed
        check aborts the transaction before its COMMIT, and the error says which one.
        """
        check_batch(commit.ticket_id, commit.events)
        check_version(commit.ticket_id, commit.expected_version, commit.expected_version)
        batch: _Batch | None = getattr(self._local, "batch", None)
        if batch is not None and commit.events and not commit.alerts:
            if batch.broken is not None:
                raise self._fail(batch.broken, "commit", " (the batch was rolled back before)")
            return self._hold(batch, commit)
        ticket_id = commit.ticket_id
        expected = commit.expected_version
        count = len(commit.events)
        alerts = list(dict.fromkeys(commit.alerts))
        if batch is not None and batch.broken is None:
            self._flush(batch)  # it may name a claimed message or created stream row
            self._release(batch, commit.message, ticket_id)

        def statements(cur: psycopg.Cursor[Any]) -> None:
            if commit.message is not None:
                cur.execute(
                    "INSERT INTO messages (channel, message_id, ticket_id) VALUES (%s, %s, %s)",
                    (*commit.message, ticket_id),
                )
            if expected == 0 and count:
                cur.execute(
                    "INSERT INTO streams (ticket_id, version) VALUES (%s, %s)", (ticket_id, count)
                )
            elif expected == 0:  # nothing to append to a ticket that must not exist
                cur.execute(
                    "SELECT 1 / (1 - count(*)) FROM streams WHERE ticket_id = %s", (ticket_id,)
                )
            else:  # compare-and-set; a stale version divides by zero
                cur.execute(
                    "WITH moved AS (UPDATE streams SET version = version + %s"
                    " WHERE ticket_id = %s AND version = %s RETURNING 1)"
                    " SELECT 1 / count(*) FROM moved",
                    (count, ticket_id, expected),
                )
            if alerts:
                cur.execute(
                    "INSERT INTO alerts (ticket_id, key) SELECT %s, unnest(%b::text[])",
                    (ticket_id, alerts),
                )
            if commit.events:
                self._insert_events(cur, ticket_id, commit.events, expected)
            if commit.snapshot is not None:
                cur.execute(
                    "INSERT INTO snapshots (ticket_id, version, body) VALUES (%s, %s, %s)"
                    " ON CONFLICT (ticket_id) DO UPDATE SET version = excluded.version,"
                    " body = excluded.body",
                    (ticket_id, commit.snapshot.version, _dumps(ticket_to_dict(commit.snapshot))),
                )
            if commit.keep_due:
                pass
            elif commit.due is None:
                cur.execute("DELETE FROM due WHERE ticket_id = %s", (ticket_id,))
            else:
                cur.execute(
                    "INSERT INTO due (ticket_id, due_at) VALUES (%s, %s) ON CONFLICT (ticket_id)"
                    " DO UPDATE SET due_at = excluded.due_at, claimed_until = NULL",
                    (ticket_id, commit.due),
                )
            if commit.outbox:
                self._insert_outbox(cur, commit.outbox)
            if commit.outbox or (commit.due is not None and not commit.keep_due):
                cur.execute("SELECT pg_notify(%s, '')", (self.channel,))

        def conflict(cur: psycopg.Cursor[Any], exc: psycopg.Error) -> StoreError | None:
            """The ConcurrencyError a failed check stands for (None: a real error)."""
            constraint = exc.diag.constraint_name
            if isinstance(exc, errors.UniqueViolation) and constraint == "messages_pkey":
                owner = cur.execute(
                    "SELECT ticket_id FROM messages WHERE channel = %s AND message_id = %s",
                    commit.message,
                ).fetchone()
                actual = self._version(cur, ticket_id)
                return duplicate_message(commit, owner[0] if owner else "?", actual)
            stale = isinstance(exc, errors.DivisionByZero) or (
                isinstance(exc, errors.UniqueViolation) and constraint == "streams_pkey"
            )
            if stale:
                return self._stale(cur, ticket_id, expected).error
            if isinstance(exc, errors.UniqueViolation) and constraint == "alerts_pkey":
                return alert_conflict(commit, expected)
            return None

        # A commit that consumes a message id may be replayed after a lost COMMIT: if the
        # first one landed, the replay finds the message and reports it as a duplicate.
        self._pipeline(
            f"commit to ticket {ticket_id}", statements, conflict, replay=commit.message is not None
        )
        if batch is not None and ticket_id in batch.pending.versions:
            batch.pending.versions[ticket_id] = expected + count  # still locked, now moved
        return expected + count

    @staticmethod
    def _insert_outbox(cur: psycopg.Cursor[Any], rows: Sequence[OutboxMessage]) -> None:
        """Add outbox messages; a key already there keeps its row."""
        cur.execute(
            "INSERT INTO outbox (key, ticket_id, topic, payload, next_attempt_at, created_at)"
            " SELECT r->>0, r->>1, r->>2, (r->3)::text, (r->>4)::bigint, (r->>5)::bigint"
            f" FROM {_ROWS} ON CONFLICT (key) DO NOTHING",
            (
                _dumps(
                    [
                        (m.key, m.ticket_id, m.topic, dict(m.payload), m.due_at(), m.created_at)
                        for m in rows
                    ]
                ),
            ),
        )

    def _hold(self, batch: _Batch, commit: Commit) -> int:
        """Check *commit* inside the batch and hold its rows back for :meth:`_flush`.

        What the checks need is settled at once, in one round trip: the message id is
        inserted (``ON CONFLICT DO NOTHING``: a concurrent ingest of the same id waits for
        this batch, or this one for it) and, on the batch's first commit to the ticket, its
        stream row is locked (or created) for the rest of the batch and its version read.
        A refused commit takes both back and holds nothing. Where the batch's read-ahead
        claimed the message id and locked the stream row already, no query is needed.
        """
        pending = batch.pending
        ticket_id = commit.ticket_id
        known = pending.versions.get(ticket_id)
        claimed = commit.message in batch.claimed
        conn = batch.cur.connection
        asked = None if claimed else commit.message  # the message id to insert, if any
        ask = asked is not None
        try:
            if ask or known is None:  # else the read-ahead settled both: no round trip
                with conn.pipeline():
                    if asked is not None:
                        inserted = conn.cursor()
                        inserted.execute(
                            "INSERT INTO messages (channel, message_id, ticket_id)"
                            " VALUES (%s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
                            (*asked, ticket_id),
                        )
                    if known is None:
                        stream = conn.cursor()
                        stream.execute(
                            "INSERT INTO streams (ticket_id, version) VALUES (%s, 0)"
                            " ON CONFLICT (ticket_id) DO UPDATE SET version = streams.version"
                            " RETURNING version, xmax = 0",
                            (ticket_id,),
                        )
            fresh = not ask or inserted.fetchone() is not None
            actual, created = known or 0, False
            if known is None:
                row = stream.fetchone()
                assert row is not None
                actual, created = int(row[0]), bool(row[1])
            if not fresh or actual != commit.expected_version:
                if fresh and ask:
                    batch.cur.execute(
                        "DELETE FROM messages WHERE channel = %s AND message_id = %s",
                        commit.message,
                    )
                if created:
                    batch.cur.execute("DELETE FROM streams WHERE ticket_id = %s", (ticket_id,))
                else:
                    pending.versions[ticket_id] = actual  # locked, whatever happens next
                if not fresh:
                    owner = batch.cur.execute(
                        "SELECT ticket_id FROM messages WHERE channel = %s AND message_id = %s",
                        commit.message,
                    ).fetchone()
                    raise duplicate_message(commit, owner[0] if owner else "?", actual)
                check_version(ticket_id, commit.expected_version, actual)
        except psycopg.Error as exc:
            batch.broken = exc
            raise self._fail(
                exc,
                f"commit to ticket {ticket_id}",
                " (the batch was rolled back: nothing of it was written)",
            ) from exc
        pending.versions[ticket_id] = actual
        if commit.message is not None:
            pending.owners[commit.message] = None  # inserted above: add() records it held
        version = pending.add(commit)
        if commit.message is not None:
            batch.indexed[commit.message] = ticket_id
            if claimed:
                batch.claimed.discard(commit.message)
                batch.named.append((*commit.message, ticket_id))
        return version

    def _pipeline(
        self,
        what: str,
        statements: Callable[[psycopg.Cursor[Any]], None],
        conflict: Callable[[psycopg.Cursor[Any], psycopg.Error], StoreError | None],
        *,
        replay: bool,
    ) -> None:
        """Send BEGIN, *statements* and COMMIT as one pipeline (inside :meth:`batch`: a
        savepoint and its release); a statement that fails aborts the transaction (the
        savepoint), and ``conflict`` turns its error into the error to raise."""

        # Inside batch() the statements are a savepoint of the batch's transaction.
        nested = getattr(self._local, "batch", None) is not None
        begin, end, undo = (
            (
                "SAVEPOINT pipeline",
                "RELEASE SAVEPOINT pipeline",
                ("ROLLBACK TO SAVEPOINT pipeline", "RELEASE SAVEPOINT pipeline"),
            )
            if nested
            else ("BEGIN", "COMMIT", ("ROLLBACK",))
        )

        def run(cur: psycopg.Cursor[Any]) -> None:
            conn = cur.connection
            try:
                with conn.pipeline():
                    cur.execute(begin)
                    statements(cur)
                    cur.execute(end)
            except psycopg.Error as exc:
                if conn.broken or isinstance(exc, psycopg.OperationalError):
                    raise
                for statement in undo:
                    cur.execute(statement)
                if isinstance(exc, _RETRYABLE):
                    raise
                error = conflict(cur, exc)
                if error is None:
                    raise
                raise _Conflict(error) from None

        # Everything, COMMIT included, is sent at once: a lost connection has an unknown
        # outcome (committing=True), so only a replayable body is retried after one.
        self._run(what, run, replay=replay, write=False, sent=True)

    def message_ticket(self, channel: str, message_id: str) -> str | None:
        """The ticket a channel message id belongs to, or ``None``."""
        batch: _Batch | None = getattr(self._local, "batch", None)
        if batch is not None:  # what the batch read ahead or wrote itself
            key = (channel, message_id)
            if key in batch.indexed:
                return batch.indexed[key]
            if key in batch.claimed:
                return None  # not indexed before the batch, and only it may index it now
        rows = self._query(
            "message lookup",
            "SELECT ticket_id FROM messages WHERE channel = %s AND message_id = %s",
            (channel, message_id),
            flush=False,  # a batch inserts message ids at once, never holds them back
        )
        return str(rows[0][0]) if rows else None

    def record_message(self, channel: str, message_id: str, ticket_id: str) -> None:
        """Index a message id outside a commit; an id already indexed keeps its ticket."""
        batch: _Batch | None = getattr(self._local, "batch", None)

        def run(cur: psycopg.Cursor[Any]) -> None:
            if batch is not None:
                self._release(batch, (channel, message_id), "")
            cur.execute(
                "INSERT INTO messages (channel, message_id, ticket_id) VALUES (%s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                (channel, message_id, ticket_id),
            )

        self._run("message index", run)

    def snapshot(self, ticket_id: str) -> Ticket | None:
        """The latest stored snapshot of the ticket, or ``None``."""
        rows = self._query(
            f"snapshot of ticket {ticket_id}",
            "SELECT body FROM snapshots WHERE ticket_id = %s",
            (ticket_id,),
        )
        return ticket_from_dict(json.loads(rows[0][0])) if rows else None

    def due(self, until: int, *, limit: int = 500) -> list[tuple[str, int]]:
        """``(ticket_id, due)`` pairs due by *until*, earliest (then by id) first."""
        rows = self._query(
            "due index",
            "SELECT ticket_id, due_at FROM due WHERE due_at <= %s"
            " ORDER BY due_at, ticket_id LIMIT %s",
            (until, limit),
        )
        return [(str(ticket_id), int(due)) for ticket_id, due in rows]

    def claim_due(self, until: int, *, now: int, limit: int, lease: int) -> list[tuple[str, int]]:
        """Take unclaimed due entries (``FOR UPDATE SKIP LOCKED``) and hold them until
        ``now + lease``; concurrent tickers get disjoint entries."""

        def run(cur: psycopg.Cursor[Any]) -> list[tuple[str, int]]:
            rows = cur.execute(
                "UPDATE due SET claimed_until = %s WHERE ticket_id IN (SELECT ticket_id FROM due"
                " WHERE due_at <= %s AND (claimed_until IS NULL OR claimed_until <= %s)"
                " ORDER BY due_at, ticket_id LIMIT %s FOR UPDATE SKIP LOCKED)"
                " RETURNING ticket_id, due_at",
                (now + lease, until, now, limit),
            ).fetchall()
            return sorted(((str(t), int(d)) for t, d in rows), key=lambda r: (r[1], r[0]))

        return self._run("due index claim", run)

    def release_due(self, ticket_ids: Sequence[str]) -> None:
        """End the claims on these tickets' due entries."""
        if ticket_ids:
            self._run(
                "due index release",
                lambda cur: cur.execute(
                    "UPDATE due SET claimed_until = NULL WHERE ticket_id = ANY(%s)",
                    (list(ticket_ids),),
                ),
            )

    def alerts(self, ticket_id: str) -> frozenset[str]:
        """The SLA alert keys already emitted for the ticket."""
        rows = self._query(
            f"alerts of ticket {ticket_id}",
            "SELECT key FROM alerts WHERE ticket_id = %s",
            (ticket_id,),
        )
        return frozenset(key for (key,) in rows)

    def claim_outbox(self, now: int, *, limit: int, lease: int) -> list[OutboxMessage]:
        """Lease due pending messages (``FOR UPDATE SKIP LOCKED``): concurrent deliverers
        get disjoint messages; an expired lease is taken over."""

        def run(cur: psycopg.Cursor[Any]) -> list[OutboxMessage]:
            rows = cur.execute(
                f"WITH taken AS (SELECT key, next_attempt_at AS due FROM outbox"
                f" WHERE status = 'pending' AND next_attempt_at <= %s"
                f" ORDER BY next_attempt_at, created_at LIMIT %s FOR UPDATE SKIP LOCKED)"
                f" UPDATE outbox SET next_attempt_at = %s FROM taken WHERE outbox.key = taken.key"
                f" RETURNING {_CLAIMED_COLUMNS}",
                (now, limit, now + lease),
            ).fetchall()
            messages = [_outbox_row(row) for row in rows]
            return sorted(messages, key=lambda m: (m.due_at(), m.created_at))

        return self._run("outbox claim", run)

    def settle_outbox(
        self,
        at: int,
        delivered: Sequence[str] = (),
        failed: Sequence[tuple[str, str, int | None]] = (),
        deferred: Sequence[tuple[str, str, int]] = (),
    ) -> None:
        """Record delivery attempts in one transaction; see ``DeskStore.settle_outbox``."""

        def run(cur: psycopg.Cursor[Any]) -> None:
            if delivered:
                cur.execute(
                    "UPDATE outbox SET status = 'delivered', attempts = attempts + 1,"
                    " delivered_at = %s WHERE key = ANY(%s)",
                    (at, list(delivered)),
                )
            for key, error, retry in failed:
                cur.execute(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = %s,"
                    " status = CASE WHEN %s::bigint IS NULL THEN 'dead' ELSE 'pending' END,"
                    " next_attempt_at = COALESCE(%s, next_attempt_at) WHERE key = %s",
                    (error, retry, retry, key),
                )
            for key, error, retry in deferred:  # no attempt counted: the receiver said when
                cur.execute(
                    "UPDATE outbox SET last_error = %s, next_attempt_at = %s WHERE key = %s",
                    (error, retry, key),
                )

        if delivered or failed or deferred:
            self._run("outbox settlement", run)

    def outbox(self, status: str | None = None) -> list[OutboxMessage]:
        """Every outbox message (of one status if given), oldest first."""
        rows = self._query(
            "outbox listing",
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE %s::text IS NULL OR status = %s"
            " ORDER BY created_at, seq",
            (status, status),
        )
        return [_outbox_row(row) for row in rows]

    def prune_outbox(self, before: int) -> int:
        """Delete the messages delivered before *before*; return how many (dead letters stay)."""

        def run(cur: psycopg.Cursor[Any]) -> int:
            cur.execute(
                "DELETE FROM outbox WHERE status = 'delivered' AND delivered_at < %s", (before,)
            )
            return cur.rowcount

        return self._run("outbox pruning", run)

    # --- meta and plugin state -----------------------------------------------------------------

    def meta(self, key: str) -> Any:
        """The JSON document stored under *key*, or ``None``."""
        rows = self._query(
            f"meta {key}", "SELECT value FROM meta WHERE key = %s", (key,), flush=False
        )  # commits write no meta document
        return json.loads(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: Any) -> None:
        """Store the JSON-compatible *value* under *key* (replacing what was there)."""
        self._run(
            f"meta {key}",
            lambda cur: cur.execute(
                "INSERT INTO meta (key, value) VALUES (%s, %s)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, _dumps(value)),
            ),
        )

    def state_get(self, namespace: str, key: str, *, now: int) -> Any:
        """The live value under (*namespace*, *key*), or ``None``.

        Inside :meth:`batch`, an entry is read once and then answered from the batch's memory
        (its own writes included): a batch of ingests asks for the same entries for every new
        ticket (the problem index's next slot, say), and one read serves them all. Another
        process's write during the batch is seen from the next batch on, as if it had come
        after this one (as an article published meanwhile is).
        """
        batch: _Batch | None = getattr(self._local, "batch", None)
        if batch is None or batch.broken is not None:
            rows = self._query(
                f"plugin state {namespace}/{key}",
                "SELECT value FROM plugin_state WHERE namespace = %s AND key = %s"
                " AND (expires_at IS NULL OR expires_at > %s)",
                (namespace, key, now),
            )
            return json.loads(rows[0][0]) if rows else None
        name = (namespace, key)
        batch.asked[name] = batch.asked.get(name, 0) + 1
        if name not in batch.state:
            rows = self._query(
                f"plugin state {namespace}/{key}",
                "SELECT value, expires_at FROM plugin_state WHERE namespace = %s AND key = %s",
                name,
                flush=False,  # commits write no plugin state
            )
            batch.state[name] = (rows[0][0], rows[0][1]) if rows else None
        entry = batch.state[name]
        if entry is None or (entry[1] is not None and entry[1] <= now):
            return None
        return json.loads(entry[0])

    def _state_write(
        self, namespace: str, key: str, value: Any, expires_at: int | None, now: int, *, new: bool
    ) -> bool:
        query = (
            "INSERT INTO plugin_state (namespace, key, value, expires_at) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value,"
            " expires_at = excluded.expires_at"
        )
        params: tuple[Any, ...] = (namespace, key, _dumps(value), expires_at)
        if new:  # only over an expired value: rowcount 0 while a live one is there
            query += " WHERE plugin_state.expires_at IS NOT NULL AND plugin_state.expires_at <= %s"
            params += (now,)

        def run(cur: psycopg.Cursor[Any]) -> bool:
            cur.execute(
                "DELETE FROM plugin_state WHERE (namespace, key) IN (SELECT namespace, key"
                " FROM plugin_state WHERE expires_at <= %s LIMIT %s FOR UPDATE SKIP LOCKED)",
                (now, STATE_PRUNE_BATCH),
            )
            cur.execute(query, params)
            return cur.rowcount == 1

        # put is idempotent; put_new's outcome is its answer, so a lost COMMIT is not replayed.
        stored = self._run(f"plugin state {namespace}/{key}", run, replay=not new)
        batch: _Batch | None = getattr(self._local, "batch", None)
        if batch is not None and stored:  # else the live value is another's: read it again
            batch.state[namespace, key] = (params[2], expires_at)
        return stored

    def state_put(
        self, namespace: str, key: str, value: Any, *, expires_at: int | None, now: int
    ) -> None:
        """Store *value* under (*namespace*, *key*); see ``DeskStore.state_put``."""
        self._state_write(namespace, key, value, expires_at, now, new=False)

    def state_put_new(
        self, namespace: str, key: str, value: Any, *, expires_at: int | None, now: int
    ) -> bool:
        """Store *value* unless a live one is there (atomic across processes)."""
        return self._state_write(namespace, key, value, expires_at, now, new=True)

    def state_delete(self, namespace: str, key: str) -> None:
        """Forget the value under (*namespace*, *key*)."""
        self._run(
            f"plugin state {namespace}/{key}",
            lambda cur: cur.execute(
                "DELETE FROM plugin_state WHERE namespace = %s AND key = %s", (namespace, key)
            ),
        )

    # --- the knowledge base --------------------------------------------------------------------

    def append_article(
        self,
        article_id: str,
        events: Sequence[ArticleEvent],
        *,
        expected_version: int,
        outbox: Sequence[OutboxMessage] = (),
    ) -> int:
        """Append to the article's log and re-index it, in one transaction; see
        ``DeskStore.append_article``."""
        events = list(events)

        def run(cur: psycopg.Cursor[Any]) -> int:
            # Writers of one article queue here, so the log read below is the latest.
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"article {article_id}",))
            rows = cur.execute(
                "SELECT body FROM article_events WHERE article_id = %s ORDER BY version",
                (article_id,),
            ).fetchall()
            log = [ArticleEvent.from_dict(json.loads(body)) for (body,) in rows]
            try:
                article = check_article_append(article_id, log, events, expected_version)
            except StoreError as error:
                raise _Conflict(error) from None
            if article is None or not events:
                return expected_version
            cur.executemany(
                "INSERT INTO article_events (article_id, version, body) VALUES (%s, %s, %s)",
                [
                    (article_id, expected_version + n, _dumps(event.to_dict()))
                    for n, event in enumerate(events, 1)
                ],
            )
            cur.execute("DELETE FROM article_search WHERE article_id = %s", (article_id,))
            if article.status == "published":
                cfg = _TEXT_SEARCH.get(article.locale.split("-")[0], "simple")
                text = article_text(article.body)
                cur.execute(
                    "INSERT INTO article_search (article_id, locale, area, tags, title, body,"
                    " cfg, doc) VALUES (%s, %s, %s, %s, %s, %s, %s::regconfig,"
                    " setweight(to_tsvector(%s::regconfig, %s), 'A')"
                    " || setweight(to_tsvector(%s::regconfig, %s), 'B'))",
                    (
                        article_id,
                        article.locale,
                        article.area,
                        list(article.tags),
                        article.title,
                        text,
                        cfg,
                        cfg,
                        article.title,
                        cfg,
                        text,
                    ),
                )
            if outbox:
                self._insert_outbox(cur, outbox)
                cur.execute("SELECT pg_notify(%s, '')", (self.channel,))
            return expected_version + len(events)

        batch: _Batch | None = getattr(self._local, "batch", None)
        if batch is not None:
            batch.articles = None  # this batch's searches look again
        return self._run(f"append to article {article_id}", run, replay=False)

    def append_sessions(self, events: Sequence[SessionEvent]) -> None:
        """Append to the session stream in one transaction; see ``DeskStore.append_sessions``."""
        rows = [(e.ts, e.customer, _dumps(e.to_dict())) for e in check_sessions(events)]

        def body(cur: psycopg.Cursor[Any]) -> None:
            cur.executemany(
                "INSERT INTO session_events (at, customer, body) VALUES (%s, %s, %s)", rows
            )

        if rows:
            self._run("append session events", body)

    def session_events(self, *, since: int | None = None) -> list[SessionEvent]:
        """The session stream in append order (at or after *since*, epoch seconds)."""
        rows = self._query(
            "session events",
            "SELECT body FROM session_events WHERE %s::bigint IS NULL OR at >= %s ORDER BY seq",
            (since_epoch(since), since),
        )
        return [SessionEvent.from_dict(json.loads(body)) for (body,) in rows]

    def redact_sessions(self, customer: str, pseudonym: str) -> int:
        """Rewrite the customer's session events, then ``VACUUM FULL session_events`` so no
        page keeps the old values; see ``DeskStore.redact_sessions``."""

        def run(cur: psycopg.Cursor[Any]) -> int:
            rows = cur.execute(
                "SELECT seq, body FROM session_events WHERE customer = %s FOR UPDATE",
                (customer,),
            ).fetchall()
            for seq, body in rows:
                event = redacted_session(SessionEvent.from_dict(json.loads(body)), pseudonym)
                cur.execute(
                    "UPDATE session_events SET customer = %s, body = %s WHERE seq = %s",
                    (pseudonym, _dumps(event.to_dict()), seq),
                )
            return len(rows)

        count = self._run("session redaction", run, replay=False)
        if count:
            self._run(
                "vacuum after session redaction",
                lambda cur: cur.execute("VACUUM FULL session_events"),
                write=False,
            )
        return count

    def article_events(self, article_id: str | None = None) -> list[ArticleEvent]:
        """One article's events, or every article event in append order."""
        rows = self._query(
            "article log",
            "SELECT body FROM article_events WHERE %s::text IS NULL OR article_id = %s"
            " ORDER BY seq",
            (article_id, article_id),
        )
        return [ArticleEvent.from_dict(json.loads(body)) for (body,) in rows]

    def search_articles(
        self,
        terms: Sequence[str],
        *,
        k: int,
        locale: str | None = None,
        tags: Sequence[str] = (),
        area: str | None = None,
    ) -> list[ArticleHit]:
        """Full-text search: every term a prefix (``term:*``) OR-ed, stemmed with the
        article's language, ranked by ``ts_rank`` (title weight A, body B), snippets from
        ``ts_headline``.

        Each article matches the query stemmed with its own configuration; that query differs
        per row, so the GIN index cannot serve it. The query stemmed with every configuration
        an article can have, OR-ed into one ``tsquery``, is a constant the index serves, and
        finds a superset: only those articles are checked and ranked, not every row.

        Terms given directly may hold any text: their words (``query_terms``'s, never
        ``tsquery`` syntax, NUL or a lone surrogate) are searched; a *k* below 1 finds
        nothing."""
        terms = [word for term in check_search(terms, k) for word in query_terms(term)]
        if not terms or k < 1:
            return []
        batch: _Batch | None = getattr(self._local, "batch", None)
        if batch is not None:
            # A batch of ingests searches for every public message: where the store has no
            # published article, one indexed read for the whole batch replaces those searches.
            # An article published meanwhile by another process is found from the next batch
            # on, as if it had been published after this one.
            if batch.articles is None:
                batch.articles = bool(
                    self._query(
                        "article check",
                        "SELECT EXISTS (SELECT 1 FROM article_search)",
                        flush=False,
                    )[0][0]
                )
            if not batch.articles:
                return []
        query = " | ".join(f"{term}:*" for term in terms)  # words: no operators
        rows = self._query(
            "article search",
            "SELECT article_id, title, score, ts_headline(cfg, body, q, %s) FROM ("
            " SELECT article_id, title, body, cfg, q, ts_rank(doc, q) AS score"
            " FROM article_search, LATERAL to_tsquery(cfg, %s) AS q"
            # A configuration whose stop words are all the query's words gives an empty
            # tsquery: left out (an empty operand would be a syntax error in the OR).
            " WHERE doc @@ (SELECT string_agg(DISTINCT t, ' | ')::tsquery"
            " FROM unnest(%b::regconfig[]) AS c, LATERAL CAST(to_tsquery(c, %s) AS text) AS t"
            " WHERE t <> '')"
            " AND doc @@ q AND (%s::text IS NULL OR locale = %s)"
            " AND (%s::text IS NULL OR area = %s) AND tags @> %b::text[]"
            " ORDER BY score DESC, article_id LIMIT %s) AS best ORDER BY score DESC, article_id",
            (
                f"StartSel=**, StopSel=**, MaxWords={SNIPPET_WORDS}, MinWords=6,"
                " FragmentDelimiter=…",
                query,
                list(_CONFIGS),
                query,
                locale,
                locale,
                area,
                area,
                list(tags),
                k,
            ),
            flush=False,  # commits write no article
        )
        return [ArticleHit(a, t, float(score), snip) for a, t, score, snip in rows]

    # --- listing, restoring and rewriting (export, import, erasure) ----------------------------
    # Listings order text in code-point order (COLLATE "C"), as SQLite and Python sort it, so an
    # export reads the same from every store.

    def message_index(self) -> list[tuple[str, str, str]]:
        """Every indexed message id; see ``DeskStore.message_index``."""
        rows = self._query(
            "message index listing",
            'SELECT channel, message_id, ticket_id FROM messages ORDER BY channel COLLATE "C",'
            ' message_id COLLATE "C"',
        )
        return [(str(c), str(m), str(t)) for c, m, t in rows]

    def alert_index(self) -> list[tuple[str, str]]:
        """Every emitted alert key; see ``DeskStore.alert_index``."""
        rows = self._query(
            "alert listing",
            'SELECT ticket_id, key FROM alerts ORDER BY ticket_id COLLATE "C", key COLLATE "C"',
        )
        return [(str(t), str(k)) for t, k in rows]

    def meta_items(self) -> list[tuple[str, Any]]:
        """Every meta document; see ``DeskStore.meta_items``."""
        rows = self._query("meta listing", 'SELECT key, value FROM meta ORDER BY key COLLATE "C"')
        return [(str(key), json.loads(value)) for key, value in rows]

    def state_items(self, *, now: int) -> list[tuple[str, str, Any, int | None]]:
        """Every live plugin state entry; see ``DeskStore.state_items``."""
        rows = self._query(
            "plugin state listing",
            "SELECT namespace, key, value, expires_at FROM plugin_state"
            " WHERE expires_at IS NULL OR expires_at > %s"
            ' ORDER BY namespace COLLATE "C", key COLLATE "C"',
            (now,),
        )
        return [(str(n), str(k), json.loads(v), e) for n, k, v, e in rows]

    def set_meta_if(self, key: str, value: Any, *, expected: Any) -> bool:
        """Compare-and-set a meta document (the row locked ``FOR UPDATE``; a concurrent first
        insert loses on the primary key); see ``DeskStore.set_meta_if``."""

        def run(cur: psycopg.Cursor[Any]) -> bool:
            row = cur.execute("SELECT value FROM meta WHERE key = %s FOR UPDATE", (key,)).fetchone()
            if (None if row is None else json.loads(row[0])) != expected:
                return False
            cur.execute(
                "INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO "
                + ("UPDATE SET value = excluded.value" if row is not None else "NOTHING"),
                (key, _dumps(value)),
            )
            return cur.rowcount == 1

        # The outcome is the answer: a lost COMMIT is not replayed.
        return self._run(f"meta {key}", run, replay=False)

    def restore(
        self,
        *,
        events: Sequence[tuple[int, TicketEvent]] = (),
        messages: Sequence[tuple[str, str, str]] = (),
        alerts: Sequence[tuple[str, str]] = (),
        due: Sequence[tuple[str, int]] = (),
        outbox: Sequence[OutboxMessage] = (),
        meta: Sequence[tuple[str, Any]] = (),
        state: Sequence[tuple[str, str, Any, int | None]] = (),
    ) -> None:
        """Write listed records in one transaction; see ``DeskStore.restore``."""
        # Per ticket, the version the store must be at and the one it moves to; a ticket's
        # runs must follow each other. A few statements write everything, whatever the size.
        spans: dict[str, list[int]] = {}
        for ticket_id, at, batch in event_runs(events):
            check_batch(ticket_id, batch)
            span = spans.setdefault(ticket_id, [at, at])
            check_version(ticket_id, at, span[1])
            span[1] = at + len(batch)
        latest_due = dict(due)  # one row per ticket: ON CONFLICT may touch a row only once

        def columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
            return [[row[n] for row in rows] for n in range(width)]

        def advance(cur: psycopg.Cursor[Any]) -> None:
            """Compare-and-set every ticket's version (new tickets in order of creation)."""
            new = [(t, final) for t, (at, final) in spans.items() if at == 0]
            old = [(t, at, final) for t, (at, final) in spans.items() if at > 0]
            done: set[str] = set()
            if new:
                done.update(
                    t
                    for (t,) in cur.execute(
                        "INSERT INTO streams (ticket_id, version) SELECT t, v FROM"
                        " unnest(%b::text[], %b::integer[]) WITH ORDINALITY AS x(t, v, n)"
                        " ORDER BY n ON CONFLICT (ticket_id) DO NOTHING RETURNING ticket_id",
                        columns(new, 2),
                    ).fetchall()
                )
            if old:
                done.update(
                    t
                    for (t,) in cur.execute(
                        "UPDATE streams SET version = x.v FROM unnest(%b::text[], %b::integer[],"
                        " %b::integer[]) AS x(t, e, v) WHERE streams.ticket_id = x.t"
                        " AND streams.version = x.e RETURNING streams.ticket_id",
                        columns(old, 3),
                    ).fetchall()
                )
            for ticket_id, (at, _) in spans.items():
                if ticket_id not in done:
                    raise self._stale(cur, ticket_id, at)

        def run(cur: psycopg.Cursor[Any]) -> None:
            if events:
                advance(cur)
                cur.execute(
                    "INSERT INTO events (ticket_id, version, event_id, body) SELECT t, v, e, b"
                    " FROM unnest(%b::text[], %b::integer[], %b::text[], %b::text[])"
                    " WITH ORDINALITY AS x(t, v, e, b, n) ORDER BY n",
                    columns([(e.ticket_id, v, e.id, _dumps(e.to_dict())) for v, e in events], 4),
                )
            if messages:
                cur.execute(
                    "INSERT INTO messages (channel, message_id, ticket_id) SELECT * FROM"
                    " unnest(%b::text[], %b::text[], %b::text[]) ON CONFLICT DO NOTHING",
                    columns(messages, 3),
                )
            if alerts:
                cur.execute(
                    "INSERT INTO alerts (ticket_id, key) SELECT * FROM"
                    " unnest(%b::text[], %b::text[]) ON CONFLICT DO NOTHING",
                    columns(alerts, 2),
                )
            if latest_due:
                cur.execute(
                    "INSERT INTO due (ticket_id, due_at) SELECT * FROM"
                    " unnest(%b::text[], %b::bigint[]) ON CONFLICT (ticket_id) DO UPDATE"
                    " SET due_at = excluded.due_at, claimed_until = NULL",
                    columns(list(latest_due.items()), 2),
                )
            if outbox:
                rows = [
                    (
                        m.key,
                        m.topic,
                        m.ticket_id,
                        _dumps(dict(m.payload)),
                        m.created_at,
                        m.status,
                        m.attempts,
                        m.due_at(),
                        m.last_error,
                        m.delivered_at,
                    )
                    for m in outbox
                ]
                cur.execute(
                    f"INSERT INTO outbox ({_OUTBOX_COLUMNS}) SELECT * FROM unnest(%b::text[],"
                    " %b::text[], %b::text[], %b::text[], %b::bigint[], %b::text[],"
                    " %b::integer[], %b::bigint[], %b::text[], %b::bigint[])"
                    " ON CONFLICT (key) DO NOTHING",
                    columns(rows, 10),
                )
            if meta:
                cur.execute(
                    "INSERT INTO meta (key, value) SELECT * FROM unnest(%b::text[], %b::text[])"
                    " ON CONFLICT DO NOTHING",
                    columns([(key, _dumps(value)) for key, value in meta], 2),
                )
            if state:
                cur.execute(
                    "INSERT INTO plugin_state (namespace, key, value, expires_at) SELECT * FROM"
                    " unnest(%b::text[], %b::text[], %b::text[], %b::bigint[])"
                    " ON CONFLICT DO NOTHING",
                    columns([(n, k, _dumps(v), e) for n, k, v, e in state], 4),
                )
            if outbox or latest_due:
                cur.execute("SELECT pg_notify(%s, '')", (self.channel,))

        # A lost COMMIT is not replayed: the retry would see its own events as a conflict.
        self._run("restore", run, replay=False)

    def redact(
        self,
        events: Sequence[tuple[int, TicketEvent]],
        *,
        tickets: Sequence[str],
        message_ids: Sequence[tuple[str, str, str]] = (),
        payload: Mapping[str, Any],
        reason: str,
        scrub: bool = True,
    ) -> int:
        """Rewrite events, message ids and outbox rows in one transaction, then vacuum the
        rewritten tables; see ``DeskStore.redact``.

        A plain ``VACUUM`` removes the old row versions but may leave their bytes in the free
        space of a page; with *scrub* (an erasure) ``VACUUM FULL`` writes the tables and their
        indexes anew, so no page of the database holds the old values (other writers wait
        for it). A vacuum must keep old row versions that a transaction still running may
        see, so with *scrub* it first waits (up to :attr:`scrub_wait` seconds) for the
        transactions of this database that began before the redaction committed; one still
        running then is logged and its snapshot keeps the old versions until the next
        vacuum. The write-ahead log, replicas' logs and backups keep the old values until
        they are recycled.
        """

        def run(cur: psycopg.Cursor[Any]) -> tuple[int, int]:
            # The 32-bit id of this transaction, as pg_stat_activity shows transaction ids.
            xid = int(cur.execute("SELECT txid_current() % 4294967296").fetchone()[0])  # type: ignore[index]
            for version, event in events:
                cur.execute(
                    "UPDATE events SET body = %s WHERE ticket_id = %s AND version = %s"
                    " AND event_id = %s",
                    (_dumps(event.to_dict()), event.ticket_id, version, event.id),
                )
                if cur.rowcount != 1:
                    raise _Conflict(
                        StoreError(
                            f"ticket {event.ticket_id} has no event {event.id} at version "
                            f"{version}; nothing was rewritten"
                        )
                    )
            for channel, old, new in message_ids:
                cur.execute(
                    "WITH gone AS (DELETE FROM messages WHERE channel = %s AND message_id = %s"
                    " RETURNING ticket_id) INSERT INTO messages (channel, message_id, ticket_id)"
                    " SELECT %s, %s, ticket_id FROM gone ON CONFLICT DO NOTHING",
                    (channel, old, channel, new),
                )
            cur.execute("DELETE FROM snapshots WHERE ticket_id = ANY(%s)", (list(tickets),))
            cur.execute(
                "UPDATE outbox SET payload = %s, status = CASE status WHEN 'pending' THEN"
                " 'dead' ELSE status END, last_error = CASE status WHEN 'pending' THEN %s"
                " ELSE last_error END WHERE ticket_id = ANY(%s)",
                (_dumps(dict(payload)), reason, list(tickets)),
            )
            return cur.rowcount, xid

        count, xid = self._run("redaction", run, replay=False)
        if not scrub:
            self._run(
                "vacuum after redaction",
                lambda cur: cur.execute("VACUUM events, messages, snapshots, outbox"),
                write=False,
            )
            return count
        deadline = time.monotonic() + self.scrub_wait
        while True:
            self._wait_for_older_transactions(xid, deadline)
            kept = self._run("vacuum full after redaction", _vacuum_full, write=False)
            if not kept or time.monotonic() >= deadline:
                break
            time.sleep(0.2)  # a snapshot we could not see still held them: once more
        if kept:
            log.warning(
                "erasure: %d old row versions could not be removed yet (a transaction that "
                "may see them was still running); a later VACUUM FULL removes them",
                kept,
            )
        return count

    #: Seconds :meth:`redact` waits for older transactions before ``VACUUM FULL``.
    scrub_wait: float = 60.0

    def _wait_for_older_transactions(self, xid: int, deadline: float) -> None:
        """Wait until no other session of this database runs a transaction (or holds a
        snapshot) that began before transaction *xid* committed, or *deadline* (a
        ``time.monotonic()`` instant) passes (then log who holds the old row versions)."""
        query = (
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND (age(backend_xmin) >= age(%s::text::xid)"
            " OR age(backend_xid) >= age(%s::text::xid))"
        )
        while True:
            holders = [pid for (pid,) in self._query("older transactions", query, (xid, xid))]
            if not holders or time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        if holders:
            log.warning(
                "erasure: sessions %s still run transactions older than the redaction; the old "
                "row versions stay in the tables until a vacuum after they end",
                holders,
            )
