"""supportkit-github: problems escalated to GitHub Issues, their state changes read back.

:class:`GitHubTracker` is a :class:`supportkit.typing.IssueTracker` over the GitHub REST API
(an injected ``httpx.Client`` whose ``base_url`` is ``https://api.github.com`` or a GitHub
Enterprise ``/api/v3`` root, with the token in its headers). It creates an issue for a problem
ticket (``POST /repos/{owner}/{repo}/issues``), links an existing one (``GET``), rewrites the
affected-customers section of its body as incidents link (``PATCH``), and reads ``issues``
webhook deliveries after checking ``X-Hub-Signature-256`` (HMAC-SHA256 of the raw body with the
webhook secret, compared in constant time): ``closed`` as ``completed`` is ``fixed``, ``closed``
as ``not_planned`` is ``wont_fix``, the label ``released`` is ``released`` and ``reopened`` is
``open``.

The entry-point plugin (this module, ``github`` in the ``supportkit`` group) registers a tracker
named ``"github"`` when ``SUPPORTKIT_GITHUB_REPO``, ``SUPPORTKIT_GITHUB_TOKEN`` and
``SUPPORTKIT_GITHUB_WEBHOOK_SECRET`` are set; a :class:`GitHubTracker` handed to
``SupportDesk(plugins=[...])`` is a plugin too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from supportkit import (
    AffectedCustomers,
    Clock,
    ConfigurationError,
    EngineeringIssue,
    EventError,
    IntegrationError,
    IntegrationHTTPError,
    IntegrationTimeout,
    IssueUpdate,
    SystemClock,
    Ticket,
    hookimpl,
    retry_after,
)
from supportkit.typing import IssueTracker

__all__ = ["GitHubError", "GitHubHTTPError", "GitHubTimeout", "GitHubTracker", "signature"]

_REPO = re.compile(r"^[\w.-]+/[\w.-]+$")
_REFERENCE = re.compile(
    r"^(?:https://github\.com/(?P<url_repo>[\w.-]+/[\w.-]+)/issues/|(?P<repo>[\w.-]+/[\w.-]+)?#)"
    r"(?P<number>[1-9]\d{0,9})$"
)
_ACCEPT = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
_START, _END = "<!-- supportkit:affected -->", "<!-- /supportkit:affected -->"


class GitHubError(IntegrationError):
    """GitHub could not be reached or refused a request."""


class GitHubHTTPError(GitHubError, IntegrationHTTPError):
    """GitHub answered with an error status (``response`` is the ``httpx.Response``)."""


class GitHubTimeout(GitHubError, IntegrationTimeout):
    """GitHub did not answer in time."""


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def signature(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub sends for *body*: ``sha256=<hex HMAC>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _affected_section(affected: AffectedCustomers) -> str:
    tiers = "\n".join(f"| {n} | {c} |" for n, c in sorted(affected.tiers.items()))
    value = (
        ""
        if affected.value is None
        else f", value: {affected.value:,.0f} over {affected.valued} customers"
    )
    return (
        f"{_START}\n**Affected customers:** {affected.customers} "
        f"(top tier: {affected.top_tier}, weight: {affected.weight}{value})\n\n"
        f"| tier | customers |\n|---|---|\n{tiers}\n{_END}"
    )


class GitHubTracker:
    """A :class:`supportkit.typing.IssueTracker` on GitHub Issues of repository *repo*
    (``"owner/name"``), through *client* (an ``httpx.Client`` with ``base_url`` and the
    ``Authorization: Bearer <token>`` header), checking webhooks with *secret*. New issues get
    *labels*. Registered under *name* when given to a desk as a plugin; *clock* dates a rate
    limit's ``Retry-After``."""

    def __init__(
        self,
        client: httpx.Client,
        repo: str,
        *,
        secret: str,
        labels: tuple[str, ...] = ("support",),
        name: str = "github",
        clock: Clock | None = None,
    ) -> None:
        if not isinstance(client, httpx.Client):
            raise ConfigurationError(f"GitHubTracker needs an httpx.Client, got {client!r:.80}")
        if not isinstance(repo, str) or not _REPO.match(repo):
            raise ConfigurationError(f"GitHubTracker repo is 'owner/name', got {repo!r:.80}")
        if not isinstance(secret, str) or len(secret) < 8:
            raise ConfigurationError("GitHubTracker needs a webhook secret of 8 characters or more")
        if not _encodable(secret):
            raise ConfigurationError("GitHubTracker's webhook secret must be valid Unicode text")
        self.client, self.repo, self.name = client, repo, name
        self._secret = secret
        self.labels = tuple(labels)
        self.clock = clock or SystemClock()

    @hookimpl
    def supportkit_register_issue_trackers(
        self, register: Callable[[str, IssueTracker], None]
    ) -> None:
        """Register this tracker under its name."""
        register(self.name, self)

    # --- the IssueTracker protocol -------------------------------------------------------------

    def create_issue(self, problem: Ticket, affected: AffectedCustomers) -> EngineeringIssue:
        """Open an issue titled after the problem, its body carrying the affected customers
        and a marker naming the problem. With labels, the newest 100 issues carrying them are
        read first: an issue with the marker (made by an earlier call whose outcome the desk
        did not record) is brought up to date and returned instead of opening a second one."""
        marker = f"<!-- supportkit:problem:{problem.id} -->"
        if self.labels:
            query = {"labels": ",".join(self.labels), "state": "all", "sort": "created",
                     "direction": "desc", "per_page": 100}  # fmt: skip
            found = self._request("GET", f"/repos/{self.repo}/issues", params=query)
            for data in found if isinstance(found, list) else ():
                if isinstance(data, dict) and marker in (data.get("body") or ""):
                    issue = self._issue(data)
                    self.update_issue(issue, affected)
                    return issue
        body = (
            f"Support problem ticket `{problem.id}` ({problem.priority.value} priority).\n\n"
            + _affected_section(affected)
            + f"\n{marker}"
        )
        payload = {"title": problem.subject or f"Support problem {problem.id}", "body": body,
                   "labels": list(self.labels)}  # fmt: skip
        return self._issue(self._request("POST", f"/repos/{self.repo}/issues", payload))

    def link_issue(self, reference: str) -> EngineeringIssue:
        """The issue *reference* names (``"#12"``, ``"owner/name#12"`` or its URL), read from
        GitHub (an unknown issue is GitHub's 404, a permanent :class:`GitHubHTTPError`)."""
        match = _REFERENCE.match(reference) if isinstance(reference, str) else None
        repo = match and (match["repo"] or match["url_repo"] or self.repo)
        if match is None or repo != self.repo:
            raise EventError(
                f"an issue reference of {self.repo} is '#12', '{self.repo}#12' or its URL, "
                f"got {reference!r:.80}",
                field="reference",
            )
        return self._issue(self._request("GET", f"/repos/{self.repo}/issues/{match['number']}"))

    def update_issue(self, issue: EngineeringIssue, affected: AffectedCustomers) -> None:
        """Replace the affected-customers section of the issue's body (kept if absent)."""
        path = f"/repos/{self.repo}/issues/{issue.key.rpartition('#')[2]}"
        body = self._request("GET", path).get("body") or ""
        section = _affected_section(affected)
        start, end = body.find(_START), body.find(_END)
        if start >= 0 and end > start:
            body = body[:start] + section + body[end + len(_END) :]
        else:
            body = f"{body}\n\n{section}".strip()
        self._request("PATCH", path, {"body": body})

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> list[IssueUpdate]:
        """Check the delivery's ``X-Hub-Signature-256`` and read an ``issues`` event."""
        if not isinstance(body, bytes):
            raise EventError(f"GitHub webhook: the body is bytes, got {body!r:.80}", field="body")
        if not isinstance(headers, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise EventError(
                f"GitHub webhook: headers map strings to strings, got {headers!r:.80}",
                field="headers",
            )
        lower = {k.lower(): v for k, v in headers.items()}
        given = lower.get("x-hub-signature-256", "")
        if not (
            given.isascii()  # a signature is hex digits; anything else is simply wrong
            and hmac.compare_digest(given.encode(), signature(self._secret, body).encode())
        ):
            raise EventError(
                "GitHub webhook: missing or wrong X-Hub-Signature-256 (check the secret)",
                field="X-Hub-Signature-256",
            )
        if lower.get("x-github-event") != "issues":
            return []
        try:
            event = json.loads(body)
            action, issue = event["action"], event["issue"]
            key = f"{event['repository']['full_name']}#{int(issue['number'])}"
            reason, label = issue.get("state_reason"), event.get("label") or {}
            label_name = label.get("name")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise EventError(f"GitHub webhook: not an issues event ({exc})", field="body") from None
        state = None
        if action == "closed":
            state = "wont_fix" if reason == "not_planned" else "fixed"
        elif action == "reopened":
            state = "open"
        elif action == "labeled" and label_name == "released":
            state = "released"
        return [] if state is None else [IssueUpdate(key, state)]

    # --- HTTP --------------------------------------------------------------------------------

    def _issue(self, data: Mapping[str, Any]) -> EngineeringIssue:
        try:
            number, url = data["number"], data["html_url"]
            closed = data.get("state") == "closed"
            reason = data.get("state_reason")
        except (KeyError, TypeError):
            raise GitHubError(f"GitHub answered without an issue: {data!r:.200}") from None
        state = ("wont_fix" if reason == "not_planned" else "fixed") if closed else "open"
        return EngineeringIssue(self.name, f"{self.repo}#{number}", url=url, state=state)

    def _request(self, method: str, path: str, payload: Any = None, params: Any = None) -> Any:
        try:
            response = self.client.request(
                method, path, json=payload, params=params, headers=_ACCEPT
            )
        except httpx.TimeoutException as exc:
            raise GitHubTimeout(f"GitHub {method} {path} timed out: {exc}") from exc
        except httpx.HTTPError as exc:
            raise GitHubError(f"GitHub {method} {path} failed: {exc}") from exc
        if response.status_code >= 400:
            limited = response.status_code == 429 or (
                response.status_code == 403 and response.headers.get("x-ratelimit-remaining") == "0"
            )
            raise GitHubHTTPError(
                f"GitHub {method} {path} answered {response.status_code}: {response.text:.200}",
                response=response,
                retry_at=retry_after(response.headers.get("Retry-After"), self.clock.now())
                if limited
                else None,
                permanent=not limited and response.status_code < 500,
            )
        try:
            return response.json()
        except ValueError:
            raise GitHubError(f"GitHub {method} {path} answered no JSON") from None


@hookimpl
def supportkit_register_issue_trackers(register: Callable[[str, IssueTracker], None]) -> None:
    """Register ``"github"`` from the environment when it names a repository, a token and a
    webhook secret (``SUPPORTKIT_GITHUB_REPO``, ``SUPPORTKIT_GITHUB_TOKEN``,
    ``SUPPORTKIT_GITHUB_WEBHOOK_SECRET``; ``SUPPORTKIT_GITHUB_API`` for GitHub Enterprise)."""
    repo, token = (
        os.environ.get("SUPPORTKIT_GITHUB_REPO"),
        os.environ.get("SUPPORTKIT_GITHUB_TOKEN"),
    )
    secret = os.environ.get("SUPPORTKIT_GITHUB_WEBHOOK_SECRET")
    if repo and token and secret:
        api = os.environ.get("SUPPORTKIT_GITHUB_API", "https://api.github.com")
        client = httpx.Client(base_url=api, headers={"Authorization": f"Bearer {token}"})
        register("github", GitHubTracker(client, repo, secret=secret))
