"""The parser on the corpus (golden expectations written by hand per message) and bad input."""

from __future__ import annotations

import base64
import email
import email.policy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from supportkit_email import Attachment, parse_email

from supportkit import EventError

CORPUS = Path(__file__).parent / "corpus"
#: The golden expectations, written by hand per message.
EXPECTED: dict[str, dict[str, Any]] = json.loads((CORPUS / "expected.json").read_text("utf-8"))


def test_corpus_is_large_enough() -> None:
    """The corpus holds at least 60 raw messages, each with expectations."""
    files = sorted(p.name for p in CORPUS.glob("*.eml"))
    assert len(files) >= 60
    assert files == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_message(name: str) -> None:
    """Each corpus message parses to its expected sender, subject, body, ids, noise, files."""
    expected: dict[str, Any] = EXPECTED[name]
    parsed = parse_email((CORPUS / name).read_bytes())
    for key in ("sender", "sender_name", "subject", "body"):
        if expected.get(key) is not None:
            assert getattr(parsed, key) == expected[key], key
    if expected.get("message_id") is None:
        assert parsed.synthesised_id
        assert parsed.message_id.endswith("@supportkit.invalid")
    else:
        assert (parsed.message_id, parsed.synthesised_id) == (expected["message_id"], False)
    assert list(parsed.references) == expected["references"]
    noise = expected.get("noise")
    assert (parsed.noise is None) == (noise is None), parsed.noise
    if noise is not None:
        assert parsed.noise is not None
        assert parsed.noise.startswith(noise)
    assert parsed.html == expected.get("html", False)
    got = [a.to_dict() for a in parsed.attachments]
    wanted = expected.get("attachments", [])
    assert len(got) == len(wanted)
    for have, want in zip(got, wanted, strict=True):
        assert {k: have[k] for k in want} == want
    if "cc" in expected:
        assert list(parsed.cc) == expected["cc"]


def test_synthesised_id_is_stable_and_distinct() -> None:
    """A message without Message-ID gets the same id on every delivery, different per mail."""
    raw = (CORPUS / "missing_message_id.eml").read_bytes()
    redelivered = b"Received: from relay2.example by mx\n" + raw  # another hop on the way
    other = raw.replace(b"My mail client", b"Another client")
    first, again, different = (parse_email(r).message_id for r in (raw, redelivered, other))
    assert first == again
    assert first != different


def test_attachment_bytes_go_to_the_callback() -> None:
    """The decoded bytes of each attachment reach the callback, with its metadata."""
    received: list[tuple[Attachment, bytes]] = []
    parsed = parse_email(
        (CORPUS / "inline_image_related.eml").read_bytes(),
        on_attachment=lambda a, data: received.append((a, data)),
    )
    assert [a for a, _ in received] == list(parsed.attachments)
    assert received[0][1].startswith(b"\x89PNG\r\n")
    assert len(received[0][1]) == parsed.attachments[0].size


def test_strip_false_keeps_the_quoted_history() -> None:
    """With strip=False the body is the whole text, quoted history included."""
    parsed = parse_email((CORPUS / "gmail_reply_en.eml").read_bytes(), strip=False)
    assert "> please restart the printer" in parsed.body
    assert parsed.body == parsed.text.strip()


def test_lists_allowed() -> None:
    """allow_lists stops List-Id from making a message noise."""
    raw = (CORPUS / "mailing_list.eml").read_bytes()
    assert parse_email(raw).noise == "list: list-id"
    assert parse_email(raw, allow_lists=True).noise is None


def test_payload_not_bytes() -> None:
    """A payload that is not bytes is an EventError naming the payload."""
    with pytest.raises(EventError) as info:
        parse_email({"raw": "x"})  # type: ignore[arg-type]
    assert info.value.field == "payload"


def test_payload_over_the_limit() -> None:
    """A message over max_bytes is refused with a clear EventError."""
    with pytest.raises(EventError, match="over the 100-byte limit") as info:
        parse_email(b"From: a@b.example\n\n" + b"x" * 200, max_bytes=100)
    assert info.value.field == "payload"


