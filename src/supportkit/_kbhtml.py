"""Article text as safe HTML: a small Markdown subset rendered with everything escaped.

An article body (and a ticket reply that quotes article titles) is never trusted markup. These
functions escape the whole text first and then add only their own tags, so no markup of the
input survives: ``<script>``, ``<img onerror=...>`` or an ``on...`` attribute come out as
visible text. Links keep only ``http``, ``https`` and ``mailto`` URLs and relative ones; any
other scheme (``javascript:``, ``data:``, ``vbscript:``, ...) or a URL with spaces or control
characters is shown as plain text. Images are shown as their alt text (no remote fetch).

The Markdown subset: ``#`` headings, paragraphs, ``-``/``*``/``+`` and ``1.`` list items (one
level), ``>`` quotes, fenced code blocks, inline code, ``**strong**``, ``*em*``/``_em_`` and
``[text](url)`` links. Anything else stays text.
"""

from __future__ import annotations

import html
import re

from .exceptions import EventError

__all__ = [
    "ALLOWED_SCHEMES",
    "article_html",
    "article_text",
    "safe_url",
    "snippet_html",
    "text_html",
]

#: The URL schemes a link may use (scheme-less, relative URLs are allowed too).
ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})

_SCHEME = re.compile(r"([^/?#]*):")
_UNSAFE = re.compile(r"[\x00-\x20\x7f-\x9f\s]")
_CODE = re.compile(r"`([^`\n]+)`")
_LINK = re.compile(r"(!?)\[([^\]\n]*)\]\(([^()\s]*)\)")
_STRONG = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_EM = re.compile(
    r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])"  # *em*
    r"|(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)"  # _em_ (not inside snake_case words)
)
_BARE_URL = re.compile(r"\bhttps?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")
_HEADING = re.compile(r"(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"\s{0,3}[-*+]\s+(.*)")
_NUMBERED = re.compile(r"\s{0,3}\d{1,9}[.)]\s+(.*)")
_QUOTE = re.compile(r"\s{0,3}&gt;\s?(.*)")
_FENCE = re.compile(r"\s{0,3}(```|~~~)")
_HOLE = "\x00"  # cannot be in the text: every input is stripped of it
_HELD = re.compile(f"{_HOLE}(\\d+){_HOLE}")
# For article_text, on the raw (unescaped) Markdown:
_RAW_QUOTE = re.compile(r"\s{0,3}>\s?(.*)")
_RULE = re.compile(r"\s{0,3}([-*_=])(?:\s*\1){2,}\s*")  # ---, * * *, === (setext underline)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_MARKERS = re.compile(r"\*{2,}")


def safe_url(url: str) -> str | None:
    """*url* if a link may point there (an allowed scheme, or relative), else ``None``.

    The check is on the URL as a browser reads it: a URL holding whitespace or control
    characters (``"java\\tscript:"``) is refused, and so is anything before a ``:`` (ahead of
    any ``/``, ``?`` or ``#``) that is not one of :data:`ALLOWED_SCHEMES`, compared
    case-insensitively.
    """
    if not url or _UNSAFE.search(url):
        return None
    scheme = _SCHEME.match(url)
    if scheme is not None and scheme.group(1).lower() not in ALLOWED_SCHEMES:
        return None
    return url


def _link(label: str, escaped_url: str, image: bool) -> str:
    """A link for ``[label](url)`` (both already escaped); the label alone if the URL is not
    safe or the link is an image."""
    url = safe_url(html.unescape(escaped_url))
    if image or url is None:
        return label
    href = html.escape(url, quote=True)
    return f'<a href="{href}" rel="nofollow noopener noreferrer">{label}</a>'


def _inline(escaped: str) -> str:
    """Inline Markdown on already escaped text: code spans, links, strong and emphasis."""
    held = _Held()
    text = _CODE.sub(lambda m: held.hold(f"<code>{m.group(1)}</code>"), escaped)
    text = _LINK.sub(
        lambda m: held.hold(_link(_emphasis(m.group(2)), m.group(3), bool(m[1]))), text
    )
    return held.restore(_emphasis(text))


class _Held:
    """Inline text set aside while the other inline patterns run (a code span's stars are not
    emphasis), each replaced by a placeholder; :meth:`restore` puts them back."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def hold(self, text: str) -> str:
        """A placeholder for *text*."""
        self.parts.append(text)
        return f"{_HOLE}{len(self.parts) - 1}{_HOLE}"

    def restore(self, text: str) -> str:
        """*text* with each placeholder replaced by what it holds."""
        if not self.parts:
            return text
        return _HELD.sub(lambda m: self.parts[int(m.group(1))], text)


def _emphasis(text: str) -> str:
    text = _STRONG.sub(r"<strong>\1</strong>", text)
    return _EM.sub(lambda m: f"<em>{m.group(1) or m.group(2)}</em>", text)


def article_html(markdown: str) -> str:
    """*markdown* (an article body) as safe HTML: the Markdown subset of this module, with
    every character of the input escaped, so it can go into a page or an email as it is.

    >>> article_html("# Reset\\n\\nClick **Forgot?** <script>x</script>")
    '<h1>Reset</h1>\\n<p>Click <strong>Forgot?</strong> &lt;script&gt;x&lt;/script&gt;</p>'
    """
    lines = html.escape(_text(markdown), quote=True).splitlines()
    out: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []
    quote: list[str] = []
    list_tag = ""

    def close() -> None:
        nonlocal list_tag
        if paragraph:
            out.append(f"<p>{_inline(chr(10).join(paragraph))}</p>")
            paragraph.clear()
        if items:
            body = "".join(f"<li>{_inline(item)}</li>" for item in items)
            out.append(f"<{list_tag}>{body}</{list_tag}>")
            items.clear()
        if quote:
            out.append(f"<blockquote><p>{_inline(chr(10).join(quote))}</p></blockquote>")
            quote.clear()

    fence: str | None = None
    code: list[str] = []
    for line in lines:
        if fence is not None:
            if line.strip().startswith(fence):
                out.append(f"<pre><code>{chr(10).join(code)}</code></pre>")
                fence, code = None, []
            else:
                code.append(line)
            continue
        opening = _FENCE.match(line)
        if opening is not None:
            close()
            fence = opening.group(1)
            continue
        if not line.strip():
            close()
            continue
        heading = _HEADING.match(line)
        item = _BULLET.match(line) or _NUMBERED.match(line)
        quoted = _QUOTE.match(line)
        if heading is not None:
            close()
            level = len(heading.group(1))
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif item is not None:
            tag = "ul" if item.re is _BULLET else "ol"
            if paragraph or quote or (items and tag != list_tag):
                close()
            list_tag = tag
            items.append(item.group(1))
        elif quoted is not None:
            if paragraph or items:
                close()
            quote.append(quoted.group(1))
        elif items:
            items[-1] += "\n" + line.strip()  # a continuation line of the item
        elif quote:
            quote.append(line.strip())
        else:
            paragraph.append(line.strip())
    if fence is not None:  # an unclosed fence runs to the end
        out.append(f"<pre><code>{chr(10).join(code)}</code></pre>")
    close()
    return "\n".join(out)


def article_text(markdown: str) -> str:
    """*markdown* (an article body) as plain text: the text search indexes and takes a hit's
    ``snippet`` from, so the only ``**`` in a snippet are its match highlights.

    The Markdown subset of this module loses its syntax and keeps its words: heading ``#``
    marks, list bullets and numbers, ``>`` quote marks, code fences and backticks, emphasis
    markers and rules go; a link ``[text](url)`` becomes its text, an image its alt text;
    HTML tags and comments are dropped (their text stays). Any ``**`` left (an unmatched one)
    becomes ``*``. Lines stay lines; code blocks stay as they are.

    >>> article_text("# Reset\\n\\n- Click **Reset** in [Settings](https://x.example/s)")
    'Reset\\n\\nClick Reset in Settings'
    """
    out: list[str] = []
    fence: str | None = None
    markdown = _text(markdown)
    if "<!--" in markdown:
        markdown = _COMMENT.sub("", markdown)
    for line in markdown.splitlines():
        if fence is not None:
            if line.strip().startswith(fence):
                fence = None
            else:
                out.append(line)
            continue
        opening = _FENCE.match(line)
        if opening is not None:
            fence = opening.group(1)
        elif _RULE.fullmatch(line) is None:
            out.append(_plain_line(line))
    text = "\n".join(out)
    return _MARKERS.sub("*", text) if "**" in text else text


def _plain_line(line: str) -> str:
    """One line of Markdown outside code blocks as plain text (see :func:`article_text`)."""
    while (quoted := _RAW_QUOTE.match(line)) is not None:
        line = quoted.group(1)
    heading = _HEADING.match(line)
    item = _BULLET.match(line) or _NUMBERED.match(line)
    if heading is not None:
        line = heading.group(2)
    elif item is not None:
        line = item.group(1)
    held = _Held()
    # Each pattern only where its first character occurs: most lines of most articles are
    # plain, and the emphasis and link patterns try every position (~100 us for 1,000 chars).
    text = _CODE.sub(lambda m: held.hold(m.group(1)), line) if "`" in line else line
    if "<" in text:
        text = _TAG.sub("", text)
    if "[" in text:
        text = _LINK.sub(lambda m: m.group(2), text)
    if "*" in text or "_" in text:
        text = _EM.sub(lambda m: m.group(1) or m.group(2), _STRONG.sub(r"\1", text))
    return held.restore(text).strip()


def snippet_html(snippet: str) -> str:
    """A search hit's ``snippet`` (matched words in ``**``) as safe HTML, the matches in
    ``<mark>``."""
    escaped = html.escape(_text(snippet), quote=True)
    return re.sub(r"\*\*(.+?)\*\*", r"<mark>\1</mark>", escaped)


def text_html(text: str, *, links: bool = True) -> str:
    """Plain *text* (a reply, say) as safe HTML: escaped, paragraphs at blank lines, line
    breaks kept; with *links*, bare ``http(s)://`` URLs become links."""
    paragraphs = re.split(r"\n\s*\n", _text(text).strip())
    return "\n".join(
        "<p>" + "<br>".join(_line(line, links) for line in p.splitlines()) + "</p>"
        for p in paragraphs
        if p.strip()
    )


def _line(line: str, links: bool) -> str:
    escaped = html.escape(line, quote=True)
    return _linkify(escaped) if links else escaped


def _linkify(escaped: str) -> str:
    def link(match: re.Match[str]) -> str:
        url = safe_url(html.unescape(match.group(0)))
        if url is None:
            return match.group(0)
        href = html.escape(url, quote=True)
        return f'<a href="{href}" rel="nofollow noopener noreferrer">{match.group(0)}</a>'

    return _BARE_URL.sub(link, escaped)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise EventError(f"expected text (a str), got {type(value).__name__}", field="text")
    return value.replace(_HOLE, "")
