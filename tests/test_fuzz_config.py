"""Fuzzing the configuration loader and the JSON Lines import: only SupportkitError escapes, and a
refused import changes nothing."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from supportkit import ConfigFileError, DeskConfig, SqliteStore, SupportkitError
from supportkit._transfer import export_lines, import_lines

KEYS = st.sampled_from(
    [
        "title", "store", "desk", "calendars", "policies", "tiers", "groups", "agents", "router",
        "escalation", "goals", "retention", "plugins", "kind", "path", "tz", "weekly", "name",
        "targets", "urgent", "first_reply", "hours", "business", "weight", "id", "levels",
        "triggers", "on", "to", "enable", "block", "default", "mon", "strategy", "relax",
    ]
)  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10),
    st.floats(allow_nan=True),
    st.sampled_from(["", "x", "09:00-17:00", "UTC", "sqlite", "memory", "2026-01-01", "L1"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(KEYS, VALUES, max_size=5))
def test_any_document_loads_or_raises_config_file_error(document: dict[str, Any]) -> None:
    """Whatever the document, DeskConfig.load builds it or raises ConfigFileError."""
    try:
        config = DeskConfig.load(document)
    except ConfigFileError as error:
        problems = error.problems
    else:
        assert config.document == json.loads(json.dumps(config.document))
        problems = (("", "none"),)
    assert problems


LINES = st.lists(
    st.one_of(
        st.text(max_size=20),
        st.dictionaries(
            st.sampled_from(["stream", "key", "value", "event", "version"]), VALUES
        ).map(json.dumps),
        st.fixed_dictionaries(
            {"stream": st.sampled_from(["meta", "alert", "due", "message", "event"])},
            optional={"key": VALUES, "value": VALUES, "ticket_id": VALUES, "due_at": VALUES},
        ).map(json.dumps),
    ),
    max_size=5,
)


@given(LINES)
def test_import_of_any_lines_is_all_or_nothing(lines: list[str]) -> None:
    """Import of arbitrary lines succeeds or raises SupportkitError having written nothing."""
    with tempfile.TemporaryDirectory() as tmp, SqliteStore(Path(tmp) / "f.sqlite3") as store:
        store.set_meta("kept", {"a": 1})
        before = list(export_lines(store))
        try:
            import_lines(store, lines, "fuzz")
        except SupportkitError:
            assert before == list(export_lines(store))
