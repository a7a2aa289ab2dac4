"""supportkit-slack against a loopback server speaking the Slack Web API's JSON shapes."""

from __future__ import annotations

import importlib.metadata
import logging
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import supportkit_slack
from hypothesis import given, settings
from hypothesis import strategies as st
from supportkit_slack import Route, SlackHTTPError, SlackNotifier, SlackTimeout

from supportkit import (
    Article,
    ArticleChanged,
    ArticleEvent,
    ConfigurationError,
    FrozenClock,
    IntegrationError,
    PluginError,
    SlaBreached,
    SlaWarning,
    Ticket,
    TicketCreated,
    TicketEscalated,
    TicketEvent,
)
from supportkit.testing import run_doc_examples
from supportkit.typing import Notifier

AT = datetime(2025, 3, 3, 9, tzinfo=UTC)
DUE = datetime(2025, 3, 3, 13, 30, tzinfo=UTC)


def ticket(tier: str | None = "gold", **created: Any) -> Ticket:
    """A ticket "Checkout fails" of *tier*, high priority, assigned to ana."""
    data = {"subject": "Checkout fails", "tier": tier, "priority": "high", **created}
    return Ticket.from_events(
        [
            TicketEvent("created", ticket_id="T-1", at=AT, data=data),
            TicketEvent("assigned", ticket_id="T-1", at=AT, data={"agent": "ana", "group": "l1"}),
        ]
    )


def warning(t: Ticket | None = None, key: str = "T-1:first_reply:0:0.75") -> SlaWarning:
    return SlaWarning(t or ticket(), "first_reply", 0, AT, key, deadline=DUE, level=0.75)


def breach(t: Ticket | None = None) -> SlaBreached:
    return SlaBreached(
        t or ticket(), "first_reply", 0, DUE, "T-1:first_reply:0:breach", deadline=DUE
    )


def escalation(level: str = "engineering", t: Ticket | None = None) -> TicketEscalated:
    t = t or ticket()
    event = TicketEvent(
        "escalated",
        ticket_id=t.id,
        at=AT,
        data={"level": level, "target": "eng", "reason": "payment <gateway> bug"},
    )
    return TicketEscalated(t.apply(event), event, None, "ana")


def created(tier: str | None) -> TicketCreated:
    t = ticket(tier)
    return TicketCreated(t, TicketEvent("created", ticket_id="T-1", at=AT, data={"tier": tier}))


def notifier(slack: Any, sleeps: list[float] | None = None, **options: Any) -> SlackNotifier:
    settings: dict[str, Any] = {
        "channel": "#support",
        "base_url": slack.base_url,
        "timeout": 2,
        "backoff": 0.5,
        "sleep": (sleeps if sleeps is not None else []).append,
        "clock": FrozenClock(AT),
        "top_tiers": ["gold"],
    }
    return SlackNotifier(slack.token, **(settings | options))


# --- messages -----------------------------------------------------------------------------------


def test_warning_is_a_block_kit_message_with_link_and_local_due_time() -> None:
    """Subject, tier, priority, owner, due time in the channel's zone and the ticket link."""
    slack = SlackNotifier(
        "xoxb-x",
        channel="#support",
        zones={"#support": "Europe/Berlin"},
        link="https://help.example.com/t/{ticket_id}",
    )
    expected = {
        "text": ":warning: SLA warning: first reply at 75 % · T-1: Checkout fails · due "
        "2025-03-03 14:30 CET",
        "blocks": [
            {
                "type": "header",
                "text": {
                    "type": "plain_text",
                    "text": ":warning: SLA warning: first reply at 75 %",
                    "emoji": True,
                },
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "*<https://help.example.com/t/T-1|T-1: Checkout fails>*",
                },
                "fields": [
                    {"type": "mrkdwn", "text": "*Tier*\ngold"},
                    {"type": "mrkdwn", "text": "*Priority*\nhigh"},
                    {"type": "mrkdwn", "text": "*Owner*\nana"},
                    {"type": "mrkdwn", "text": "*Due*\n2025-03-03 14:30 CET"},
                ],
            },
        ],
    }
    assert expected == slack.message(warning(), "#support")


