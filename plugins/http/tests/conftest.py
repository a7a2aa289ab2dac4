"""Fixtures of the supportkit-http tests: a desk on a real SQLite file with a frozen clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from http_support import AT, POLICY

from supportkit import FrozenClock, SqliteStore, SupportDesk


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(AT)


@pytest.fixture
def desk(tmp_path: Path, clock: FrozenClock) -> Iterator[SupportDesk]:
    """A desk on a real SQLite file with the installed plugins (so the chat channel)."""
    with SupportDesk(
        store=SqliteStore(tmp_path / "desk.sqlite3"), clock=clock, policies=[POLICY]
    ) as desk:
        yield desk
