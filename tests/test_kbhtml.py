"""Article text as safe HTML (supportkit.article_html, snippet_html, text_html): the Markdown
subset renders as expected, and no input, however hostile, puts markup of its own into the
output (script tags, event-handler attributes, javascript:/data: links). And as plain text
(supportkit.article_text), what search indexes: no Markdown syntax left, no word added."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supportkit import (
    EventError,
    FrozenClock,
    InMemoryStore,
    SupportDesk,
    article_html,
    article_text,
    snippet_html,
    text_html,
)
from supportkit._kbhtml import safe_url
from supportkit._report import render_html, summarize

ALLOWED_TAGS = {
    "a",
    "blockquote",
    "code",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "mark",
    "ol",
    "p",
    "pre",
    "strong",
    "ul",
    "br",
}


class _Tags(HTMLParser):
    """The start tags and their attributes of an HTML fragment, as a browser tokenises it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(fragment: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(fragment)
    parser.close()
    return parser.tags


def _assert_safe(fragment: str) -> None:
    """Only the renderer's own tags; attributes only a link's href (a safe URL) and rel."""
    for tag, attrs in _tags(fragment):
        assert tag in ALLOWED_TAGS, (tag, fragment)
        if tag == "a":
            assert set(attrs) == {"href", "rel"}, fragment
            href = attrs["href"]
            assert href is not None, fragment
            assert safe_url(href) == href, fragment
        else:
            assert attrs == {}, fragment


def test_the_markdown_subset_renders() -> None:
    """Headings, paragraphs, lists, quotes, code, emphasis and links render as HTML."""
    body = (
        "# Reset your password\n"
        "\n"
        "Click **Forgot password?** on the *sign-in* page.\n"
        "Read [the guide](https://help.example/reset?a=1&b=2).\n"
        "\n"
        "- open `Settings`\n"
        "- choose _Security_\n"
        "\n"
        "1. first\n"
        "2. second\n"
        "\n"
        "> The link is valid for 30 minutes.\n"
        "\n"
        "```\n"
        "curl -X POST /reset\n"
        "```"
    )
    assert (
        "<h1>Reset your password</h1>\n"
        "<p>Click <strong>Forgot password?</strong> on the <em>sign-in</em> page.\n"
        'Read <a href="https://help.example/reset?a=1&amp;b=2" rel="nofollow noopener '
        'noreferrer">the guide</a>.</p>\n'
        "<ul><li>open <code>Settings</code></li><li>choose <em>Security</em></li></ul>\n"
        "<ol><li>first</li><li>second</li></ol>\n"
        "<blockquote><p>The link is valid for 30 minutes.</p></blockquote>\n"
        "<pre><code>curl -X POST /reset</code></pre>"
    ) == article_html(body)


@pytest.mark.parametrize(
    ("markdown", "shown"),
    [
        ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"),
        ("<img src=x onerror=alert(1)>", "<p>&lt;img src=x onerror=alert(1)&gt;</p>"),
        (
            '<a href="javascript:alert(1)">x</a>',
            "<p>&lt;a href=&quot;javascript:alert(1)&quot;&gt;x&lt;/a&gt;</p>",
        ),
        ("[x](javascript:alert`1`)", "<p>x</p>"),
        ("[x](JaVaScRiPt:alert`1`)", "<p>x</p>"),
        ("[x](java\tscript:alert`1`)", "<p>[x](java\tscript:alert<code>1</code>)</p>"),
        ("[x](&#106;avascript:alert`1`)", "<p>x</p>"),
        ("[x](data:text/html;base64,PHNjcmlwdD4=)", "<p>x</p>"),
        ("[x](vbscript:msgbox)", "<p>x</p>"),
        (
            '[x](https://ok.example/"onmouseover="go)',
            '<p><a href="https://ok.example/&quot;onmouseover=&quot;go"'
            ' rel="nofollow noopener noreferrer">x</a></p>',
        ),
        ("![pixel](https://tracker.example/p.gif)", "<p>pixel</p>"),
        ("**<b onclick=x>**", "<p><strong>&lt;b onclick=x&gt;</strong></p>"),
        ("`<script>`", "<p><code>&lt;script&gt;</code></p>"),
        ("# <svg onload=alert(1)>", "<h1>&lt;svg onload=alert(1)&gt;</h1>"),
    ],
)
def test_injection_comes_out_as_text(markdown: str, shown: str) -> None:
    """Markup, event handlers and javascript:/data:/vbscript: links in a body are shown as
    text (a link with an unsafe URL keeps only its label)."""
    assert shown == article_html(markdown)
    _assert_safe(shown)


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://help.example/a", True),
        ("HTTP://help.example", True),
        ("mailto:help@example.com", True),
        ("/kb/reset", True),
        ("#section", True),
        ("reset.html", True),
        ("javascript:alert(1)", False),
        (" javascript:alert(1)", False),
        ("java\nscript:alert(1)", False),
        ("data:text/html,x", False),
        ("file:///etc/passwd", False),
        ("", False),
    ],
)
def test_safe_url(url: str, safe: bool) -> None:
    """Only http(s), mailto and relative URLs without whitespace or controls are links."""
    assert safe == (safe_url(url) is not None)


