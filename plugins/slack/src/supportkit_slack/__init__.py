"""supportkit-slack: SLA warnings, breaches, escalations and top-tier tickets, posted to Slack.

:class:`SlackNotifier` is a :class:`supportkit.typing.Notifier` on the official ``slack_sdk``
``WebClient`` (``chat.postMessage``). It posts Block Kit messages naming the ticket's subject,
tier, priority, owner and SLA due time (in the channel's time zone), with a link built from a
URL template, to the channel its :class:`Route` table picks (the default channel otherwise).
Every later notice about a ticket goes into the thread of its first one; the thread timestamps
live in ``desk.plugin_state("slack")``, so they survive restarts and are shared by every process
on the desk's store.

Failures map to :class:`SlackError` subclasses that the desk's outbox understands: an HTTP 429
carries ``retry_at`` (Slack's ``Retry-After``), ``invalid_auth``, ``channel_not_found`` and the
other errors no retry can fix are ``permanent`` (dead-lettered at once), 5xx answers and
connection errors are retried a few times here and then by the outbox.

The entry-point plugin (this module, ``slack`` in the ``supportkit`` group) registers a
notifier named ``"slack"`` when ``SUPPORTKIT_SLACK_TOKEN`` and ``SUPPORTKIT_SLACK_CHANNEL`` are
set; a :class:`SlackNotifier` object handed to ``SupportDesk(plugins=[...])`` is a plugin too.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Any, ClassVar, Protocol
from urllib.error import URLError
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from supportkit import (
    ArticleChanged,
    Clock,
    ConfigurationError,
    IntegrationError,
    IntegrationHTTPError,
    IntegrationTimeout,
    SlaBreached,
    SlaWarning,
    SystemClock,
    TicketEscalated,
    hookimpl,
    retry_after,
    sla_deadline,
)
from supportkit.typing import Notice, Notifier

__all__ = [
    "DEFAULT_KINDS",
    "PERMANENT_ERRORS",
    "Route",
    "SlackError",
    "SlackHTTPError",
    "SlackNotifier",
    "SlackTimeout",
]

log = logging.getLogger(__name__)

#: The notice kinds posted by default.
DEFAULT_KINDS = frozenset({"sla_warning", "sla_breached", "ticket_escalated", "ticket_created"})

#: Slack API ``error`` codes that no retry fixes: the outbox dead-letters them at once.
PERMANENT_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "restricted_action",
    }
)

# How the SDK reports an answer that is not JSON (as an "error" of its own making).
_NOT_JSON = "Received a response in a non-JSON"

_TITLES = {
    "sla_warning": ":warning: SLA warning",
    "sla_breached": ":rotating_light: SLA breached",
    "ticket_escalated": ":arrow_double_up: Escalated",
    "ticket_created": ":star: New ticket",
}


class SlackError(IntegrationError):
    """Posting to Slack failed. ``plugin`` is ``"slack"``; ``error`` is Slack's error code
    (``"channel_not_found"``, ...) when it answered one, else ``None``."""

    plugin: ClassVar[str] = "slack"
    error: str | None = None


class SlackTimeout(SlackError, IntegrationTimeout):
    """Slack did not answer in time, or could not be reached."""


class SlackHTTPError(SlackError, IntegrationHTTPError):
    """Slack answered with an error (an HTTP error status or ``"ok": false``).

    ``response`` is the SDK's ``SlackResponse``.
    """


def _names(value: Iterable[str] | str | None, what: str) -> frozenset[str] | None:
    """*value* as a set of names (``None`` for ``None`` or nothing), or ConfigurationError."""
    if value is None:
        return None
    if (
        isinstance(value, str | bytes | Mapping)
        or not isinstance(value, Iterable)
        or not all(isinstance(v, str) and v for v in value)
    ):
        raise ConfigurationError(f"slack: {what} must be a list of names, got {value!r}")
    return frozenset(value) or None


def _number(value: object, kind: type = float) -> float:
    """*value* if it is a real number (an int if *kind* is int), else NaN (fails every test)."""
    if isinstance(value, bool) or not isinstance(value, int if kind is int else int | float):
        return math.nan
    return value


@attrs.frozen
class Route:
    """Send the notices that match to *channel*.

    Each condition is a set of allowed values, ``None`` (the default) allowing anything:
    *kinds* the notice kinds (``"sla_breached"``, ...), *tiers*, *groups* and *priorities* the
    ticket's, *levels* the escalation level of a ``ticket_escalated`` notice (an escalation to
    ``"engineering"``) or the ticket's current level for other notices. A route matches when
    every condition given holds. The first matching route of a :class:`SlackNotifier` wins.
    """

    channel: str = attrs.field()
    kinds: frozenset[str] | None = attrs.field(default=None, kw_only=True)
    tiers: frozenset[str] | None = attrs.field(default=None, kw_only=True)
    groups: frozenset[str] | None = attrs.field(default=None, kw_only=True)
    priorities: frozenset[str] | None = attrs.field(default=None, kw_only=True)
    levels: frozenset[str] | None = attrs.field(default=None, kw_only=True)

    @channel.validator
    def _check_channel(self, _attribute: Any, value: object) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(f"slack route: channel must be a name or id, got {value!r}")

    def __attrs_post_init__(self) -> None:
        for field in ("kinds", "tiers", "groups", "priorities", "levels"):
            object.__setattr__(self, field, _names(getattr(self, field), field))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Route:
        """A route from its data form: ``{"channel": "#eng", "kinds": [...], "levels": [...]}``."""
        if not isinstance(data, Mapping):
            raise ConfigurationError(f"slack route must be a table, got {data!r}")
        known = {f.name for f in attrs.fields(cls)}
        unknown = sorted(set(data) - known, key=repr)
        if unknown or "channel" not in data:
            raise ConfigurationError(
                f"slack route {dict(data)!r}: needs 'channel'"
                + (f", unknown keys {unknown}" if unknown else "")
                + f" (allowed: {', '.join(sorted(known))})"
            )
        return cls(**data)

    def matches(self, notice: Notice) -> bool:
        """Whether *notice* goes to this route's channel (never for an article's notice,
        which has no ticket to match)."""
        if isinstance(notice, ArticleChanged):
            return False
        ticket = notice.ticket
        level = notice.level if isinstance(notice, TicketEscalated) else ticket.escalation_level
        return all(
            allowed is None or value in allowed
            for allowed, value in (
                (self.kinds, notice.kind),
                (self.tiers, ticket.tier),
                (self.groups, ticket.group),
                (self.priorities, str(ticket.priority)),
                (self.levels, level),
            )
        )


class _State(Protocol):
    """The part of :class:`supportkit.typing.PluginState` this plugin uses."""

    def get(self, key: str) -> Any | None: ...

    def put(self, key: str, value: Any, *, expires_at: datetime | None = None) -> None: ...

    def put_new(self, key: str, value: Any, *, expires_at: datetime | None = None) -> bool: ...


class _ProcessState:
    """Thread timestamps kept in this process only: used until a desk attaches its store."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._values: dict[str, tuple[Any, datetime | None]] = {}

    def get(self, key: str) -> Any | None:
        value, expires = self._values.get(key, (None, None))
        if expires is not None and expires <= self._clock.now():
            return None
        return value

    def put(self, key: str, value: Any, *, expires_at: datetime | None = None) -> None:
        self._values[key] = (value, expires_at)

    def put_new(self, key: str, value: Any, *, expires_at: datetime | None = None) -> bool:
        if self.get(key) is not None:
            return False
        self.put(key, value, expires_at=expires_at)
        return True


