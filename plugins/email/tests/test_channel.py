"""EmailChannel.parse: InboundMessage fields, noise as Ignored, tokens, stores, settings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from supportkit_email import Attachment, EmailChannel, SmtpSettings

from supportkit import (
    ConfigurationError,
    EventError,
    FrozenClock,
    InboundMessage,
    SupportkitError,
)
from supportkit.exceptions import Ignored

CORPUS = Path(__file__).parent / "corpus"
NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def raw(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def channel(**options: object) -> EmailChannel:
    return EmailChannel(clock=FrozenClock(NOW), **options)  # type: ignore[arg-type]


def test_parse_gives_an_inbound_message() -> None:
    """A reply becomes an InboundMessage with id, sender, stripped body, references, hint."""
    message = channel().parse(raw("gmail_reply_en.eml"), {})
    assert isinstance(message, InboundMessage)
    assert (message.channel, message.message_id, message.sender) == (
        "email",
        "CAJx1+abc123@mail.gmail.com",
        "jane.doe@gmail.com",
    )
    assert message.at == NOW
    assert message.body == "Still broken after the restart, same error E42."
    assert message.subject == "Re: Printer not working [#T-3f2a9c1b7d4e]"
    assert message.references == ("T-3f2a9c1b7d4e.1@support.example",)
    assert message.ticket_hint == "T-3f2a9c1b7d4e"
    assert message.ticket_id is None  # a sender never chooses the ticket id
    assert message.metadata["from_name"] == "Jane Doe"
    assert message.metadata["to"] == ["support@support.example"]


def test_text_payload_is_accepted() -> None:
    """A payload given as text parses like its bytes."""
    text = raw("plain_new_ticket.eml").decode("utf-8")
    assert channel().parse(text, {}).message_id == "new-0001@shop.example"


def test_received_at_header_sets_the_instant() -> None:
    """The transport's X-Supportkit-Received-At is the message's instant (else the clock's)."""
    message = channel().parse(
        raw("plain_new_ticket.eml"), {"X-Supportkit-Received-At": "2025-03-02T08:00:00+01:00"}
    )
    assert message.at == datetime(2025, 3, 2, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize("value", ["yesterday", "2025-03-02T08:00:00"])
def test_bad_received_at_is_an_event_error(value: str) -> None:
    """An X-Supportkit-Received-At that is not an aware ISO instant is refused, naming it."""
    with pytest.raises(EventError) as info:
        channel().parse(raw("plain_new_ticket.eml"), {"x-supportkit-received-at": value})
    assert info.value.field == "x-supportkit-received-at"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("ooo_exchange.eml", "auto-submitted: auto-submitted auto-generated"),
        ("ooo_gmail_vacation.eml", "auto-submitted: auto-submitted auto-replied"),
        ("ooo_x_autoreply.eml", "auto-reply: x-autoreply yes"),
        ("precedence_bulk.eml", "bulk: precedence bulk"),
        ("bounce_qmail_plain.eml", "bounce: return-path <>"),
        ("bounce_exchange_ndr.eml", "bounce: multipart/report (delivery or disposition report)"),
        ("newsletter.eml", "list: list-unsubscribe"),
    ],
)
def test_noise_raises_ignored_recorded_as_a_note(name: str, reason: str) -> None:
    """Noise raises Ignored with the reason and the message; by default it is recorded."""
    with pytest.raises(Ignored) as info:
        channel().parse(raw(name), {})
    assert info.value.reason == reason
    assert info.value.record is True
    assert isinstance(info.value.message, InboundMessage)


def test_noise_dropped_by_configuration() -> None:
    """With noise='drop' an auto-reply is ignored and not recorded."""
    with pytest.raises(Ignored) as info:
        channel(noise="drop").parse(raw("ooo_exchange.eml"), {})
    assert info.value.record is False