def test_escalation_message_names_level_and_escapes_the_reason() -> None:
    """An escalation's title names the level; the reason is shown with <, > and & escaped."""
    message = SlackNotifier("xoxb-x", channel="#support").message(escalation())
    assert ":arrow_double_up: Escalated to engineering" == message["blocks"][0]["text"]["text"]
    assert {"type": "mrkdwn", "text": "payment &lt;gateway&gt; bug"} == message["blocks"][2][
        "elements"
    ][0]
    owner = message["blocks"][1]["fields"][2]["text"]
    assert "*Owner*\ngroup eng" == owner  # the escalation's target team owns it now


def test_breach_and_new_top_tier_titles() -> None:
    """Breaches name the metric; new tickets name their tier; an unknown due time is a dash."""
    slack = SlackNotifier("xoxb-x", channel="#support")
    assert (
        ":rotating_light: SLA breached: first reply"
        == slack.message(breach())["blocks"][0]["text"]["text"]
    )
    new = slack.message(created("gold"))
    assert ":star: New gold ticket" == new["blocks"][0]["text"]["text"]
    assert "*Due*\n—" == new["blocks"][1]["fields"][3]["text"]


def test_only_top_tier_tickets_and_chosen_kinds_are_posted() -> None:
    """New tickets are posted for the top tiers only; kinds limits the rest."""
    slack = SlackNotifier("xoxb-x", channel="#s", top_tiers=["gold"], kinds={"ticket_created"})
    assert [True, False, False, False] == [
        slack.wants(n) for n in (created("gold"), created("silver"), created(None), warning())
    ]


def test_an_article_notice_is_neither_wanted_routed_nor_rendered() -> None:
    """An ``article_changed`` notice has no ticket: not wanted, matched by no route, and
    rendering it (or any kind this notifier cannot post) is a ConfigurationError."""
    event = ArticleEvent(
        "created", "kb-1", AT, title="Refunds", body="How to get one.", locale="en", status="draft"
    )
    article = Article("kb-1", "Refunds", "How to get one.", "en", (), None, "draft", 1, AT, AT)
    notice = ArticleChanged(article, event)
    slack = SlackNotifier("xoxb-x", channel="#s", routes=ROUTES)
    assert (False, "#s") == (slack.wants(notice), slack.route(notice))
    assert not any(Route.from_dict(route).matches(notice) for route in ROUTES)
    with pytest.raises(ConfigurationError, match="cannot post article_changed notices"):
        slack.message(notice)


# --- routing ------------------------------------------------------------------------------------

ROUTES = [
    {"channel": "#eng", "kinds": ["ticket_escalated"], "levels": ["engineering"]},
    {"channel": "#vip", "tiers": ["gold"], "kinds": ["sla_breached"]},
    {"channel": "#urgent", "priorities": ["urgent"]},
    {"channel": "#billing", "groups": ["billing"]},
]


@pytest.mark.parametrize(
    ("notice", "expected"),
    [
        (escalation("engineering"), "#eng"),
        (escalation("L2"), "#support"),
        (breach(), "#vip"),
        (breach(ticket("silver")), "#support"),
        (warning(ticket(priority="urgent")), "#urgent"),
        (breach(ticket(priority="urgent")), "#vip"),  # the first matching route wins
        (warning(ticket(None, group="billing")), "#support"),  # assigned moved it to l1
    ],
    ids=["eng", "L2-default", "vip-breach", "silver-default", "urgent", "first-wins", "group"],
)
def test_routes_are_data_and_the_first_match_wins(notice: Any, expected: str) -> None:
    """Routing by kind, escalation level, tier, priority and group, with a default channel."""
    assert expected == SlackNotifier("xoxb-x", channel="#support", routes=ROUTES).route(notice)


def test_route_by_group() -> None:
    """A ticket whose group is billing goes to #billing."""
    t = ticket(None).apply(
        TicketEvent("assigned", ticket_id="T-1", at=AT, data={"agent": None, "group": "billing"})
    )
    assert "#billing" == SlackNotifier("x", channel="#s", routes=ROUTES).route(warning(t))


