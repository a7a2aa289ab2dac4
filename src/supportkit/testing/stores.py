"""The contract every :class:`~supportkit.typing.DeskStore` must meet, as a pytest test class.

Subclass :class:`DeskStoreContract` in a test module and override :meth:`~DeskStoreContract.
make_store` to return a fresh, empty store of yours; pytest then runs every contract test on
it::

    from supportkit.testing.stores import DeskStoreContract

    class TestMyStore(DeskStoreContract):
        def make_store(self):
            return MyStore(url=...)

The store is closed after each test when it has a ``close()`` method. supportkit runs this
class on ``MemorySidecar(InMemoryStore())``, ``SqliteStore`` and the PostgreSQL plugin's store.
Importing this module needs pytest (it is a test suite); :mod:`supportkit.testing` does not.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import attrs
import pytest

from supportkit._commit import Commit, OutboxMessage
from supportkit._knowledge import ArticleEvent
from supportkit._metrics import SessionEvent
from supportkit._model import TicketEvent
from supportkit._ticket import Ticket
from supportkit.exceptions import ConcurrencyError, EventError, StoreError
from supportkit.typing import DeskStore, EventStore

__all__ = ["DeskStoreContract"]

#: The instant the contract's events and outbox messages are stamped with.
T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
TS0 = int(T0.timestamp())


def _event(ticket: str, kind: str = "created", **data: object) -> TicketEvent:
    return TicketEvent(kind, ticket_id=ticket, at=T0, data=data)


def _note(key: str, ticket: str = "T-1", at: int = TS0) -> OutboxMessage:
    return OutboxMessage(
        key=key, topic="notify", ticket_id=ticket, payload={"k": key}, created_at=at
    )


def _article(kind: str, article_id: str = "A-1", **fields: object) -> ArticleEvent:
    return ArticleEvent(kind, article_id, T0, **fields)  # type: ignore[arg-type]


def _published(store: DeskStore, article_id: str, title: str, body: str, **fields: object) -> None:
    """Create *article_id* published, with the given fields."""
    event = _article(
        "created", article_id, title=title, body=body, locale="en", status="published", **fields
    )
    store.append_article(article_id, [event], expected_version=0)


def _created(store: DeskStore, ticket: str, **extra: object) -> int:
    """Commit a ``created`` event for *ticket* with the given Commit fields."""
    return store.commit(Commit(ticket, (_event(ticket),), 0, **extra))  # type: ignore[arg-type]


class DeskStoreContract:
    """Base class of the store contract tests: override :meth:`make_store`.

    The class is not collected itself (its name does not start with ``Test``); a subclass
    named ``Test...`` is.
    """

    keeps_failed_batches: bool = False
    """Whether a ``batch()`` block that raises keeps the commits that succeeded in it (the
    in-memory sidecar, which has no transactions, does: set it there); a transactional store
    keeps none of them."""

    def make_store(self) -> DeskStore:
        """Return a new, empty store (override this)."""
        raise NotImplementedError("override make_store() to return a fresh, empty store")

    @pytest.fixture
    def store(self) -> Iterator[DeskStore]:
        """A fresh store from :meth:`make_store`, closed after the test if it can be."""
        store = self.make_store()
        try:
            yield store
        finally:
            close = getattr(store, "close", None)
            if close is not None:
                close()

    # --- the event log --------------------------------------------------------------------------

    def test_is_a_desk_store_and_an_event_store(self, store: DeskStore) -> None:
        """The store satisfies both protocols."""
        assert (True, True) == (isinstance(store, DeskStore), isinstance(store, EventStore))

    def test_log_versions_and_order(self, store: DeskStore) -> None:
        """Appended events read back per ticket and globally, with versions and ticket order."""
        events = [_event("T-2"), _event("T-1"), _event("T-2", "message", body="hi", public=False)]
        store.append("T-2", [events[0]], expected_version=0)
        store.append("T-1", [events[1]], expected_version=0)
        store.append("T-2", [events[2]], expected_version=1)
        assert [events[0], events[2]] == store.read("T-2")
        assert [events[2]] == store.read("T-2", after=1)
        assert (2, 1, 0) == (store.version("T-2"), store.version("T-1"), store.version("x"))
        assert ["T-2", "T-1"] == store.ticket_ids()
        assert events == list(store.read_all())

    def test_stale_append_fails_and_writes_nothing(self, store: DeskStore) -> None:
        """Appending at a stale version raises ConcurrencyError with both versions."""
        store.append("T-1", [_event("T-1")], expected_version=0)
        with pytest.raises(ConcurrencyError) as info:
            store.append("T-1", [_event("T-1", "message")], expected_version=0)
        assert (0, 1, 1) == (info.value.expected, info.value.actual, store.version("T-1"))

    def test_foreign_event_in_batch_is_refused(self, store: DeskStore) -> None:
        """A batch with an event of another ticket is refused whole, by append and commit."""
        with pytest.raises(StoreError, match="belongs to ticket T-2"):
            store.append("T-1", [_event("T-1"), _event("T-2")], expected_version=0)
        with pytest.raises(StoreError, match="belongs to ticket T-2"):
            store.commit(Commit("T-1", (_event("T-1"), _event("T-2")), 0))
        assert (0, []) == (store.version("T-1"), store.ticket_ids())

    def test_empty_append_returns_current_version(self, store: DeskStore) -> None:
        """An empty batch changes nothing and returns the version."""
        store.append("T-1", [_event("T-1")], expected_version=0)
        assert (1, 1) == (store.append("T-1", [], expected_version=1), store.version("T-1"))

    # --- commits ------------------------------------------------------------------------------

    def test_commit_writes_everything(self, store: DeskStore) -> None:
        """A commit records events, message id, snapshot, due instant, outbox and alert keys."""
        created = _event("T-1", customer="c-1")
        snapshot = Ticket.from_events([created])
        commit = Commit(
            "T-1",
            (created,),
            0,
            message=("email", "m-1"),
            snapshot=snapshot,
            due=TS0 + 60,
            outbox=(_note("n-1"),),
            alerts=("first_reply:0:0.5",),
        )
        assert 1 == store.commit(commit)
        assert ([created], "T-1", snapshot) == (
            store.read("T-1"),
            store.message_ticket("email", "m-1"),
            store.snapshot("T-1"),
        )
        assert ([("T-1", TS0 + 60)], frozenset({"first_reply:0:0.5"})) == (
            store.due(TS0 + 60),
            store.alerts("T-1"),
        )
        assert ["n-1"] == [m.key for m in store.outbox("pending")]

    def test_stale_commit_writes_nothing(self, store: DeskStore) -> None:
        """A commit at a stale version writes none of its parts."""
        _created(store, "T-1")
        stale = Commit(
            "T-1",
            (_event("T-1", "tagged"),),
            0,
            message=("chat", "m-9"),
            due=TS0,
            outbox=(_note("n-9"),),
            alerts=("a",),
        )
        with pytest.raises(ConcurrencyError):
            store.commit(stale)
        assert (1, None, [], [], frozenset()) == (
            store.version("T-1"),
            store.message_ticket("chat", "m-9"),
            store.due(TS0 + 10**6),
            store.outbox(),
            store.alerts("T-1"),
        )

    def test_duplicate_message_commits_nothing(self, store: DeskStore) -> None:
        """A second commit consuming the same channel message id is refused whole."""
        _created(store, "T-1", message=("chat", "m-1"))
        with pytest.raises(ConcurrencyError, match="already ingested into ticket T-1"):
            _created(store, "T-2", message=("chat", "m-1"))
        assert (0, "T-1") == (store.version("T-2"), store.message_ticket("chat", "m-1"))

    def test_same_message_id_on_other_channel_is_new(self, store: DeskStore) -> None:
        """The message index is keyed by (channel, message id)."""
        _created(store, "T-1", message=("chat", "m-1"))
        _created(store, "T-2", message=("email", "m-1"))
        assert ("T-1", "T-2") == (
            store.message_ticket("chat", "m-1"),
            store.message_ticket("email", "m-1"),
        )

    def test_recorded_message_keeps_its_first_ticket(self, store: DeskStore) -> None:
        """record_message indexes an id (an outbound one) once; the first ticket stays."""
        _created(store, "T-1")
        store.record_message("email", "<out-1@desk>", "T-1")
        store.record_message("email", "<out-1@desk>", "T-2")
        assert ("T-1", None) == (
            store.message_ticket("email", "<out-1@desk>"),
            store.message_ticket("chat", "<out-1@desk>"),
        )
        with pytest.raises(ConcurrencyError, match="already ingested"):
            _created(store, "T-3", message=("email", "<out-1@desk>"))

    def test_emitted_alert_key_is_refused_again(self, store: DeskStore) -> None:
        """Recording an alert key twice fails, so a warning or breach is emitted exactly once."""
        _created(store, "T-1", alerts=("k",))
        with pytest.raises(ConcurrencyError, match="already"):
            store.commit(Commit("T-1", (), 1, alerts=("k",), outbox=(_note("n-2"),)))
        assert [] == store.outbox()

    def test_snapshot_is_replaced_by_a_newer_one(self, store: DeskStore) -> None:
        """snapshot() returns the last stored snapshot; a commit without one keeps it."""
        created = _event("T-1")
        tagged = _event("T-1", "tagged", add=["vip"])
        first = Ticket.from_events([created])
        second = Ticket.from_events([created, tagged])
        _created(store, "T-1", snapshot=first)
        before = store.snapshot("T-1")
        store.commit(Commit("T-1", (tagged,), 1, snapshot=second))
        store.commit(Commit("T-1", (_event("T-1", "tagged", add=["x"]),), 2))
        assert (None, first, second) == (store.snapshot("T-9"), before, store.snapshot("T-1"))

    # --- batches ------------------------------------------------------------------------------

    def test_batch_writes_every_commit(self, store: DeskStore) -> None:
        """Commits inside one batch (several tickets, one ticket twice) are all written, with
        their message ids, outbox rows and due entries, in log order."""
        first, second = _event("T-1"), _event("T-1", "tagged", add=["x"])
        with store.batch():
            store.commit(Commit("T-1", (first,), 0, message=("chat", "m-1"), due=TS0 + 5))
            store.commit(Commit("T-2", (_event("T-2"),), 0, outbox=(_note("n-2", "T-2"),)))
            store.commit(Commit("T-1", (second,), 1, message=("chat", "m-2"), keep_due=True))
        assert ([first, second], 2, 1) == (
            store.read("T-1"),
            store.version("T-1"),
            store.version("T-2"),
        )
        assert (["T-1", "T-2"], "T-1", ["n-2"], [("T-1", TS0 + 5)]) == (
            store.ticket_ids(),
            store.message_ticket("chat", "m-2"),
            [m.key for m in store.outbox()],
            store.due(TS0 + 10),
        )

    def test_refused_commit_in_a_batch_leaves_the_others(self, store: DeskStore) -> None:
        """A stale or duplicate commit inside a batch raises ConcurrencyError, writes none of
        its parts, and the batch goes on: the other commits are written."""
        with store.batch():
            _created(store, "T-1", message=("chat", "m-1"))
            with pytest.raises(ConcurrencyError):
                store.commit(Commit("T-1", (_event("T-1", "tagged"),), 0, outbox=(_note("n-9"),)))
            with pytest.raises(ConcurrencyError, match="already ingested"):
                _created(store, "T-2", message=("chat", "m-1"), due=TS0)
            _created(store, "T-3", message=("chat", "m-3"))
        assert (["T-1", "T-3"], 1, [], [], "T-3") == (
            store.ticket_ids(),
            store.version("T-1"),
            store.outbox(),
            store.due(TS0 + 10**6),
            store.message_ticket("chat", "m-3"),
        )

    def test_reads_in_a_batch_see_its_writes(self, store: DeskStore) -> None:
        """Inside a batch, this thread reads what the batch wrote so far."""
        created = _event("T-1")
        with store.batch():
            store.commit(Commit("T-1", (created,), 0, message=("email", "m-1"), alerts=("k",)))
            seen = (
                store.version("T-1"),
                store.read("T-1"),
                store.message_ticket("email", "m-1"),
                store.alerts("T-1"),
            )
            store.commit(Commit("T-1", (), 1, alerts=("k2",)))
        assert (1, [created], "T-1", frozenset({"k"})) == seen
        assert frozenset({"k", "k2"}) == store.alerts("T-1")

    def test_commits_with_and_without_alerts_interleave_in_a_batch(self, store: DeskStore) -> None:
        """In one batch a ticket gets a commit, one carrying an alert key, then another: the
        versions follow each other and the log has all three in order."""
        events = [_event("T-1"), _event("T-1", "tagged", add=["a"]), _event("T-1", "tagged")]
        with store.batch():
            store.commit(Commit("T-1", (events[0],), 0, due=TS0 + 60))
            store.commit(Commit("T-1", (events[1],), 1, alerts=("k",), keep_due=True))
            store.commit(Commit("T-1", (events[2],), 2, keep_due=True))
            inside = store.version("T-1")
        assert (3, 3, events, frozenset({"k"}), [("T-1", TS0 + 60)]) == (
            inside,
            store.version("T-1"),
            store.read("T-1"),
            store.alerts("T-1"),
            store.due(TS0 + 60),
        )

    def test_a_batch_inside_a_batch_joins_it(self, store: DeskStore) -> None:
        """A nested block adds to the outer batch; everything is there after both end."""
        with store.batch():
            _created(store, "T-1")
            with store.batch():
                _created(store, "T-2")
            _created(store, "T-3")
        assert ["T-1", "T-2", "T-3"] == store.ticket_ids()

    def test_a_batch_that_raises(self, store: DeskStore) -> None:
        """A block that raises: the error comes out as it is, and a transactional store keeps
        none of the block's writes (see ``keeps_failed_batches``); the store works on."""

        def fail() -> None:
            with store.batch():
                _created(store, "T-1", message=("chat", "m-1"))
                raise KeyError("the caller failed")

        with pytest.raises(KeyError, match="the caller failed"):
            fail()
        kept = 1 if self.keeps_failed_batches else 0
        assert (kept, kept == 1) == (
            store.version("T-1"),
            store.message_ticket("chat", "m-1") == "T-1",
        )
        _created(store, "T-2")
        assert 1 == store.version("T-2")

    # --- the due index ------------------------------------------------------------------------

    def test_due_index_is_ordered_bounded_and_cleared(self, store: DeskStore) -> None:
        """due() lists entries due by an instant, earliest first; a commit with due=None
        clears the ticket's entry."""
        for n, due in enumerate([300, 100, 200]):
            _created(store, f"T-{n}", due=TS0 + due)
        assert [("T-1", TS0 + 100), ("T-2", TS0 + 200)] == store.due(TS0 + 250)
        store.commit(Commit("T-1", (), 1, due=None))
        assert [("T-2", TS0 + 200)] == store.due(TS0 + 250, limit=1)

    def test_keep_due_leaves_the_due_index_alone(self, store: DeskStore) -> None:
        """A commit with keep_due=True neither moves nor clears the ticket's due entry."""
        _created(store, "T-1", due=TS0 + 100)
        store.commit(Commit("T-1", (_event("T-1", "tagged"),), 1, due=None, keep_due=True))
        assert [("T-1", TS0 + 100)] == store.due(TS0 + 100)

    def test_claimed_due_entries_are_hidden_until_released(self, store: DeskStore) -> None:
        """A claimed due entry is not claimed again until released; due() still lists it."""
        for n in range(3):
            _created(store, f"T-{n}", due=TS0 + n)
        first = store.claim_due(TS0 + 10, now=TS0, limit=2, lease=60)
        second = store.claim_due(TS0 + 10, now=TS0, limit=10, lease=60)
        listed = store.due(TS0 + 10)
        store.release_due(["T-0", "T-unknown"])
        third = store.claim_due(TS0 + 10, now=TS0, limit=10, lease=60)
        assert [("T-0", TS0), ("T-1", TS0 + 1)] == first
        assert ([("T-2", TS0 + 2)], 3, [("T-0", TS0)]) == (second, len(listed), third)

    def test_due_claim_expires_after_its_lease(self, store: DeskStore) -> None:
        """A claim whose ticker died ends after the lease: the entry is claimable again."""
        _created(store, "T-1", due=TS0)
        store.claim_due(TS0, now=TS0, limit=10, lease=30)
        during = store.claim_due(TS0, now=TS0 + 29, limit=10, lease=30)
        after = store.claim_due(TS0, now=TS0 + 30, limit=10, lease=30)
        assert ([], [("T-1", TS0)]) == (during, after)

    def test_writing_the_due_instant_ends_the_claim(self, store: DeskStore) -> None:
        """A commit that sets the ticket's due instant drops the claim on the old entry."""
        _created(store, "T-1", due=TS0)
        store.claim_due(TS0, now=TS0, limit=10, lease=300)
        store.commit(Commit("T-1", (), 1, due=TS0 + 5))
        assert [("T-1", TS0 + 5)] == store.claim_due(TS0 + 5, now=TS0, limit=10, lease=300)

    # --- the outbox ---------------------------------------------------------------------------

    def test_outbox_claim_hides_message_for_the_lease(self, store: DeskStore) -> None:
        """A claimed message is not claimed again until its lease runs out (deliverer died)."""
        _created(store, "T-1", outbox=(_note("n-1"),))
        first = [m.key for m in store.claim_outbox(TS0, limit=10, lease=30)]
        during = store.claim_outbox(TS0 + 29, limit=10, lease=30)
        after = [m.key for m in store.claim_outbox(TS0 + 30, limit=10, lease=30)]
        assert (["n-1"], [], ["n-1"]) == (first, during, after)

    def test_outbox_claim_is_bounded_and_oldest_first(self, store: DeskStore) -> None:
        """A claim takes at most *limit* due messages, earliest due first; later ones wait."""
        notes = (_note("c", at=TS0 + 2), _note("a", at=TS0), _note("b", at=TS0 + 1))
        _created(store, "T-1", outbox=(*notes, _note("later", at=TS0 + 100)))
        first = [m.key for m in store.claim_outbox(TS0 + 10, limit=2, lease=60)]
        rest = [m.key for m in store.claim_outbox(TS0 + 10, limit=10, lease=60)]
        assert (["a", "b"], ["c"]) == (first, rest)

    def test_outbox_failure_retries_then_dead_letters(self, store: DeskStore) -> None:
        """A failure counts an attempt and reschedules; one without retry is dead-lettered."""
        _created(store, "T-1", outbox=(_note("n-1"),))
        store.settle_outbox(TS0, failed=[("n-1", "boom", TS0 + 5)])
        pending = store.outbox("pending")[0]
        store.settle_outbox(TS0 + 5, failed=[("n-1", "boom again", None)])
        dead = store.outbox("dead")[0]
        assert ((1, TS0 + 5, "boom"), (2, "boom again")) == (
            (pending.attempts, pending.next_attempt_at, pending.last_error),
            (dead.attempts, dead.last_error),
        )
        assert [] == store.claim_outbox(TS0 + 10_000, limit=10, lease=30)

    def test_outbox_deferral_keeps_the_attempts_and_waits(self, store: DeskStore) -> None:
        """A deferred message stays pending until its retry instant, no attempt counted."""
        _created(store, "T-1", outbox=(_note("n-1"),))
        store.claim_outbox(TS0, limit=10, lease=30)
        store.settle_outbox(TS0, deferred=[("n-1", "rate limited", TS0 + 600)])
        waiting = store.outbox("pending")[0]
        early = store.claim_outbox(TS0 + 599, limit=10, lease=30)
        due = [m.key for m in store.claim_outbox(TS0 + 600, limit=10, lease=30)]
        assert ((0, TS0 + 600, "rate limited"), [], ["n-1"]) == (
            (waiting.attempts, waiting.next_attempt_at, waiting.last_error),
            early,
            due,
        )

    def test_outbox_delivery_is_recorded(self, store: DeskStore) -> None:
        """A delivered message records when, counts the attempt and is never claimed again."""
        _created(store, "T-1", outbox=(_note("n-1"),))
        store.settle_outbox(TS0 + 1, delivered=["n-1"])
        done = store.outbox("delivered")[0]
        assert ((TS0 + 1, 1), []) == (
            (done.delivered_at, done.attempts),
            store.claim_outbox(TS0 + 100, limit=10, lease=1),
        )

    def test_outbox_rows_round_trip(self, store: DeskStore) -> None:
        """A listed message has the topic, ticket, payload and instants it was written with."""
        message = OutboxMessage(
            key="k-1",
            topic="reply",
            ticket_id="T-1",
            payload={"text": "héllo", "n": [1, 2.5, None, True], "nested": {"a": "b"}},
            created_at=TS0,
        )
        _created(store, "T-1", outbox=(message,))

        def fields(m: OutboxMessage) -> tuple[object, ...]:
            return (m.key, m.topic, m.ticket_id, m.payload, m.created_at, m.due_at(), m.status)

        assert [fields(message)] == [fields(m) for m in store.outbox()]

    def test_prune_forgets_old_deliveries_and_keeps_dead_letters(self, store: DeskStore) -> None:
        """Pruning drops messages delivered before the cutoff; newer ones and dead letters
        stay."""
        _created(store, "T-1", outbox=(_note("old"), _note("new"), _note("dead")))
        store.settle_outbox(TS0, delivered=["old"], failed=[("dead", "boom", None)])
        store.settle_outbox(TS0 + 100, delivered=["new"])
        assert (1, ["new", "dead"]) == (
            store.prune_outbox(TS0 + 50),
            [m.key for m in store.outbox()],
        )

    def test_outbox_key_is_idempotent(self, store: DeskStore) -> None:
        """Writing an outbox message with a key already present keeps the first one."""
        _created(store, "T-1", outbox=(_note("n-1"),))
        store.commit(Commit("T-1", (), 1, outbox=(_note("n-1", at=TS0 + 9),)))
        assert [TS0] == [m.created_at for m in store.outbox()]

    # --- meta and plugin state ----------------------------------------------------------------

    def test_meta_documents_round_trip(self, store: DeskStore) -> None:
        """A JSON document stored under a key reads back equal; setting it again replaces."""
        store.set_meta("settings", {"policies": [{"name": "gold"}], "ladder": None})
        store.set_meta("settings", {"policies": [], "n": 1.5})
        assert ({"policies": [], "n": 1.5}, None) == (
            store.meta("settings"),
            store.meta("other"),
        )

    def test_plugin_state_round_trips_per_namespace(self, store: DeskStore) -> None:
        """A value reads back equal in its own namespace only; put replaces, delete forgets."""
        value = {"thread": "1712.0042", "ids": [1, 2], "ok": True, "text": "ünï"}
        store.state_put("slack", "T-1", value, expires_at=None, now=TS0)
        store.state_put("imap", "T-1", 7, expires_at=None, now=TS0)
        store.state_put("imap", "T-1", 8, expires_at=None, now=TS0)
        read = (
            store.state_get("slack", "T-1", now=TS0),
            store.state_get("imap", "T-1", now=TS0),
            store.state_get("http", "T-1", now=TS0),
        )
        store.state_delete("slack", "T-1")
        store.state_delete("slack", "never-there")
        assert ((value, 8, None), None) == (read, store.state_get("slack", "T-1", now=TS0))

    def test_plugin_state_expires(self, store: DeskStore) -> None:
        """A value with an expiry reads as missing from that instant on."""
        store.state_put("http", "sig", "seen", expires_at=TS0 + 300, now=TS0)
        assert ("seen", None, None) == (
            store.state_get("http", "sig", now=TS0 + 299),
            store.state_get("http", "sig", now=TS0 + 300),
            store.state_get("http", "sig", now=TS0 + 10**6),
        )

    def test_put_new_inserts_only_over_nothing_or_an_expired_value(self, store: DeskStore) -> None:
        """put_new is True for a new key or an expired value and False over a live one
        (which it leaves unchanged): replay protection."""
        first = store.state_put_new("http", "sig", 1, expires_at=TS0 + 300, now=TS0)
        replay = store.state_put_new("http", "sig", 2, expires_at=TS0 + 600, now=TS0 + 10)
        kept = store.state_get("http", "sig", now=TS0 + 10)
        later = store.state_put_new("http", "sig", 3, expires_at=None, now=TS0 + 300)
        forever = store.state_put_new("http", "sig", 4, expires_at=None, now=TS0 + 10**6)
        assert (True, False, 1, True, False) == (first, replay, kept, later, forever)
        assert 3 == store.state_get("http", "sig", now=TS0 + 10**6)

    def test_state_writes_never_drop_live_values(self, store: DeskStore) -> None:
        """Writes may drop expired entries on the way; live and unexpiring ones stay."""
        for n in range(5):
            store.state_put("ns", f"old-{n}", n, expires_at=TS0 + 1, now=TS0)
        store.state_put("ns", "live", "x", expires_at=TS0 + 100, now=TS0)
        store.state_put("ns", "forever", "y", expires_at=None, now=TS0)
        for n in range(5):
            store.state_put("other", f"k-{n}", n, expires_at=None, now=TS0 + 50)
        assert ("x", "y") == (
            store.state_get("ns", "live", now=TS0 + 50),
            store.state_get("ns", "forever", now=TS0 + 50),
        )

    # --- the self-service session stream ------------------------------------------------------

    def test_sessions_append_and_read_in_order(self, store: DeskStore) -> None:
        """Session events read back in append order, equal to what was appended; ``since``
        keeps those at or after an instant; an empty append writes nothing."""
        searched = SessionEvent(
            "searched", session_id="s1", at=T0, customer="ana", data={"query": "x", "results": 0}
        )
        viewed = SessionEvent(
            "article_viewed", session_id="s2", at=datetime(2025, 3, 6, tzinfo=UTC),
            data={"article": "A-1"},
        )  # fmt: skip
        store.append_sessions([viewed, searched])
        store.append_sessions([])
        assert ([viewed, searched], [viewed]) == (
            store.session_events(),
            store.session_events(since=TS0 + 1),
        )

    def test_session_redaction_rewrites_only_the_customer(self, store: DeskStore) -> None:
        """redact_sessions gives the customer's events the pseudonym and an empty query and
        leaves other customers' events as they were."""
        mine = SessionEvent(
            "searched", session_id="s1", at=T0, customer="ana", data={"query": "ana's words"}
        )
        theirs = SessionEvent(
            "searched", session_id="s2", at=T0, customer="bo", data={"query": "bo's words"}
        )
        store.append_sessions([mine, theirs])
        assert (1, [("erased-1", ""), ("bo", "bo's words")]) == (
            store.redact_sessions("ana", "erased-1"),
            [(e.customer, e.data["query"]) for e in store.session_events()],
        )

    def test_bad_session_append_writes_nothing(self, store: DeskStore) -> None:
        """A batch with anything but SessionEvents is a StoreError and writes none of it."""
        good = SessionEvent("started", session_id="s1", at=T0)
        with pytest.raises(StoreError):
            store.append_sessions([good, {"kind": "started"}])  # type: ignore[list-item]
        with pytest.raises(StoreError):
            store.session_events(since="yesterday")  # type: ignore[arg-type]
        assert [] == store.session_events()

    # --- the knowledge base -------------------------------------------------------------------

    def test_article_log_versions_and_order(self, store: DeskStore) -> None:
        """Article events append with versions and read back per article and in append order."""
        created = _article("created", title="T", body="b", locale="en", status="draft")
        other = _article("created", "A-2", title="U", body="c", locale="de", status="draft")
        updated = _article("updated", status="published", tags=("x",))
        versions = (
            store.append_article("A-1", [created], expected_version=0),
            store.append_article("A-2", [other], expected_version=0),
            store.append_article("A-1", [updated], expected_version=1),
        )
        assert ((1, 1, 2), [created, updated], [created, other, updated], []) == (
            versions,
            store.article_events("A-1"),
            store.article_events(),
            store.article_events("A-9"),
        )

    def test_stale_or_unfit_article_append_writes_nothing(self, store: DeskStore) -> None:
        """A stale version is a ConcurrencyError, an event that does not fold an EventError,
        another article's event a StoreError; none writes anything."""
        _published(store, "A-1", "Title", "body")
        with pytest.raises(ConcurrencyError):
            store.append_article("A-1", [_article("retired")], expected_version=0)
        with pytest.raises(EventError):
            store.append_article("A-2", [_article("retired", "A-2")], expected_version=0)
        with pytest.raises(StoreError):
            store.append_article("A-1", [_article("retired", "A-2")], expected_version=1)
        assert (1, []) == (len(store.article_events("A-1")), store.article_events("A-2"))

    def test_article_append_writes_its_outbox_messages(self, store: DeskStore) -> None:
        """Outbox messages given with an article's events are written with them (a key
        already there is kept); a refused append writes none."""
        note = OutboxMessage(
            key="article:A-1:1", topic="article_changed", ticket_id="", payload={}, created_at=TS0
        )
        created = _article("created", title="T", body="b", locale="en", status="draft")
        store.append_article("A-1", [created], expected_version=0, outbox=[note])
        retry = attrs.evolve(note, payload={"other": True})
        store.append_article("A-1", [_article("retired")], expected_version=1, outbox=[retry])
        stale = attrs.evolve(note, key="article:A-1:stale")
        with pytest.raises(ConcurrencyError):
            store.append_article("A-1", [_article("retired")], expected_version=1, outbox=[stale])
        assert [("article:A-1:1", {})] == [(m.key, dict(m.payload)) for m in store.outbox()]

    def test_search_finds_published_articles_best_first(self, store: DeskStore) -> None:
        """Search ranks the article matching more and rarer terms first, matches word
        prefixes, highlights matched words and skips drafts."""
        _published(store, "pw", "Reset your password", "Open Settings, then Security, then reset.")
        _published(store, "inv", "Download invoices", "Invoices are in Billing as PDF files.")
        _published(store, "sec", "Security settings", "Two-factor login lives in Settings.")
        draft = _article(
            "created", "dr", title="Password draft", body="password", locale="en", status="draft"
        )
        store.append_article("dr", [draft], expected_version=0)
        hits = store.search_articles(["reset", "passw"], k=5)
        assert ["pw"] == [hit.article_id for hit in hits]
        assert "Reset your password" == hits[0].title
        assert "**reset**" in hits[0].snippet.lower()
        assert hits[0].score > 0
        both = store.search_articles(["settings", "security"], k=5)
        assert {"pw", "sec"} == {hit.article_id for hit in both}
        assert both[0].score >= both[1].score
        assert [] == store.search_articles([], k=5)

    def test_search_snippets_are_plain_text(self, store: DeskStore) -> None:
        """A store indexes an article body's plain text (:func:`~supportkit.article_text`),
        not its Markdown: a hit's snippet shows no Markdown syntax, and its only ``**`` are
        around matched words ("**Reset**" in the body would look like a match)."""
        body = (
            "# Start over\n\n- Click **Reset** in [Settings](https://x.example/s), then"
            " `Sync` to _start_."
        )
        _published(store, "A-1", "Start again", body)
        [hit] = store.search_articles(["sync"], k=5)
        marked = re.findall(r"\*\*(.*?)\*\*", hit.snippet)
        assert ["sync"] == [word.lower() for word in marked]
        assert "Reset in Settings" in hit.snippet
        assert set() == set("#[]()`_") & set(hit.snippet)
        assert [] == store.search_articles(["https"], k=5)  # a link's URL is not text

    def test_search_filters_and_follows_status_changes(self, store: DeskStore) -> None:
        """Locale, area and tag filters narrow the hits; unpublishing or retiring an article
        drops it from the index and republishing brings it back."""
        _published(store, "en", "Export data", "Export to CSV", tags=("data", "csv"), area="app")
        store.append_article(
            "de",
            [
                _article(
                    "created",
                    "de",
                    title="Export data",
                    body="Export als CSV",
                    locale="de",
                    status="published",
                    tags=("data",),
                )
            ],
            expected_version=0,
        )

        def found(**filters: object) -> list[str]:
            hits = store.search_articles(["export"], k=5, **filters)  # type: ignore[arg-type]
            return sorted(hit.article_id for hit in hits)

        assert (["de", "en"], ["de"], ["en"], ["en"], ["de", "en"], []) == (
            found(),
            found(locale="de"),
            found(area="app"),
            found(tags=("csv", "data")),
            found(tags=("data",)),
            found(tags=("data", "nope")),
        )
        store.append_article("en", [_article("retired", "en")], expected_version=1)
        store.append_article("de", [_article("updated", "de", status="draft")], expected_version=1)
        gone = found()
        store.append_article(
            "de",
            [_article("updated", "de", status="published", title="Exporting")],
            expected_version=2,
        )
        assert ([], ["de"]) == (gone, found())
        assert "Exporting" == store.search_articles(["export"], k=1)[0].title

    # --- listing, restoring and rewriting (export, import, erasure) --------------------------

    def test_listings_cover_every_index(self, store: DeskStore) -> None:
        """message_index, alert_index, meta_items and state_items list everything written,
        in code-point order (so an export reads the same from every store), live state only."""
        _created(store, "T-2", message=("email", "m-b"), alerts=("z", "a"))
        _created(store, "T-1", message=("chat", "m-é"), alerts=("k",))
        store.record_message("email", "<out-1@desk>", "T-1")
        store.record_message("email", "Z-upper", "T-2")
        store.set_meta("b", [1])
        store.set_meta("a", {"x": "ü"})
        store.set_meta("B", None)
        store.state_put("slack", "T-1", {"ts": "1.2"}, expires_at=None, now=TS0)
        store.state_put("http", "sig", 1, expires_at=TS0 + 10, now=TS0)
        store.state_put("http", "old", 2, expires_at=TS0 + 1, now=TS0)
        assert [
            ("chat", "m-é", "T-1"),
            ("email", "<out-1@desk>", "T-1"),
            ("email", "Z-upper", "T-2"),
            ("email", "m-b", "T-2"),
        ] == store.message_index()
        assert [("T-1", "k"), ("T-2", "a"), ("T-2", "z")] == store.alert_index()
        assert [("B", None), ("a", {"x": "ü"}), ("b", [1])] == store.meta_items()
        assert [
            ("http", "sig", 1, TS0 + 10),
            ("slack", "T-1", {"ts": "1.2"}, None),
        ] == store.state_items(now=TS0 + 5)

    def test_set_meta_if_is_compare_and_set(self, store: DeskStore) -> None:
        """set_meta_if writes only over the expected document (None: nothing there) and
        changes nothing otherwise."""
        first = store.set_meta_if("v", [1], expected=None)
        again = store.set_meta_if("v", [2], expected=None)
        stale = store.set_meta_if("v", [3], expected=[9])
        moved = store.set_meta_if("v", [1, {"n": 2}], expected=[1])
        assert (True, False, False, True) == (first, again, stale, moved)
        assert [1, {"n": 2}] == store.meta("v")

    def test_restore_writes_every_stream_as_given(self, store: DeskStore) -> None:
        """restore appends events at their versions in the given global order and writes the
        indexes, due entries, outbox rows with their status, meta and plugin state."""
        a1, b1, a2 = _event("T-a"), _event("T-b"), _event("T-a", "tagged", add=["x"])
        delivered = attrs.evolve(
            _note("n-1", "T-a"), status="delivered", attempts=2, delivered_at=TS0 + 5
        )
        dead = attrs.evolve(_note("n-2", "T-b"), status="dead", attempts=6, last_error="boom")
        pending = attrs.evolve(_note("n-3", "T-b"), next_attempt_at=TS0 + 60)
        store.restore(
            events=[(1, a1), (1, b1), (2, a2)],
            messages=[("email", "m-1", "T-a"), ("email", "<out@desk>", "T-b")],
            alerts=[("T-a", "first_reply:0:0.5")],
            due=[("T-b", TS0 + 30)],
            outbox=[delivered, dead, pending],
            meta=[("desk", {"v": 1})],
            state=[("slack", "T-a", {"ts": "1"}, None)],
        )
        assert ([a1, b1, a2], 2) == (list(store.read_all()), store.version("T-a"))
        assert ("T-b", [("T-b", TS0 + 30)]) == (
            store.message_ticket("email", "<out@desk>"),
            store.due(TS0 + 30),
        )
        assert frozenset({"first_reply:0:0.5"}) == store.alerts("T-a")

        def fields(m: OutboxMessage) -> tuple[object, ...]:
            return (m.key, m.status, m.attempts, m.due_at(), m.last_error, m.delivered_at)

        assert [fields(delivered), fields(dead), fields(pending)] == [
            fields(m) for m in store.outbox()
        ]
        assert ["n-3"] == [m.key for m in store.claim_outbox(TS0 + 60, limit=9, lease=5)]
        assert ({"v": 1}, {"ts": "1"}) == (
            store.meta("desk"),
            store.state_get("slack", "T-a", now=TS0),
        )

    def test_restore_keeps_what_is_there_and_refuses_a_gap(self, store: DeskStore) -> None:
        """Rows already present keep their values; an event that does not follow its
        ticket's log is a ConcurrencyError and nothing of the batch is written."""
        _created(store, "T-1", message=("email", "m-1"), outbox=(_note("n-1"),))
        store.set_meta("desk", {"v": 1})
        store.restore(
            messages=[("email", "m-1", "T-other")],
            outbox=[attrs.evolve(_note("n-1"), status="dead")],
            meta=[("desk", {"v": 2})],
        )
        with pytest.raises(ConcurrencyError):
            store.restore(
                events=[(1, _event("T-2")), (3, _event("T-1", "tagged"))],
                meta=[("new", 1)],
                messages=[("chat", "c-1", "T-2")],
            )
        assert ("T-1", "pending", {"v": 1}) == (
            store.message_ticket("email", "m-1"),
            store.outbox()[0].status,
            store.meta("desk"),
        )
        assert (0, None, None) == (
            store.version("T-2"),
            store.meta("new"),
            store.message_ticket("chat", "c-1"),
        )

    def test_redact_rewrites_events_ids_snapshots_and_outbox(self, store: DeskStore) -> None:
        """redact replaces events in place (versions and order kept), renames message ids,
        drops snapshots and redacts outbox payloads, dead-lettering pending ones."""
        created = _event("T-1", customer="ann@example.com")
        message = _event("T-1", "message", body="my card 4242", public=True)
        other = _event("T-2", customer="bob@example.com")
        first = Commit(
            "T-1",
            (created,),
            0,
            message=("email", "<ann-1@example.com>"),
            snapshot=Ticket.from_events([created]),
            outbox=(_note("n-1", "T-1"), _note("n-2", "T-1")),
        )
        store.commit(first)
        store.commit(Commit("T-1", (message,), 1))
        store.commit(Commit("T-2", (other,), 0, outbox=(_note("n-3", "T-2"),)))
        store.settle_outbox(TS0, delivered=["n-2"])
        clean = (
            TicketEvent.from_dict({**created.to_dict(), "customer": "erased-1"}),
            TicketEvent.from_dict({**message.to_dict(), "body": ""}),
        )
        redacted = store.redact(
            [(1, clean[0]), (2, clean[1])],
            tickets=["T-1"],
            message_ids=[("email", "<ann-1@example.com>", "erased-m")],
            payload={"redacted": "customer erased"},
            reason="customer erased",
        )
        assert (2, [*clean, other]) == (redacted, list(store.read_all()))
        assert (None, "T-1", None) == (
            store.message_ticket("email", "<ann-1@example.com>"),
            store.message_ticket("email", "erased-m"),
            store.snapshot("T-1"),
        )
        rows = {m.key: (m.status, dict(m.payload)) for m in store.outbox()}
        assert {
            "n-1": ("dead", {"redacted": "customer erased"}),
            "n-2": ("delivered", {"redacted": "customer erased"}),
            "n-3": ("pending", {"k": "n-3"}),
        } == rows
        with pytest.raises(StoreError, match="nothing was rewritten"):
            store.redact([(1, _event("T-2"))], tickets=[], payload={}, reason="x")
        assert [*clean, other] == list(store.read_all())
