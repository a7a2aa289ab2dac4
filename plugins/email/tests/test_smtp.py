"""Outbound mail against a real aiosmtpd server on 127.0.0.1: the bytes that arrive, TLS,
login, and SMTP failures mapped to IntegrationError kinds."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from supportkit_email import EmailChannel, EmailPlugin, SmtpError, SmtpSettings, reply_html

from supportkit import (
    FrozenClock,
    IntegrationError,
    IntegrationTimeout,
    OutboundReply,
    Role,
    SupportDesk,
    Ticket,
    TicketEvent,
)

CORPUS = Path(__file__).parent / "corpus"
NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def settings(server: Any, **options: Any) -> SmtpSettings:
    return SmtpSettings(
        host=server.host,
        port=server.port,
        security="none",
        from_address="support@support.example",
        from_name="Acme Support",
        timeout=5,
        **options,
    )


def desk_with(channel: EmailChannel) -> SupportDesk:
    return SupportDesk(
        store="memory",
        plugins=[EmailPlugin(channel)],
        blocked_plugins=["email"],  # the entry point's unconfigured channel
        clock=FrozenClock(NOW),
    )


def reply_for(channel: EmailChannel, raw_name: str, body: str = "We are on it.") -> OutboundReply:
    """The OutboundReply the desk builds for an agent's answer to a corpus message."""
    desk = desk_with(channel)
    ticket_id = desk.ingest(channel.parse((CORPUS / raw_name).read_bytes(), {})).ticket_id
    assert ticket_id is not None
    desk.reply(ticket_id, body, agent="ann")
    event = desk.events(ticket_id)[-1]
    return OutboundReply(
        desk.ticket(ticket_id),
        event,
        "jane.doe@gmail.com",
        "CAJx1+abc123@mail.gmail.com",
        references=("T-3f2a9c1b7d4e.1@support.example", "CAJx1+abc123@mail.gmail.com"),
    )


def received(server: Any) -> email.message.EmailMessage:
    (envelope,) = server.capture.messages
    msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


def test_reply_arrives_threaded(smtp_server: Any) -> None:
    """The desk's reply arrives with its Message-ID, In-Reply-To/References, the ticket
    token in the subject and UTF-8 text; send returns the Message-ID."""
    channel = EmailChannel(smtp=settings(smtp_server), clock=FrozenClock(NOW))
    reply = reply_for(channel, "gmail_reply_en.eml", "Grüße — we replaced the fuser.")
    sent_id = channel.send(reply)
    (envelope,) = smtp_server.capture.messages
    assert envelope.mail_from == "support@support.example"
    assert envelope.rcpt_tos == ["jane.doe@gmail.com"]
    msg = received(smtp_server)
    assert msg["Message-ID"] == f"<{sent_id}>"
    assert sent_id == f"{reply.ticket.id}.{reply.key}@support.example"
    assert msg["In-Reply-To"] == "<CAJx1+abc123@mail.gmail.com>"
    assert msg["References"] == "<T-3f2a9c1b7d4e.1@support.example> <CAJx1+abc123@mail.gmail.com>"
    # the ticket's subject already starts with Re:; its own token goes last (read first)
    assert msg["Subject"] == f"{reply.ticket.subject} [#{reply.ticket.id}]"
    assert channel.ticket_hint(msg["Subject"]) == reply.ticket.id
    assert msg["From"] == "Acme Support <support@support.example>"
    assert msg["Auto-Submitted"] is None
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content_charset() == "utf-8"
    assert msg.get_content() == "Grüße — we replaced the fuser.\r\n"
    assert b"\r\n" in envelope.original_content
    assert b"\r\r" not in envelope.original_content


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Printer jam", "Re: Printer jam [#{id}]"),
        ("RE: Printer jam", "RE: Printer jam [#{id}]"),
        ("Printer jam [#{id}]", "Re: Printer jam [#{id}]"),
        ("  ", "Re: Your request [#{id}]"),
    ],
)
def test_subject_of_a_reply(subject: str, expected: str) -> None:
    """A reply's subject is the ticket's, answered once, with the ticket token once."""
    channel = EmailChannel(clock=FrozenClock(NOW))
    reply = reply_for(channel, "plain_new_ticket.eml")
    ticket_id = reply.ticket.id
    ticket = reply.ticket.__class__(
        **{**_fields(reply.ticket), "subject": subject.format(id=ticket_id)}
    )
    assert channel.subject_for(OutboundReply(ticket, reply.event)) == expected.format(id=ticket_id)


def test_retry_sends_the_same_message_id(smtp_server: Any) -> None:
    """Sending the same reply twice (an outbox retry) uses the same Message-ID."""
    channel = EmailChannel(smtp=settings(smtp_server), clock=FrozenClock(NOW))
    reply = reply_for(channel, "plain_new_ticket.eml")
    assert channel.send(reply) == channel.send(reply)