class _Redact(logging.Filter):
    """Drops the SDK's debug records (they print request headers) and hides the token."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self._secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.DEBUG:
            return False
        message = record.getMessage()
        if self._secret and self._secret in message:
            record.msg, record.args = message.replace(self._secret, "xox…"), None
        return True


def _sdk_logger(token: str) -> logging.Logger:
    sdk = logging.getLogger(f"{__name__}.sdk")
    sdk.setLevel(logging.INFO)  # the SDK formats headers (with the token) only below INFO
    if not any(isinstance(f, _Redact) and f._secret == token for f in sdk.filters):
        sdk.addFilter(_Redact(token))
    return sdk


def _zone(name: str | tzinfo, what: str) -> tzinfo:
    if isinstance(name, tzinfo):
        return name
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ConfigurationError(
            f"slack: {what} {name!r} is not an IANA time zone (e.g. 'Europe/Berlin')"
        ) from None


def _escape(text: str) -> str:
    """*text* safe inside Slack ``mrkdwn`` (Slack's three control characters escaped)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SlackNotifier:
    """A :class:`supportkit.typing.Notifier` posting Block Kit messages with ``chat.postMessage``.

    *token* is the bot token (``xoxb-...``); it is only handed to the SDK, never logged, put
    in an error or a notice. *client* is a ready ``slack_sdk.WebClient`` (then *token*,
    *base_url* and *timeout* are its business); without one a client is made with *token*,
    *base_url* (point it at a local server in tests) and *timeout* seconds, and no SDK retry
    handlers, as this notifier retries itself: connection errors and 5xx answers *retries*
    more times after *backoff*, then twice that, ... seconds (*sleep* waits). A read timeout is
    not retried here (the message may have arrived); the outbox retries it later.

    What is posted: the notice *kinds* (default :data:`DEFAULT_KINDS`), ``ticket_created``
    only for tickets of the *top_tiers*. Where: the first of *routes* that matches, else
    *channel*. Due times are shown in the channel's zone from *zones* (channel → IANA zone),
    else in *zone*. *link* is a URL template filled with ``{ticket_id}`` (e.g.
    ``"https://help.example.com/tickets/{ticket_id}"``). *clock* gives "now" for ``retry_at``.

    A desk that loads this notifier calls :meth:`attach`, which moves the thread timestamps
    into the desk's store; before that they are kept in this process.
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        channel: str,
        routes: Iterable[Route | Mapping[str, Any]] = (),
        client: WebClient | None = None,
        base_url: str = WebClient.BASE_URL,
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Clock | None = None,
        kinds: Collection[str] = DEFAULT_KINDS,
        top_tiers: Collection[str] = (),
        zone: str | tzinfo = "UTC",
        zones: Mapping[str, str | tzinfo] | None = None,
        link: str | None = None,
        name: str = "slack",
    ) -> None:
        if client is None and (not isinstance(token, str) or not token):
            raise ConfigurationError(
                "slack: no token: pass the bot token (xoxb-...) or a ready slack_sdk.WebClient"
            )
        for what, value in (("channel (the default)", channel), ("name", name)):
            if not isinstance(value, str) or not value.strip():
                raise ConfigurationError(f"slack: {what} must be a name, got {value!r}")
        if not (_number(retries, int) >= 0 and _number(backoff) >= 0 and _number(timeout) > 0):
            raise ConfigurationError(
                f"slack: retries ({retries!r}, an int) and backoff ({backoff!r}) must be >= 0 "
                f"and timeout ({timeout!r}) > 0"
            )
        wanted = _names(kinds, "kinds") or frozenset()
        unknown = sorted(wanted - set(_TITLES))
        if unknown:
            raise ConfigurationError(
                f"slack: cannot post notice kinds {unknown}; choose from {sorted(_TITLES)}"
            )
        if link is not None:
            try:
                link.format(ticket_id="T-1")
            except (AttributeError, KeyError, IndexError, ValueError) as exc:
                raise ConfigurationError(
                    f"slack: link template {link!r} must be a string that may only use "
                    f"{{ticket_id}}: {exc!r}"
                ) from None
        if zones is not None and not isinstance(zones, Mapping):
            raise ConfigurationError(f"slack: zones must map channels to zones, got {zones!r}")
        if isinstance(routes, str | bytes | Mapping) or not isinstance(routes, Iterable):
            raise ConfigurationError(f"slack: routes must be a list of routes, got {routes!r}")
        self.name = name
        self.channel = channel
        self.routes = tuple(r if isinstance(r, Route) else Route.from_dict(r) for r in routes)
        self.kinds = wanted
        self.top_tiers = _names(top_tiers, "top_tiers") or frozenset()
        self.zone = _zone(zone, "zone")
        self.zones = {c: _zone(z, f"zone of channel {c!r}") for c, z in (zones or {}).items()}
        self.link = link
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep
        self._clock: Clock = clock or SystemClock()
        self.client = client or WebClient(
            token=token,
            base_url=base_url,
            timeout=timeout,  # type: ignore[arg-type]  # typed int, handed to urllib as is
            retry_handlers=[],
            logger=_sdk_logger(token or ""),
        )
        self._state: _State = _ProcessState(self._clock)
        self._desk: Any = None

    def attach(self, desk: Any) -> None:
        """Keep thread timestamps in *desk*'s store (``desk.plugin_state("slack")``) and read
        due times from its SLA clocks. Called once by each desk that loads this notifier."""
        self._desk = desk
        self._state = desk.plugin_state("slack")

    # --- what and where ---------------------------------------------------------------------

    def wants(self, notice: Notice) -> bool:
        """Whether *notice* is posted at all (its kind, and a top tier for new tickets)."""
        if notice.kind not in self.kinds or isinstance(notice, ArticleChanged):
            return False
        return notice.kind != "ticket_created" or notice.ticket.tier in self.top_tiers

    def route(self, notice: Notice) -> str:
        """The channel *notice* goes to: the first matching route's, else the default."""
        return next((r.channel for r in self.routes if r.matches(notice)), self.channel)

    def due(self, notice: Notice) -> datetime | None:
        """The SLA due time shown: the notice's deadline for SLA notices, else the ticket's
        earliest running deadline (from the attached desk; ``None`` without one)."""
        if isinstance(notice, SlaWarning | SlaBreached):
            return notice.deadline
        if self._desk is None:
            return None
        return sla_deadline(self._desk.sla(notice.ticket_id, notice.at))

    def message(self, notice: Notice, channel: str | None = None) -> dict[str, Any]:
        """The ``chat.postMessage`` arguments for *notice*: ``text`` (the fallback shown in
        notifications) and ``blocks`` (Block Kit), due time in *channel*'s zone. A notice of a
        kind this notifier cannot post (see :data:`DEFAULT_KINDS` and ``kinds``) is a
        :class:`~supportkit.ConfigurationError`."""
        if notice.kind not in _TITLES or isinstance(notice, ArticleChanged):
            raise ConfigurationError(
                f"slack: cannot post {notice.kind} notices; it posts {sorted(_TITLES)}"
            )
        ticket = notice.ticket
        title = _TITLES[notice.kind]
        detail = ""
        if isinstance(notice, SlaWarning):
            title += f": {notice.metric.replace('_', ' ')} at {round(notice.level * 100)} %"
        elif isinstance(notice, SlaBreached):
            title += f": {notice.metric.replace('_', ' ')}"
        elif isinstance(notice, TicketEscalated):
            title += f" to {notice.level}"
            detail = notice.reason
        elif ticket.tier is not None:
            title = f":star: New {ticket.tier} ticket"
        zone = self.zones.get(channel or self.channel, self.zone)
        due = self.due(notice)
        when = "—" if due is None else due.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
        heading = f"{ticket.id}: {ticket.subject or '(no subject)'}"
        link = None if self.link is None else self.link.format(ticket_id=ticket.id)
        shown = _escape(heading) if link is None else f"<{link}|{_escape(heading)}>"
        fields = [
            ("Tier", ticket.tier or "—"),
            ("Priority", str(ticket.priority)),
            ("Owner", ticket.assignee or (f"group {ticket.group}" if ticket.group else "nobody")),
            ("Due", when),
        ]
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150], "emoji": True}},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*{shown}*"},
                "fields": [
                    {"type": "mrkdwn", "text": f"*{name}*\n{_escape(value)}"}
                    for name, value in fields
                ],
            },
        ]
        if detail:
            blocks.append(
                {"type": "context", "elements": [{"type": "mrkdwn", "text": _escape(detail)}]}
            )
        text = f"{title} · {heading} · due {when}"
        return {"text": text, "blocks": blocks}

    # --- posting ----------------------------------------------------------------------------

    def notify(self, notice: Notice) -> None:
        """Post *notice* if it is wanted, in its ticket's thread on the routed channel.

        The same notice delivered twice (an outbox retry after an unrecorded success) is posted
        once. Raises a :class:`SlackError` on failure.
        """
        if not self.wants(notice):
            return
        channel = self.route(notice)
        sent_key = f"sent:{channel}:{_notice_key(notice)}"
        if self._state.get(sent_key) is not None:
            return
        thread_key = f"thread:{channel}:{notice.ticket_id}"
        thread = self._state.get(thread_key)
        target = channel if thread is None else thread["channel"]
        ts = None if thread is None else thread["ts"]
        answer = self.post(target, **self.message(notice, channel), thread_ts=ts)
        posted = {"channel": str(answer.get("channel") or target), "ts": str(answer["ts"])}
        if thread is None:
            self._state.put_new(thread_key, posted)
        self._state.put(sent_key, posted["ts"], expires_at=self._clock.now() + timedelta(days=7))

    def post(
        self,
        channel: str,
        *,
        text: str,
        blocks: Sequence[dict[str, Any]],
        thread_ts: str | None = None,
    ) -> Mapping[str, Any]:
        """``chat.postMessage`` with bounded retries; return Slack's answer (``ts``, ...)."""
        for attempt in range(self.retries + 1):
            try:
                response = self.client.chat_postMessage(
                    channel=channel,
                    text=text,
                    blocks=list(blocks),
                    thread_ts=thread_ts,
                    unfurl_links=False,
                )
            except SlackApiError as exc:
                error = self._api_error(exc, channel)
                if error.permanent or error.retry_at is not None or attempt == self.retries:
                    raise error from exc
                if error.response is not None and error.response.status_code < 500:
                    raise error from exc
            except URLError as exc:  # no connection: the request never left
                if attempt == self.retries:
                    raise SlackTimeout(
                        f"slack: could not connect after {attempt + 1} tries: {exc.reason}"
                    ) from exc
            except (TimeoutError, ConnectionError) as exc:  # it may have arrived: outbox retries
                raise SlackTimeout(f"slack: no answer to chat.postMessage: {exc!r}") from exc
            except SlackClientError as exc:
                raise SlackError(f"slack: the SDK refused the request: {exc}") from exc
            else:
                data = response.data
                if not isinstance(data, dict) or not data.get("ts"):
                    raise SlackHTTPError(
                        f"slack: chat.postMessage to {channel} answered without a message ts",
                        response=response,
                    )
                return data
            self._sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _api_error(self, exc: SlackApiError, channel: str) -> SlackHTTPError:
        response = exc.response
        status = response.status_code
        data = response.data if isinstance(response.data, dict) else {}
        code = data.get("error")
        retry_at = None
        if status == 429:
            retry_at = retry_after(
                response.headers.get("Retry-After") or response.headers.get("retry-after"),
                self._clock.now(),
            ) or self._clock.now() + timedelta(seconds=60)
            what = f"rate limited until {retry_at.isoformat()}"
        elif status >= 500:
            what = f"answered HTTP {status}"
        elif status == 200 and isinstance(code, str) and code.startswith(_NOT_JSON):
            what, code = "answered malformed JSON (not a Slack API answer)", None
        else:
            what = f"answered HTTP {status}, error {code!r}"
        permanent = retry_at is None and code in PERMANENT_ERRORS
        if permanent:
            what += " (not retried: fix the token, scopes or channel)"
        error = SlackHTTPError(
            f"slack: chat.postMessage to {channel} {what}",
            response=response,
            retry_at=retry_at,
            permanent=permanent,
        )
        error.error = code
        return error

    # --- plugin wiring ----------------------------------------------------------------------

    @hookimpl
    def supportkit_register_notifiers(self, register: Callable[[str, Notifier], None]) -> None:
        """Register this notifier under its name (``"slack"``)."""
        register(self.name, self)

    def __repr__(self) -> str:
        return f"<SlackNotifier {self.name!r} channel={self.channel!r} routes={len(self.routes)}>"


