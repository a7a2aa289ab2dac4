"""A real PostgreSQL for the tests: ``SUPPORTKIT_POSTGRES_URL`` (default: the local trust-auth
server's ``test`` database). Each test gets its own schema, dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import sql

from supportkit.testing import service_missing

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
HOW = (
    "start PostgreSQL on 127.0.0.1:5432 (trust auth, database 'test') or set "
    "SUPPORTKIT_POSTGRES_URL=postgresql://USER@HOST:PORT/DB"
)


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The server's URL; the test is skipped (failed under CI=true) when it does not answer."""
    url = os.environ.get("SUPPORTKIT_POSTGRES_URL", DEFAULT_URL)
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.Error as exc:
        service_missing(f"PostgreSQL at {url} is not reachable ({exc}); {HOW}")
    return url


@pytest.fixture
def new_schema(pg_url: str) -> Iterator[Callable[[], str]]:
    """``new_schema()`` names a fresh schema; every one named is dropped after the test."""
    names: list[str] = []

    def make() -> str:
        names.append(f"sk_test_{uuid.uuid4().hex[:12]}")
        return names[-1]

    yield make
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