def test_automatic_notice_and_html(smtp_server: Any) -> None:
    """An automatic notice says Auto-Submitted: auto-replied; an HTML renderer adds a
    multipart/alternative HTML part beside the text."""
    channel = EmailChannel(
        smtp=settings(smtp_server),
        clock=FrozenClock(NOW),
        html=reply_html,
    )
    reply = reply_for(channel, "plain_new_ticket.eml")
    channel.send(OutboundReply(reply.ticket, reply.event, reply.recipient, automatic=True))
    msg = received(smtp_server)
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg.get_content_type() == "multipart/alternative"
    parts = [(p.get_content_type(), p.get_content()) for p in msg.iter_parts()]
    assert parts == [
        ("text/plain", "We are on it.\r\n"),
        ("text/html", "<p>We are on it.</p>\r\n"),  # reply_html
    ]


def test_reply_html_escapes_what_the_reply_quotes() -> None:
    """reply_html shows markup in a reply (an article title, a quoted message) as text and
    makes its http(s) links clickable; javascript: stays text."""
    ticket = Ticket.from_events([TicketEvent("created", ticket_id="T-1", at=NOW)])
    body = (
        "These may answer your question:\n1. <img src=x onerror=alert(1)> Reset\n"
        "   https://help.example/kb/t?x=1&y=2\njavascript:alert(1)"
    )
    event = TicketEvent(
        "message", ticket_id="T-1", at=NOW, by=Role.SYSTEM, data={"body": body, "public": True}
    )
    assert (
        "<p>These may answer your question:<br>1. &lt;img src=x onerror=alert(1)&gt; Reset<br>"
        '   <a href="https://help.example/kb/t?x=1&amp;y=2" rel="nofollow noopener noreferrer">'
        "https://help.example/kb/t?x=1&amp;y=2</a><br>javascript:alert(1)</p>"
    ) == reply_html(OutboundReply(ticket, event))


def test_our_reply_coming_back_is_our_own(smtp_server: Any) -> None:
    """What the desk sends, read back by the channel, is ignored as the desk's own mail."""
    channel = EmailChannel(smtp=settings(smtp_server), clock=FrozenClock(NOW))
    channel.send(reply_for(channel, "plain_new_ticket.eml"))
    (envelope,) = smtp_server.capture.messages
    from supportkit.exceptions import Ignored

    with pytest.raises(Ignored, match="own address"):
        channel.parse(envelope.content, {})


@pytest.mark.parametrize(
    "subject",
    ["Printer\r\nBcc: victim@evil.example", "Printer\nX-Injected: yes", "Printer\rBcc: x@y.z"],
)
def test_header_injection_in_subject_is_neutralised(smtp_server: Any, subject: str) -> None:
    """CR/LF in a ticket subject never start a new header: the subject stays one line."""
    channel = EmailChannel(smtp=settings(smtp_server), clock=FrozenClock(NOW))
    reply = reply_for(channel, "plain_new_ticket.eml")
    ticket = reply.ticket.__class__(**{**_fields(reply.ticket), "subject": subject})
    channel.send(OutboundReply(ticket, reply.event, reply.recipient))
    (envelope,) = smtp_server.capture.messages
    assert envelope.rcpt_tos == ["jane.doe@gmail.com"]
    msg = received(smtp_server)
    assert msg["Bcc"] is None
    assert msg["X-Injected"] is None
    assert "\n" not in msg["Subject"]
    assert "\r" not in msg["Subject"]


def _fields(obj: Any) -> dict[str, Any]:
    import attrs

    return attrs.asdict(obj, recurse=False)


@pytest.mark.parametrize(
    "recipient",
    [None, "not an address", "jane@example.com\r\nBcc: x@evil.example", "a@b.example, c@d.example"],
)
def test_invalid_recipient_is_permanent(smtp_server: Any, recipient: str | None) -> None:
    """A missing or invalid recipient (CR/LF, two addresses) fails permanently, sending nothing."""
    channel = EmailChannel(smtp=settings(smtp_server), clock=FrozenClock(NOW))
    reply = reply_for(channel, "plain_new_ticket.eml")
    with pytest.raises(IntegrationError) as info:
        channel.send(OutboundReply(reply.ticket, reply.event, recipient))
    assert info.value.permanent is True
    assert smtp_server.capture.messages == []


@pytest.mark.parametrize(
    ("where", "answer", "permanent"),
    [
        ("rcpt", "450 4.2.1 Mailbox busy, try later", False),
        ("rcpt", "550 5.1.1 No such user here", True),
        ("data", "451 4.3.0 Local error in processing", False),
        ("data", "554 5.7.1 Message rejected as spam", True),
    ],
)
def test_smtp_refusals_map_to_transient_or_permanent(
    smtp_server: Any, where: str, answer: str, permanent: bool
) -> None:
    """4xx answers are transient SmtpErrors, 5xx permanent ones carrying the server's reason."""
    if where == "rcpt":
        smtp_server.capture.rcpt_answer = answer
    else:
        smtp_server.capture.data_answer = answer
    channel = EmailChannel(smtp=settings(smtp_server), clock=FrozenClock(NOW))
    with pytest.raises(SmtpError) as info:
        channel.send(reply_for(channel, "plain_new_ticket.eml"))
    code, _, text = answer.partition(" ")
    assert (info.value.code, info.value.permanent) == (int(code), permanent)
    assert text in info.value.reply
    assert text in str(info.value)


