"""An IMAP poller: new mail in a folder goes through ``desk.receive("email", raw)``.

Progress is the folder's UIDVALIDITY and the last UID handled, kept in the desk's plugin state
(so it survives restarts and is shared by processes on one store). A UID is recorded only after
its message is durable in the desk, so a crash re-reads at most the message in hand, which
ingest then sees as a duplicate (idempotent on Message-ID). A new UIDVALIDITY (the folder was
rebuilt) re-reads the folder from the start, again without duplicates.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from imapclient import IMAPClient  # type: ignore[import-untyped]  # ships no type information
from imapclient.exceptions import IMAPClientError  # type: ignore[import-untyped]

from supportkit import ConfigurationError, EventError, IntegrationError

__all__ = ["CONFIG_SCHEMA", "FAILED_FLAG", "ImapPoller"]

#: The keyword set on a message that can never be read (its UID is passed over, not retried).
FAILED_FLAG = "$SupportkitFailed"
_NAMESPACE = "email-imap"
#: The JSON Schema of the ``[plugins.imap]`` table (``supportkit run`` makes the poller from
#: it): the password comes from the environment variable *password_env*, never the file.
CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "host": {"type": "string", "minLength": 1},
        "username": {"type": "string", "minLength": 1},
        "password_env": {"type": "string", "minLength": 1},
        "port": {"type": "integer", "minimum": 1, "maximum": 65535},
        "folder": {"type": "string", "minLength": 1},
        "security": {"enum": ["tls", "starttls", "none"]},
        "flag": {"type": "string", "minLength": 1},
        "move_to": {"type": "string", "minLength": 1},
        "channel": {"type": "string", "minLength": 1},
        "batch": {"type": "integer", "minimum": 1},
        "timeout": {"type": "number", "exclusiveMinimum": 0},
        "idle": {"type": "number", "minimum": 0},
    },
    "required": ["host", "username", "password_env"],
    "additionalProperties": False,
}
_OPTIONS = frozenset(
    [
        "host",
        "username",
        "password",
        "port",
        "folder",
        "security",
        "flag",
        "move_to",
        "channel",
        "batch",
        "timeout",
        "idle",
    ]
)


class ImapPoller:
    """Reads new mail from one IMAP folder into *desk* through the channel *channel*.

    *security* is ``"tls"`` (implicit TLS, port 993), ``"starttls"`` or ``"none"`` (a local
    server only). A handled message is flagged with *flag* (``\\Seen`` by default) or, with
    *move_to*, moved to that folder. *batch* messages are fetched per round trip. With *idle*
    seconds > 0, a poll that found nothing waits up to that long for new mail with IMAP IDLE
    (where the server supports it) and then reads what arrived.
    """

    def __init__(
        self,
        desk: Any,
        *,
        host: str,
        username: str,
        password: str,
        port: int | None = None,
        folder: str = "INBOX",
        security: Literal["tls", "starttls", "none"] = "tls",
        flag: str = "\\Seen",
        move_to: str | None = None,
        channel: str = "email",
        batch: int = 50,
        timeout: float = 30.0,
        idle: float = 0.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if security not in ("tls", "starttls", "none"):
            raise ConfigurationError(
                f"imap security {security!r} must be 'tls', 'starttls' or 'none'"
            )
        if batch < 1 or timeout <= 0 or idle < 0:
            raise ConfigurationError(
                f"imap batch ({batch}) must be >= 1, timeout ({timeout}) > 0, idle ({idle}) >= 0"
            )
        self.desk = desk
        self.host = host
        self.port = port or (993 if security == "tls" else 143)
        self.username = username
        self.folder = folder
        self.security = security
        self.flag = flag
        self.move_to = move_to
        self.channel = channel
        self.batch = batch
        self.timeout = timeout
        self.idle = idle
        self._password = password
        self._context = ssl_context
        self._conn: IMAPClient | None = None
        self._state = desk.plugin_state(_NAMESPACE)
        self._key = f"{username}@{host}:{self.port}/{folder}"

    @classmethod
    def from_options(cls, desk: Any, options: Mapping[str, Any]) -> ImapPoller:
        """The poller factory for ``supportkit_register_pollers``: *options* are the keyword
        arguments (``host`` and ``username`` required), with the password given directly as
        ``password`` or, from a configuration file, as the name of the environment variable
        that holds it, ``password_env``."""
        options = dict(options)
        variable = options.pop("password_env", None)
        if variable is not None and "password" not in options:
            if not os.environ.get(variable):
                raise ConfigurationError(
                    f"imap poller: the environment variable {variable} (password_env) is not set"
                )
            options["password"] = os.environ[variable]
        missing = [k for k in ("host", "username", "password") if not options.get(k)]
        if missing:
            raise ConfigurationError(f"imap poller needs {', '.join(missing)}")
        unknown = sorted(set(options) - _OPTIONS)
        if unknown:
            raise ConfigurationError(f"imap poller: unknown option(s) {', '.join(unknown)}")
        return cls(desk, **options)

    def _connect(self) -> IMAPClient:
        if self._conn is None:
            context = self._context or ssl.create_default_context()
            conn = IMAPClient(
                self.host,
                port=self.port,
                ssl=self.security == "tls",
                ssl_context=context,
                timeout=self.timeout,
            )
            conn.normalise_times = False  # INTERNALDATE as an aware datetime
            try:
                if self.security == "starttls":
                    conn.starttls(context)
                conn.login(self.username, self._password)
            except BaseException:
                conn.shutdown()
                raise
            self._conn = conn
        return self._conn

    def poll(self) -> int:
        """Read the folder's new messages into the desk; return how many were handled.

        Raises :class:`~supportkit.IntegrationError` when the server cannot be reached or
        fails (the next poll reconnects and carries on where this one stopped).
        """
        handled: int = self._run(self._read_new)
        if handled == 0 and self.idle > 0 and self.wait(self.idle):
            handled = self._run(self._read_new)
        return handled

    def wait(self, timeout: float) -> bool:
        """Wait up to *timeout* seconds for the server to announce new mail (IMAP IDLE).

        Returns whether it did; ``False`` at once if the server has no IDLE.
        """

        def idle(conn: IMAPClient) -> bool:
            if not conn.has_capability("IDLE"):
                return False
            conn.select_folder(self.folder)
            conn.idle()
            try:
                responses = conn.idle_check(timeout=timeout)
            finally:
                conn.idle_done()
            return any(b"EXISTS" in r for r in responses if isinstance(r, tuple))

        announced: bool = self._run(idle)
        return announced

    def _run(self, work: Any) -> Any:
        try:
            return work(self._connect())
        except (IMAPClientError, OSError) as exc:
            self.close()
            raise IntegrationError(f"IMAP {self.host}:{self.port} failed: {exc!r}") from exc

    def _read_new(self, conn: IMAPClient) -> int:
        validity = int(conn.select_folder(self.folder)[b"UIDVALIDITY"])
        state = self._state.get(self._key) or {}
        last = int(state.get("uid", 0)) if state.get("uidvalidity") == validity else 0
        uids = sorted(u for u in conn.search(["UID", f"{last + 1}:*"]) if u > last)
        handled = 0
        for start in range(0, len(uids), self.batch):
            chunk = uids[start : start + self.batch]
            fetched = conn.fetch(chunk, ["BODY.PEEK[]", "INTERNALDATE"])
            for uid in chunk:
                item = fetched.get(uid)
                if item is not None:  # else expunged meanwhile by another client
                    self._handle(conn, uid, item)
                    handled += 1
                self._state.put(self._key, {"uidvalidity": validity, "uid": uid})
        return handled

    def _handle(self, conn: IMAPClient, uid: int, item: Mapping[bytes, Any]) -> None:
        arrived = item.get(b"INTERNALDATE")
        headers: dict[str, str] = {}
        if isinstance(arrived, datetime) and arrived.tzinfo is not None:
            headers["x-supportkit-received-at"] = arrived.isoformat()
        try:
            self.desk.receive(self.channel, item[b"BODY[]"], headers)
        except EventError:  # a message that can never be read: mark it, do not retry it
            conn.add_flags([uid], [FAILED_FLAG])
            return
        if self.move_to:
            if conn.has_capability("MOVE"):
                conn.move([uid], self.move_to)
            else:
                conn.copy([uid], self.move_to)
                conn.delete_messages([uid])
                conn.expunge([uid] if conn.has_capability("UIDPLUS") else None)
        else:
            conn.add_flags([uid], [self.flag])

    def close(self) -> None:
        """Log out and drop the connection (the next poll reconnects)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.logout()
            except (IMAPClientError, OSError):
                conn.shutdown()