@pytest.mark.parametrize(
    ("route", "match"),
    [
        ({"kinds": ["sla_breached"]}, "needs 'channel'"),
        ({"channel": "#a", "tier": ["gold"]}, r"unknown keys \['tier'\]"),
        ({"channel": "#a", "tiers": "gold"}, "tiers must be a list"),
        ({"channel": ""}, "channel must be"),
        ("#a", "must be a table"),
    ],
)
def test_bad_routes_are_configuration_errors(route: Any, match: str) -> None:
    """A route table with a typo fails at construction, naming the problem."""
    with pytest.raises(ConfigurationError, match=match):
        SlackNotifier("x", channel="#s", routes=[route])


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"channel": "#s"}, "no token"),
        ({"token": "x", "channel": ""}, "channel"),
        ({"token": "x", "channel": "#s", "zone": "Mars/Olympus"}, "not an IANA time zone"),
        ({"token": "x", "channel": "#s", "kinds": ["status_changed"]}, "cannot post"),
        ({"token": "x", "channel": "#s", "link": "https://x/{id}"}, "may only use"),
        ({"token": "x", "channel": "#s", "retries": -1}, ">= 0"),
    ],
)
def test_bad_settings_are_configuration_errors(options: dict[str, Any], match: str) -> None:
    """Misconfiguration fails at construction, saying what to fix."""
    with pytest.raises(ConfigurationError, match=match):
        SlackNotifier(**options)


# --- posting over HTTP --------------------------------------------------------------------------


def test_first_notice_posts_and_later_ones_reply_in_its_thread(slack: Any) -> None:
    """One thread per ticket: the warning opens it, the breach and escalation answer in it."""
    hook = notifier(slack)
    hook.notify(warning())
    hook.notify(breach())
    hook.notify(escalation())
    first, second, third = slack.posts()
    assert ("#support", None) == (first["channel"], first.get("thread_ts"))
    assert [("C0SUPPORT", "1700000000.000001")] * 2 == [
        (p["channel"], p["thread_ts"]) for p in (second, third)
    ]
    assert first["blocks"] == hook.message(warning(), "#support")["blocks"]


def test_each_channel_has_its_own_thread(slack: Any) -> None:
    """A notice routed to another channel opens the ticket's thread there."""
    hook = notifier(slack, routes=ROUTES)
    hook.notify(warning())
    hook.notify(escalation())
    assert [("#support", None), ("#eng", None)] == [
        (p["channel"], p.get("thread_ts")) for p in slack.posts()
    ]


def test_the_same_notice_twice_is_posted_once(slack: Any) -> None:
    """An outbox retry after an unrecorded success does not post again."""
    hook = notifier(slack)
    hook.notify(warning())
    hook.notify(warning())
    assert 1 == len(slack.posts())


