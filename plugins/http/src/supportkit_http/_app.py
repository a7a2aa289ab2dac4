"""The ASGI app: inbound webhooks, chat conversations, the JSON API and the dashboard.

Every call into the desk (which is synchronous and does I/O) runs in Starlette's thread pool,
so the event loop keeps serving other requests meanwhile.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable, Mapping
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any
from urllib.parse import quote

import attrs
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from supportkit import (
    ConfigurationError,
    EventError,
    IngestResult,
    Status,
    SupportDesk,
    SupportkitError,
    Ticket,
    TicketStateError,
    sla_deadline,
)

from ._auth import Tokens
from ._chat import CONVERSATION, ConversationLog
from ._openapi import openapi
from ._signatures import SignatureScheme, SupportkitSignature

__all__ = ["create_app"]

_Handler = Callable[[Request], Awaitable[Response]]
_REPLAY_NAMESPACE = "supportkit_http.replay"
#: The largest JSON body the API's write endpoints read.
_API_BODY = 65_536
_OPEN = frozenset({Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD})


class _Problem(Exception):
    """An RFC 9457 problem to answer with (raised inside handlers)."""

    def __init__(self, status: int, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra

    def response(self) -> JSONResponse:
        body = {"type": "about:blank", "title": self.title, "status": self.status}
        body |= {"detail": self.detail, **self.extra}
        return JSONResponse(body, self.status, media_type="application/problem+json")


def create_app(
    desk: SupportDesk,
    *,
    secrets: Mapping[str, str],
    open_channels: Collection[str] = (),
    max_body: int | Mapping[str, int] = 1_048_576,
    tokens: Mapping[str, Iterable[str]] | None = None,
    schemes: Mapping[str, SignatureScheme] | None = None,
    title: str = "supportkit",
    refresh: float = 2.0,
    article_url: str | None = None,
) -> Starlette:
    """The supportkit HTTP front door for *desk*, as an ASGI app to serve or mount.

    *secrets* maps a registered channel's name (the ``{channel}`` in ``POST
    /inbound/{channel}``) to its signing secret; *open_channels* names channels that take
    unsigned requests (a public chat widget), every other channel refuses them. *schemes*
    maps a channel to the :class:`SignatureScheme` its provider signs with (default:
    :class:`SupportkitSignature`, the webhook plugin's). *max_body* is the largest inbound
    body in bytes, one for all or a mapping per channel (``"*"`` for the rest), enforced
    while the body is read. *tokens* maps :func:`hash_token` of each bearer token to its
    scopes (``read``, ``act``, ``admin``, ``chat``); without it every endpoint is open, with it
    everything but ``/inbound/...`` needs a token. *title* heads the dashboard, which fetches
    fresh figures every *refresh* seconds. ``GET /kb/follow/{token}`` serves the desk's tracked
    article links (``KnowledgeSettings.link_url``): it records the click with
    ``desk.article_link_followed`` and redirects (303) to *article_url* with ``{article}``
    replaced by the article id, or without *article_url* answers the link as JSON.

    Raises :class:`~supportkit.ConfigurationError` for a channel the desk does not have, a
    channel both signed and open, an empty secret, or a limit that is not a positive number.
    """
    if not isinstance(desk, SupportDesk):
        raise ConfigurationError(f"create_app needs a supportkit.SupportDesk, got {desk!r}")
    known = set(desk.channel_names())
    if not isinstance(secrets, Mapping):
        raise ConfigurationError(f"secrets must map channel names to secrets, got {secrets!r}")
    if isinstance(open_channels, str | bytes) or not isinstance(open_channels, Iterable):
        raise ConfigurationError(f"open_channels must be a list of names, got {open_channels!r}")
    open_channels = list(open_channels)
    for what, names in (("secrets", list(secrets)), ("open_channels", open_channels)):
        for name in names:
            if not isinstance(name, str) or name not in known:
                raise ConfigurationError(
                    f"{what}: channel {name!r} is not registered with the desk (it has "
                    f"{', '.join(sorted(known)) or 'none'})"
                )
    both = sorted(set(secrets) & set(open_channels))
    if both:
        raise ConfigurationError(f"channel {both[0]!r} is both signed (secrets) and open")
    for name, secret in secrets.items():
        if not isinstance(secret, str) or not secret:
            raise ConfigurationError(f"secrets: channel {name!r} needs a non-empty secret")
    limits = dict(max_body) if isinstance(max_body, Mapping) else {"*": max_body}
    limits.setdefault("*", 1_048_576)
    for name, limit in limits.items():
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigurationError(f"max_body[{name!r}] must be a positive int, got {limit!r}")
    schemes = {} if schemes is None else schemes
    if not isinstance(schemes, Mapping) or not all(
        isinstance(scheme, SignatureScheme) for scheme in schemes.values()
    ):
        raise ConfigurationError(
            f"schemes must map channel names to signature schemes (objects with verify()), "
            f"got {schemes!r}"
        )
    unsigned = sorted(set(schemes) - set(secrets))
    if unsigned:
        raise ConfigurationError(f"schemes: channel {unsigned[0]!r} has no secret in secrets")
    if not isinstance(title, str):
        raise ConfigurationError(f"title must be a string, got {title!r}")
    if isinstance(refresh, bool) or not isinstance(refresh, int | float) or not refresh > 0:
        raise ConfigurationError(f"refresh must be a positive number of seconds, got {refresh!r}")
    if article_url is not None and (
        not isinstance(article_url, str) or "{article}" not in article_url
    ):
        raise ConfigurationError(
            f"article_url must be a URL with {{article}} where the article id goes, got "
            f"{article_url!r}"
        )
    front = _FrontDoor(
        desk,
        secrets=dict(secrets),
        open_channels=frozenset(open_channels),
        limits=limits,
        tokens=Tokens(tokens),
        schemes={**dict.fromkeys(secrets, SupportkitSignature()), **schemes},
        title=title,
        refresh=refresh,
        article_url=article_url,
    )
    app = Starlette(routes=front.routes())
    # No redirects: a POST to "/inbound/json/" (or "json%2F") is a 404, not a 307 to another
    # path, which a webhook sender would follow with its body to an endpoint it did not name.
    app.router.redirect_slashes = False
    return app


@attrs.define
class _FrontDoor:
    desk: SupportDesk
    secrets: dict[str, str]
    open_channels: frozenset[str]
    limits: dict[str, int]
    tokens: Tokens
    schemes: dict[str, SignatureScheme]
    title: str
    refresh: float
    article_url: str | None = None
    conversations: ConversationLog = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.conversations = ConversationLog.of(self.desk)

    def routes(self) -> list[Route]:
        """Every route, each wrapped with its scope check and problem answers."""
        table: list[tuple[str, str, _Handler, str | None]] = [
            ("/inbound/{channel}", "POST", self.inbound, None),
            ("/conversations/{conversation}/messages", "GET", self.messages, "chat"),
            ("/conversations/{conversation}/stream", "GET", self.stream, "chat"),
            ("/kb/follow/{token}", "GET", self.follow, None),
            ("/", "GET", self.dashboard, "read"),
            ("/openapi.json", "GET", self.schema, "read"),
            ("/api/dashboard", "GET", self.dashboard_data, "read"),
            ("/api/tickets/{ticket_id}", "GET", self.ticket, "read"),
            ("/api/queue", "GET", self.queue, "read"),
            ("/api/next-steps", "GET", self.next_steps, "read"),
            ("/api/metrics", "GET", self.metrics, "read"),
            ("/api/outbox/dead", "GET", self.dead_letters, "admin"),
            ("/api/tickets/{ticket_id}/reply", "POST", self.reply, "act"),
            ("/api/tickets/{ticket_id}/status", "POST", self.set_status, "act"),
            ("/api/tickets/{ticket_id}/assign", "POST", self.assign, "act"),
            ("/api/tickets/{ticket_id}/escalate", "POST", self.escalate, "act"),
        ]
        return [
            Route(path, self._guard(handler, scope), methods=[method])
            for path, method, handler, scope in table
        ]

    def _guard(self, handler: _Handler, scope: str | None) -> _Handler:
        async def endpoint(request: Request) -> Response:
            try:
                if scope is not None:
                    self._authorize(request, scope)
                return await handler(request)
            except _Problem as problem:
                return problem.response()

        endpoint.__name__ = handler.__name__
        endpoint.__doc__ = handler.__doc__
        return endpoint

    def _authorize(self, request: Request, scope: str) -> None:
        authorization = request.headers.get("authorization")
        token = request.query_params.get("access_token")
        if authorization is None and token is not None and request.method == "GET":
            authorization = f"Bearer {token}"  # RFC 6750 §2.3, for the dashboard page
        status = self.tokens.check(authorization, scope)
        if status == 401:
            raise _Problem(401, "Unauthorized", "a valid bearer token is required")
        if status == 403:
            raise _Problem(403, "Forbidden", f"this token lacks the {scope!r} scope")

    # --- inbound -------------------------------------------------------------------------------

    async def inbound(self, request: Request) -> Response:
        """Take one webhook: check size, signature and replay, then parse and ingest it."""
        channel = request.path_params["channel"]
        if channel not in self.desk.channel_names():
            raise _Problem(404, "Not Found", f"no channel {channel!r} is registered")
        limit = self.limits.get(channel, self.limits["*"])
        body = await _read(request, limit)
        headers = {name.lower(): value for name, value in request.headers.items()}
        replay_key = replay_until = None
        if channel not in self.open_channels:
            secret = self.secrets.get(channel)
            signed = None
            if secret is not None:
                now = self.desk.clock.now().timestamp()
                signed = self.schemes[channel].verify(secret, headers, body, now)
            if signed is None:
                raise _Problem(
                    401,
                    "Unauthorized",
                    f"channel {channel!r} needs a valid, fresh signature"
                    if secret is not None
                    else f"channel {channel!r} takes no unsigned requests (configure a secret "
                    "for it or list it in open_channels)",
                )
            replay_key = f"{channel}:{signed.key}"
            replay_until = datetime.fromtimestamp(signed.until, UTC)
        # One trip to the thread pool for all the store work (a hop costs more than the check).
        result = await run_in_threadpool(
            self._receive, channel, body, headers, replay_key, replay_until
        )
        return JSONResponse(_ingested(result), 202)

    def _receive(
        self,
        channel: str,
        body: bytes,
        headers: Mapping[str, str],
        replay_key: str | None,
        replay_until: datetime | None,
    ) -> IngestResult:
        """Remember the signature (refusing a replay), then parse and ingest the payload."""
        state = self.desk.plugin_state(_REPLAY_NAMESPACE)
        if replay_key is not None and not state.put_new(replay_key, 1, expires_at=replay_until):
            raise _Problem(409, "Conflict", "this signature was used before (a replay)")
        try:
            return self.desk.receive(channel, body, headers)
        except EventError as exc:
            raise _Problem(400, "Invalid payload", str(exc), field=exc.field) from None
        except BaseException:
            if replay_key is not None:  # not processed: let the provider retry the same request
                state.delete(replay_key)
            raise

    # --- chat ----------------------------------------------------------------------------------

    def _conversation(self, request: Request) -> tuple[str, int]:
        conversation = request.path_params["conversation"]
        if not CONVERSATION.fullmatch(conversation):
            raise _Problem(404, "Not Found", f"no conversation {conversation!r}")
        raw = request.query_params.get("after") or request.headers.get("last-event-id") or "0"
        if not raw.isascii() or not raw.isdigit():
            raise _Problem(400, "Bad Request", f"after must be a whole number, got {raw!r}")
        return conversation, int(raw)

    async def messages(self, request: Request) -> Response:
        """The agents' replies delivered to a chat conversation (numbered from 1)."""
        conversation, after = self._conversation(request)
        items = await run_in_threadpool(self.conversations.read, conversation, after)
        return JSONResponse({"conversation_id": conversation, "messages": items})

    async def stream(self, request: Request) -> Response:
        """The conversation's replies as server-sent events, each ``id`` its number."""
        conversation, after = self._conversation(request)

        async def events() -> AsyncIterator[str]:
            seen = after
            yield ": supportkit chat stream\n\n"
            while not await request.is_disconnected():
                for item in await run_in_threadpool(self.conversations.read, conversation, seen):
                    seen = item["n"]
                    yield f"id: {seen}\nevent: message\ndata: {json.dumps(item)}\n\n"
                await asyncio.sleep(0.25)

        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    # --- reads ---------------------------------------------------------------------------------

    async def dashboard(self, request: Request) -> Response:
        """The live dashboard page (one self-contained HTML file)."""
        page = files(__package__).joinpath("dashboard.html").read_text(encoding="utf-8")
        page = page.replace("{{refresh_ms}}", str(int(self.refresh * 1000)))
        return HTMLResponse(page.replace("{{title}}", _html(self.title)))

    async def schema(self, request: Request) -> Response:
        """The OpenAPI document of this app."""
        return JSONResponse(openapi(self.title))

    async def dashboard_data(self, request: Request) -> Response:
        """Everything the dashboard shows, in one document."""
        return JSONResponse(await run_in_threadpool(self._dashboard_data))

    def _dashboard_data(self) -> dict[str, Any]:
        desk = self.desk
        at = desk.clock.now()
        report = desk.metrics(("all", "tier"), at=at)
        overall = report.row("all").metrics
        steps = {step.ticket_id: step for step in desk.next_steps(at)}
        tickets = [_open(ticket, desk, at) for ticket in desk.tickets() if ticket.status in _OPEN]
        tickets.sort(key=_by_due)
        for row in tickets:
            step = steps.get(row["id"])
            row["next_step"] = None if step is None else _step(step)
        dead = len(desk.outbox("dead"))
        tiers = [
            {"tier": row.key[0], **{name: row.metrics.get(name) for name in _KPIS}}
            for row in report.table("tier")
        ]
        return {
            "title": self.title,
            "at": at.isoformat(),
            "kpis": {name: overall.get(name) for name in _KPIS},
            "tiers": tiers,
            "dead_letters": dead,
            "tickets": tickets,
        }

    async def ticket(self, request: Request) -> Response:
        """One ticket with its events and its SLA evaluation now."""
        ticket_id = request.path_params["ticket_id"]

        def read() -> dict[str, Any]:
            self._exists(ticket_id)
            evaluation = self.desk.sla(ticket_id)
            return {
                "ticket": _ticket(self.desk.ticket(ticket_id)),
                "events": [event.to_dict() for event in self.desk.events(ticket_id)],
                "sla": None if evaluation is None else evaluation.to_dict(),
            }

        return JSONResponse(await run_in_threadpool(read))

    async def queue(self, request: Request) -> Response:
        """The open tickets (new, open, pending, on hold), the earliest SLA deadline first."""

        def read() -> list[dict[str, Any]]:
            at = self.desk.clock.now()
            rows = [_open(t, self.desk, at) for t in self.desk.tickets() if t.status in _OPEN]
            return sorted(rows, key=_by_due)

        return JSONResponse({"tickets": await run_in_threadpool(read)})

    async def next_steps(self, request: Request) -> Response:
        """Who owes what by when, for every open ticket, ordered by due time (none last)."""

        def read() -> list[dict[str, Any]]:
            steps = [_step(step) for step in self.desk.next_steps()]
            return sorted(steps, key=_by_due)

        return JSONResponse({"next_steps": await run_in_threadpool(read)})

    async def metrics(self, request: Request) -> Response:
        """A metrics report: ``group`` (comma-separated parts, e.g. ``tier,week``) and ``at``."""
        group = request.query_params.get("group", "all")
        parts = tuple(part.strip() for part in group.split(","))
        at = _instant(request.query_params.get("at"), "at")

        def read() -> dict[str, Any]:
            grouping = parts[0] if len(parts) == 1 else parts
            return self.desk.metrics((grouping,), at=at).to_dict()

        return JSONResponse(await _desk_call(read))

    async def dead_letters(self, request: Request) -> Response:
        """The outbox messages that failed for the last time."""

        def read() -> list[dict[str, Any]]:
            return [_jsonable(attrs.asdict(message)) for message in self.desk.outbox("dead")]

        return JSONResponse({"dead": await run_in_threadpool(read)})

    async def follow(self, request: Request) -> Response:
        """A customer followed a tracked article link: record it, then send them on."""
        token = request.path_params["token"]
        try:
            link = await run_in_threadpool(self.desk.article_link_followed, token)
        except EventError:
            raise _Problem(404, "Not Found", "this link is not valid") from None
        if self.article_url is None:
            return JSONResponse(
                {
                    "ticket_id": link.ticket_id,
                    "article_id": link.article_id,
                    "recorded": link.recorded,
                }
            )
        url = self.article_url.replace("{article}", quote(link.article_id, safe=""))
        return RedirectResponse(url, status_code=303)

    # --- writes --------------------------------------------------------------------------------

    def _exists(self, ticket_id: str) -> None:
        if self.desk.store.version(ticket_id) == 0:
            raise _Problem(404, "Not Found", f"no ticket {ticket_id!r}")

    async def _act(
        self, request: Request, action: Callable[[str, dict[str, Any]], Ticket]
    ) -> Response:
        ticket_id = request.path_params["ticket_id"]
        try:
            data = json.loads(await _read(request, _API_BODY) or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _Problem(400, "Invalid JSON", f"the request body is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise _Problem(400, "Invalid JSON", "the request body must be a JSON object")

        def act() -> Ticket:
            self._exists(ticket_id)
            return action(ticket_id, data)

        return JSONResponse({"ticket": _ticket(await _desk_call(act))})

    async def reply(self, request: Request) -> Response:
        """An agent's reply: ``body``, optional ``agent``, ``public`` and ``status``."""
        return await self._act(
            request,
            lambda ticket_id, data: self.desk.reply(
                ticket_id,
                _field(data, "body", str),
                agent=_field(data, "agent", str, None),
                public=_field(data, "public", bool, True),
                status=_field(data, "status", str, None),
            ),
        )

    async def set_status(self, request: Request) -> Response:
        """Move a ticket to ``status`` (``actor`` optional)."""
        return await self._act(
            request,
            lambda ticket_id, data: self.desk.set_status(
                ticket_id, _field(data, "status", str), actor=_field(data, "actor", str, None)
            ),
        )

    async def assign(self, request: Request) -> Response:
        """Assign a ticket to ``agent`` and/or ``group`` (``actor`` optional)."""
        return await self._act(
            request,
            lambda ticket_id, data: self.desk.assign(
                ticket_id,
                _field(data, "agent", str, None),
                group=_field(data, "group", str, None),
                actor=_field(data, "actor", str, None),
            ),
        )

    async def escalate(self, request: Request) -> Response:
        """Escalate a ticket to ``level`` with a ``reason`` (``target``, ``actor`` optional)."""
        return await self._act(
            request,
            lambda ticket_id, data: self.desk.escalate(
                ticket_id,
                _field(data, "level", str),
                reason=_field(data, "reason", str),
                target=_field(data, "target", str, None),
                actor=_field(data, "actor", str, None),
            ),
        )


_KPIS = (
    "incoming",
    "solved",
    "backlog",
    "first_reply.median",
    "sla_attainment",
    "csat",
    "escalated",
    "reopened",
)
_MISSING = object()


async def _read(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed *limit* bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise _Problem(413, "Content Too Large", f"the body exceeds {limit} bytes")
    chunks = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _Problem(413, "Content Too Large", f"the body exceeds {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        raise _Problem(400, "Bad Request", "the client went away mid-body") from None
    return b"".join(chunks)


async def _desk_call(call: Callable[[], Any]) -> Any:
    """Run a desk action in the thread pool, answering its refusals as problems."""
    try:
        return await run_in_threadpool(call)
    except EventError as exc:
        raise _Problem(400, "Invalid request", str(exc), field=exc.field) from None
    except TicketStateError as exc:
        raise _Problem(409, "Not allowed now", str(exc)) from None
    except (ConfigurationError, SupportkitError) as exc:
        raise _Problem(400, "Refused", str(exc)) from None


def _field(data: Mapping[str, Any], name: str, kind: type, default: Any = _MISSING) -> Any:
    value = data.get(name, default)
    if value is _MISSING:
        raise EventError(f"the request body needs {name!r}", field=name)
    if value is not default and not isinstance(value, kind):
        raise EventError(f"{name!r} must be a {kind.__name__}, got {value!r}", field=name)
    return value


def _instant(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise _Problem(
            400, "Bad Request", f"{name} must be an ISO 8601 instant with an offset", field=name
        )
    return at


def _ingested(result: IngestResult) -> dict[str, Any]:
    return {
        "ticket_id": result.ticket_id,
        "duplicate": result.duplicate,
        "created": result.created,
        "ignored": result.ignored,
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _ticket(ticket: Ticket) -> dict[str, Any]:
    return dict(_jsonable(attrs.asdict(ticket, recurse=True)))


def _open(ticket: Ticket, desk: SupportDesk, at: datetime) -> dict[str, Any]:
    """An open ticket's queue row: who has it and its SLA due time and breach."""
    evaluation = desk.sla(ticket.id, at)
    due = sla_deadline(evaluation)
    breached = evaluation is not None and any(
        cycle.status == "breached" for cycles in evaluation.values() for cycle in cycles
    )
    return {
        "id": ticket.id,
        "subject": ticket.subject,
        "status": ticket.status.value,
        "priority": ticket.priority.value,
        "channel": ticket.channel,
        "tier": ticket.tier,
        "assignee": ticket.assignee,
        "group": ticket.group,
        "due": None if due is None else due.isoformat(),
        "breached": breached,
    }


def _step(step: Any) -> dict[str, Any]:
    return {
        "ticket_id": step.ticket_id,
        "waiting_on": step.waiting_on.value,
        "action": step.action.value,
        "owner": step.owner,
        "group": step.group,
        "level": step.level,
        "due": None if step.due is None else step.due.isoformat(),
    }


def _by_due(row: Mapping[str, Any]) -> tuple[bool, float]:
    due = row["due"]
    return (due is None, 0.0 if due is None else datetime.fromisoformat(due).timestamp())


def _html(text: str) -> str:
    import html

    return html.escape(text)
