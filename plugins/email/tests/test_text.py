"""HTML to text and reply stripping, on the shapes the corpus does not already pin."""

from __future__ import annotations

from supportkit_email import html_to_text, strip_reply


def test_html_drops_scripts_and_decodes_entities() -> None:
    """Scripts, styles and the head vanish; entities decode; blocks become lines."""
    html = (
        "<html><head><title>t</title><style>p{}</style></head><body>"
        "<script>x()</script><p>Fish &amp; chips</p><div>caf&eacute;</div></body></html>"
    )
    assert html_to_text(html) == "Fish & chips\ncafé"


def test_html_blockquote_lines_are_marked() -> None:
    """Blockquoted text comes out as '> ' lines, nested quotes doubly marked."""
    html = "<p>new</p><blockquote>old<blockquote>older</blockquote></blockquote>"
    assert html_to_text(html) == "new\n> old\n> > older"


def test_html_pre_keeps_spacing() -> None:
    """Preformatted text keeps its spaces and line breaks."""
    assert html_to_text("<pre>a  b\n  c</pre>") == "a  b\n  c"


def test_html_malformed_never_raises() -> None:
    """Unclosed and stray tags still give the text (an unclosed quote runs on, as in a
    browser)."""
    assert html_to_text("<div><p>one<blockquote>two</div></span>three") == "one\n> two\n> three"


def test_strip_signature_delimiter() -> None:
    """Everything from the RFC 3676 signature delimiter '-- ' on is cut."""
    assert strip_reply("Hello\n\n-- \nJane\nAcme Inc.") == "Hello"


def test_strip_keeps_a_message_without_history() -> None:
    """A message with no quoted history comes back whole (trimmed)."""
    assert strip_reply("\n  line one\nline two  \n\n") == "  line one\nline two"


def test_strip_never_loses_an_all_quoted_message() -> None:
    """A message that is nothing but a quote is kept whole rather than emptied."""
    assert strip_reply("> only\n> quoted") == "> only\n> quoted"


def test_strip_ordinary_sentence_starting_with_on() -> None:
    """A line that starts like an attribution but is not one is kept."""
    text = "On Monday the export failed again.\nIt wrote: nothing useful."
    assert strip_reply(text) == text


def test_strip_mobile_footer_only_near_the_end() -> None:
    """'Sent from my iPhone' is a footer only among the last lines."""
    text = "Sent from my iPhone is what my mail says, can you remove it?\n\nThanks\nAl\nCEO\nAcme"
    assert strip_reply(text) == text