def test_snippets_mark_matches_and_escape_the_rest() -> None:
    """A hit's snippet: **matches** become <mark>, everything else is escaped."""
    assert "…click <mark>Forgot</mark> &lt;b onclick=x&gt;…" == snippet_html(
        "…click **Forgot** <b onclick=x>…"
    )


def test_text_html_escapes_and_links_urls() -> None:
    """Plain text (a reply listing articles) becomes escaped paragraphs, bare http(s) URLs
    become links, other schemes stay text."""
    text = "Hi <you>,\n1. Reset\n   https://help.example/r?t=1&u=2\n\njavascript:alert(1)"
    assert (
        "<p>Hi &lt;you&gt;,<br>1. Reset<br>   "
        '<a href="https://help.example/r?t=1&amp;u=2" rel="nofollow noopener noreferrer">'
        "https://help.example/r?t=1&amp;u=2</a></p>\n<p>javascript:alert(1)</p>"
    ) == text_html(text)
    assert "<p>see https://x.example</p>" == text_html("see https://x.example", links=False)


def test_non_text_is_an_event_error() -> None:
    """Anything but a str is refused with an EventError."""
    for render in (article_html, article_text, snippet_html, text_html):
        with pytest.raises(EventError):
            render(b"<script>")  # type: ignore[arg-type]


TOKENS = [
    *"<>\"'`*_#[]()!:/=&;-. \n\t",
    *["script", "javascript", "onerror", "img", "href", "http", "data", "&#106;", "a", "1"],
]
HOSTILE = st.lists(st.sampled_from(TOKENS), max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(markdown=st.one_of(HOSTILE, st.text()))
def test_no_input_adds_markup(markdown: str) -> None:
    """Whatever the text, the output holds only the renderer's tags, no attribute but a
    safe link's href and rel, and every '<' of the input shows as text."""
    for render in (article_html, snippet_html, text_html):
        out = render(markdown)
        _assert_safe(out)
        assert "<script" not in out.lower()


@pytest.mark.parametrize(
    ("markdown", "text"),
    [
        ("Click **Reset** to start", "Click Reset to start"),
        ("*one* and _two_ in snake_case_name", "one and two in snake_case_name"),
        (
            "See [the guide](https://x.example/g) or ![the logo](logo.png)",
            "See the guide or the logo",
        ),
        ("# Reset your password #\n\n## Steps", "Reset your password\n\nSteps"),
        (
            "- first\n* second\n+ third\n1. fourth\n  2) fifth",
            "first\nsecond\nthird\nfourth\nfifth",
        ),
        ("> quoted **text**\n> > - deeper", "quoted text\ndeeper"),
        ("Run `reset --all` now", "Run reset --all now"),
        ("```sh\n# a comment, not a heading\n```\nafter", "# a comment, not a heading\nafter"),
        ("a\n\n---\n* * *\nb\n===", "a\n\nb"),
        ("<b>Bold</b> <img src=x onerror=alert(1)> <!-- a\nnote --> x < y > z", "Bold   x < y > z"),
        ("2 ** 3, `a**b` and a stray **", "2 * 3, a*b and a stray *"),
        ("***both***", "both"),
        ("", ""),
    ],
)
def test_article_text_drops_the_markdown(markdown: str, text: str) -> None:
    """article_text keeps the words and loses the syntax: emphasis markers, link and image
    syntax (the text stays), heading marks, bullets, quote marks, code fences and backticks,
    rules, HTML tags and comments; a stray ``**`` becomes ``*``."""
    assert text == article_text(markdown)


def _is_subsequence(short: str, long: str) -> bool:
    rest = iter(long)
    return all(char in rest for char in short)


@settings(max_examples=300, deadline=None)
@given(markdown=st.one_of(HOSTILE, st.text()))
def test_article_text_only_deletes_and_leaves_no_highlight_marker(markdown: str) -> None:
    """Whatever the body, its plain text holds no ``**`` (the snippet highlight marker) and
    only leaves characters out: it is a subsequence of the body (lines joined by "\\n")."""
    text = article_text(markdown)
    assert "**" not in text
    assert _is_subsequence(text, "\n".join(markdown.splitlines()))


HOSTILE_TEXT = '<img src=x onerror=alert(1)><script>alert("kb")</script>'


def test_the_html_report_shows_hostile_article_data_as_text() -> None:
    """An article id, title and body and a self-service search holding markup reach the HTML
    report (self-service and feedback sections) only escaped."""
    clock = FrozenClock(datetime(2025, 3, 3, 9, tzinfo=UTC))
    desk = SupportDesk(store=InMemoryStore(), plugins=None, clock=clock)
    article_id = f"kb-{HOSTILE_TEXT}"
    desk.create_article(
        article_id, title=HOSTILE_TEXT, body=f"Reset {HOSTILE_TEXT}", status="published"
    )
    desk.self_service_search("s-1", f"reset {HOSTILE_TEXT}", customer="ann")
    desk.article_viewed("s-1", article_id, customer="ann")
    desk.self_service_search("s-2", f"nothing {HOSTILE_TEXT} zzzq", customer="bob")
    clock.advance(timedelta(days=3))
    page = render_html(summarize(desk))
    assert "<img" not in page
    assert "<script" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
