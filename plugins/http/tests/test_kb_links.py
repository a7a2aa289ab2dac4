"""GET /kb/follow/{token}: a tracked article link from a desk's first automatic response is
recorded (article_helped, once) and redirects to the article; a changed token is a 404 that
records nothing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from http_support import AT, client
from supportkit_http import create_app
from supportkit_http._serve import app_options

from supportkit import (
    ConfigurationError,
    FrozenClock,
    InboundMessage,
    KnowledgeSettings,
    SqliteStore,
    SupportDesk,
)

pytestmark = pytest.mark.anyio


def _desk(path: Path) -> tuple[SupportDesk, str, str]:
    """A desk whose email tickets get the suggestions response; a ticket and its first link."""
    desk = SupportDesk(
        store=SqliteStore(path),
        clock=FrozenClock(AT),
        knowledge=KnowledgeSettings(
            answer_channels=["email"], link_url="https://desk.example.com/kb/follow/{token}"
        ),
    )
    desk.create_article(
        "reset password", title="Reset your password", body="Use the link.", status="published"
    )
    ticket = desk.ingest(
        InboundMessage("m-1", "email", "ana@example.com", AT, body="I forgot my password")
    ).ticket_id
    [response] = [e for e in desk.events(ticket) if e.kind == "message" and e.by == "system"]
    [token] = re.findall(r"/kb/follow/(\S+)", response.data["body"])
    return desk, ticket, token


async def test_a_followed_link_is_recorded_and_redirects(tmp_path: Path) -> None:
    """303 to article_url (the id URL-quoted) and one article_helped, however often it is
    followed; without article_url the link is answered as JSON."""
    desk, ticket, token = _desk(tmp_path / "desk.sqlite3")
    app = create_app(desk, secrets={}, article_url="https://help.example.com/a/{article}")
    async with client(app) as http:
        first = await http.get(f"/kb/follow/{token}")
        again = await http.get(f"/kb/follow/{token}")
    assert (303, 303) == (first.status_code, again.status_code)
    assert "https://help.example.com/a/reset%20password" == first.headers["location"]
    helped = [e.data["article"] for e in desk.events(ticket) if e.kind == "article_helped"]
    assert ["reset password"] == helped
    async with client(create_app(desk, secrets={})) as http:
        plain = await http.get(f"/kb/follow/{token}")
    assert {"ticket_id": ticket, "article_id": "reset password", "recorded": False} == plain.json()


async def test_a_changed_token_is_not_found_and_records_nothing(tmp_path: Path) -> None:
    """A token with another tag, a made-up one or one of another store: 404, no event."""
    desk, ticket, token = _desk(tmp_path / "desk.sqlite3")
    before = desk.events(ticket)
    _, _, foreign = _desk(tmp_path / "other.sqlite3")
    async with client(create_app(desk, secrets={})) as http:
        statuses = [
            (await http.get(f"/kb/follow/{bad}")).status_code
            for bad in (token[:-3] + "AAA", "x.y", foreign)
        ]
    assert ([404, 404, 404], before) == (statuses, desk.events(ticket))


def test_article_url_is_checked_and_configurable(tmp_path: Path) -> None:
    """article_url needs {article}; [plugins.http] article_url reaches create_app."""
    desk, _, _ = _desk(tmp_path / "desk.sqlite3")
    with pytest.raises(ConfigurationError, match="article"):
        create_app(desk, secrets={}, article_url="https://x/")
    options = app_options({"article_url": "https://help.example.com/a/{article}"})
    assert "https://help.example.com/a/{article}" == options["article_url"]
