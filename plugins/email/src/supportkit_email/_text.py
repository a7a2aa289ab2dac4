"""Readable text from HTML, and the new part of a reply without quoted history or signature.

Mail clients mark quoted history in their own ways; these are the shapes handled (each has a
message in the test corpus):

- an attribution line before the quote, wrapped over up to three lines: Gmail, Apple Mail and
  Thunderbird write ``On <date>, <name> wrote:`` (``Am ... schrieb ...:``,
  ``Le ... a écrit :``, ``El ... escribió:`` ...);
- Outlook's header block (``From:`` / ``Sent:`` / ``To:`` / ``Subject:``, or ``Von:`` /
  ``Gesendet:``, ``De :`` / ``Envoyé :``, ``De:`` / ``Enviado:``) and the older
  ``-----Original Message-----`` separators;
- a trailing block of ``>`` quoted lines; in HTML, a ``<blockquote>`` (converted to ``>``
  lines by :func:`html_to_text`).

A signature starts at the RFC 3676 delimiter ``-- `` or at a mobile client's one-line
"Sent from my ..." footer. Forwarded messages are kept: a forward's content is the message.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["html_to_text", "strip_reply"]

_BLOCKS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "dd",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "ul",
    ]
)
_SKIPPED = frozenset({"script", "style", "head", "title", "template"})


class _TextParser(HTMLParser):
    """Collects text, one line per block element; blockquote lines get a ``> `` prefix."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._line: list[str] = []
        self._skip = 0
        self._quote = 0
        self._pre = 0
        self._blank = False  # the line held a non-breaking space: an intended blank line

    def _break(self, force: bool = False) -> None:
        text = "".join(self._line)
        if not self._pre:
            text = " ".join(text.split())
        if text or force or self._blank:
            self.lines.append("> " * self._quote + text if text or self._quote else text)
        self._line = []
        self._blank = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skip += 1
        elif tag == "br":
            self._break(force=True)
        elif tag in ("td", "th") and self._line:
            self._line.append(" ")
        elif tag in _BLOCKS:
            if self._line:
                self._break()
            if tag == "blockquote":
                self._quote += 1
            elif tag == "pre":
                self._pre += 1
            elif tag == "li":
                self._line.append("- ")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self._line.append(f"[{alt}]")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _SKIPPED:  # <br/>, <img/>, <hr/>: no content to wait for
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCKS:
            if self._line:
                self._break()
            if tag == "blockquote":
                self._quote = max(0, self._quote - 1)
            elif tag == "pre":
                self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if not self._skip:
            if not self._pre and "\xa0" in data:
                data = data.replace("\xa0", " ")
                self._blank = True
            self._line.append(data)


def html_to_text(html: str) -> str:
    """Readable plain text of an HTML body: one line per block, quotes marked with ``> ``.

    Scripts, styles and the head are dropped, runs of blank lines collapse to one, and
    entities are decoded. Never raises on malformed HTML.
    """
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    if parser._line:
        parser._break()
    out: list[str] = []
    for line in parser.lines:
        line = line.rstrip()
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip("\n")


_WROTE = re.compile(
    r"^(?:on|am|le|el|il|op|em|w dniu|den|på)\b.{0,300}?"
    r"(?:wrote|schrieb|a écrit|escribió|ha scritto|schreef|escreveu|napisał|skrev)"
    r"(?:\s.{0,200}?)?\s*:\s*$",  # German puts the name after the verb: "schrieb Name:"
    re.IGNORECASE | re.DOTALL,
)
_SEPARATOR = re.compile(
    r"^-{2,}\s*(?:original message|ursprüngliche nachricht|message d'origine|mensaje original|"
    r"messaggio originale|oorspronkelijk bericht|mensagem original)\s*-{2,}$",
    re.IGNORECASE,
)
_FROM = re.compile(r"^\*?(?:from|von|de|van|da|od|fra|från)\s*:", re.IGNORECASE)
_SENT = re.compile(
    r"^\*?(?:sent|date|gesendet|datum|envoyé|enviado|fecha|inviato|data|verzonden|"
    r"skickat|sendt)\s*:",
    re.IGNORECASE,
)
_RULE = re.compile(r"^_{8,}$")
_MOBILE = re.compile(
    r"^(?:sent from my |sent from mail for windows|get outlook for |von meinem .* gesendet|"
    r"gesendet von meinem |envoyé de mon |enviado desde mi |inviato da |verzonden met )",
    re.IGNORECASE,
)
_MOBILE_REACH = 3  # a mobile footer is one of the last few non-blank lines


def _history_start(lines: list[str]) -> int | None:
    """Index of the first line of quoted history, or ``None``."""
    for i, raw in enumerate(lines):
        line = raw.strip()
        if not line:
            continue
        if _SEPARATOR.match(line):
            return i
        if _FROM.match(line) and any(_SENT.match(x.strip()) for x in lines[i + 1 : i + 4]):
            return i - 1 if i and _RULE.match(lines[i - 1].strip()) else i
        if len(line) < 400 and re.match(r"^(?:on|am|le|el|il|op|em|w dniu|den|på)\b", line, re.I):
            joined = line
            for extra in range(3):  # clients wrap a long attribution line
                if _WROTE.match(joined):
                    return i
                if i + 1 + extra >= len(lines):
                    break
                joined = f"{joined} {lines[i + 1 + extra].strip()}"
    # a trailing block of quoted lines (blank lines allowed inside it)
    start = None
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i].strip()
        if line.startswith(">"):
            start = i
        elif line:
            break
    return start


def _cut_signature(lines: list[str]) -> list[str]:
    for i, line in enumerate(lines):
        if line.rstrip("\r") in ("-- ", "--"):
            return lines[:i]
    content = [i for i, line in enumerate(lines) if line.strip()]
    for i in content[-_MOBILE_REACH:]:
        if _MOBILE.match(lines[i].strip()):
            return lines[:i]
    return lines


def _trim(lines: list[str]) -> str:
    return "\n".join(line.rstrip() for line in lines).strip("\n")


def strip_reply(text: str) -> str:
    """The new part of a reply: *text* without quoted history and signature.

    If the cut would leave nothing (a bottom-posted reply, whose new text follows the quote),
    the quoted lines and attribution are dropped instead; if that leaves nothing too, the text
    is returned whole (trimmed) rather than lose the message.
    """
    lines = text.replace("\r\n", "\n").split("\n")
    start = _history_start(lines)
    kept = _trim(_cut_signature(lines[:start] if start is not None else lines))
    if kept:
        return kept
    # nothing before the history: the new text follows it (bottom-posting, inline answers)
    rest = lines[start + 1 :] if start is not None else []
    while rest and (not rest[0].strip() or rest[0].lstrip().startswith(">")):
        rest.pop(0)
    return _trim(_cut_signature(rest)) or text.strip()
