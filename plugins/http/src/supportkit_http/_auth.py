"""Bearer tokens with scopes, kept only as SHA-256 hashes.

``create_app(tokens={hash_token(token): {"read"}})``: the app never sees a token itself, so a
leaked configuration file grants nothing. Scopes nest: ``admin`` grants ``act``, which grants
``read``, which grants ``chat`` (the conversation endpoints a chat widget's backend calls).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping

from supportkit import ConfigurationError

__all__ = ["SCOPES", "Tokens", "hash_token"]

#: The scopes, weakest first: each grants those before it.
SCOPES = ("chat", "read", "act", "admin")
_HASH = re.compile(r"[0-9a-f]{64}")


def hash_token(token: str) -> str:
    """The form a token is configured in: the hex SHA-256 of its UTF-8 text."""
    return hashlib.sha256(token.encode()).hexdigest()


class Tokens:
    """The configured token hashes and the strongest scope each grants.

    *tokens* maps :func:`hash_token` of each token to its scopes (a list or set of
    :data:`SCOPES` names). ``None`` means no authentication at all (a local tool: every
    endpoint is open); an empty mapping refuses every request.
    """

    def __init__(self, tokens: Mapping[str, Iterable[str]] | None) -> None:
        self.enabled = tokens is not None
        self._levels: dict[str, int] = {}
        if tokens is not None and not isinstance(tokens, Mapping):
            raise ConfigurationError(
                f"tokens must map hash_token(token) to a list of scopes, got {tokens!r}"
            )
        for digest, scopes in (tokens or {}).items():
            if not isinstance(digest, str) or not _HASH.fullmatch(digest):
                raise ConfigurationError(
                    f"tokens: key {digest!r} is not a SHA-256 hex digest: configure "
                    "supportkit_http.hash_token(token), never the token itself"
                )
            names = [scopes] if isinstance(scopes, str) else scopes
            names = list(names) if isinstance(names, Iterable) else []
            if not names or not all(isinstance(n, str) and n in SCOPES for n in names):
                raise ConfigurationError(
                    f"tokens: scopes {names!r} of token {digest[:8]}...: use one or more of "
                    f"{', '.join(SCOPES)}"
                )
            self._levels[digest] = max(SCOPES.index(name) for name in names)

    def check(self, authorization: str | None, scope: str) -> int:
        """The HTTP status for a request with this ``Authorization`` header needing *scope*:
        200 (allowed), 401 (no token or an unknown one) or 403 (a token without the scope)."""
        if not self.enabled:
            return 200
        kind, _, token = (authorization or "").partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            return 401
        level = self._levels.get(hash_token(token.strip()))
        if level is None:
            return 401
        return 200 if level >= SCOPES.index(scope) else 403
