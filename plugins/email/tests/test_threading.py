"""Threading and loop protection through a real desk: every corpus message, tokens, the
desk's own sent ids, noise on tickets, and the outbox's handling of SMTP failures."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from supportkit_email import EmailChannel, EmailPlugin, SmtpSettings

from supportkit import FrozenClock, InboundMessage, Status, SupportDesk

CORPUS = Path(__file__).parent / "corpus"
EXPECTED: dict[str, dict[str, Any]] = json.loads((CORPUS / "expected.json").read_text("utf-8"))
NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
OWN = "support@support.example"


def make_desk(clock: FrozenClock | None = None, **options: Any) -> SupportDesk:
    channel = EmailChannel(addresses=[OWN], clock=clock or FrozenClock(NOW), **options)
    return SupportDesk(
        store="memory",
        plugins=[EmailPlugin(channel)],
        blocked_plugins=["email"],  # replaced by the configured channel above
        clock=clock or FrozenClock(NOW),
    )


def seed(desk: SupportDesk, message_id: str, ticket_id: str | None = None) -> str:
    """A ticket whose first message has *message_id* (as if the desk had seen it)."""
    message = InboundMessage(
        message_id, "email", "someone@customer.example", NOW, body="seed", ticket_id=ticket_id
    )
    ticket = desk.ingest(message).ticket_id
    assert ticket is not None
    return ticket


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_message_threads(name: str) -> None:
    """Each corpus message goes into the ticket of the first id it references that the desk
    knows; with none known it opens a ticket, unless it is noise or the desk's own mail,
    which opens nothing and reports the ticket it refers to."""
    expected = EXPECTED[name]
    desk = make_desk()
    known = expected["references"][0] if expected["references"] else None
    seeded = seed(desk, known) if known else None
    result = desk.receive("email", (CORPUS / name).read_bytes())
    if expected.get("noise") or expected.get("own"):
        assert result.ignored
        assert result.ticket_id == seeded
        assert len(desk.tickets()) == (1 if seeded else 0)
    elif seeded is not None:
        assert (result.ticket_id, result.created, result.ignored) == (seeded, False, None)
    else:
        assert result.created
        assert result.ignored is None


def test_newest_known_reference_wins() -> None:
    """Of several known references, the newest (the parent) picks the ticket."""
    desk = make_desk()
    older = seed(desk, "a@x.example")
    newer = seed(desk, "b@x.example")
    result = desk.receive("email", (CORPUS / "reference_order.eml").read_bytes())
    assert result.ticket_id == newer != older


def test_token_threads_into_an_existing_ticket_only() -> None:
    """A subject token threads into the ticket it names if that exists; otherwise the message
    opens a ticket with a generated id, never the one the sender wrote."""
    raw = (CORPUS / "ticket_token_subject.eml").read_bytes()
    desk = make_desk()
    result = desk.receive("email", raw)
    assert result.created
    assert result.ticket_id != "T-0a1b2c3d4e5f"
    desk = make_desk()
    existing = seed(desk, "first@x.example", ticket_id="T-0a1b2c3d4e5f")
    assert desk.receive("email", raw).ticket_id == existing


def test_references_win_over_the_token() -> None:
    """A known reference beats a token naming another ticket (a forward of an old mail)."""
    desk = make_desk()
    by_token = seed(desk, "other@x.example", ticket_id="T-3f2a9c1b7d4e")
    by_reference = seed(desk, "T-3f2a9c1b7d4e.1@support.example")
    result = desk.receive("email", (CORPUS / "gmail_reply_en.eml").read_bytes())
    assert result.ticket_id == by_reference != by_token


def test_same_mail_twice_is_a_duplicate() -> None:
    """A redelivered message (same Message-ID, or same content without one) is a duplicate."""
    desk = make_desk()
    for name in ("plain_new_ticket.eml", "missing_message_id.eml"):
        raw = (CORPUS / name).read_bytes()
        first = desk.receive("email", raw)
        again = desk.receive("email", b"Received: by another.hop\n" + raw)
        assert (again.duplicate, again.ticket_id) == (True, first.ticket_id)


def test_noise_on_a_pending_ticket_changes_nothing() -> None:
    """An out-of-office answer to the agent's reply neither reopens the pending ticket nor
    counts as a customer message; it is kept as an internal note. A real answer reopens it."""
    desk = make_desk()
    ticket = seed(desk, "sk.o1@support.example")
    desk.reply(ticket, "Please try again.", agent="ann", status="pending")
    before = desk.ticket(ticket)
    result = desk.receive("email", (CORPUS / "ooo_exchange.eml").read_bytes())
    assert (result.ticket_id, result.ignored) == (
        ticket,
        "auto-submitted: auto-submitted auto-generated",
    )
    after = desk.ticket(ticket)
    assert after.status is Status.PENDING
    assert after.last_customer_message_at == before.last_customer_message_at
    note = desk.events(ticket)[-1]
    assert (note.kind, note.data["public"]) == ("message", False)
    answer = desk.receive("email", (CORPUS / "outlook_reply_en.eml").read_bytes())
    assert answer.ticket_id == ticket
    assert desk.ticket(ticket).status is Status.OPEN


def test_noise_dropped_leaves_no_note() -> None:
    """With noise='drop' an auto-reply on a ticket is reported but not written."""
    desk = make_desk(noise="drop")
    ticket = seed(desk, "sk.o1@support.example")
    version = desk.ticket(ticket).version
    result = desk.receive("email", (CORPUS / "ooo_exchange.eml").read_bytes())
    assert (result.ticket_id, result.ignored is not None) == (ticket, True)
    assert desk.ticket(ticket).version == version


def test_customer_answer_to_a_sent_reply_threads_back(smtp_server: Any) -> None:
    """The desk records the Message-ID of each reply it sends; the customer's answer, citing
    only that id (new subject, no token), threads into the ticket."""
    clock = FrozenClock(NOW)
    smtp = SmtpSettings(
        host=smtp_server.host, port=smtp_server.port, security="none", from_address=OWN
    )
    desk = make_desk(clock, smtp=smtp)
    opened = desk.receive("email", (CORPUS / "plain_new_ticket.eml").read_bytes())
    assert opened.ticket_id is not None
    desk.reply(opened.ticket_id, "Which browser version exactly?", agent="ann")
    assert desk.deliver().delivered
    (envelope,) = smtp_server.capture.messages
    sent = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert sent["In-Reply-To"] == "<new-0001@shop.example>"
    answer = (
        "From: Maria Rossi <maria@shop.example>\nTo: support@support.example\n"
        f"Subject: browser\nMessage-ID: <a-1@shop.example>\nIn-Reply-To: {sent['Message-ID']}\n"
        "\nFirefox 135.0.1\n"
    ).encode()
    clock.advance(timedelta(minutes=5))
    result = desk.receive("email", answer)
    assert (result.ticket_id, result.created) == (opened.ticket_id, False)


def test_5xx_is_dead_lettered_and_4xx_retried(smtp_server: Any) -> None:
    """Through the outbox: a 4xx refusal stays pending for a retry, a 5xx one goes to the
    dead letter at once with the server's reason."""
    clock = FrozenClock(NOW)
    smtp = SmtpSettings(
        host=smtp_server.host, port=smtp_server.port, security="none", from_address=OWN
    )
    desk = make_desk(clock, smtp=smtp)
    ticket = desk.receive("email", (CORPUS / "plain_new_ticket.eml").read_bytes()).ticket_id
    assert ticket is not None
    smtp_server.capture.rcpt_answer = "451 4.7.1 Greylisted, try again later"
    desk.reply(ticket, "First answer", agent="ann")
    result = desk.deliver()
    assert result.retried
    assert not result.dead
    smtp_server.capture.rcpt_answer = "550 5.1.1 No such user"
    clock.advance(timedelta(hours=2))
    result = desk.deliver()
    assert result.dead
    assert not result.retried
    (dead,) = desk.outbox("dead")
    assert "550 5.1.1 No such user" in (dead.last_error or "")


def test_a_channel_without_smtp_queues_no_replies() -> None:
    """Without SMTP settings the channel only receives (``can_send`` is false): an agent's
    public reply stays on the ticket and no outbox row is queued (each one failed every retry
    and ended in the dead letter). With settings, the reply is queued."""
    receiving = make_desk()
    ticket = seed(receiving, "first@customer.example")
    receiving.reply(ticket, "On it.", agent="a-1")
    assert [] == [m for m in receiving.outbox() if m.topic == "reply"]
    assert "On it." == receiving.events(ticket)[-1].data["body"]
    smtp = SmtpSettings(host="127.0.0.1", port=2525, from_address=OWN, security="none")
    sending = make_desk(smtp=smtp)
    ticket = seed(sending, "first@customer.example")
    sending.reply(ticket, "On it.", agent="a-1")
    assert 1 == len([m for m in sending.outbox() if m.topic == "reply"])
