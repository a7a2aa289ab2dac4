"""``SqliteStore``: the embedded, durable default store (one SQLite file, WAL mode).

Every write is one ``BEGIN IMMEDIATE`` transaction, so several processes on one machine can
share a file: writers queue on SQLite's lock (up to ``busy_timeout`` seconds) and readers never
block. An event is acknowledged only after its transaction committed: with
``durability="normal"`` (``synchronous=NORMAL``) it survives the process being killed, with
``"full"`` (``synchronous=FULL``) also a power loss.

The schema is versioned with ``PRAGMA user_version`` and upgraded by :data:`MIGRATIONS`, an
ordered list of functions: a file written by an older supportkit is migrated on open, one
written by a newer one is refused.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ._deskstore import (
    STATE_PRUNE_BATCH,
    Commit,
    OutboxMessage,
    PendingCommits,
    alert_conflict,
    duplicate_message,
    event_runs,
    ticket_from_dict,
    ticket_to_dict,
)
from ._ftsrank import PhraseIndex, in_parts, top
from ._kbhtml import article_text
from ._knowledge import (
    ArticleEvent,
    ArticleHit,
    check_article_append,
    check_search,
    fold_article,
    snippet,
)
from ._metrics import SessionEvent
from ._model import InboundMessage, TicketEvent
from ._selfservice import check_sessions, redacted_session, since_epoch
from ._store import check_batch, check_version
from ._ticket import Ticket
from .exceptions import ConfigurationError, StoreError

__all__ = ["DEFAULT_DATABASE", "MIGRATIONS", "SqliteStore"]

#: The file a :class:`SqliteStore` (and ``SupportDesk()``) uses when no path is given: in the
#: current directory.
DEFAULT_DATABASE = "supportkit.sqlite3"

_SYNCHRONOUS = {"normal": "NORMAL", "full": "FULL"}
#: WAL frames (pages) after which a commit folds the WAL back into the database file (SQLite's
#: default is 1,000). A desk commit writes about 15 pages, mostly the same hot pages at the end
#: of the log, outbox and index b-trees: a checkpoint every ~66 commits copied and synced those
#: pages again and again (a tenth of the single-message ingest CPU). 10,000 pages lets the WAL
#: grow to about 40 MB (at 4 KiB pages) before it is reused; durability is unchanged (a commit
#: is durable in the WAL already) and ``compact()`` still empties it at once.
WAL_CHECKPOINT_PAGES = 10_000


def _v1_event_log(db: sqlite3.Connection) -> None:
    """The append-only log and per-ticket versions."""
    db.execute(
        "CREATE TABLE events (seq INTEGER PRIMARY KEY, ticket_id TEXT NOT NULL,"
        " version INTEGER NOT NULL, event_id TEXT NOT NULL UNIQUE, body TEXT NOT NULL,"
        " UNIQUE (ticket_id, version))"
    )
    db.execute("CREATE TABLE streams (ticket_id TEXT PRIMARY KEY, version INTEGER NOT NULL)")


def _v2_idempotency_and_snapshots(db: sqlite3.Connection) -> None:
    """Channel message ids already ingested, and ticket snapshots for fast reads."""
    db.execute(
        "CREATE TABLE messages (channel TEXT NOT NULL, message_id TEXT NOT NULL,"
        " ticket_id TEXT NOT NULL, PRIMARY KEY (channel, message_id)) WITHOUT ROWID"
    )
    db.execute(
        "CREATE TABLE snapshots (ticket_id TEXT PRIMARY KEY, version INTEGER NOT NULL,"
        " body TEXT NOT NULL)"
    )


def _v3_outbox_due_alerts(db: sqlite3.Connection) -> None:
    """The outbox, the SLA due index and the SLA alerts already emitted."""
    db.execute(
        "CREATE TABLE outbox (key TEXT PRIMARY KEY, ticket_id TEXT NOT NULL, topic TEXT NOT NULL,"
        " payload TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending',"
        " attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL,"
        " last_error TEXT, created_at INTEGER NOT NULL, delivered_at INTEGER)"
    )
    db.execute("CREATE INDEX outbox_due ON outbox (status, next_attempt_at)")
    db.execute("CREATE TABLE due (ticket_id TEXT PRIMARY KEY, due_at INTEGER NOT NULL)")
    db.execute("CREATE INDEX due_at ON due (due_at)")
    db.execute(
        "CREATE TABLE alerts (ticket_id TEXT NOT NULL, key TEXT NOT NULL,"
        " PRIMARY KEY (ticket_id, key)) WITHOUT ROWID"
    )


def _v4_meta(db: sqlite3.Connection) -> None:
    """Named JSON documents beside the log (the settings a report needs: policies, goals)."""
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


def _v5_plugin_state_due_claims(db: sqlite3.Connection) -> None:
    """Namespaced plugin state with expiry, and claims on the due index (concurrent tickers)."""
    db.execute(
        "CREATE TABLE plugin_state (namespace TEXT NOT NULL, key TEXT NOT NULL,"
        " value TEXT NOT NULL, expires_at INTEGER, PRIMARY KEY (namespace, key)) WITHOUT ROWID"
    )
    db.execute(
        "CREATE INDEX plugin_state_expiry ON plugin_state (expires_at) WHERE expires_at IS NOT NULL"
    )
    db.execute("ALTER TABLE due ADD COLUMN claimed_until INTEGER")


def _v6_articles(db: sqlite3.Connection) -> None:
    """The knowledge base: the article log, and the published articles in an FTS5 index
    (Porter stemming over Unicode words without diacritics; BM25 with the title weighing 5)."""
    db.execute(
        "CREATE TABLE article_events (seq INTEGER PRIMARY KEY, article_id TEXT NOT NULL,"
        " version INTEGER NOT NULL, body TEXT NOT NULL, UNIQUE (article_id, version))"
    )
    db.execute(
        "CREATE TABLE article_search (id INTEGER PRIMARY KEY, article_id TEXT NOT NULL UNIQUE,"
        " locale TEXT NOT NULL, area TEXT, tags TEXT NOT NULL)"
    )
    db.execute(
        "CREATE VIRTUAL TABLE article_fts USING fts5(title, body,"
        " tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    db.execute("INSERT INTO article_fts (article_fts, rank) VALUES ('rank', 'bm25(5.0, 1.0)')")


def _v7_sessions(db: sqlite3.Connection) -> None:
    """The self-service session stream (help-centre searches and views), in append order."""
    db.execute(
        "CREATE TABLE session_events (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL,"
        " customer TEXT, body TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX session_events_at ON session_events (at)")
    db.execute("CREATE INDEX session_events_customer ON session_events (customer)")


def _v8_plain_text_index(db: sqlite3.Connection) -> None:
    """The FTS5 index holds each published article's body as plain text
    (:func:`~supportkit.article_text`), no longer its Markdown, so a snippet's only ``**`` are
    its match highlights: the indexed bodies are rebuilt from the article log."""
    rows = db.execute(
        "SELECT s.id, e.body FROM article_search s JOIN article_events e"
        " ON e.article_id = s.article_id ORDER BY s.id, e.version"
    ).fetchall()
    for rowid, log in itertools.groupby(rows, key=lambda row: row[0]):
        article = fold_article(ArticleEvent.from_dict(json.loads(body)) for _, body in log)
        if article is not None:
            db.execute(
                "UPDATE article_fts SET body = ? WHERE rowid = ?",
                (article_text(article.body), rowid),
            )


#: Schema migrations in order; after migration *n* (1-based) the file's ``user_version`` is *n*.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _v1_event_log,
    _v2_idempotency_and_snapshots,
    _v3_outbox_due_alerts,
    _v4_meta,
    _v5_plugin_state_due_claims,
    _v6_articles,
    _v7_sessions,
    _v8_plain_text_index,
)

#: Upserts that change a ticket's row in place: ``INSERT OR REPLACE`` deletes the row and
#: inserts a new one (a new rowid, so the primary-key index changes too), a page or two more
#: in every commit that moves the due instant or stores a snapshot.
_PUT_SNAPSHOT = (
    "INSERT INTO snapshots (ticket_id, version, body) VALUES (?, ?, ?) ON CONFLICT (ticket_id)"
    " DO UPDATE SET version = excluded.version, body = excluded.body"
)
#: A new due instant ends any claim on the old one.
_PUT_DUE = (
    "INSERT INTO due (ticket_id, due_at) VALUES (?, ?) ON CONFLICT (ticket_id)"
    " DO UPDATE SET due_at = excluded.due_at, claimed_until = NULL"
)

_OUTBOX_COLUMNS = (
    "key, topic, ticket_id, payload, created_at, status, attempts, next_attempt_at, last_error,"
    " delivered_at"
)


def _busy(exc: sqlite3.Error) -> bool:
    """Whether *exc* is SQLITE_BUSY or SQLITE_LOCKED (another connection holds a lock)."""
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF in (
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
    )


def _wal(db: sqlite3.Connection, busy_timeout: float) -> None:
    """Switch *db* to WAL mode, waiting up to *busy_timeout* seconds for other connections.

    SQLite does not call its busy handler here when another connection holds a write lock on a
    file not yet in WAL mode (waiting could deadlock on the read lock this connection holds),
    so many processes opening a new file together saw "database is locked" at once: retry with
    a short, growing pause instead.
    """
    deadline = time.monotonic() + busy_timeout
    pause = 0.002
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            left = deadline - time.monotonic()
            if not _busy(exc) or left <= 0:
                raise
            time.sleep(min(pause, left))
            pause = min(pause * 2, 0.1)


#: ``json.dumps(value, separators=(",", ":"), ensure_ascii=False)`` with one encoder for all
#: calls: ``dumps`` with any non-default option builds a new encoder on every call, and this
#: runs for every stored event, snapshot and outbox row.
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _insert_outbox(db: sqlite3.Connection, messages: Iterable[OutboxMessage]) -> None:
    """Write new outbox *messages* (a key already there stays as it is)."""
    db.executemany(
        "INSERT OR IGNORE INTO outbox (key, ticket_id, topic, payload, next_attempt_at,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                m.key,
                m.ticket_id,
                m.topic,
                _dumps(m.payload if type(m.payload) is dict else dict(m.payload)),
                m.due_at(),
                m.created_at,
            )
            for m in messages
        ],
    )


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


class SqliteStore:
    """An event store with the desk's extras in one SQLite file (WAL mode).

    Implements :class:`~supportkit.typing.EventStore` plus the desk's atomic commits
    (idempotency index, snapshots, SLA due index, outbox, emitted alerts). Safe to share between
    threads (one connection behind a lock) and between processes on one machine (SQLite's file
    locks; ``busy_timeout`` seconds of waiting for a writer before :class:`StoreError`).

    ``durability="normal"`` (``synchronous=NORMAL``) survives the process being killed;
    ``"full"`` (``synchronous=FULL``) also survives power loss, at the cost of an fsync per
    commit. Use it as a context manager or call :meth:`close`. *path* defaults to
    :data:`DEFAULT_DATABASE` (so ``SupportDesk(store="sqlite")`` opens that file).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = DEFAULT_DATABASE,
        *,
        durability: str = "normal",
        busy_timeout: float = 30.0,
    ) -> None:
        if durability not in _SYNCHRONOUS:
            raise ConfigurationError(
                f"durability must be 'normal' (survives a killed process) or 'full' (also "
                f"survives power loss), got {durability!r}"
            )
        if (
            isinstance(busy_timeout, bool)
            or not isinstance(busy_timeout, int | float)
            or not 0 <= busy_timeout < 86400
        ):
            raise ConfigurationError(
                f"busy_timeout must be seconds from 0 to a day, got {busy_timeout!r}"
            )
        self.path = Path(path)
        self.durability = durability
        self._lock = threading.RLock()
        self._depth = 0  # how many batch() blocks are open (on the thread holding the lock)
        self._broken: BaseException | None = None  # what rolled the open batch back
        self._pending: PendingCommits | None = None  # the open batch's commits, held back
        self._index = PhraseIndex()  # the search phrases' rows, kept; see search_articles
        self._batch_wrote_articles = False  # the open batch changed the article index
        try:
            self._db = sqlite3.connect(
                self.path,
                timeout=busy_timeout,
                isolation_level=None,  # we issue BEGIN IMMEDIATE / COMMIT ourselves
                check_same_thread=False,  # guarded by self._lock
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open SQLite store {str(self.path)!r}: {exc}") from exc
        try:
            try:
                _wal(self._db, busy_timeout)
                # PRAGMA values cannot be bound parameters; this one comes from a fixed table.
                self._db.execute(f"PRAGMA synchronous={_SYNCHRONOUS[durability]}")
                self._db.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
            except sqlite3.Error as exc:
                raise StoreError(
                    f"cannot open SQLite store {str(self.path)!r}: {exc} (is it a supportkit "
                    "database?)"
                ) from exc
            self._migrate()
        except BaseException:
            self._db.close()
            raise

    # --- plumbing ------------------------------------------------------------------------------

    def _fail(self, exc: sqlite3.Error, what: str) -> StoreError:
        return StoreError(f"SQLite store {str(self.path)!r}: {what} failed: {exc}")

    def _write(self, what: str, body: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run *body* in one ``BEGIN IMMEDIATE`` transaction (inside :meth:`batch`, in the
        batch's: see :meth:`_in_batch`); roll back on any error."""
        with self._lock:
            db = self._db
            if self._depth:
                return self._in_batch(what, body)
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._fail(exc, what) from exc
            try:
                result = body(db)
                db.execute("COMMIT")
            except BaseException as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise self._fail(exc, what) from exc
                raise
            return result

    def _in_batch(self, what: str, body: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run *body* in the open batch's transaction. Every *body* checks before it writes,
        so one that fails having changed no row (``total_changes``) leaves the batch as it
        was; one that fails after changing rows (or a failure that ended the transaction:
        an I/O error, a full disk) rolls the whole batch back, and the batch is over."""
        db = self._db
        self._flush()
        before = db.total_changes
        try:
            return body(db)
        except BaseException as exc:
            if db.total_changes != before or not db.in_transaction:
                self._broken = exc
                if db.in_transaction:
                    db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise self._fail(exc, what) from exc
            raise
        finally:
            if self._pending is not None:
                self._pending.forget()  # the body may have moved versions or message ids

    def _flush(self) -> None:
        """Write the open batch's held commits (a statement per table); a failure ends the
        batch. A no-op outside a batch or with nothing held."""
        pending = self._pending
        if self._broken is not None:
            raise self._rolled_back("batch")
        if not pending:
            return
        assert pending is not None
        db = self._db
        try:
            db.executemany(
                "INSERT INTO events (ticket_id, version, event_id, body) VALUES (?, ?, ?, ?)",
                [(t, n, e.id, _dumps(e.to_dict())) for t, n, e in pending.events],
            )
            db.executemany(
                "INSERT INTO streams (ticket_id, version) VALUES (?, ?)"
                " ON CONFLICT (ticket_id) DO UPDATE SET version = excluded.version",
                pending.streams.items(),
            )
            db.executemany(
                "INSERT INTO messages (channel, message_id, ticket_id) VALUES (?, ?, ?)",
                pending.messages,
            )
            db.executemany(
                _PUT_SNAPSHOT,
                [(t, k.version, _dumps(ticket_to_dict(k))) for t, k in pending.snapshots.items()],
            )
            db.executemany(
                "DELETE FROM due WHERE ticket_id = ?",
                [(t,) for t, due in pending.due.items() if due is None],
            )
            db.executemany(  # a new row: any claim on the old one ends
                _PUT_DUE,
                [(t, due) for t, due in pending.due.items() if due is not None],
            )
            _insert_outbox(db, pending.outbox.values())
        except BaseException as exc:
            self._broken = exc
            if db.in_transaction:
                db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise self._fail(exc, "batch") from exc
            raise
        pending.written()

    def _rolled_back(self, what: str) -> StoreError:
        return StoreError(
            f"SQLite store {str(self.path)!r}: {what} failed: the batch was rolled back after "
            f"{self._broken!r}; nothing of it was written"
        )

    @contextmanager
    def batch(self, messages: Sequence[InboundMessage] = ()) -> Iterator[None]:
        """One ``BEGIN IMMEDIATE`` transaction for the block's writes; see
        :meth:`~supportkit.typing.DeskStore.batch` (its reads are local: *messages*, a
        read-ahead hint, is not needed). The connection's lock is held
        for the block: other threads of this process wait, other processes wait for the
        write lock (``busy_timeout``) but may read what was committed before."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._fail(exc, "batch") from exc
            self._depth, self._broken, self._pending = 1, None, PendingCommits()
            try:
                yield
                self._flush()
                db.execute("COMMIT")
            except BaseException as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise self._fail(exc, "batch commit") from exc
                raise
            finally:
                self._depth, self._broken, self._pending = 0, None, None
                self._batch_wrote_articles = False

    def _query(
        self, what: str, sql: str, params: Sequence[Any] = (), *, flush: bool = True
    ) -> list[Any]:
        """Run one read; inside a batch, first write its held commits unless *flush* is
        false (a read of what commits never touch, or one that looks at them itself)."""
        with self._lock:
            if flush:
                self._flush()
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise self._fail(exc, what) from exc

    def _migrate(self) -> None:
        def run(db: sqlite3.Connection) -> None:
            current = db.execute("PRAGMA user_version").fetchone()[0]
            if current > len(MIGRATIONS):
                raise StoreError(
                    f"SQLite store {str(self.path)!r} has schema version {current} but this "
                    f"supportkit knows versions up to {len(MIGRATIONS)}: upgrade supportkit"
                )
            for number, migration in enumerate(MIGRATIONS[current:], current + 1):
                migration(db)
                db.execute(f"PRAGMA user_version={int(number)}")  # an int, not user input

        self._write("schema migration", run)

    @property
    def schema_version(self) -> int:
        """The file's schema version (``PRAGMA user_version``)."""
        return int(self._query("schema version", "PRAGMA user_version")[0][0])

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r}, durability={self.durability!r})"

    # --- EventStore ----------------------------------------------------------------------------

    @staticmethod
    def _version(db: sqlite3.Connection, ticket_id: str) -> int:
        row = db.execute("SELECT version FROM streams WHERE ticket_id = ?", (ticket_id,)).fetchone()
        return 0 if row is None else int(row[0])

    @staticmethod
    def _append(
        db: sqlite3.Connection, ticket_id: str, events: Sequence[TicketEvent], at: int
    ) -> int:
        if not events:
            return at
        db.executemany(
            "INSERT INTO events (ticket_id, version, event_id, body) VALUES (?, ?, ?, ?)",
            [
                (ticket_id, at + n, event.id, _dumps(event.to_dict()))
                for n, event in enumerate(events, 1)
            ],
        )
        version = at + len(events)
        db.execute(
            "INSERT INTO streams (ticket_id, version) VALUES (?, ?)"
            " ON CONFLICT (ticket_id) DO UPDATE SET version = excluded.version",
            (ticket_id, version),
        )
        return version

    def append(
        self, ticket_id: str, events: Sequence[TicketEvent], *, expected_version: int
    ) -> int:
        """Append *events* at *expected_version* in one transaction; see ``EventStore``."""
        events = list(events)
        check_batch(ticket_id, events)

        def run(db: sqlite3.Connection) -> int:
            check_version(ticket_id, expected_version, self._version(db, ticket_id))
            return self._append(db, ticket_id, events, expected_version)

        return int(self._write(f"append to ticket {ticket_id}", run))

    def read(self, ticket_id: str, *, after: int = 0) -> list[TicketEvent]:
        """Return the ticket's events after version *after*, in log order."""
        rows = self._query(
            f"read ticket {ticket_id}",
            "SELECT body FROM events WHERE ticket_id = ? AND version > ? ORDER BY version",
            (ticket_id, after),
        )
        return [TicketEvent.from_dict(json.loads(body)) for (body,) in rows]

    def version(self, ticket_id: str) -> int:
        """Return the ticket's version (0 if unknown)."""
        with self._lock:
            pending = self._pending
            if pending is not None and ticket_id in pending.versions:
                return pending.versions[ticket_id]
            rows = self._query(
                f"version of ticket {ticket_id}",
                "SELECT version FROM streams WHERE ticket_id = ?",
                (ticket_id,),
                flush=False,  # a held commit's ticket is in pending.versions
            )
            version = int(rows[0][0]) if rows else 0
            if pending is not None:
                pending.versions[ticket_id] = version
            return version

    def ticket_ids(self) -> list[str]:
        """Return every ticket id in order of creation."""
        rows = self._query("ticket ids", "SELECT ticket_id FROM streams ORDER BY rowid")
        return [ticket_id for (ticket_id,) in rows]

    def read_all(self, *, batch: int = 2000) -> Iterator[TicketEvent]:
        """Yield every event in global append order, reading *batch* rows at a time."""
        seq = 0
        while True:
            rows = self._query(
                "read all events",
                "SELECT seq, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                (seq, batch),
            )
            for seq, body in rows:  # noqa: B007 - seq carries over to the next page
                yield TicketEvent.from_dict(json.loads(body))
            if len(rows) < batch:
                return

    # --- meta ---------------------------------------------------------------------------------

    def meta(self, key: str) -> Any:
        """The JSON document stored under *key*, or ``None``."""
        rows = self._query(
            f"meta {key}", "SELECT value FROM meta WHERE key = ?", (key,), flush=False
        )  # commits write no meta document
        return json.loads(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: Any) -> None:
        """Store the JSON-compatible *value* under *key* (replacing what was there)."""
        self._write(
            f"meta {key}",
            lambda db: db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, _dumps(value))
            ),
        )

    # --- plugin state --------------------------------------------------------------------------

    def state_get(self, namespace: str, key: str, *, now: int) -> Any:
        """The live value under (*namespace*, *key*), or ``None``; see ``DeskStore``."""
        rows = self._query(
            f"plugin state {namespace}/{key}",
            "SELECT value FROM plugin_state WHERE namespace = ? AND key = ?"
            " AND (expires_at IS NULL OR expires_at > ?)",
            (namespace, key, now),
            flush=False,  # commits write no plugin state
        )
        return json.loads(rows[0][0]) if rows else None

    def _state_write(
        self, namespace: str, key: str, value: Any, expires_at: int | None, now: int, *, new: bool
    ) -> bool:
        # put_new: the upsert only replaces an expired value (rowcount 0 if a live one is there).
        sql = (
            "INSERT INTO plugin_state (namespace, key, value, expires_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value,"
            " expires_at = excluded.expires_at"
        )
        params: tuple[Any, ...] = (namespace, key, _dumps(value), expires_at)
        if new:
            sql += " WHERE plugin_state.expires_at IS NOT NULL AND plugin_state.expires_at <= ?"
            params += (now,)

        def run(db: sqlite3.Connection) -> bool:
            db.execute(
                "DELETE FROM plugin_state WHERE (namespace, key) IN (SELECT namespace, key"
                " FROM plugin_state WHERE expires_at <= ? LIMIT ?)",
                (now, STATE_PRUNE_BATCH),
            )
            return bool(db.execute(sql, params).rowcount)

        return bool(self._write(f"plugin state {namespace}/{key}", run))

    def state_put(
        self, namespace: str, key: str, value: Any, *, expires_at: int | None, now: int
    ) -> None:
        """Store *value* under (*namespace*, *key*); see ``DeskStore.state_put``."""
        self._state_write(namespace, key, value, expires_at, now, new=False)

    def state_put_new(
        self, namespace: str, key: str, value: Any, *, expires_at: int | None, now: int
    ) -> bool:
        """Store *value* unless a live one is there (one transaction); ``True`` if stored."""
        return self._state_write(namespace, key, value, expires_at, now, new=True)

    def state_delete(self, namespace: str, key: str) -> None:
        """Forget the value under (*namespace*, *key*)."""
        self._write(
            f"plugin state {namespace}/{key}",
            lambda db: db.execute(
                "DELETE FROM plugin_state WHERE namespace = ? AND key = ?", (namespace, key)
            ),
        )

    # --- DeskStore -----------------------------------------------------------------------------

    def commit(self, commit: Commit) -> int:
        """Write *commit* in one transaction; see :class:`~supportkit.typing.DeskStore`.

        Inside :meth:`batch` a commit without alert keys is checked at once and held back
        (:class:`~supportkit._deskstore.PendingCommits`): the batch writes its held commits
        together, a statement per table, which is where a batch's speed comes from. The
        batch holds SQLite's write lock, so what the checks read cannot change meanwhile.
        """
        check_batch(commit.ticket_id, commit.events)
        ticket_id = commit.ticket_id
        with self._lock:
            pending = self._pending
            if pending is not None and not commit.alerts:
                if self._broken is not None:
                    raise self._rolled_back(f"commit to ticket {ticket_id}")
                self.version(ticket_id)  # into pending.versions (and owners, next line)
                if commit.message is not None:
                    self.message_ticket(*commit.message)
                return pending.add(commit)

        def run(db: sqlite3.Connection) -> int:
            # Every check before any write (a batch relies on it): version and message in one
            # query, the alert keys in another only when there are some.
            version, owner = db.execute(
                "SELECT (SELECT version FROM streams WHERE ticket_id = ?),"
                " (SELECT ticket_id FROM messages WHERE channel = ? AND message_id = ?)",
                (ticket_id, *(commit.message or (None, None))),
            ).fetchone()
            actual = 0 if version is None else int(version)
            if owner is not None:
                raise duplicate_message(commit, owner, actual)
            check_version(ticket_id, commit.expected_version, actual)
            if (
                commit.alerts
                and db.execute(
                    f"SELECT 1 FROM alerts WHERE ticket_id = ? AND key IN"
                    f" ({', '.join('?' * len(commit.alerts))}) LIMIT 1",  # only placeholders
                    (ticket_id, *commit.alerts),
                ).fetchone()
            ):
                raise alert_conflict(commit, actual)
            version = self._append(db, ticket_id, commit.events, actual)
            if commit.message is not None:
                db.execute(
                    "INSERT INTO messages (channel, message_id, ticket_id) VALUES (?, ?, ?)",
                    (*commit.message, ticket_id),
                )
            if commit.snapshot is not None:
                db.execute(
                    _PUT_SNAPSHOT,
                    (ticket_id, commit.snapshot.version, _dumps(ticket_to_dict(commit.snapshot))),
                )
            if commit.keep_due:
                pass
            elif commit.due is None:
                db.execute("DELETE FROM due WHERE ticket_id = ?", (ticket_id,))
            else:  # a new row: any claim on the old one ends
                db.execute(
                    _PUT_DUE,
                    (ticket_id, commit.due),
                )
            _insert_outbox(db, commit.outbox)
            if commit.alerts:
                db.executemany(
                    "INSERT OR IGNORE INTO alerts (ticket_id, key) VALUES (?, ?)",
                    [(ticket_id, key) for key in commit.alerts],
                )
            return version

        return int(self._write(f"commit to ticket {ticket_id}", run))

    def message_ticket(self, channel: str, message_id: str) -> str | None:
        """The ticket a channel message went into, or ``None``."""
        with self._lock:
            pending = self._pending
            key = (channel, message_id)
            if pending is not None and key in pending.owners:
                return pending.owners[key]
            rows = self._query(
                "message lookup",
                "SELECT ticket_id FROM messages WHERE channel = ? AND message_id = ?",
                key,
                flush=False,  # a held commit's message is in pending.owners
            )
            owner = str(rows[0][0]) if rows else None
            if pending is not None:
                pending.owners[key] = owner
            return owner

    def record_message(self, channel: str, message_id: str, ticket_id: str) -> None:
        """Index a message id outside a commit; an id already indexed keeps its ticket."""
        self._write(
            "message index",
            lambda db: db.execute(
                "INSERT OR IGNORE INTO messages (channel, message_id, ticket_id) VALUES (?, ?, ?)",
                (channel, message_id, ticket_id),
            ),
        )

    def snapshot(self, ticket_id: str) -> Ticket | None:
        """The latest stored snapshot of the ticket, or ``None``."""
        rows = self._query(
            f"snapshot of ticket {ticket_id}",
            "SELECT body FROM snapshots WHERE ticket_id = ?",
            (ticket_id,),
        )
        return ticket_from_dict(json.loads(rows[0][0])) if rows else None

    def due(self, until: int, *, limit: int = 500) -> list[tuple[str, int]]:
        """``(ticket_id, due)`` pairs due by *until*, earliest (then by id) first (an index
        range scan)."""
        rows = self._query(
            "due index",
            "SELECT ticket_id, due_at FROM due WHERE due_at <= ?"
            " ORDER BY due_at, ticket_id LIMIT ?",
            (until, limit),
        )
        return [(str(ticket_id), int(due)) for ticket_id, due in rows]

    def claim_due(self, until: int, *, now: int, limit: int, lease: int) -> list[tuple[str, int]]:
        """Take unclaimed due entries and hold them until ``now + lease`` (one transaction)."""

        def run(db: sqlite3.Connection) -> list[tuple[str, int]]:
            rows = db.execute(
                "SELECT ticket_id, due_at FROM due WHERE due_at <= ?"
                " AND (claimed_until IS NULL OR claimed_until <= ?)"
                " ORDER BY due_at, ticket_id LIMIT ?",
                (until, now, limit),
            ).fetchall()
            db.executemany(
                "UPDATE due SET claimed_until = ? WHERE ticket_id = ?",
                [(now + lease, ticket_id) for ticket_id, _ in rows],
            )
            return [(str(ticket_id), int(due)) for ticket_id, due in rows]

        return list(self._write("due index claim", run))

    def release_due(self, ticket_ids: Sequence[str]) -> None:
        """End the claims on these tickets' due entries."""
        if ticket_ids:
            self._write(
                "due index release",
                lambda db: db.executemany(
                    "UPDATE due SET claimed_until = NULL WHERE ticket_id = ?",
                    [(ticket_id,) for ticket_id in ticket_ids],
                ),
            )

    def alerts(self, ticket_id: str) -> frozenset[str]:
        """The SLA alert keys already emitted for the ticket."""
        rows = self._query(
            f"alerts of ticket {ticket_id}",
            "SELECT key FROM alerts WHERE ticket_id = ?",
            (ticket_id,),
        )
        return frozenset(key for (key,) in rows)

    def claim_outbox(self, now: int, *, limit: int, lease: int) -> list[OutboxMessage]:
        """Take due pending messages and hide them for *lease* seconds (one transaction)."""

        def run(db: sqlite3.Connection) -> list[OutboxMessage]:
            rows = db.execute(
                f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE status = 'pending'"
                " AND next_attempt_at <= ? ORDER BY next_attempt_at, created_at LIMIT ?",
                (now, limit),
            ).fetchall()
            db.executemany(
                "UPDATE outbox SET next_attempt_at = ? WHERE key = ?",
                [(now + lease, row[0]) for row in rows],
            )
            return [_outbox_row(row) for row in rows]

        return list(self._write("outbox claim", run))

    def settle_outbox(
        self,
        at: int,
        delivered: Sequence[str] = (),
        failed: Sequence[tuple[str, str, int | None]] = (),
        deferred: Sequence[tuple[str, str, int]] = (),
    ) -> None:
        """Record delivery attempts in one transaction; see ``DeskStore.settle_outbox``."""

        def run(db: sqlite3.Connection) -> None:
            db.executemany(
                "UPDATE outbox SET status = 'delivered', attempts = attempts + 1,"
                " delivered_at = ? WHERE key = ?",
                [(at, key) for key in delivered],
            )
            db.executemany(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?,"
                " status = CASE WHEN ? IS NULL THEN 'dead' ELSE 'pending' END,"
                " next_attempt_at = COALESCE(?, next_attempt_at) WHERE key = ?",
                [(error, retry, retry, key) for key, error, retry in failed],
            )
            db.executemany(
                "UPDATE outbox SET last_error = ?, next_attempt_at = ? WHERE key = ?",
                [(error, retry, key) for key, error, retry in deferred],
            )

        if delivered or failed or deferred:
            self._write("outbox settlement", run)

    def prune_outbox(self, before: int) -> int:
        """Delete the messages delivered before *before*; return how many (dead letters stay)."""
        cursor = self._write(
            "outbox pruning",
            lambda db: db.execute(
                "DELETE FROM outbox WHERE status = 'delivered' AND delivered_at < ?", (before,)
            ),
        )
        return int(cursor.rowcount)

    def outbox(self, status: str | None = None) -> list[OutboxMessage]:
        """Every outbox message (of one status if given), oldest first."""
        rows = self._query(
            "outbox listing",
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE ? IS NULL OR status = ?"
            " ORDER BY created_at, rowid",
            (status, status),
        )
        return [_outbox_row(row) for row in rows]

    # --- listing, restoring and rewriting (export, import, erasure) ----------------------------

    def message_index(self) -> list[tuple[str, str, str]]:
        """Every indexed message id; see ``DeskStore.message_index``."""
        rows = self._query(
            "message index listing",
            "SELECT channel, message_id, ticket_id FROM messages ORDER BY channel, message_id",
        )
        return [(str(c), str(m), str(t)) for c, m, t in rows]

    def alert_index(self) -> list[tuple[str, str]]:
        """Every emitted alert key; see ``DeskStore.alert_index``."""
        rows = self._query(
            "alert listing", "SELECT ticket_id, key FROM alerts ORDER BY ticket_id, key"
        )
        return [(str(t), str(k)) for t, k in rows]

    def meta_items(self) -> list[tuple[str, Any]]:
        """Every meta document; see ``DeskStore.meta_items``."""
        rows = self._query("meta listing", "SELECT key, value FROM meta ORDER BY key")
        return [(str(key), json.loads(value)) for key, value in rows]

    def state_items(self, *, now: int) -> list[tuple[str, str, Any, int | None]]:
        """Every live plugin state entry; see ``DeskStore.state_items``."""
        rows = self._query(
            "plugin state listing",
            "SELECT namespace, key, value, expires_at FROM plugin_state"
            " WHERE expires_at IS NULL OR expires_at > ? ORDER BY namespace, key",
            (now,),
        )
        return [(str(n), str(k), json.loads(v), e) for n, k, v, e in rows]

    def set_meta_if(self, key: str, value: Any, *, expected: Any) -> bool:
        """Compare-and-set a meta document in one transaction; see ``DeskStore.set_meta_if``."""

        def run(db: sqlite3.Connection) -> bool:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            if (None if row is None else json.loads(row[0])) != expected:
                return False
            db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, _dumps(value))
            )
            return True

        return bool(self._write(f"meta {key}", run))

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
        runs = event_runs(events)

        def run(db: sqlite3.Connection) -> None:
            for ticket_id, at, batch in runs:
                check_batch(ticket_id, batch)
                check_version(ticket_id, at, self._version(db, ticket_id))
                self._append(db, ticket_id, batch, at)
            db.executemany(
                "INSERT OR IGNORE INTO messages (channel, message_id, ticket_id) VALUES (?, ?, ?)",
                messages,
            )
            db.executemany("INSERT OR IGNORE INTO alerts (ticket_id, key) VALUES (?, ?)", alerts)
            db.executemany(_PUT_DUE, due)
            db.executemany(
                f"INSERT OR IGNORE INTO outbox ({_OUTBOX_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?,"
                " ?, ?)",
                [
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
                ],
            )
            db.executemany(
                "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                [(key, _dumps(value)) for key, value in meta],
            )
            db.executemany(
                "INSERT OR IGNORE INTO plugin_state (namespace, key, value, expires_at)"
                " VALUES (?, ?, ?, ?)",
                [(n, k, _dumps(v), e) for n, k, v, e in state],
            )

        self._write("restore", run)

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
        """Rewrite events, message ids and outbox rows in one transaction with
        ``secure_delete`` on, then fold the WAL into the file and (*scrub*) ``VACUUM`` it;
        see ``DeskStore.redact``."""

        def run(db: sqlite3.Connection) -> int:
            db.execute("PRAGMA secure_delete = ON")
            for version, event in events:
                changed = db.execute(
                    "UPDATE events SET body = ? WHERE ticket_id = ? AND version = ?"
                    " AND event_id = ?",
                    (_dumps(event.to_dict()), event.ticket_id, version, event.id),
                ).rowcount
                if not changed:
                    raise StoreError(
                        f"ticket {event.ticket_id} has no event {event.id} at version "
                        f"{version}; nothing was rewritten"
                    )
            for channel, old, new in message_ids:
                db.execute(
                    "INSERT OR IGNORE INTO messages (channel, message_id, ticket_id)"
                    " SELECT channel, ?, ticket_id FROM messages WHERE channel = ?"
                    " AND message_id = ?",
                    (new, channel, old),
                )
                db.execute(
                    "DELETE FROM messages WHERE channel = ? AND message_id = ?", (channel, old)
                )
            count = 0
            for ticket_id in tickets:
                db.execute("DELETE FROM snapshots WHERE ticket_id = ?", (ticket_id,))
                count += db.execute(
                    "UPDATE outbox SET payload = ?, status = CASE status WHEN 'pending' THEN"
                    " 'dead' ELSE status END, last_error = CASE status WHEN 'pending' THEN ?"
                    " ELSE last_error END WHERE ticket_id = ?",
                    (_dumps(dict(payload)), reason, ticket_id),
                ).rowcount
            return count

        count = int(self._write("redaction", run))
        self.compact(rebuild=scrub)
        return count

    def compact(self, *, rebuild: bool = True) -> None:
        """Fold the WAL into the file and (*rebuild*) rebuild the file (``VACUUM``), so no
        freed page keeps old content."""
        with self._lock:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                if rebuild:
                    self._db.execute("VACUUM")
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:
                raise self._fail(exc, "compacting") from exc

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

        def run(db: sqlite3.Connection) -> int:
            rows = db.execute(
                "SELECT body FROM article_events WHERE article_id = ? ORDER BY version",
                (article_id,),
            ).fetchall()
            log = [ArticleEvent.from_dict(json.loads(body)) for (body,) in rows]
            article = check_article_append(article_id, log, events, expected_version)
            if article is None or not events:
                return expected_version
            db.executemany(
                "INSERT INTO article_events (article_id, version, body) VALUES (?, ?, ?)",
                [
                    (article_id, expected_version + n, _dumps(event.to_dict()))
                    for n, event in enumerate(events, 1)
                ],
            )
            self._index.forget()  # the index changes (see search_articles)
            self._batch_wrote_articles = bool(self._depth)
            row = db.execute(
                "SELECT id FROM article_search WHERE article_id = ?", (article_id,)
            ).fetchone()
            if row is not None:
                db.execute("DELETE FROM article_search WHERE id = ?", row)
                db.execute("DELETE FROM article_fts WHERE rowid = ?", row)
            if article.status == "published":
                rowid = db.execute(
                    "INSERT INTO article_search (article_id, locale, area, tags)"
                    " VALUES (?, ?, ?, ?)",
                    (article_id, article.locale, article.area, _dumps(list(article.tags))),
                ).lastrowid
                db.execute(
                    "INSERT INTO article_fts (rowid, title, body) VALUES (?, ?, ?)",
                    (rowid, article.title, article_text(article.body)),
                )
            _insert_outbox(db, outbox)
            return expected_version + len(events)

        return int(self._write(f"append to article {article_id}", run))

    def append_sessions(self, events: Sequence[SessionEvent]) -> None:
        """Append to the session stream in one transaction; see ``DeskStore.append_sessions``."""
        rows = [(e.ts, e.customer, _dumps(e.to_dict())) for e in check_sessions(events)]

        def run(db: sqlite3.Connection) -> None:
            db.executemany("INSERT INTO session_events (at, customer, body) VALUES (?, ?, ?)", rows)

        if rows:
            self._write("append session events", run)

    def session_events(self, *, since: int | None = None) -> list[SessionEvent]:
        """The session stream in append order (at or after *since*, epoch seconds)."""
        rows = self._query(
            "session events",
            "SELECT body FROM session_events WHERE ? IS NULL OR at >= ? ORDER BY seq",
            (since_epoch(since), since),
        )
        return [SessionEvent.from_dict(json.loads(body)) for (body,) in rows]

    def redact_sessions(self, customer: str, pseudonym: str) -> int:
        """Rewrite the customer's session events with ``secure_delete`` on; see
        ``DeskStore.redact_sessions``."""

        def run(db: sqlite3.Connection) -> int:
            db.execute("PRAGMA secure_delete = ON")
            rows = db.execute(
                "SELECT seq, body FROM session_events WHERE customer = ?", (customer,)
            ).fetchall()
            for seq, body in rows:
                event = redacted_session(SessionEvent.from_dict(json.loads(body)), pseudonym)
                db.execute(
                    "UPDATE session_events SET customer = ?, body = ? WHERE seq = ?",
                    (pseudonym, _dumps(event.to_dict()), seq),
                )
            return len(rows)

        return int(self._write("session redaction", run))

    def article_events(self, article_id: str | None = None) -> list[ArticleEvent]:
        """One article's events, or every article event in append order."""
        rows = self._query(
            "article log",
            "SELECT body FROM article_events WHERE ? IS NULL OR article_id = ? ORDER BY seq",
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
        """FTS5 search: the terms as phrases (a prefix from three characters on; shorter
        terms match whole words only, as a one- or two-letter prefix would expand to a large
        part of the vocabulary), OR-ed, ranked by FTS5's BM25.

        The ranking is ``bm25()``'s, scores included, added up by :mod:`supportkit._ftsrank`
        from each phrase's own ``bm25()`` terms, which it keeps until the article index
        changes, in full only for the rows that can reach the top *k*. Terms no article has
        and terms in half of the articles or more are left out (FTS5's BM25 gives the latter
        an inverse document frequency of 10⁻⁶, so they cannot reorder the hits; a query of
        only such terms keeps them). A hit's snippet (:func:`~supportkit._knowledge.snippet`)
        marks the words that begin with a query term (that equal a one- or two-letter one).
        """
        terms = check_search(terms, k)
        if not terms:
            return []
        with self._lock:  # no flush: a batch's held commits write no article
            db = self._db
            # One read transaction (unless a batch's is open): the index's state, the
            # phrases' counts and terms and the hits' text are read in several statements,
            # and another connection may commit between them.
            try:
                begin = not db.in_transaction  # raises on a closed store
                if begin:
                    db.execute("BEGIN")
                try:
                    return self._search(db, list(dict.fromkeys(terms)), k, locale, tags, area)
                finally:
                    if begin:
                        db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise self._fail(exc, "article search") from exc

    def _search(
        self,
        db: sqlite3.Connection,
        terms: list[str],
        k: int,
        locale: str | None,
        tags: Sequence[str],
        area: str | None,
    ) -> list[ArticleHit]:
        # What a batch that changed the article index reads is not kept: it may roll back.
        index = PhraseIndex() if self._batch_wrote_articles else self._index
        index.sync(db)
        used = index.used(db, [_phrase(term) for term in terms])
        if not used:
            return []
        ranked = top([phrase for _, phrase in used], k, index.allowed(db, locale, tags, area))
        if not ranked:
            return []
        # The snippets are made here, as the in-memory stores make theirs, from the indexed
        # text: FTS5's snippet() needs a MATCH, which set up every phrase's doclists again
        # and walked the rows between the hits (half of a heavy query's time).
        found = {
            rowid: (article_id, title, body)
            for ids in in_parts(db, [rowid for rowid, _ in ranked])
            for rowid, article_id, title, body in db.execute(
                "SELECT s.id, s.article_id, f.title, f.body FROM article_search s JOIN"
                f" article_fts f ON f.rowid = s.id WHERE s.id IN ({', '.join('?' * len(ids))})",
                ids,
            )
        }
        marks = [terms[n] for n, _ in used]  # a short term matches its whole word only
        prefixes = [term for term in marks if len(term) >= _PREFIX_FROM]
        whole = [term for term in marks if len(term) < _PREFIX_FROM]
        hits = []
        for rowid, value in ranked:
            article_id, title, body = found[rowid]
            text = snippet(body, prefixes, whole=whole)
            hits.append(ArticleHit(str(article_id), str(title), value, text))
        return hits


def _phrase(term: str) -> str:
    """The FTS5 phrase for a query term: quoted (a quote in it doubled: a caller of the store
    may pass any text), a prefix (``"passw"*``) from three characters on; shorter terms match
    whole words only, as a one- or two-letter prefix would expand to a large part of the
    vocabulary. NUL (which ends FTS5's text) and lone surrogates (which SQLite cannot take)
    are spaces: its tokenizer reads neither as part of a word."""
    quoted = '"' + _UNREADABLE.sub(" ", term).replace('"', '""') + '"'
    return quoted + "*" if len(term) >= _PREFIX_FROM else quoted


_PREFIX_FROM = 3  # the shortest query term matched as a prefix (see _phrase)
_UNREADABLE = re.compile("[\x00\ud800-\udfff]")
