"""Words as SQLite FTS5's unicode61 tokenizer reads them: the query terms, the in-memory
index and the snippets split and fold text as the SQLite store's index does ("İ", "Σ"/"ς",
accents), so both stores find the same articles."""

from __future__ import annotations

import runpy
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supportkit import FrozenClock, InMemoryStore, SqliteStore, SupportDesk
from supportkit._knowledge import (
    _STOP_WORDS,
    MAX_QUERY_TERMS,
    query_terms,
    search_words,
    snippet,
)
from supportkit._unicode61 import CASE, FOLD, WORD

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
TOOL = Path(__file__).with_name("unicode61.py")


def test_the_tables_are_the_sqlite_tokenizers() -> None:
    """For every code point, WORD, CASE and FOLD say what the running SQLite's unicode61
    says: whether it is part of a word, and its fold without and with remove_diacritics 2
    (if this fails after a SQLite upgrade, run tests/unicode61.py)."""
    tool = runpy.run_path(str(TOOL))
    folded, cased = tool["tokenize"](2), tool["tokenize"](0)
    wrong = [
        hex(c)
        for c in tool["CODE_POINTS"]
        if (WORD.fullmatch(chr(c)) is not None) != (folded[c] is not None)
        or (folded[c] is not None and chr(c).translate(FOLD) != folded[c])
        or (cased[c] is not None and chr(c).translate(CASE) != cased[c])
    ]
    assert [] == wrong


def _sqlite_words(text: str) -> list[str]:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE f USING fts5(b, tokenize = 'unicode61 remove_diacritics 2')")
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(f, 'instance')")
    db.execute("INSERT INTO f (b) VALUES (?)", (text,))
    return [term for (term,) in db.execute("SELECT term FROM v ORDER BY offset")]


_LETTERS = "aZ İıIiß ẞﬁΣσςΟΔÉéèñÅ\u0301\u0307\u0300_-'·0٣あ한"


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(_LETTERS) | st.characters(), max_size=40))
def test_search_words_are_the_sqlite_tokens(text: str) -> None:
    """search_words(text) is the tokens SQLite's unicode61 (remove_diacritics 2) makes of it,
    in order: the same words, folded the same way."""
    assert _sqlite_words(text) == search_words(text)


@pytest.mark.parametrize(
    ("query", "terms"),
    [
        ("İstanbul", ["istanbul"]),  # Python's lower() gives "i" and a combining dot
        ("ISTANBUL ılık", ["istanbul", "ılık"]),  # dotless ı stays
        ("Straße STRASSE", ["straße", "strasse"]),  # ß is not "ss"
        ("ﬁnance", ["ﬁnance"]),  # nor is the ligature "fi"
        ("ΟΔΟΣ οδος", ["οδοσ"]),  # final sigma folds to σ
        ("Café CAFE\u0301", ["café", "cafe\u0301"]),  # accents stay (PostgreSQL stems them)
        ("don\u0301t \u0301", ["don\u0301t"]),  # a lone accent is no word
    ],
)
def test_query_terms_fold_case_as_sqlite(query: str, terms: list[str]) -> None:
    """Query terms are split and case-folded as SQLite's tokenizer does."""
    assert terms == query_terms(query)


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.characters(max_codepoint=127), max_size=60))
def test_ascii_query_terms_are_the_sqlite_tokens(text: str) -> None:
    """An ASCII query (query_terms reads it with lower(), in C) gives SQLite unicode61's
    tokens of it, distinct, stop words dropped unless nothing else is left, as any query."""
    words = list(dict.fromkeys(_sqlite_words(text)))
    kept = [word for word in words if word not in _STOP_WORDS] or words
    assert kept[:MAX_QUERY_TERMS] == query_terms(text)


_ARTICLES = {
    "istanbul": ("İstanbul office", "Our İSTANBUL team answers in Turkish."),
    "cafe": ("Café menu", "The CAFÉ opens at nine; cafe\u0301 au lait."),
    "strasse": ("Straße address", "Write Straße, not Strasse."),
    "ilik": ("Ilık su", "Drink ılık water."),
    "greek": ("ΟΔΟΣ", "Η οδος και η ΟΔΟΣ."),
    "ligature": ("ﬁnance report", "The ﬁnance team."),
    "other": ("Shipping", "Parcels leave daily."),
}
_QUERIES = [
    "İstanbul",
    "istanbul",
    "ISTANBUL",
    "cafe",
    "Café",
    "CAFE\u0301",
    "Straße",
    "strasse",
    "ılık",
    "ilik",
    "ΟΔΟΣ",
    "οδος",
    "ﬁnance",
    "finance",
]


def test_memory_and_sqlite_find_the_same_articles(tmp_path: Path) -> None:
    """Each query with a special letter finds the same articles with the same snippets in
    memory and in a SQLite file, and finds something."""
    found = {}
    for kind in ("memory", "sqlite"):
        store = InMemoryStore() if kind == "memory" else SqliteStore(tmp_path / "kb.sqlite3")
        desk = SupportDesk(store=store, plugins=None, clock=FrozenClock(T0))
        for article_id, (title, body) in _ARTICLES.items():
            desk.create_article(article_id, title=title, body=body, status="published")
        found[kind] = {
            query: {hit.article_id: hit.snippet for hit in desk.search_articles(query)}
            for query in _QUERIES
        }
        if kind == "sqlite":
            store.close()
    assert found["memory"] == found["sqlite"]
    assert {"finance", "ilik"} == {query for query, hits in found["sqlite"].items() if not hits}


def test_snippets_mark_words_found_without_their_accents() -> None:
    """A snippet marks the words a term finds however they are cased or accented."""
    assert "The **CAFÉ** and **İstanbul** **ΟΔΟΣ**." == snippet(
        "The CAFÉ and İstanbul ΟΔΟΣ.", query_terms("cafe istanbul οδος")
    )
