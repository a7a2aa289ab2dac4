"""Real servers for the email tests: aiosmtpd and Dovecot on 127.0.0.1, started per test.

Dovecot comes from Debian's ``dovecot-imapd`` (``apt-get install -y dovecot-imapd``); where
it is absent the IMAP tests skip locally and fail under ``CI=true``.
"""

from __future__ import annotations

import getpass
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from supportkit.testing import service_missing


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class SmtpCapture:
    """What an aiosmtpd server received, and what it answers."""

    messages: list[Any] = field(default_factory=list)
    rcpt_answer: str | None = None  # e.g. "550 5.1.1 no such user"
    data_answer: str = "250 Message accepted for delivery"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.rcpt_answer is not None:
            return self.rcpt_answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_answer.startswith("250"):
            self.messages.append(envelope)
        return self.data_answer


@dataclass
class SmtpServer:
    host: str
    port: int
    capture: SmtpCapture


def _start(controller: Controller) -> Controller:
    controller.start()
    return controller


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A plain aiosmtpd server on 127.0.0.1 that captures what it receives."""
    capture = SmtpCapture()
    port = free_port()
    controller = _start(Controller(capture, hostname="127.0.0.1", port=port))
    try:
        yield SmtpServer("127.0.0.1", port, capture)
    finally:
        controller.stop()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 and its key (made with openssl)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        service_missing("openssl is not installed (apt-get install -y openssl)")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def client_tls(tls_files: tuple[Path, Path]) -> ssl.SSLContext:
    """A client context that trusts the throwaway certificate (and verifies the host)."""
    return ssl.create_default_context(cafile=str(tls_files[0]))


@pytest.fixture
def server_tls(tls_files: tuple[Path, Path]) -> ssl.SSLContext:
    """The server side of the throwaway certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(tls_files[0]), str(tls_files[1]))
    return context


@pytest.fixture(name="free_port")
def free_port_fixture() -> Callable[[], int]:
    """A function giving a free loopback port."""
    return free_port


class _Auth:
    """Accepts the login desk / s3cret only."""

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = (data.login, data.password) == (b"desk", b"s3cret")
        return AuthResult(success=ok, handled=False)


@pytest.fixture
def starttls_server(server_tls: ssl.SSLContext) -> Iterator[SmtpServer]:
    """aiosmtpd requiring STARTTLS and the login desk / s3cret."""
    capture = SmtpCapture()
    port = free_port()
    controller = _start(
        Controller(
            capture,
            hostname="127.0.0.1",
            port=port,
            tls_context=server_tls,
            require_starttls=True,
            authenticator=_Auth(),
            auth_required=True,
        )
    )
    try:
        yield SmtpServer("127.0.0.1", port, capture)
    finally:
        controller.stop()


@pytest.fixture
def tls_server(server_tls: ssl.SSLContext) -> Iterator[SmtpServer]:
    """aiosmtpd speaking implicit TLS (port 465 style)."""
    capture = SmtpCapture()
    port = free_port()
    controller = _start(
        Controller(capture, hostname="127.0.0.1", port=port, ssl_context=server_tls)
    )
    try:
        yield SmtpServer("127.0.0.1", port, capture)
    finally:
        controller.stop()


# --- Dovecot ----------------------------------------------------------------------------------

DOVECOT_CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = {uid}
last_valid_uid = {uid}
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    user = {internal}
  }}
  unix_listener stats-writer {{
    user = {internal}
  }}
}}
"""


@dataclass
class Dovecot:
    host: str
    port: int
    username: str
    password: str
    root: Path


def _dovecot_binary() -> str | None:
    return shutil.which("dovecot") or next(
        (p for p in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot") if os.path.exists(p)), None
    )


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    """A Dovecot IMAP server on a free loopback port with a throwaway config and mailbox."""
    binary = _dovecot_binary()
    if binary is None:
        service_missing(
            "Dovecot is not installed: apt-get install -y dovecot-imapd (the tests start it "
            "themselves on a free 127.0.0.1 port)"
        )
    # not pytest's tmp_path: its parents are private to us, and Dovecot's users must read it
    root = Path(tempfile.mkdtemp(prefix="supportkit-dovecot-"))
    root.chmod(0o755)
    for sub in ("run", "state", "mail", "home"):
        (root / sub).mkdir(parents=True)
    (root / "passwd").write_text("agent@desk.test:{PLAIN}s3cret\n")
    port = free_port()
    config = root / "dovecot.conf"
    if os.getuid() == 0:  # Dovecot refuses to log in or keep mail as root: use its own users
        internal, login = "dovecot", "dovenull"
        mail_user = pwd.getpwnam(internal)
        for path in (root / "mail", root / "home"):
            os.chown(path, mail_user.pw_uid, mail_user.pw_gid)
        uid, gid = mail_user.pw_uid, mail_user.pw_gid
    else:
        internal = login = getpass.getuser()
        uid, gid = os.getuid(), os.getgid()
    config.write_text(
        DOVECOT_CONFIG.format(
            root=root, internal=internal, login=login, uid=uid, gid=gid, port=port
        )
    )
    process = subprocess.Popen(
        [binary, "-F", "-c", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read().decode() if process.stdout else ""
                    log = root / "dovecot.log"
                    output += log.read_text() if log.exists() else ""
                    pytest.fail(f"dovecot did not start: {output}")
                time.sleep(0.05)
        yield Dovecot("127.0.0.1", port, "agent@desk.test", "s3cret", root)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()
        shutil.rmtree(root, ignore_errors=True)
