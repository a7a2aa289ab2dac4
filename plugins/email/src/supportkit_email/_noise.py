"""Is a message machine-generated (an auto-reply, a bounce, bulk mail)?

The signals, each from a standard or from what the major servers send, checked in order; the
first one found is the reason:

- ``Auto-Submitted`` other than ``no`` (RFC 3834: vacation responders, Exchange, Gmail);
- ``X-Autoreply`` / ``X-Autorespond`` / ``X-Auto-Reply`` (older responders, cPanel, Yahoo);
- ``X-Auto-Response-Suppress`` naming ``All``, ``OOF`` or ``AutoReply`` (Exchange sets it on
  its own automatic messages);
- ``Precedence: bulk``, ``junk``, ``list`` or ``auto_reply``;
- an empty return path, ``Return-Path: <>`` (RFC 5321: bounces and other notifications);
- a delivery or disposition report, ``multipart/report`` (RFC 3464, RFC 8098);
- a sender ``mailer-daemon@`` or ``postmaster@``;
- mailing-list mail, ``List-Id`` or ``List-Unsubscribe`` (RFC 2919, RFC 2369), unless lists
  are allowed.

Zammad and Frappe Helpdesk check much the same set (Zammad's ``AutoResponseCheck`` filter,
Frappe Helpdesk's ``auto_generated_reason``); both had mail loops reported before they did.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

__all__ = ["noise_reason"]

_SUPPRESS = re.compile(r"\b(?:all|oof|autoreply)\b", re.IGNORECASE)
_DAEMON = re.compile(r"^(?:mailer-daemon|postmaster)(?:@|$)", re.IGNORECASE)


def _flagged(value: str) -> bool:
    return value.strip().lower() not in ("", "no", "false", "0")


_CHECKS: tuple[tuple[str, Callable[[str], bool], str], ...] = (
    ("auto-submitted", lambda v: v.strip().lower().split(";")[0].strip() != "no", "auto-submitted"),
    ("x-autoreply", _flagged, "auto-reply"),
    ("x-autorespond", _flagged, "auto-reply"),
    ("x-auto-reply", _flagged, "auto-reply"),
    ("x-auto-response-suppress", lambda v: bool(_SUPPRESS.search(v)), "auto-reply"),
    (
        "precedence",
        lambda v: v.strip().lower() in ("bulk", "junk", "list", "auto_reply"),
        "bulk",
    ),
    ("return-path", lambda v: re.fullmatch(r"\s*<\s*>\s*", v) is not None, "bounce"),
)


def noise_reason(
    headers: Mapping[str, str], content_type: str, sender: str, *, allow_lists: bool = False
) -> str | None:
    """Why a message is noise, or ``None`` for mail from a person.

    *headers* maps lower-case header names to their (first) raw values, *content_type* is the
    top-level ``maintype/subtype`` and *sender* the From address. The reason is one of
    ``"auto-submitted: <value>"``, ``"auto-reply: <header>"``, ``"bulk: precedence <value>"``,
    ``"bounce: ..."``, ``"list: <header>"``.
    """
    for name, check, kind in _CHECKS:
        value = headers.get(name)
        if value is not None and check(value):
            return f"{kind}: {name} {' '.join(value.split())[:80]}"
    if content_type == "multipart/report":
        return "bounce: multipart/report (delivery or disposition report)"
    if _DAEMON.match(sender):
        return f"bounce: sender {sender}"
    if not allow_lists:
        for name in ("list-id", "list-unsubscribe"):
            if name in headers:
                return f"list: {name}"
    return None