def test_no_smtp_settings_only_receives() -> None:
    """Without SMTP settings send returns None (the channel cannot send)."""
    channel = EmailChannel(clock=FrozenClock(NOW))
    assert channel.send(reply_for(channel, "plain_new_ticket.eml")) is None


def test_unreachable_server_is_a_timeout(free_port: Any) -> None:
    """A refused connection is an IntegrationTimeout (could not be reached): retried."""
    port = free_port()  # nothing listens here
    channel = EmailChannel(
        smtp=SmtpSettings(host="127.0.0.1", port=port, security="none", from_address="s@d.example"),
        clock=FrozenClock(NOW),
    )
    with pytest.raises(IntegrationTimeout) as info:
        channel.send(reply_for(channel, "plain_new_ticket.eml"))
    assert info.value.permanent is False


def test_silent_server_times_out() -> None:
    """A server that accepts the connection but never greets times out after the timeout."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        channel = EmailChannel(
            smtp=SmtpSettings(
                host="127.0.0.1",
                port=port,
                security="none",
                from_address="s@d.example",
                timeout=0.3,
            ),
            clock=FrozenClock(NOW),
        )
        with pytest.raises(IntegrationTimeout, match="did not answer"):
            channel.send(reply_for(channel, "plain_new_ticket.eml"))


def test_starttls_and_login(starttls_server: Any, client_tls: ssl.SSLContext) -> None:
    """STARTTLS upgrades the connection (verifying the certificate) and the login works."""
    smtp = SmtpSettings(
        host=starttls_server.host,
        port=starttls_server.port,
        security="starttls",
        from_address="support@support.example",
        username="desk",
        password="s3cret",
        ssl_context=client_tls,
        timeout=5,
    )
    channel = EmailChannel(smtp=smtp, clock=FrozenClock(NOW))
    channel.send(reply_for(channel, "plain_new_ticket.eml"))
    assert len(starttls_server.capture.messages) == 1


def test_wrong_password_is_permanent(starttls_server: Any, client_tls: ssl.SSLContext) -> None:
    """A refused login (535) is a permanent SmtpError."""
    smtp = SmtpSettings(
        host=starttls_server.host,
        port=starttls_server.port,
        from_address="support@support.example",
        username="desk",
        password="wrong",
        ssl_context=client_tls,
        timeout=5,
    )
    channel = EmailChannel(smtp=smtp, clock=FrozenClock(NOW))
    with pytest.raises(SmtpError) as info:
        channel.send(reply_for(channel, "plain_new_ticket.eml"))
    assert (info.value.code, info.value.permanent) == (535, True)


def test_untrusted_certificate_fails(starttls_server: Any) -> None:
    """STARTTLS with a certificate the client does not trust fails (not sent in clear)."""
    smtp = SmtpSettings(
        host=starttls_server.host,
        port=starttls_server.port,
        from_address="support@support.example",
        timeout=5,
    )
    channel = EmailChannel(smtp=smtp, clock=FrozenClock(NOW))
    with pytest.raises(IntegrationError, match="CERTIFICATE_VERIFY_FAILED"):
        channel.send(reply_for(channel, "plain_new_ticket.eml"))
    assert starttls_server.capture.messages == []


def test_implicit_tls(tls_server: Any, client_tls: ssl.SSLContext) -> None:
    """security='tls' speaks TLS from the first byte (port 465 style)."""
    smtp = SmtpSettings(
        host=tls_server.host,
        port=tls_server.port,
        security="tls",
        from_address="support@support.example",
        ssl_context=client_tls,
        timeout=5,
    )
    channel = EmailChannel(smtp=smtp, clock=FrozenClock(NOW))
    channel.send(reply_for(channel, "plain_new_ticket.eml"))
    assert len(tls_server.capture.messages) == 1


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"security": "ssl"}, "security"),
        ({"from_address": "no-at-sign"}, "from_address"),
        ({"from_address": "a@b.example\r\nBcc: x@y.z"}, "from_address"),
        ({"port": 0}, "port"),
    ],
)
def test_bad_smtp_settings(options: dict[str, Any], match: str) -> None:
    """Invalid SMTP settings are ConfigurationErrors naming the setting."""
    from supportkit import ConfigurationError

    with pytest.raises(ConfigurationError, match=match):
        SmtpSettings(**{"host": "mail.example", "from_address": "s@d.example", **options})