def test_bounce_carries_the_bounced_message_id() -> None:
    """A bounce refers to the desk's message that bounced, so the desk can find the ticket."""
    with pytest.raises(Ignored) as info:
        channel().parse(raw("bounce_postfix_dsn.eml"), {})
    assert info.value.message is not None
    assert info.value.message.references == ("sk.sent-42@support.example",)


def test_own_address_is_dropped() -> None:
    """Mail from one of the desk's own addresses is ignored and never recorded."""
    with pytest.raises(Ignored) as info:
        channel(addresses=["Support@Support.Example"]).parse(raw("own_address.eml"), {})
    assert info.value.reason == "own address: support@support.example"
    assert info.value.record is False


def test_smtp_from_address_counts_as_own() -> None:
    """The SMTP from address is one of the desk's own addresses."""
    smtp = SmtpSettings(host="127.0.0.1", from_address="support@support.example")
    with pytest.raises(Ignored, match="own address"):
        channel(smtp=smtp).parse(raw("own_address.eml"), {})


def test_custom_token_format() -> None:
    """A configured token format reads ticket ids from subjects in that format."""
    custom = channel(token="(Ticket {ticket_id})")
    assert custom.ticket_hint("Re: help (Ticket T-42) [#T-1]") == "T-42"
    assert channel().ticket_hint("Re: help (Ticket T-42)") is None
    assert channel().ticket_hint("[#T-1] Re: Re: [#T-2]") == "T-2"


@pytest.mark.parametrize("token", ["{ticket_id}", "#", "[#{ticket_id}] {ticket_id}"])
def test_bad_token_format(token: str) -> None:
    """A token format without exactly one {ticket_id} with text around it is refused."""
    with pytest.raises(ConfigurationError, match="token"):
        EmailChannel(token=token)


def test_missing_sender_is_an_event_error() -> None:
    """A person's mail without a readable From address is refused, naming the sender."""
    with pytest.raises(EventError) as info:
        channel().parse(b"To: support@support.example\nSubject: hi\n\nbody\n", {})
    assert info.value.field == "sender"


def test_stores_get_raw_mail_and_attachments() -> None:
    """The raw store gets the original bytes; the attachment store the files, whose keys
    land in the message's metadata."""
    raws: dict[str, bytes] = {}
    files: list[tuple[str, Attachment, bytes]] = []

    def keep(message_id: str, attachment: Attachment, data: bytes) -> str:
        files.append((message_id, attachment, data))
        return f"blob-{len(files)}"

    message = channel(raw_store=raws.__setitem__, attachments=keep).parse(
        raw("attachment_pdf.eml"), {}
    )
    assert raws == {"att-0001@acct.example": raw("attachment_pdf.eml")}
    assert [(m, a.name, d[:8]) for m, a, d in files] == [
        ("att-0001@acct.example", "invoice-031.pdf", b"%PDF-1.4")
    ]
    assert message.metadata["attachments"] == [
        {
            "name": "invoice-031.pdf",
            "content_type": "application/pdf",
            "size": len(files[0][2]),
            "content_id": None,
            "inline": False,
            "key": "blob-1",
        }
    ]


@pytest.mark.parametrize(
    ("options", "match"),
    [({"noise": "keep"}, "noise"), ({"max_bytes": 0}, "max_bytes")],
)
def test_bad_channel_settings(options: dict[str, object], match: str) -> None:
    """Invalid channel settings are ConfigurationErrors naming the setting."""
    with pytest.raises(ConfigurationError, match=match):
        EmailChannel(**options)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000), st.sampled_from(["note", "drop"]))
def test_fuzz_channel_parse(raw: bytes, noise: str) -> None:
    """Any bytes give an InboundMessage or a SupportkitError (EventError, Ignored); nothing
    else escapes, and what comes out is a valid message."""
    try:
        message = channel(noise=noise).parse(raw, {})
    except SupportkitError:
        return
    assert message.channel == "email"
    assert message.message_id
