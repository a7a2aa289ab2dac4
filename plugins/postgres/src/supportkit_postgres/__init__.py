"""supportkit-postgres: the PostgreSQL store, so one desk runs on many processes and machines.

The plugin (this module, found through the ``supportkit`` entry-point group as ``postgres``)
registers :class:`PostgresStore` as the store ``"postgres"``::

    desk = SupportDesk(store="postgres", store_options={"url": "postgresql://app@db/support"})

Everything the desk keeps lives in the database (one PostgreSQL schema, ``supportkit`` by
default): the event log with per-ticket versions, the message index, snapshots, the SLA due
index, emitted alerts, the outbox, the desk's settings and plugin state. :func:`copy_store` (and
``python -m supportkit_postgres SQLITE_FILE URL``) moves a SQLite desk's data into it, as
``supportkit export`` piped into ``supportkit import`` would.
"""

from __future__ import annotations

from collections.abc import Callable

from supportkit import hookimpl
from supportkit.typing import StoreFactory

from ._copy import copy_store
from ._store import MIGRATIONS, PostgresStore

__all__ = ["MIGRATIONS", "PostgresStore", "copy_store"]


@hookimpl
def supportkit_register_stores(register: Callable[[str, StoreFactory], None]) -> None:
    """The PostgreSQL store, as ``"postgres"`` (options: ``url``, ``schema``, pool sizes)."""
    register("postgres", PostgresStore)
