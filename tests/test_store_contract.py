"""The shipped store contract (``supportkit.testing.stores``) on the stores of the core:
the in-memory sidecar around ``InMemoryStore`` and ``SqliteStore`` on a real file."""

from __future__ import annotations

from pathlib import Path

import pytest

from supportkit import InMemoryStore
from supportkit._deskstore import MemorySidecar
from supportkit._sqlite import SqliteStore
from supportkit.testing.stores import DeskStoreContract
from supportkit.typing import DeskStore


class TestMemorySidecar(DeskStoreContract):
    """The extras kept in process memory beside ``InMemoryStore``."""

    keeps_failed_batches = True  # process memory has no transactions to roll back

    def make_store(self) -> DeskStore:
        return MemorySidecar(InMemoryStore())


class TestSqliteStore(DeskStoreContract):
    """``SqliteStore`` on a file in a fresh temporary directory."""

    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path: Path) -> None:
        self.path = tmp_path / "contract.sqlite3"

    def make_store(self) -> DeskStore:
        return SqliteStore(self.path)


def test_the_base_class_asks_for_make_store() -> None:
    """Without an override, make_store says what to do instead of returning nothing."""
    with pytest.raises(NotImplementedError, match="override make_store"):
        DeskStoreContract().make_store()
