"""The IMAP poller against a real Dovecot started on a free loopback port."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient
from supportkit_email import FAILED_FLAG, ImapPoller

from supportkit import ConfigurationError, IntegrationError, SqliteStore, SupportDesk


def mail(number: int, *, extra: str = "", sender: str = "jane@customer.example") -> bytes:
    return (
        f"From: Jane <{sender}>\r\nTo: support@desk.test\r\nSubject: Question {number}\r\n"
        f"Message-ID: <q{number}@customer.example>\r\n{extra}\r\nBody of question {number}.\r\n"
    ).encode()


@pytest.fixture
def imap(dovecot: Any) -> Iterator[IMAPClient]:
    """A client of the test server, to put mail in and look at the folders."""
    client = IMAPClient(dovecot.host, port=dovecot.port, ssl=False)
    client.login(dovecot.username, dovecot.password)
    try:
        yield client
    finally:
        client.logout()


@pytest.fixture
def desk() -> Iterator[SupportDesk]:
    """A desk with the email channel from the plugin's entry point."""
    desk = SupportDesk(store="memory")
    try:
        yield desk
    finally:
        desk.close()


def poller(desk: SupportDesk, dovecot: Any, **options: Any) -> ImapPoller:
    return ImapPoller(
        desk,
        host=dovecot.host,
        port=dovecot.port,
        username=dovecot.username,
        password=dovecot.password,
        security="none",
        timeout=10,
        **options,
    )


def flags(imap: IMAPClient, folder: str = "INBOX") -> list[set[bytes]]:
    imap.select_folder(folder)
    found = imap.fetch(imap.search(["ALL"]), ["FLAGS"])
    return [set(found[uid][b"FLAGS"]) for uid in sorted(found)]


def test_poll_reads_new_mail_once(desk: SupportDesk, dovecot: Any, imap: IMAPClient) -> None:
    """Each new message becomes a ticket and is flagged \\Seen; a second poll finds nothing."""
    for n in (1, 2, 3):
        imap.append("INBOX", mail(n))
    reader = poller(desk, dovecot)
    try:
        assert reader.poll() == 3
        assert reader.poll() == 0
    finally:
        reader.close()
    assert sorted(t.subject for t in desk.tickets()) == ["Question 1", "Question 2", "Question 3"]
    assert flags(imap) == [{b"\\Seen"}] * 3


def test_internaldate_is_the_arrival_time(
    desk: SupportDesk, dovecot: Any, imap: IMAPClient
) -> None:
    """The server's INTERNALDATE (when the mail arrived) is the message's instant."""
    arrived = datetime(2025, 3, 3, 8, 15, tzinfo=UTC)
    imap.append("INBOX", mail(1), msg_time=arrived)
    reader = poller(desk, dovecot)
    try:
        reader.poll()
    finally:
        reader.close()
    (ticket,) = desk.tickets()
    assert ticket.created_at == arrived


def test_restart_neither_skips_nor_duplicates(
    desk: SupportDesk, dovecot: Any, imap: IMAPClient
) -> None:
    """A new poller (a restart) carries on from the stored UID; a UID re-read after a crash
    (state not yet saved) is a duplicate, not a second ticket."""
    imap.append("INBOX", mail(1))
    first = poller(desk, dovecot)
    assert first.poll() == 1
    first.close()
    imap.append("INBOX", mail(2))
    second = poller(desk, dovecot)
    try:
        assert second.poll() == 1  # only the new one
        state = desk.plugin_state("email-imap")
        key = f"{dovecot.username}@{dovecot.host}:{dovecot.port}/INBOX"
        saved = state.get(key)
        state.put(key, {**saved, "uid": saved["uid"] - 1})  # as if the process died mid-way
        assert second.poll() == 1  # read again ...
    finally:
        second.close()
    assert len(desk.tickets()) == 2  # ... but ingested once


def test_new_uidvalidity_rereads_without_duplicates(
    desk: SupportDesk, dovecot: Any, imap: IMAPClient
) -> None:
    """When the folder is rebuilt (new UIDVALIDITY) it is read from the start again; mail seen
    before is not ingested twice."""
    imap.create_folder("Support")
    imap.append("Support", mail(1))
    reader = poller(desk, dovecot, folder="Support")
    try:
        assert reader.poll() == 1
        old = imap.select_folder("Support")[b"UIDVALIDITY"]
        imap.unselect_folder()
        imap.delete_folder("Support")
        imap.create_folder("Support")
        imap.append("Support", mail(1))
        imap.append("Support", mail(2))
        assert imap.select_folder("Support")[b"UIDVALIDITY"] != old
        imap.unselect_folder()
        assert reader.poll() == 2
    finally:
        reader.close()
    assert sorted(t.subject for t in desk.tickets()) == ["Question 1", "Question 2"]


