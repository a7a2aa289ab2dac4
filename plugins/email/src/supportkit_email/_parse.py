"""RFC 5322 / MIME bytes to a :class:`ParsedEmail`, with the standard library's ``email``.

Parsing never raises on odd input other than a payload that is not bytes or text, or is
larger than the limit: a wrong or unknown charset decodes with replacement characters, a
malformed header reads as its raw text, broken MIME gives what can be read of it.
"""

from __future__ import annotations

import contextlib
import email
import email.header
import email.policy
import email.utils
import hashlib
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.message import Message
from typing import Any

import attrs

from supportkit import EventError

from ._noise import noise_reason
from ._text import html_to_text, strip_reply

__all__ = ["MAX_BODY_CHARS", "MAX_BYTES", "Attachment", "ParsedEmail", "parse_email"]

#: The largest raw message accepted: 40 MiB (a 25 MB attachment grows by a third in base64).
MAX_BYTES = 40 * 1024 * 1024
#: The longest body text kept in the ticket; a longer text is cut and marked.
MAX_BODY_CHARS = 200_000
_MAX_REFERENCES = 50  # the newest ids of a References header are the ones that thread
_MAX_ID = 500

_ANGLE_ADDRESS = re.compile(r"<([^\s<>()\[\],;:\"@]+@[^\s<>()\[\],;:\"@]+)>")
_ADDRESS = re.compile(r"[^\s<>()\[\],;:\"@]+@[^\s<>()\[\],;:\"@]+\Z")
_CTYPE = re.compile(r"\s*([a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+)", re.IGNORECASE)
_CHARSET = re.compile(r";\s*charset\s*=\s*(?:\"([^\"]*)\"|([^;\s]+))", re.IGNORECASE)
_SIMPLE_ADDRESS = re.compile(
    r'\s*(?:"?([^"<>,;:()\\@\[\]]*?)"?\s*<([^\s<>()\[\],;:"@]+@[^\s<>()\[\],;:"@]+)>'
    r'|([^\s<>()\[\],;:"@]+@[^\s<>()\[\],;:"@]+))\s*\Z'
)
_ID = re.compile(r"<([^<>\s]{1,500})>")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_BODY_SPLIT = re.compile(rb"\r?\n\r?\n")
_FORWARD = re.compile(r"^(?:fwd?|wg|tr|rv|enc|doorst|vs)\s*:", re.IGNORECASE)
_HEADERS_MESSAGE_ID = re.compile(r"^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.I | re.M)


@attrs.frozen
class Attachment:
    """An attachment's metadata: the bytes go to the host's callback, never to the event log.

    ``name`` is the file name (``None`` if the part has none), ``content_type`` the MIME type,
    ``size`` the decoded size in bytes, ``content_id`` the ``Content-ID`` without angle brackets
    (an inline image's reference from the HTML), ``inline`` whether the part is shown inline.
    """

    name: str | None
    content_type: str
    size: int
    content_id: str | None = None
    inline: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The metadata as a JSON-compatible dict."""
        return attrs.asdict(self)


@attrs.frozen
class ParsedEmail:
    """What a raw email says, read once.

    ``message_id`` is the ``Message-ID`` without angle brackets, or, if the message has none, a
    stable id hashed from its sender, recipients, date, subject and body
    (``synthesised_id`` is then true). ``references`` are the ids it answers, from
    ``References`` then ``In-Reply-To`` (the parent, newest last), plus, for a bounce, the id of
    the message that bounced. ``text`` is the whole body as text (text/plain preferred,
    text/html converted), ``body`` the new part of it (quoted history and signature stripped).
    ``noise`` is why the message is machine-generated, or ``None``. ``sender`` is the From
    (else Sender) address in lower case, ``""`` if neither holds a readable address.
    """

    message_id: str
    sender: str
    sender_name: str
    subject: str
    text: str
    body: str
    date: datetime | None = None
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    html: bool = False
    truncated: bool = False
    synthesised_id: bool = False
    noise: str | None = None


def _unfold(value: str) -> str:
    """One line of text: folds joined, control characters blanked, raw 8-bit bytes as UTF-8."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # undecoded 8-bit header bytes (RFC 6532 or plain wrong)
        value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return _CONTROL.sub(" ", _FOLD.sub("", value)).strip()


def _raw_headers(msg: Message) -> dict[str, str]:
    """Lower-case header name → first raw value, unfolded."""
    headers: dict[str, str] = {}
    for name, value in msg.raw_items():
        key = name.lower()
        if key not in headers:
            headers[key] = _unfold(str(value))
    return headers


def _raw(part: Message, name: str) -> str | None:
    """The first raw value of header *name* (lower case) of *part*, unparsed."""
    for key, value in part.raw_items():
        if key.lower() == name:
            return str(value)
    return None


def _words(value: str) -> str:
    """*value* with its RFC 2047 encoded words decoded (leniently: never raises)."""
    if "=?" in value:
        try:
            value = str(email.header.make_header(email.header.decode_header(value)))
        except Exception:  # a broken encoded word: the policy's parser is more forgiving
            with contextlib.suppress(Exception):  # too broken for it as well: keep the raw text
                value = str(email.policy.default.header_factory("subject", value))
    return " ".join(_unfold(value).split())


def _addresses(raw: str | None) -> list[tuple[str, str]]:
    """``(display name, address)`` pairs of an address header; broken ones read leniently."""
    if not raw:
        return []
    simple = _SIMPLE_ADDRESS.match(raw)
    if simple:  # the common one-address forms, without the general parser's cost
        name, address = simple.group(1) or "", (simple.group(2) or simple.group(3)).lower()
        return [(_words(name.strip()), address)]
    found = []
    for name, address in email.utils.getaddresses([raw]):
        address = _unfold(address).lower()
        if _ADDRESS.match(address):
            found.append((_words(name), address))
    if not found:  # unbalanced quotes and the like: take an <address> if there is one
        match = _ANGLE_ADDRESS.search(raw)
        found = [("", match.group(1).lower())] if match else []
    return found


def _ids(value: str | None) -> list[str]:
    if not value:
        return []
    found = _ID.findall(value)
    if not found:  # clients that drop the angle brackets
        found = [t for t in value.split() if "@" in t and len(t) <= _MAX_ID]
    return found


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else None


def _decode(payload: bytes, charset: str | None) -> str:
    """Text of *payload*: the declared charset, else UTF-8; with replacement if neither fits."""
    for candidate in (charset, "utf-8"):
        if candidate:
            try:
                return payload.decode(candidate)
            except (LookupError, UnicodeDecodeError):
                continue
    try:
        return payload.decode(charset or "utf-8", "replace")
    except LookupError:  # an unknown charset
        return payload.decode("utf-8", "replace")


def _content_type(part: Message) -> tuple[str, str]:
    """``(maintype/subtype, raw header)``, read from the raw header without a full parse."""
    raw = _raw(part, "content-type") or ""
    match = _CTYPE.match(raw)
    return (match.group(1).lower() if match else "text/plain"), raw


def _part_text(part: Message, content_type: str) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    match = _CHARSET.search(content_type)
    return _decode(payload, (match.group(1) or match.group(2)).lower() if match else None)


@attrs.frozen
class _Leaf:
    part: Message
    ctype: str
    header: str  # the raw Content-Type
    disposition: str


def _leaves(part: Message) -> Iterator[_Leaf]:
    """Leaf parts in order, not descending into attached messages (they are attachments)."""
    ctype, header = _content_type(part)
    if ctype.startswith("multipart/") and part.is_multipart():
        for sub in part.get_payload():
            if isinstance(sub, Message):
                yield from _leaves(sub)
    else:
        disposition = (_raw(part, "content-disposition") or "").split(";")[0].strip().lower()
        yield _Leaf(part, ctype, header, disposition)


def _body_leaf(leaves: list[_Leaf]) -> _Leaf | None:
    """The body: the first text/plain part that is not an attachment, else text/html."""
    for wanted in ("text/plain", "text/html"):
        for leaf in leaves:
            if leaf.ctype == wanted and leaf.disposition != "attachment":
                return leaf
    if len(leaves) == 1 and leaves[0].ctype.startswith("multipart/"):
        return leaves[0]  # a multipart without a boundary: its text is all there is
    return None


def _attachment(leaf: _Leaf) -> Attachment | None:
    ctype, part = leaf.ctype, leaf.part
    if ctype.startswith("multipart/"):
        return None  # a multipart without a boundary, read as the body
    try:
        name = part.get_filename()
    except Exception:  # a broken RFC 2231 parameter
        name = None
    if ctype.startswith("text/") and not name and leaf.disposition != "attachment":
        return None  # an alternative or extra body part, not a file
    if ctype in ("message/delivery-status", "message/disposition-notification"):
        return None
    data = _payload_bytes(part, ctype)
    cid = _ids(_raw(part, "content-id"))
    return Attachment(
        name=_unfold(name) if name else None,
        content_type=ctype,
        size=len(data),
        content_id=cid[0] if cid else None,
        inline=leaf.disposition == "inline" or (bool(cid) and leaf.disposition != "attachment"),
    )


def _payload_bytes(part: Message, ctype: str) -> bytes:
    if ctype.startswith("message/"):
        inner = part.get_payload()
        try:
            inner = inner[0] if isinstance(inner, list) else inner
            return inner.as_bytes() if isinstance(inner, Message) else str(inner).encode()
        except Exception:  # an attached message too broken to serialise
            return b""
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _bounced_ids(leaves: list[_Leaf]) -> list[str]:
    """The Message-ID of the message a delivery report returns (to thread the bounce)."""
    found: list[str] = []
    for leaf in leaves:
        part, ctype = leaf.part, leaf.ctype
        if ctype == "message/rfc822" or ctype == "message/global":
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if isinstance(inner, Message):
                found += _ids(_raw_headers(inner).get("message-id"))
        elif ctype in ("text/rfc822-headers", "message/rfc822-headers"):
            match = _HEADERS_MESSAGE_ID.search(_part_text(part, leaf.header))
            if match:
                found += _ids(match.group(1))
    return found


def _synthesised_id(raw: bytes, headers: dict[str, str]) -> str:
    """A stable id for a message without Message-ID: the same mail always hashes the same."""
    digest = hashlib.sha256()
    for name in ("from", "to", "cc", "date", "subject"):
        digest.update(headers.get(name, "").encode("utf-8", "replace") + b"\0")
    split = _BODY_SPLIT.search(raw)
    digest.update(raw[split.end() :] if split else b"")
    return f"{digest.hexdigest()[:32]}@supportkit.invalid"


def _references(headers: dict[str, str]) -> list[str]:
    refs = _ids(headers.get("references"))
    for parent in _ids(headers.get("in-reply-to"))[:1]:
        if parent in refs:
            refs.remove(parent)
        refs.append(parent)  # the parent is the newest
    return refs


def parse_email(
    raw: bytes,
    *,
    strip: bool = True,
    allow_lists: bool = False,
    max_bytes: int = MAX_BYTES,
    max_body_chars: int = MAX_BODY_CHARS,
    on_attachment: Callable[[Attachment, bytes], None] | None = None,
) -> ParsedEmail:
    """Parse one raw message (RFC 5322 bytes) into a :class:`ParsedEmail`.

    *strip* cuts quoted history and signatures from ``body`` (``text`` keeps them);
    *allow_lists* stops mailing-list headers from marking the message as noise;
    *on_attachment* receives each attachment's metadata and decoded bytes. A payload over
    *max_bytes* raises :class:`~supportkit.EventError` (``field="payload"``); a body text over
    *max_body_chars* is cut (``truncated`` is then true).
    """
    if isinstance(raw, bytearray | memoryview):
        raw = bytes(raw)
    if not isinstance(raw, bytes):
        raise EventError(
            f"an email payload must be the raw message as bytes, got {type(raw).__name__}",
            field="payload",
        )
    if len(raw) > max_bytes:
        raise EventError(
            f"email of {len(raw):,} bytes is over the {max_bytes:,}-byte limit "
            "(raise max_bytes to accept it)",
            field="payload",
        )
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    headers = _raw_headers(msg)
    senders = _addresses(headers.get("from")) or _addresses(headers.get("sender"))
    sender_name, sender = senders[0] if senders else ("", "")
    ids = _ids(headers.get("message-id"))
    message_id = ids[0] if ids else _synthesised_id(raw, headers)

    leaves = list(_leaves(msg))
    body = _body_leaf(leaves)
    text = ""
    if body is not None:
        text = _part_text(body.part, body.header)
        if body.ctype == "text/html":
            text = html_to_text(text)
    text = text.replace("\r\n", "\n").replace("\x00", "")
    truncated = len(text) > max_body_chars
    if truncated:
        text = f"{text[:max_body_chars]}\n[... {len(text) - max_body_chars:,} characters cut]"

    others = [leaf for leaf in leaves if leaf is not body]
    attachments: list[Attachment] = []
    for leaf in others:
        found = _attachment(leaf)
        if found is not None:
            attachments.append(found)
            if on_attachment is not None:
                on_attachment(found, _payload_bytes(leaf.part, leaf.ctype))

    subject = _words(headers.get("subject", ""))
    content_type = _content_type(msg)[0]
    noise = noise_reason(
        headers, content_type, sender or headers.get("from", ""), allow_lists=allow_lists
    )
    references = _references(headers)
    if noise is not None:  # a bounce threads by the id of the message that bounced
        references += [i for i in _bounced_ids(others) if i not in references]
    return ParsedEmail(
        message_id=message_id,
        sender=sender,
        sender_name=sender_name,
        subject=subject,
        text=text,
        body=strip_reply(text) if strip and not _FORWARD.match(subject) else text.strip(),
        date=_date(headers.get("date")),
        to=tuple(a for _, a in _addresses(headers.get("to"))),
        cc=tuple(a for _, a in _addresses(headers.get("cc"))),
        reply_to=tuple(a for _, a in _addresses(headers.get("reply-to"))),
        references=tuple(references[-_MAX_REFERENCES:]),
        attachments=tuple(attachments),
        html=body is not None and body.ctype == "text/html",
        truncated=truncated,
        synthesised_id=not ids,
        noise=noise,
    )