def test_25_mb_message() -> None:
    """A 25 MB attachment (34 MB as base64) parses; its size is right and the body is kept."""
    data = bytes(range(256)) * (25 * 1024 * 1024 // 256)
    raw = (
        b"From: big@files.example\nTo: support@support.example\nSubject: big\n"
        b"Message-ID: <big-1@files.example>\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\n\n'
        b"See the dump.\n--b\nContent-Type: application/octet-stream; name=dump.bin\n"
        b"Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(data) + b"--b--\n"
    )
    parsed = parse_email(raw)
    assert parsed.body == "See the dump."
    assert [(a.name, a.size) for a in parsed.attachments] == [("dump.bin", len(data))]


def test_huge_body_text_is_cut() -> None:
    """A body text over max_body_chars is cut, marked, and flagged as truncated."""
    raw = b"From: a@b.example\nSubject: long\nMessage-ID: <l@b.example>\n\n" + b"word " * 3000
    parsed = parse_email(raw, max_body_chars=1000)
    assert parsed.truncated
    assert parsed.text.startswith("word word")
    assert parsed.text.endswith("[... 14,000 characters cut]")


def test_the_bare_stdlib_agrees_on_the_corpus() -> None:
    """Cross-check: our subject equals what email.policy.default decodes, for every message
    whose Subject the standard library reads without defects."""
    for path in sorted(Path(CORPUS).glob("*.eml")):
        raw = path.read_bytes()
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        header = msg["subject"]
        if header is None or header.defects or "\ufffd" in str(header):
            continue
        if any(0xD800 <= ord(c) <= 0xDFFF for c in str(header)):
            continue  # raw 8-bit bytes, which the stdlib leaves undecoded
        assert parse_email(raw).subject == " ".join(str(header).split()), path.name


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000))
def test_fuzz_arbitrary_bytes(raw: bytes) -> None:
    """Any bytes parse to a ParsedEmail or raise EventError; nothing else escapes."""
    try:
        parsed = parse_email(raw)
    except EventError:
        return
    assert parsed.message_id


_HEADER_LINES = st.sampled_from(
    [
        b"From: a@b.example\n",
        b'From: "x <y@z.example>\n',
        b"From: =?utf-8?q?=C3=A4?= <q@r.example>\n",
        b"Subject: =?x-bad?B?!!!?=\n",
        b"Subject: =?utf-8?b?w6Q=?=\n",
        b"Message-ID: <m@x.example>\n",
        b"References: <a@b> <c@d\n",
        b"In-Reply-To: garbage\n",
        b'Content-Type: multipart/mixed; boundary="zz"\n',
        b"Content-Type: multipart/alternative\n",
        b'Content-Type: text/html; charset="no-such\n',
        b"Content-Type: message/rfc822\n",
        b"Content-Transfer-Encoding: base64\n",
        b"Content-Transfer-Encoding: quoted-printable\n",
        b"Content-Disposition: attachment; filename*=bad''%ZZ\n",
        b"Auto-Submitted: auto-replied\n",
        b"Return-Path: <>\n",
        b"Date: Mon, 99 Foo 2025 99:99:99 +9999\n",
    ]
)
_BODY_LINES = st.sampled_from(
    [
        b"--zz\n",
        b"--zz--\n",
        b"Content-Type: text/plain; charset=utf-7\n",
        b"Content-Type: image/png\nContent-ID: <i@x>\n",
        b"\n",
        b"hello\n",
        b"> quoted\n",
        b"On Mon, Jan 1, 2025 at 1:00 PM X wrote:\n",
        b"=E4=ZZ=\n",
        b"<html><blockquote><p>hi</blockquote></div>\n",
        b"\xff\xfe\x00bytes\n",
        b"-- \n",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_HEADER_LINES, max_size=12), st.lists(_BODY_LINES, max_size=30))
def test_fuzz_mime_shaped(headers: list[bytes], body: list[bytes]) -> None:
    """MIME-shaped garbage (broken boundaries, charsets, encodings) never escapes as
    anything but EventError, and the same bytes always give the same message id."""
    raw = b"".join(headers) + b"\n" + b"".join(body)
    try:
        first = parse_email(raw)
    except EventError:
        return
    assert parse_email(raw).message_id == first.message_id