def test_rate_limit_gives_retry_at_from_retry_after_without_waiting(slack: Any) -> None:
    """HTTP 429 with Retry-After: 30 → retry_at = now + 30 s; no sleeping, one request."""
    slack.queue_json({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": "30"})
    sleeps: list[float] = []
    with pytest.raises(SlackHTTPError, match="rate limited until") as info:
        notifier(slack, sleeps).notify(warning())
    error = info.value
    assert (AT + timedelta(seconds=30), False, "ratelimited") == (
        error.retry_at,
        error.permanent,
        error.error,
    )
    assert (1, []) == (len(slack.requests), sleeps)
    assert isinstance(error, IntegrationError)
    assert "slack" == error.plugin


def test_server_errors_are_retried_with_backoff(slack: Any) -> None:
    """5xx answers are retried after 0.5 s, 1 s; the next success posts."""
    slack.queue(503, b"<html>upstream down</html>", headers={"Content-Type": "text/html"})
    slack.queue(500, b"")
    sleeps: list[float] = []
    notifier(slack, sleeps).notify(warning())
    assert ([0.5, 1.0], 3) == (sleeps, len(slack.requests))


def test_persistent_server_errors_are_left_to_the_outbox(slack: Any) -> None:
    """After the last retry a 5xx is a retryable SlackHTTPError (not permanent, no retry_at)."""
    for _ in range(3):
        slack.queue(502, b"bad gateway")
    with pytest.raises(SlackHTTPError, match="answered HTTP 502") as info:
        notifier(slack).notify(warning())
    assert (False, None, 502) == (
        info.value.permanent,
        info.value.retry_at,
        info.value.response.status_code,
    )


@pytest.mark.parametrize(
    ("options", "code"),
    [({"token": "xoxb-wrong"}, "invalid_auth"), ({"channel": "#nowhere"}, "channel_not_found")],
)
def test_unfixable_errors_are_permanent(slack: Any, options: dict[str, Any], code: str) -> None:
    """invalid_auth and channel_not_found are dead-lettered at once: permanent, one request."""
    token = options.pop("token", slack.token)
    hook = SlackNotifier(token, **{"channel": "#support", "base_url": slack.base_url} | options)
    with pytest.raises(SlackHTTPError, match=f"error '{code}' .not retried") as info:
        hook.notify(warning())
    assert (True, code, 1) == (info.value.permanent, info.value.error, len(slack.requests))
    assert "xoxb-wrong" not in str(info.value)


def test_slow_answer_within_the_timeout_is_fine(slack: Any) -> None:
    """A 0.5 s answer with a 2 s timeout posts normally."""
    body = b'{"ok": true, "channel": "C0SUPPORT", "ts": "1.2"}'
    slack.queue(200, body, delay=0.5, headers={"Content-Type": "application/json"})
    notifier(slack).notify(warning())
    assert 1 == len(slack.posts())


def test_no_answer_in_time_is_a_timeout_not_retried(slack: Any) -> None:
    """An answer slower than the timeout: SlackTimeout at once (the post may have arrived)."""
    slack.queue(200, b'{"ok": true, "ts": "1.1"}', delay=2.5)
    sleeps: list[float] = []
    with pytest.raises(SlackTimeout, match="no answer"):
        notifier(slack, sleeps, timeout=1).notify(warning())
    assert (1, []) == (len(slack.requests), sleeps)


@pytest.mark.parametrize("body", [b'{"ok": tru', b"<html>maintenance</html>", b""])
def test_malformed_json_is_a_retryable_error(slack: Any, body: bytes) -> None:
    """A 200 whose body is not Slack JSON is an error for the outbox to retry, never a post."""
    for _ in range(3):
        slack.queue(200, body, headers={"Content-Type": "application/json"})
    with pytest.raises(SlackHTTPError) as info:
        notifier(slack, retries=0).notify(warning())
    assert not info.value.permanent
    assert "malformed JSON" in str(info.value) or "without a message ts" in str(info.value)


def test_answer_without_ts_is_an_error(slack: Any) -> None:
    """``{"ok": true}`` without a ts cannot thread: an error, not a silent success."""
    slack.queue_json({"ok": True})
    with pytest.raises(SlackHTTPError, match="without a message ts"):
        notifier(slack, retries=0).notify(warning())


def test_closed_port_is_retried_then_a_timeout() -> None:
    """Nobody listening: connection errors are retried, then SlackTimeout."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps: list[float] = []
    hook = SlackNotifier(
        "xoxb-x",
        channel="#s",
        base_url=f"http://127.0.0.1:{port}/api/",
        sleep=sleeps.append,
        backoff=0.25,
    )
    with pytest.raises(SlackTimeout, match="could not connect after 3 tries"):
        hook.notify(warning())
    assert [0.25, 0.5] == sleeps


def test_the_token_is_never_logged(slack: Any, caplog: pytest.LogCaptureFixture) -> None:
    """With every logger at DEBUG, no record of a post, a failure or malformed answer holds
    the token; nor do the errors or the repr."""
    caplog.set_level(logging.DEBUG)
    hook = notifier(slack)
    hook.notify(warning())
    slack.queue(200, b"{not json", headers={"Content-Type": "application/json"})
    with pytest.raises(SlackHTTPError) as info:
        notifier(slack, retries=0).notify(breach())
    assert caplog.records  # the SDK did log (the malformed answer)
    assert not [r for r in caplog.records if slack.token in r.getMessage()]
    assert slack.token not in str(info.value) + repr(hook)


# --- plugin wiring ------------------------------------------------------------------------------


def test_slack_notifier_is_a_notifier_and_a_plugin(
    slack: Any, plugin_host: Any, register_plugin: Any
) -> None:
    """Handed to a host it registers as notifier "slack"; its failures are named."""
    hook = notifier(slack, channel="#nowhere")
    assert isinstance(hook, Notifier)
    register_plugin(plugin_host, hook)
    assert hook is plugin_host.notifiers()["slack"]
    (failure,) = plugin_host.notify(warning())
    assert isinstance(failure, PluginError)
    assert "notifier:slack" == failure.plugin
    assert isinstance(failure.__cause__, SlackHTTPError)


def registered(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    for name in ("TOKEN", "CHANNEL", "LINK", "ZONE", "TOP_TIERS"):
        monkeypatch.delenv(f"SUPPORTKIT_SLACK_{name}", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(f"SUPPORTKIT_SLACK_{name}", value)
    found: dict[str, Any] = {}
    supportkit_slack.supportkit_register_notifiers(register=found.__setitem__)
    return found


def test_module_plugin_registers_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """With token and channel set, the entry-point plugin registers notifier "slack"."""
    found = registered(
        monkeypatch,
        TOKEN="xoxb-1",
        CHANNEL="#support",
        TOP_TIERS="gold, platinum",
        ZONE="Asia/Tokyo",
    )
    (hook,) = found.values()
    assert ("slack", "#support", frozenset({"gold", "platinum"}), "Asia/Tokyo") == (
        next(iter(found)),
        hook.channel,
        hook.top_tiers,
        str(hook.zone),
    )


def test_module_plugin_is_off_without_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Installed but not configured: nothing is registered."""
    assert {} == registered(monkeypatch)


def test_module_plugin_half_configured_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only one of the two variables set is a clear error."""
    with pytest.raises(ConfigurationError, match="set both"):
        registered(monkeypatch, TOKEN="xoxb-1")


def test_installed_package_advertises_its_entry_point() -> None:
    """pip-installed, the package is the "slack" plugin of the supportkit group."""
    found = importlib.metadata.entry_points(group="supportkit", name="slack")
    if not found:
        pytest.skip("supportkit-slack is not installed (run through `nox -s plugins`)")
    (entry_point,) = found
    assert supportkit_slack is entry_point.load()


def test_route_object_and_dict_forms_are_equal() -> None:
    """Route.from_dict gives the same route as the constructor (sets, empty lists as None)."""
    assert Route("#eng", kinds=frozenset({"ticket_escalated"})) == Route.from_dict(
        {"channel": "#eng", "kinds": ["ticket_escalated"], "tiers": []}
    )


# --- the docs page ------------------------------------------------------------------------------

DOCS = Path(__file__).resolve().parents[3] / "docs" / "plugins" / "slack.md"


def test_docs_examples_run_against_the_local_slack(
    slack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/plugins/slack.md's examples run, posting to the loopback Slack: the gold ticket
    and its warnings in one #vip thread, the engineering escalation in #eng-escalations."""
    slack.channels.update({"#vip": "C0VIP", "#eng-escalations": "C0ENGESC"})
    monkeypatch.setenv("SLACK_BOT_TOKEN", slack.token)
    monkeypatch.setenv("SLACK_API_URL", slack.base_url)
    run_doc_examples(DOCS, "needs supportkit-slack")
    posts = [(p["channel"], p.get("thread_ts"), p["text"].split(" · ")[0]) for p in slack.posts()]
    assert [
        ("#vip", None, ":star: New gold ticket"),
        ("#eng-escalations", None, ":arrow_double_up: Escalated to engineering"),
        ("C0VIP", "1700000000.000001", ":warning: SLA warning: first reply at 50 %"),
        ("C0VIP", "1700000000.000001", ":warning: SLA warning: first reply at 75 %"),
    ] == posts


@settings(max_examples=80, deadline=None)
@given(subject=st.text(max_size=40), reason=st.text(max_size=40))
def test_any_subject_keeps_the_link_intact(subject: str, reason: str) -> None:
    """Whatever the subject and reason hold (<, >, &, |, newlines), the only Slack control
    characters in the message are the link's own brackets."""
    t = ticket(subject=subject)
    event = TicketEvent(
        "escalated", ticket_id="T-1", at=AT, data={"level": "L2", "target": None, "reason": reason}
    )
    slack = SlackNotifier("x", channel="#s", link="https://help.example.com/t/{ticket_id}")
    blocks = slack.message(TicketEscalated(t.apply(event), event))["blocks"]
    heading = blocks[1]["text"]["text"]
    assert heading.startswith("*<https://help.example.com/t/T-1|")
    assert (1, 1) == (heading.count("<"), heading.count(">"))
    shown = [f["text"] for f in blocks[1]["fields"]] + [
        e["text"] for b in blocks[2:] for e in b["elements"]
    ]
    assert not [text for text in shown if "<" in text or ">" in text]
