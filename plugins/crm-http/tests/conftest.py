"""A loopback HTTP server shaped like HubSpot's CRM v3 objects API (contacts and companies).

``GET /crm/v3/objects/contacts/<email>?idProperty=email`` and
``GET /crm/v3/objects/companies/<domain>?idProperty=domain`` answer the stored object
(``{"id": ..., "properties": {...}}``) or 404 with HubSpot's error body; a wrong bearer token is
401. Tests change the stored objects and queue scripted answers (status, headers, raw body,
delay) for the next requests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote, urlsplit

import attrs
import pytest

from supportkit.testing.http import send, serve

TOKEN = "pat-na1-crm-secret-0123456789"


@attrs.frozen
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]
    delay: float = 0.0


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Answer:
    return Answer(
        status, json.dumps(data).encode(), {"Content-Type": "application/json"} | (headers or {})
    )


@attrs.define
class FakeCrm:
    base_url: str = ""
    token: str = TOKEN
    contacts: dict[str, dict[str, Any]] = attrs.Factory(dict)
    companies: dict[str, dict[str, Any]] = attrs.Factory(dict)
    requests: list[str] = attrs.Factory(list)
    script: list[Answer] = attrs.Factory(list)

    def contact(self, email: str, ident: str = "51", **properties: Any) -> None:
        self.contacts[email] = {"id": ident, "properties": {"email": email, **properties}}

    def company(self, domain: str, ident: str = "9", **properties: Any) -> None:
        self.companies[domain] = {"id": ident, "properties": {"domain": domain, **properties}}

    def queue(
        self,
        status: int,
        body: bytes = b"",
        *,
        delay: float = 0.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.script.append(Answer(status, body, headers or {}, delay))

    def queue_json(
        self, data: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        self.script.append(_json(data, status, headers))

    def answer(self, path: str, authorization: str | None) -> Answer:
        if self.script:
            return self.script.pop(0)
        if authorization != f"Bearer {self.token}":
            return _json({"status": "error", "category": "INVALID_AUTHENTICATION"}, 401)
        parts = urlsplit(path).path.split("/")
        if len(parts) == 6 and parts[1:4] == ["crm", "v3", "objects"]:
            table = {"contacts": self.contacts, "companies": self.companies}.get(parts[4], {})
            found = table.get(unquote(parts[5]))
            if found is not None:
                return _json(found)
        return _json(
            {"status": "error", "message": "resource not found", "category": "OBJECT_NOT_FOUND"},
            404,
        )


@pytest.fixture
def crm_server() -> Iterator[FakeCrm]:
    """A :class:`FakeCrm` on 127.0.0.1."""
    fake = FakeCrm()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fake.requests.append(self.path)
            answer = fake.answer(self.path, self.headers.get("Authorization"))
            send(self, answer.status, answer.body, answer.headers, delay=answer.delay)

    with serve(Handler) as url:
        fake.base_url = url
        yield fake
