"""``supportkit kb import DIR --db PATH`` and ``SupportDesk.import_articles``: Markdown files
with front matter become articles; re-importing updates changed articles only; a bad file is
refused with its name and nothing is written."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from kb_corpus import ARTICLES
from supportkit import ConfigurationError, FrozenClock, SqliteStore, SupportDesk
from supportkit._cli import main
from supportkit._kbimport import parse_article

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)


def _write_corpus(folder: Path) -> None:
    """The Tallyo corpus as Markdown: front matter with id, title and tags on every other file
    (as a YAML list or '- item' lines), just a heading on the rest."""
    folder.mkdir(exist_ok=True)
    for n, (article_id, area, tags, title, body) in enumerate(ARTICLES):
        if n % 2:
            text = f"# {title}\n\n{body}\n"
            name = article_id
        else:
            tag_lines = (
                f"tags: [{', '.join(tags)}]"
                if n % 4
                else "tags:\n" + "".join(f"  - {t}\n" for t in tags).rstrip("\n")
            )
            text = (
                f'---\nid: {article_id}\ntitle: "{title}"\narea: {area}\n{tag_lines}\n'
                f"locale: en\n---\n{body}\n"
            )
            name = f"file-{n}"
        (folder / f"{name}.md").write_text(text, encoding="utf-8")


def test_front_matter_and_headings() -> None:
    """Front matter gives the fields; without it the file name and first heading do."""
    with_front = parse_article(
        "---\nid: a1\ntitle: 'Reset: it'\ntags: [x, y]\n# a comment\nstatus: draft\n---\n"
        "Body *md*\n",
        "file",
    )
    bare = parse_article("Intro\n# Download invoices\nText", "invoices")
    assert {
        "id": "a1",
        "title": "Reset: it",
        "tags": ["x", "y"],
        "status": "draft",
        "body": "Body *md*\n",
    } == with_front
    assert ("invoices", "Download invoices") == (bare["id"], bare["title"])


def test_a_heading_in_a_code_block_is_not_the_title() -> None:
    """A '# comment' line inside a fenced code block (a shell snippet) is code, not the
    article's first heading."""
    text = "Intro\n```bash\n# install it\npip install x\n```\n~~~\n# nor this\n~~~\n# Real\n"
    assert "Real" == parse_article(text, "f")["title"]
    with pytest.raises(ConfigurationError, match="no title"):
        parse_article("```\n# only code\n```\n", "f", "f.md")


def test_a_key_without_a_value_says_so() -> None:
    """'area:' with nothing after it is reported as a key without a value (not as a list
    given for a single value)."""
    with pytest.raises(ConfigurationError, match=r"a\.md: front matter 'area' has no value"):
        parse_article("---\narea:\n---\n# T\n", "a", "a.md")
    with pytest.raises(ConfigurationError, match="must be one value"):
        parse_article("---\narea:\n  - x\n  - y\n---\n# T\n", "a", "a.md")


@pytest.mark.parametrize(
    "text",
    [
        "---\nid: a\n",
        "---\ncolour: red\n---\nbody",
        "---\nnot a key line\n---\nbody",
        "---\ntitle: [a, b]\n---\nbody",
        "no heading and no front matter",
    ],
)
def test_malformed_files_are_configuration_errors(text: str) -> None:
    """Unclosed front matter, unknown keys, stray lines, a list title or no title at all are
    ConfigurationErrors naming the file."""
    with pytest.raises(ConfigurationError, match=r"a\.md"):
        parse_article(text, "a", "a.md")