def _notice_key(notice: Notice) -> str:
    key: str | None = getattr(notice, "key", None)
    return key if key is not None else f"{notice.kind}:{notice.event.id}"  # type: ignore[union-attr]


@hookimpl
def supportkit_register_notifiers(register: Callable[[str, Notifier], None]) -> None:
    """The entry-point plugin: a notifier configured from the environment, if it is set.

    ``SUPPORTKIT_SLACK_TOKEN`` and ``SUPPORTKIT_SLACK_CHANNEL`` (both, or neither) turn it on;
    ``SUPPORTKIT_SLACK_LINK`` (a URL template with ``{ticket_id}``), ``SUPPORTKIT_SLACK_ZONE``
    and ``SUPPORTKIT_SLACK_TOP_TIERS`` (comma-separated) are optional.
    """
    token = os.environ.get("SUPPORTKIT_SLACK_TOKEN")
    channel = os.environ.get("SUPPORTKIT_SLACK_CHANNEL")
    if token is None and channel is None:
        return
    if not token or not channel:
        raise ConfigurationError(
            "supportkit-slack: set both SUPPORTKIT_SLACK_TOKEN and SUPPORTKIT_SLACK_CHANNEL "
            "(or neither, to leave Slack off)"
        )
    tiers = os.environ.get("SUPPORTKIT_SLACK_TOP_TIERS", "")
    register(
        "slack",
        SlackNotifier(
            token,
            channel=channel,
            link=os.environ.get("SUPPORTKIT_SLACK_LINK") or None,
            zone=os.environ.get("SUPPORTKIT_SLACK_ZONE") or "UTC",
            top_tiers=[t.strip() for t in tiers.split(",") if t.strip()],
        ),
    )