def test_processed_mail_is_moved(desk: SupportDesk, dovecot: Any, imap: IMAPClient) -> None:
    """With move_to, handled mail leaves the inbox for that folder."""
    imap.create_folder("Done")
    imap.append("INBOX", mail(1))
    imap.append("INBOX", mail(2))
    reader = poller(desk, dovecot, move_to="Done")
    try:
        assert reader.poll() == 2
    finally:
        reader.close()
    assert flags(imap, "INBOX") == []
    assert len(flags(imap, "Done")) == 2


def test_unreadable_and_noise_mail(desk: SupportDesk, dovecot: Any, imap: IMAPClient) -> None:
    """A message that can never be read is flagged as failed and passed over; an auto-reply
    opens no ticket; both are handled, and the good mail after them is read."""
    imap.append("INBOX", b"To: support@desk.test\r\nSubject: no sender\r\n\r\nwho am I\r\n")
    imap.append("INBOX", mail(7, extra="Auto-Submitted: auto-replied\r\n"))
    imap.append("INBOX", mail(8))
    reader = poller(desk, dovecot)
    try:
        assert reader.poll() == 3
    finally:
        reader.close()
    assert [t.subject for t in desk.tickets()] == ["Question 8"]
    assert flags(imap) == [{FAILED_FLAG.encode()}, {b"\\Seen"}, {b"\\Seen"}]


def test_idle_wakes_up_for_new_mail(desk: SupportDesk, dovecot: Any, imap: IMAPClient) -> None:
    """With idle, an empty poll waits with IMAP IDLE and reads mail that arrives meanwhile."""
    reader = poller(desk, dovecot, idle=20)
    other = IMAPClient(dovecot.host, port=dovecot.port, ssl=False)
    other.login(dovecot.username, dovecot.password)

    def deliver_later() -> None:
        time.sleep(0.5)
        other.append("INBOX", mail(5))

    sender = threading.Thread(target=deliver_later)
    started = time.monotonic()
    sender.start()
    try:
        assert reader.poll() == 1
    finally:
        sender.join()
        other.logout()
        reader.close()
    assert time.monotonic() - started < 15  # woken by the server, not by the timeout
    assert [t.subject for t in desk.tickets()] == ["Question 5"]


def test_wrong_password(desk: SupportDesk, dovecot: Any) -> None:
    """A refused login is an IntegrationError naming the server."""
    reader = ImapPoller(
        desk,
        host=dovecot.host,
        port=dovecot.port,
        username=dovecot.username,
        password="wrong",
        security="none",
    )
    with pytest.raises(IntegrationError, match=f"IMAP {dovecot.host}:{dovecot.port} failed"):
        reader.poll()


def test_options_are_checked(desk: SupportDesk) -> None:
    """The poller factory refuses missing and unknown options."""
    with pytest.raises(ConfigurationError, match="needs password"):
        ImapPoller.from_options(desk, {"host": "h", "username": "u"})
    with pytest.raises(ConfigurationError, match="unknown option"):
        ImapPoller.from_options(desk, {"host": "h", "username": "u", "password": "p", "x": 1})
    with pytest.raises(ConfigurationError, match="security"):
        ImapPoller(desk, host="h", username="u", password="p", security="ssl")  # type: ignore[arg-type]


def test_supportkit_run_polls_the_configured_mailbox(
    dovecot: Any, imap: IMAPClient, tmp_path: Path
) -> None:
    """`supportkit run --once` makes the poller from [plugins.imap] (the password from the
    environment variable it names) and reads the mailbox into the configured store."""
    imap.append("INBOX", mail(1))
    imap.append("INBOX", mail(2))
    config = tmp_path / "supportkit.toml"
    config.write_text(
        '[store]\nkind = "sqlite"\npath = "desk.sqlite3"\n\n'
        f'[plugins.imap]\nhost = "{dovecot.host}"\nport = {dovecot.port}\n'
        f'username = "{dovecot.username}"\npassword_env = "TEST_IMAP_PASSWORD"\n'
        'security = "none"\n'
    )
    env = {**os.environ, "TEST_IMAP_PASSWORD": dovecot.password}
    script = Path(sys.executable).parent / "supportkit"  # the installed command
    command = [str(script), "run", str(config), "--once"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    desk = SupportDesk(store=SqliteStore(str(tmp_path / "desk.sqlite3")))
    try:
        assert sorted(t.subject for t in desk.tickets()) == ["Question 1", "Question 2"]
    finally:
        desk.close()
    assert flags(imap) == [{b"\\Seen"}] * 2


def test_config_without_the_password_variable(desk: SupportDesk) -> None:
    """A password_env naming an unset variable is a ConfigurationError naming it."""
    options = {"host": "h", "username": "u", "password_env": "NO_SUCH_VARIABLE_SET_HERE"}
    with pytest.raises(ConfigurationError, match="NO_SUCH_VARIABLE_SET_HERE"):
        ImapPoller.from_options(desk, options)
