"""The self-service loop on a desk: suggestions in the first automatic response of the channels
that opt in, tracked links signed with the store's secret (shared by every desk on a real
SQLite file), the customer's "solved" reply, the help centre's session stream feeding the
report and the metrics, and the [knowledge] table of supportkit.toml."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from supportkit import (
    ConfigFileError,
    ConfigurationError,
    DeskConfig,
    EventError,
    FrozenClock,
    InboundMessage,
    IngestResult,
    InMemoryStore,
    KnowledgeSettings,
    SlaPolicy,
    SqliteStore,
    Status,
    StoreError,
    SupportDesk,
    TicketEvent,
)
from supportkit._cli import main
from supportkit._deskloop import MAX_SOLVED_WORDS, NOT_SOLVED_WORDS, solved_reply
from supportkit._selfservice import render_text
from supportkit.testing import FakeChannel

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
LINK = "https://help.example.com/kb/follow?t={token}"
POLICY = {"name": "std", "targets": {"normal": {"first_reply": {"hours": 4, "business": False}}}}
ARTICLES = {
    "reset-password": ("Reset your password", "Forgot your password? Use the reset link."),
    "login-locked": ("Locked out after failed logins", "Wait 15 minutes or reset your password."),
    "invoices": ("Download invoices", "Every invoice is a PDF in Billing."),
}


def _desk(
    path: Path, *, channels: tuple[str, ...] = ("mail",), clock: FrozenClock | None = None
) -> tuple[SupportDesk, FakeChannel]:
    # "mail", not "email": supportkit-email, where installed, registers the "email" channel
    channel = FakeChannel("mail")
    desk = SupportDesk(
        store=SqliteStore(path),
        plugins=[channel],
        clock=clock or FrozenClock(T0),
        knowledge=KnowledgeSettings(answer_channels=channels, link_url=LINK),
        policies=SlaPolicy.from_dict(POLICY),
    )
    if desk.article("invoices") is None:
        for article_id, (title, body) in ARTICLES.items():
            desk.create_article(article_id, title=title, body=body, status="published")
    return desk, channel


def _message(n: int, body: str, *, subject: str = "", ticket: str | None = None) -> InboundMessage:
    """Message *n* from ana by mail (into *ticket* if given, as a host threads it)."""
    return InboundMessage(
        f"m-{n}", "mail", "ana@example.com", T0, subject=subject, body=body, ticket_id=ticket
    )


def _responses(desk: SupportDesk, ticket_id: str) -> list[TicketEvent]:
    return [e for e in desk.events(ticket_id) if e.kind == "message" and e.by == "system"]


def _tokens(body: str) -> list[str]:
    return re.findall(r"follow\?t=(\S+)", body)


def test_first_automatic_response_lists_suggestions_with_tracked_links(tmp_path: Path) -> None:
    """A new ticket by mail gets one automatic public response (by the system, so no SLA
    clock stops) listing the suggested articles' titles, each with a tracked link, and it is
    sent through the channel; a follow-up message gets none."""
    desk, channel = _desk(tmp_path / "desk.sqlite3")
    result = desk.ingest(_message(1, "I forgot my password and I am locked out", subject="Login"))
    suggested = desk.suggested_articles(result.ticket_id)
    [response] = _responses(desk, result.ticket_id)
    assert (True, "mail") == (response.data["public"], response.data["channel"])
    assert "These articles may answer your question" in response.data["body"]
    for n, article_id in enumerate(suggested, 1):
        assert f"{n}. {ARTICLES[article_id][0]}" in response.data["body"]
    assert len(suggested) == len(_tokens(response.data["body"])) >= 2
    desk.deliver()
    assert [response.data["body"]] == [reply.body for reply in channel.sent]
    assert channel.sent[0].automatic
    desk.ingest(_message(2, "also my invoices are missing", ticket=result.ticket_id))
    assert 1 == len(_responses(desk, result.ticket_id))
    sla = desk.sla(result.ticket_id)
    assert sla is not None
    assert "active" == sla["first_reply"][0].status  # the automatic response is no reply


def test_channels_that_do_not_opt_in_get_no_response(tmp_path: Path) -> None:
    """Suggestions are still recorded for the agent, but nothing is sent to the customer on
    a channel that is not in answer_channels (none by default)."""
    desk, channel = _desk(tmp_path / "desk.sqlite3", channels=())
    result = desk.ingest(_message(1, "I forgot my password"))
    desk.deliver()
    assert desk.suggested_articles(result.ticket_id)
    assert ([], []) == (_responses(desk, result.ticket_id), channel.sent)


def test_a_followed_link_records_helped_once_and_any_desk_on_the_store_reads_it(
    tmp_path: Path,
) -> None:
    """Following a link records article_helped for that article once (a second click records
    nothing); a second desk on the same SQLite file verifies the first desk's tokens (the
    secret is in the store); a changed or made-up token is an EventError writing nothing."""
    desk, _ = _desk(tmp_path / "desk.sqlite3")
    ticket = desk.ingest(_message(1, "I forgot my password, locked out")).ticket_id
    [response] = _responses(desk, ticket)
    token = _tokens(response.data["body"])[1]
    other, _ = _desk(tmp_path / "desk.sqlite3")
    followed = other.article_link_followed(token)
    second = desk.article_link_followed(token)
    helped = [e.data["article"] for e in desk.events(ticket) if e.kind == "article_helped"]
    assert (ticket, desk.suggested_articles(ticket)[1]) == (followed.ticket_id, followed.article_id)
    assert (True, False, [followed.article_id]) == (followed.recorded, second.recorded, helped)
    payload, tag = token.split(".")
    forged = desk.article_link(ticket, "invoices").split(".")[0] + "." + tag
    before = desk.events(ticket)
    for bad in (forged, payload + "." + tag[:-2] + "AA", "x", "", "a.b.c", token + "x", 7):
        with pytest.raises(EventError) as info:
            desk.article_link_followed(bad)  # type: ignore[arg-type]
        assert "token" == info.value.field
    assert before == desk.events(ticket)
    fresh = SupportDesk(store=SqliteStore(tmp_path / "other.sqlite3"), plugins=None)
    with pytest.raises(EventError):  # another store has another secret
        fresh.article_link_followed(token)


@pytest.mark.parametrize(
    ("reply", "helped", "deflected"),
    [
        ("Solved 2.", [1], 0),
        ("  solved #1!\n\n> quoted text", [0], 0),
        ("solved", [], 1),  # several listed: which one is unknown
        ("solved 9", [], 1),  # not on the list
        ("Solved, thanks!", [], 1),
        ("That solved it, thank you\n\nAna", [], 1),
        ("yes, solved #2 \u2013 thanks", [1], 0),
    ],
)
def test_a_solved_reply_closes_the_loop(
    tmp_path: Path, reply: str, helped: list[int], deflected: int
) -> None:
    """A customer reply whose first line is "solved" (optionally the article's number)
    records article_helped for that article (or deflected when the number names none of
    several) and solves the ticket in the same commit, without reopening it first."""
    desk, _ = _desk(tmp_path / "desk.sqlite3")
    ticket = desk.ingest(_message(1, "I forgot my password, locked out")).ticket_id
    desk.set_status(ticket, "pending")
    suggested = desk.suggested_articles(ticket)
    result = desk.ingest(_message(2, reply, ticket=ticket))
    kinds = [e.kind for e in result.events]
    verdicts = [e.data["article"] for e in result.events if e.kind == "article_helped"]
    assert "open" not in [e.data.get("to") for e in result.events]
    assert ([suggested[i] for i in helped], deflected) == (verdicts, kinds.count("deflected"))
    assert Status.SOLVED == desk.ticket(ticket).status
    assert 1 == desk.suggestion_report().helped


def test_solved_means_nothing_special_without_a_suggestions_response(tmp_path: Path) -> None:
    """On a channel without the response, or with more on the first line, "solved" is an
    ordinary message: a pending ticket reopens."""
    desk, _ = _desk(tmp_path / "desk.sqlite3", channels=())
    ticket = desk.ingest(_message(1, "I forgot my password")).ticket_id
    desk.set_status(ticket, "pending")
    desk.ingest(_message(2, "solved", ticket=ticket))
    assert Status.OPEN == desk.ticket(ticket).status
    desk, _ = _desk(tmp_path / "other.sqlite3")
    ticket = desk.ingest(_message(1, "I forgot my password")).ticket_id
    desk.ingest(_message(2, "solved the login but not the invoices", ticket=ticket))
    assert Status.NEW == desk.ticket(ticket).status
    desk.set_status(ticket, "pending")
    desk.ingest(_message(3, "This hasn't solved it.", ticket=ticket))
    assert Status.OPEN == desk.ticket(ticket).status


# The replies that close the loop (with the article number they name) and those that do not.
SOLVED_REPLIES = {
    "solved": None,
    "Solved!": None,
    "SOLVED.": None,
    "Solved, thanks!": None,
    "solved 2": 2,
    "Solved #1.": 1,
    "solved # 3": 3,
    "That solved it": None,
    "yes, this solved my problem": None,
    "Problem resolved, thank you!": None,
    "It\u2019s solved now \U0001f44d": None,
    "Great, solved 2 - many thanks": 2,
    "  \n solved 1!\n\n> quoted: not solved? but still": 1,
    "solved 1234": 0,  # a number no list reaches: names none
}
NOT_SOLVED_REPLIES = [
    "",
    "thanks",
    "not solved",
    "Not solved yet.",
    "this hasn't solved it",
    "This hasn\u2019t solved it",
    "that doesnt solve it",
    "it didn't get solved",
    "unsolved",
    "Still unresolved!",
    "solved?",
    "Is it solved?",
    "no, solved nothing",
    "never solved",
    "solved the login but not the invoices",
    "almost solved",
    "partly solved, the invoices are still missing",
    "I hope this will be solved soon",
    "it would be solved if the link worked",
    "the reset link solved my first issue and now I have a billing question",
    "hi\nsolved",  # only the first non-empty line counts
]


@pytest.mark.parametrize(("reply", "number"), SOLVED_REPLIES.items())
def test_replies_that_say_solved(reply: str, number: int | None) -> None:
    """A first line holding "solved" (or "resolved"), short, with no question mark, negation
    or hedge, is a solved reply; a number right after the word is the article's."""
    assert (True, number) == solved_reply(reply)


@pytest.mark.parametrize("reply", NOT_SOLVED_REPLIES)
def test_replies_that_do_not_say_solved(reply: str) -> None:
    """A negation ("not", "hasn't", "unsolved" is another word), a hedge ("but", "almost",
    "will"), a question or a long first line keep a reply an ordinary message."""
    assert (False, None) == solved_reply(reply)


@given(
    st.sampled_from(sorted(SOLVED_REPLIES)),
    st.sampled_from([*sorted(NOT_SOLVED_WORDS), "hasn't", "didn\u2019t", "won't"]),
    st.integers(0, 12),
    st.sampled_from(["", " ", ", ", "... ", "! "]),
)
def test_a_negation_anywhere_on_the_first_line_undoes_solved(
    reply: str, word: str, at: int, glue: str
) -> None:
    """Any negation or hedge word added anywhere on a solved reply's first line (in any case,
    after any punctuation) makes it an ordinary message."""
    first, *rest = reply.strip().split("\n")
    words = first.split(" ")
    words.insert(min(at, len(words)), glue + word.upper() if at % 2 else glue + word)
    assume(len(words) <= MAX_SOLVED_WORDS)
    assert (False, None) == solved_reply("\n".join([" ".join(words), *rest]))


@given(st.text(st.characters(codec="utf-8"), max_size=80))
def test_text_without_a_solved_word_never_closes(text: str) -> None:
    """Any text whose first line holds neither "solved" nor "resolved" is no solved reply."""
    assume("olved" not in text.casefold())
    assert (False, None) == solved_reply(text)


@given(st.sampled_from(sorted(SOLVED_REPLIES)), st.sampled_from([str.upper, str.title, str]))
def test_case_and_quoted_text_do_not_change_a_solved_reply(reply: str, case: Any) -> None:
    """The verdict and the number ignore case and whatever follows the first line."""
    assert solved_reply(reply) == solved_reply(case(reply) + "\n> not solved? never")


def test_help_centre_sessions_feed_the_report_and_the_metrics(tmp_path: Path) -> None:
    """Searches and views recorded through the desk are in the store's session stream; the
    desk's self-service report and metrics count a session deflected only once the window
    passed without a ticket from that customer."""
    clock = FrozenClock(T0)
    desk, _ = _desk(tmp_path / "desk.sqlite3", clock=clock)
    hits = desk.self_service_search("s1", "reset password", customer="bo@example.com")
    desk.article_viewed("s1", hits[0].article_id, customer="bo@example.com")
    assert [] == desk.self_service_search("s2", "gift cards", customer="cy@example.com")
    desk.self_service_search("s3", "invoice", customer="ana@example.com")
    desk.article_viewed("s3", "invoices", customer="ana@example.com")
    with pytest.raises(EventError):
        desk.article_viewed("s3", "no-such-article")
    assert ["searched", "article_viewed", "searched", "searched", "article_viewed"] == [
        e.kind for e in desk.session_events()
    ]
    assert 0 == desk.session_events()[2].data["results"]
    clock.advance(timedelta(hours=2))
    desk.ingest(_message(1, "The invoice PDF is empty"))  # ana: within the window
    early = desk.self_service()
    assert (1, 1) == (early.sessions, early.undecided)  # bo's window is still open
    clock.advance(timedelta(days=2))
    report = desk.self_service()
    assert (2, 1, 0.5) == (report.sessions, report.deflected, report.deflection_rate)
    assert {"invoices": 1, "reset-password": 0} == {
        r["article"]: r["tickets"] for r in report.articles
    }
    assert ["cards gift"] == [gap["query"] for gap in desk.content_gaps()]
    row = desk.metrics(("all",)).row("all")
    assert (2, 1, 0.5) == (
        row["self_service_sessions"],
        row["deflected_sessions"],
        row["deflection_rate"],
    )
    assert "gift" in {r["topic"] for r in report.needs}  # no article mentions gift cards
    assert "invoice" not in {r["topic"] for r in report.needs}  # the invoices article does


def test_bad_session_input_is_refused_and_records_nothing(tmp_path: Path) -> None:
    """Bad session ids, customers, queries and events are typed errors; nothing is written."""
    desk, _ = _desk(tmp_path / "desk.sqlite3")
    for call in (
        lambda: desk.self_service_search("", "x"),
        lambda: desk.self_service_search("s", "x", customer=""),
        lambda: desk.self_service_search("s", 5),  # type: ignore[arg-type]
        lambda: desk.self_service_search("s", "x", k=0),
        # A lone surrogate (no store can write it: UnicodeEncodeError before).
        lambda: desk.self_service_search("s", "reset \ud800"),
        lambda: desk.self_service_search("s\udc00", "x"),
        lambda: desk.self_service_search("s", "x", customer="c\ud800"),
    ):
        with pytest.raises(EventError):
            call()
    with pytest.raises(StoreError):
        desk.record_sessions(["searched"])  # type: ignore[list-item]
    assert [] == desk.session_events()


def test_settings_are_checked(tmp_path: Path) -> None:
    """answer_channels needs link_url with {token}; a negative window is refused."""
    with pytest.raises(ConfigurationError, match="link_url"):
        KnowledgeSettings(answer_channels=["email"])
    with pytest.raises(ConfigurationError, match="token"):
        KnowledgeSettings(link_url="https://help.example.com/")
    with pytest.raises(ConfigurationError, match="answer_channels"):
        KnowledgeSettings(answer_channels="email", link_url=LINK)
    with pytest.raises(ConfigurationError, match="deflection_window"):
        KnowledgeSettings(deflection_window=timedelta(hours=-1))
    with pytest.raises(ConfigurationError, match="knowledge"):
        SupportDesk(store=SqliteStore(tmp_path / "x.sqlite3"), plugins=None, knowledge={})  # type: ignore[arg-type]


def test_the_knowledge_table_of_supportkit_toml(tmp_path: Path) -> None:
    """[knowledge] builds the desk's KnowledgeSettings; mistakes are reported with their key."""
    table = {
        "store": {"path": str(tmp_path / "desk.sqlite3")},
        "knowledge": {
            "answer_channels": ["email", "web"],
            "link_url": LINK,
            "deflection_window": {"hours": 6},
        },
    }
    with SupportDesk.from_config(table) as desk:
        assert (
            KnowledgeSettings(
                answer_channels=["web", "email"],
                link_url=LINK,
                deflection_window=timedelta(hours=6),
            )
            == desk.knowledge
        )
    for table, where in (
        ({"answer_channels": ["email"]}, "knowledge"),
        ({"link_url": "https://help.example.com/"}, "knowledge.link_url"),
        ({"deflection_window": {"weeks": 1}}, "knowledge.deflection_window.weeks"),
        ({"answer_channels": "email", "link_url": LINK}, "knowledge.answer_channels"),
    ):
        with pytest.raises(ConfigFileError) as info:
            DeskConfig.load({"knowledge": table})
        assert where in [path for path, _ in info.value.problems]


def test_supportkit_report_shows_self_service(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`supportkit report --self-service` prints the figures; the HTML report has the section
    (escaped: a query with markup stays text)."""
    clock = FrozenClock(T0)
    path = tmp_path / "desk.sqlite3"
    desk, _ = _desk(path, clock=clock)
    desk.self_service_search("s1", "<script>alert(1)</script> gift", customer="bo@example.com")
    desk.self_service_search("s2", "password", customer="cy@example.com")
    desk.article_viewed("s2", "reset-password", customer="cy@example.com")
    clock.advance(timedelta(days=3))
    later = InboundMessage("m-1", "mail", "dee@example.com", clock.now(), subject="Gift cards")
    desk.ingest(later)
    desk.close()
    assert 0 == main(["report", "--db", str(path), "--self-service"])
    out = capsys.readouterr().out
    assert "Deflection: 1 of 1 knowledge-base sessions (100 %); 0 undecided" in out
    assert re.search(r"\n  1 alert gift script\s+1\s+", out)  # one search, no view after it
    page = tmp_path / "r.html"
    assert 0 == main(["report", "--db", str(path), "--html", str(page)])
    html = page.read_text(encoding="utf-8")
    assert "<h2>Self-service</h2>" in html
    assert "<td>gift</td><td>term</td>" in html
    assert "<script>" not in html


def test_ingest_many_closes_the_loop_as_ingest_does(tmp_path: Path) -> None:
    """In one ingest_many batch on SQLite: the new ticket's response with its links (the link
    secret made inside the batch), then the customer's "solved 1" solving it."""
    desk, _ = _desk(tmp_path / "desk.sqlite3")
    first = _message(1, "I forgot my password")
    [opened] = desk.ingest_many([first])
    assert isinstance(opened, IngestResult)
    [solved] = desk.ingest_many([_message(2, "solved 1", ticket=opened.ticket_id)])
    assert isinstance(solved, IngestResult)
    [response] = _responses(desk, opened.ticket_id)
    followed = desk.article_link_followed(_tokens(response.data["body"])[0])
    helped = [
        e.data["article"] for e in desk.events(opened.ticket_id) if e.kind == "article_helped"
    ]
    assert (Status.SOLVED, False) == (desk.ticket(opened.ticket_id).status, followed.recorded)
    assert [desk.suggested_articles(opened.ticket_id)[0]] == helped


def test_supportkit_report_counts_sessions_after_the_last_ticket(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The report's clock stands at the store's last event, the help centre's session events
    included: searches made after the newest ticket event are in the report, and a desk whose
    help centre has been searched but holds no ticket yet has a report too."""
    clock = FrozenClock(T0)
    sessions_only = tmp_path / "sessions.sqlite3"
    desk = SupportDesk(store=SqliteStore(sessions_only), plugins=None, clock=clock)
    desk.self_service_search("s0", "gift cards", customer="bo@example.com")
    desk.close()
    assert 0 == main(["report", "--db", str(sessions_only), "--self-service"])
    assert re.search(r"\n  cards gift\s+1\s+1\s+0\n", capsys.readouterr().out)

    path = tmp_path / "desk.sqlite3"
    desk = SupportDesk(store=SqliteStore(path), plugins=None, clock=clock)
    desk.ingest(InboundMessage("m-1", "email", "dee@example.com", clock.now(), subject="Hi"))
    clock.advance(timedelta(days=3))
    desk.self_service_search("s1", "gift cards", customer="bo@example.com")
    desk.close()
    assert 0 == main(["report", "--db", str(path), "--self-service"])
    out = capsys.readouterr().out
    assert "2025-02-06 to 2025-03-06 (UTC)" in out
    assert re.search(r"\n  cards gift\s+1\s+1\s+0\n", out)


def test_the_text_report_shortens_long_queries_and_topics() -> None:
    """A search of one 1,500-character word (a bot, a pasted token) is a content gap and a
    rising topic like any other, but the text report shortens it to its column instead of
    printing a thousand characters on one line."""
    desk = SupportDesk(store=InMemoryStore(), plugins=None, clock=FrozenClock(T0))
    desk.self_service_search("s1", "x" * 1500, customer="bo@example.com")
    report = desk.self_service()
    assert ["x" * 1000] == [gap["query"] for gap in report.content_gaps]
    text = render_text(report)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "  " + "x" * 27 + "…" in text
