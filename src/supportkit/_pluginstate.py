"""``desk.plugin_state(namespace)``: durable key-value state of a plugin, in the store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ._clock import Clock
from ._model import _json_text, json_value
from ._time import to_epoch
from .exceptions import ConfigurationError
from .typing import DeskStore

__all__ = ["StoreState"]


def _name(what: str, value: object, *, writing: bool = False) -> str:
    """*value* as a namespace or key. A NUL is refused only when *writing*: SQLite kept keys
    holding one before they were refused, and such an entry must still read and delete."""
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"plugin state {what} must be a non-empty string, got {value!r}")
    try:
        return _json_text(value, stored=not writing)
    except ValueError as exc:
        raise ConfigurationError(f"plugin state {what} {value!r:.80} {exc}") from None


class StoreState:
    """A :class:`~supportkit.typing.PluginState` over one namespace of a desk's store.

    Checks every argument before the store sees it (so a refused call changes nothing) and
    reads "now" for expiry from the desk's clock.
    """

    def __init__(self, store: DeskStore, namespace: str, clock: Clock) -> None:
        self.namespace = _name("namespace", namespace)
        self._store = store
        self._clock = clock

    def _now(self) -> int:
        return to_epoch(self._clock.now())

    def _entry(self, key: str, value: Any, expires_at: datetime | None) -> tuple[Any, int | None]:
        """The value as every store keeps it (:func:`json_value`) and the expiry, checked."""
        _name("namespace", self.namespace, writing=True)
        _name("key", key, writing=True)
        try:
            value = json_value(value)
        except ValueError as exc:
            raise ConfigurationError(
                f"plugin state {self.namespace}/{key}: the value must be JSON-compatible "
                f"(dicts with string keys, lists, strings, finite numbers, booleans, None): "
                f"it {exc}"
            ) from None
        if expires_at is None:
            return value, None
        return value, to_epoch(
            expires_at, f"plugin state {self.namespace}/{key} expires_at", ConfigurationError
        )

    def get(self, key: str) -> Any | None:
        """The value under *key*, or ``None`` if there is none or it expired."""
        return self._store.state_get(self.namespace, _name("key", key), now=self._now())

    def put(self, key: str, value: Any, *, expires_at: datetime | None = None) -> None:
        """Store *value* under *key* (replacing what was there), until *expires_at* if given."""
        value, expiry = self._entry(key, value, expires_at)
        self._store.state_put(self.namespace, key, value, expires_at=expiry, now=self._now())

    def put_new(self, key: str, value: Any, *, expires_at: datetime | None = None) -> bool:
        """Store *value* unless *key* holds a live value (atomically); ``True`` if stored."""
        value, expiry = self._entry(key, value, expires_at)
        return self._store.state_put_new(
            self.namespace, key, value, expires_at=expiry, now=self._now()
        )

    def delete(self, key: str) -> None:
        """Forget *key* (nothing happens if it is not there)."""
        self._store.state_delete(self.namespace, _name("key", key))

    def __repr__(self) -> str:
        return f"<PluginState {self.namespace!r} of {self._store!r}>"
