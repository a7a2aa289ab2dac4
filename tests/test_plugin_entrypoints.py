"""Entry-point discovery with real (temporary) distributions on sys.path, not a mocked pluggy."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from supportkit import PluginError, StatusChanged, Ticket, TicketEvent
from supportkit._plugins import PluginHost

AT = datetime(2025, 3, 3, 9, tzinfo=UTC)
PLUGIN = """
from supportkit import hookimpl
from supportkit.testing import RecordingNotifier

NOTIFIER = RecordingNotifier("demo-notifier")


@hookimpl
def supportkit_register_notifiers(register):
    register("demo-notifier", NOTIFIER)
"""


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """``install(dist, ep_name, module, source)``: a distribution with a ``supportkit`` entry
    point, importable for this test only."""
    modules: list[str] = []

    def install(dist: str, ep_name: str, module: str, source: str) -> None:
        (tmp_path / f"{module}.py").write_text(source, encoding="utf-8")
        info = tmp_path / f"{dist}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n", encoding="utf-8"
        )
        (info / "entry_points.txt").write_text(
            f"[supportkit]\n{ep_name} = {module}\n", encoding="utf-8"
        )
        modules.append(module)

    monkeypatch.syspath_prepend(str(tmp_path))
    yield install
    for module in modules:
        sys.modules.pop(module, None)
    importlib.invalidate_caches()


def test_entry_point_plugins_load_on_first_use(install: Callable[..., None]) -> None:
    """Creating a host loads nothing; the first use registers the entry point by its name."""
    install("supportkit-demo", "demo", "supportkit_demo_plugin", PLUGIN)
    host = PluginHost()
    assert "demo" not in host.plugin_names()
    assert "supportkit_demo_plugin" not in sys.modules
    assert "demo-notifier" in host.notifiers()
    assert "demo" in host.plugin_names()


def test_first_broadcast_reaches_entry_point_plugins(install: Callable[..., None]) -> None:
    """A broadcast as the very first use loads the entry points before calling hookimpls."""
    source = (
        "from supportkit import hookimpl\n\nSEEN = []\n\n@hookimpl\n"
        "def supportkit_status_changed(notice):\n    SEEN.append(notice.ticket_id)\n"
    )
    install("supportkit-audit", "audit", "supportkit_audit_plugin", source)
    created = TicketEvent("created", ticket_id="T-1", at=AT)
    change = TicketEvent("status_changed", ticket_id="T-1", at=AT, data={"to": "open"})
    notice = StatusChanged(Ticket.from_events([created, change]), change, "new")
    assert [] == PluginHost().status_changed(notice=notice)
    assert ["T-1"] == sys.modules["supportkit_audit_plugin"].SEEN


def test_entry_points_load_once(install: Callable[..., None]) -> None:
    """After the first load, the group is not scanned again (an unregistered one stays out)."""
    install("supportkit-demo", "demo", "supportkit_demo_plugin", PLUGIN)
    host = PluginHost()
    host.notifiers()
    host.unregister("demo")
    assert "demo-notifier" not in host.notifiers()
    assert "demo" not in host.plugin_names()


def test_blocked_entry_point_is_not_loaded(install: Callable[..., None]) -> None:
    """A host can block an installed plugin by its entry-point name."""
    install("supportkit-demo", "demo", "supportkit_demo_plugin", PLUGIN)
    host = PluginHost(blocked=["demo"])
    assert "demo-notifier" not in host.notifiers()
    assert "supportkit_demo_plugin" not in sys.modules


def test_entry_points_can_be_switched_off(install: Callable[..., None]) -> None:
    """load_entrypoints=False ignores installed plugins."""
    install("supportkit-demo", "demo", "supportkit_demo_plugin", PLUGIN)
    assert "demo-notifier" not in PluginHost(load_entrypoints=False).notifiers()


def test_application_plugin_of_the_same_name_wins(install: Callable[..., None]) -> None:
    """An explicitly registered plugin keeps its name; the entry point is skipped."""
    install("supportkit-demo", "demo", "supportkit_demo_plugin", PLUGIN)
    host = PluginHost()
    host.register(object(), name="demo")
    assert "demo-notifier" not in host.notifiers()


def test_entry_point_that_fails_to_import_is_a_plugin_error(
    install: Callable[..., None],
) -> None:
    """A broken installed plugin is named, with how to block it."""
    install("supportkit-broken", "broken", "supportkit_broken_plugin", "raise ImportError('x')")
    with pytest.raises(
        PluginError, match=r"block it with PluginHost\(blocked=\['broken'\]\)"
    ) as info:
        PluginHost().notifiers()
    assert "broken" == info.value.plugin


def test_a_broken_entry_point_is_imported_once_and_raised_once(
    install: Callable[..., None], tmp_path: Path
) -> None:
    """The failure is raised by the first lookup only; later calls work without the plugin,
    and the import is not tried again."""
    tries = tmp_path / "tries.txt"
    source = (
        f"import pathlib\npath = pathlib.Path({str(tries)!r})\n"
        "path.write_text(path.read_text() + 'x' if path.exists() else 'x')\n"
        "raise ImportError('x')\n"
    )
    install("supportkit_broken", "broken", "supportkit_broken_plugin", source)
    install("supportkit_demo", "demo", "supportkit_demo_plugin", PLUGIN)
    host = PluginHost()
    with pytest.raises(PluginError, match="'broken'"):
        host.notifiers()
    assert ("x", ["demo-notifier", "log"]) == (tries.read_text(), sorted(host.notifiers()))


def test_a_broadcast_returns_a_broken_entry_point_instead_of_raising(
    install: Callable[..., None],
) -> None:
    """A broadcast never raises: the load failure is among its failures, the rest still run.

    (Two distributions in one folder need names without "-": importlib.metadata takes a
    dist-info folder's name up to its first "-".)"""
    install("supportkit_broken", "broken", "supportkit_broken_plugin", "raise ImportError('x')")
    install("supportkit_demo", "demo", "supportkit_demo_plugin", PLUGIN)
    created = TicketEvent("created", ticket_id="T-1", at=AT)
    change = TicketEvent("status_changed", ticket_id="T-1", at=AT, data={"to": "open"})
    notice = StatusChanged(Ticket.from_events([created, change]), change, "new")
    failures = PluginHost().status_changed(notice=notice)
    seen = sys.modules["supportkit_demo_plugin"].NOTIFIER.kinds
    assert (["broken"], ["status_changed"]) == ([f.plugin for f in failures], seen)


def test_misspelled_hook_in_an_entry_point_is_a_plugin_error(
    install: Callable[..., None],
) -> None:
    """check_pending runs for installed plugins too."""
    source = (
        "from supportkit import hookimpl\n\n@hookimpl\ndef supportkit_sla_breach(notice): pass\n"
    )
    install("supportkit-typo", "typo", "supportkit_typo_plugin", source)
    with pytest.raises(PluginError, match="did you mean 'supportkit_sla_breached'") as info:
        PluginHost().notifiers()
    assert "typo" == info.value.plugin


def test_an_installed_plugins_command_runs_from_the_command_line(
    install: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    """``supportkit <command>`` finds a command registered by an installed plugin."""
    source = (
        "from supportkit import hookimpl\n\n\nclass Serve:\n    help = 'serve the desk'\n\n"
        "    def add_arguments(self, parser):\n        parser.add_argument('--port', type=int)\n\n"
        "    def run(self, args):\n        print('serving on', args.port)\n        return 0\n\n\n"
        "@hookimpl\ndef supportkit_register_commands(register):\n"
        "    register('serve', Serve())\n"
    )
    install("supportkit-serve", "serve", "supportkit_serve_plugin", source)
    from supportkit._cli import main

    assert 0 == main(["serve", "--port", "8080"])
    assert "serving on 8080\n" == capsys.readouterr().out