def test_kb_import_command_imports_then_updates_only_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command imports every file published and searchable; a second run changes
    nothing; an edited file gets one update."""
    folder, db = tmp_path / "kb", tmp_path / "desk.sqlite3"
    _write_corpus(folder)
    assert 0 == main(["kb", "import", str(folder), "--db", str(db)], host=None)
    assert 0 == main(["kb", "import", str(folder), "--db", str(db)])
    (folder / "file-0.md").write_text(
        "---\nid: reset-password\ntitle: Reset your password\ntags: [login]\narea: account\n---\n"
        "Passwords now reset from the app.\n",
        encoding="utf-8",
    )
    assert 0 == main(["kb", "import", str(folder), "--db", str(db)])
    lines = capsys.readouterr().out.splitlines()
    assert [
        f"{len(ARTICLES)} created, 0 updated, 0 unchanged",
        f"0 created, 0 updated, {len(ARTICLES)} unchanged",
        f"0 created, 1 updated, {len(ARTICLES) - 1} unchanged",
    ] == lines
    with SqliteStore(db) as store:
        desk = SupportDesk(store=store, plugins=None, clock=FrozenClock(T0))
        article = desk.article("reset-password")
        assert article is not None
        assert (2, "Passwords now reset from the app.\n", "published") == (
            article.version,
            article.body,
            article.status,
        )
        assert "invite-teammates" == desk.search_articles("invite my team")[0].article_id


def test_a_bad_file_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One invalid file (here a status the desk does not know) fails the import before any
    article is written, and the error names the file."""
    folder = tmp_path / "kb"
    _write_corpus(folder)
    (folder / "zz-bad.md").write_text("---\nstatus: live\n---\n# Bad\n", encoding="utf-8")
    db = tmp_path / "desk.sqlite3"
    assert 1 == main(["kb", "import", str(folder), "--db", str(db)])
    assert "zz-bad.md" in capsys.readouterr().err
    with SqliteStore(db) as store:
        assert [] == store.article_events()


def test_desk_import_articles(tmp_path: Path) -> None:
    """SupportDesk.import_articles imports with the desk's clock and the given status."""
    folder = tmp_path / "kb"
    _write_corpus(folder)
    with SqliteStore(tmp_path / "desk.sqlite3") as store:
        desk = SupportDesk(store=store, plugins=None, clock=FrozenClock(T0))
        result = desk.import_articles(folder, status="draft")
        assert (len(ARTICLES), []) == (len(result.created), desk.search_articles("password"))
        assert {T0} == {a.created_at for a in desk.articles()}
    with pytest.raises(ConfigurationError):
        desk.import_articles(tmp_path / "missing")


def test_a_byte_order_mark_is_not_part_of_the_file(tmp_path: Path) -> None:
    """A file saved with a UTF-8 byte order mark (as Windows editors and some help-centre
    exports write them) keeps its front matter: the mark is dropped, not read as text."""
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "bom.md").write_text("---\ntitle: With a BOM\n---\nBody.\n", encoding="utf-8-sig")
    (folder / "heading.md").write_text("# Heading first\n\nBody.\n", encoding="utf-8-sig")
    with SqliteStore(tmp_path / "desk.sqlite3") as store:
        desk = SupportDesk(store=store, plugins=None, clock=FrozenClock(T0))
        assert ("bom", "heading") == desk.import_articles(folder).created
        bom, heading = desk.article("bom"), desk.article("heading")
        assert bom is not None
        assert heading is not None
        assert (bom.title, bom.body) == ("With a BOM", "Body.\n")
        assert heading.body.startswith("# Heading first")
    assert "With a BOM" == parse_article("\ufeff---\ntitle: With a BOM\n---\nx", "a")["title"]


def test_hidden_files_are_not_articles(tmp_path: Path) -> None:
    """Hidden files beside the articles (macOS '._name.md' resource forks in a copied folder,
    an editor's '.#name.md' lock link) are skipped, not read as broken articles."""
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "a.md").write_text("# A\n\nok\n", encoding="utf-8")
    (folder / "._a.md").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X\xff")
    (folder / ".#a.md").symlink_to(folder / "gone")
    with SqliteStore(tmp_path / "desk.sqlite3") as store:
        desk = SupportDesk(store=store, plugins=None, clock=FrozenClock(T0))
        assert ("a",) == desk.import_articles(folder).created
