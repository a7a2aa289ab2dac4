"""supportkit.testing: importable without pytest, fixtures from the pytest11 plugin, services."""

from __future__ import annotations

import subprocess
import sys
import traceback
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import supportkit.testing
from supportkit import FrozenClock
from supportkit.testing import (
    DEFAULT_START,
    doc_examples,
    doc_pages,
    run_doc_examples,
    service_missing,
)

NO_PYTEST = """
import sys
sys.modules["pytest"] = None  # any `import pytest` now raises ImportError
from supportkit.testing import FakeChannel, FakeCrm, RecordingNotifier, assert_sla, ticket
from supportkit.testing import run_doc_examples
assert ticket().created("2025-03-03T09:00:00Z").events
try:
    from supportkit.testing import frozen_clock
except ImportError:
    print("fixtures need pytest")
"""


def test_testing_imports_without_pytest() -> None:
    """Builders and fakes import in a process where pytest cannot be imported; fixtures not."""
    done = subprocess.run(
        [sys.executable, "-c", NO_PYTEST], capture_output=True, text=True, check=False
    )
    assert ("fixtures need pytest\n", 0) == (done.stdout, done.returncode), done.stderr


def test_pytest11_entry_point_is_the_private_fixtures_module() -> None:
    """pytest loads the fixtures module, not supportkit.testing."""
    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert "supportkit._pytest_plugin" == plugins["supportkit"]


def test_testing_still_exports_the_fixtures() -> None:
    """The fixture names stay importable from supportkit.testing (lazily, from the plugin)."""
    from supportkit import _pytest_plugin

    for name in ("frozen_clock", "plugin_host", "register_plugin"):
        assert name in supportkit.testing.__all__
        assert getattr(_pytest_plugin, name) is getattr(supportkit.testing, name)
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        _ = supportkit.testing.nope


def test_frozen_clock_fixture_still_works(frozen_clock: FrozenClock) -> None:
    """The pytest plugin still provides the fixture."""
    assert DEFAULT_START == frozen_clock.now()


def test_service_missing_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without CI=true the test is skipped with the reason."""
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="start dovecot"):
        service_missing("no IMAP server: start dovecot")


@pytest.mark.parametrize("value", ["true", "TRUE"])
def test_service_missing_fails_in_ci(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    """With CI=true a missing service fails the test, naming the reason."""
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match=r"CI=true.*no IMAP server"):
        service_missing("no IMAP server")


@pytest.mark.parametrize("value", ["", "false", "0"])
def test_service_missing_skips_when_ci_is_not_true(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """Only CI=true turns the skip into a failure."""
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.skip.Exception):
        service_missing("no IMAP server")


PAGE = """# A plugin page

```python
raise AssertionError("untitled blocks are the core docs test's")
```

```python title="needs supportkit-demo"
total = 1
```

```python title="needs supportkit-other"
raise AssertionError("another plugin's block")
```

```python title="needs supportkit-demo"
total += 41
assert "SCHEMA" == "SCHEMA"
```
"""


def test_doc_examples_run_the_blocks_of_one_title_in_one_namespace(tmp_path: Path) -> None:
    """Only the blocks fenced with the title run, in order, sharing one namespace; *replace*
    edits the page's text first."""
    page = tmp_path / "demo.md"
    page.write_text(PAGE, encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "none.md").write_text("no examples", encoding="utf-8")
    assert 2 == len(doc_examples(page, "needs supportkit-demo"))
    assert [page] == doc_pages(tmp_path, "needs supportkit-demo")
    assert 42 == run_doc_examples(page, "needs supportkit-demo")["total"]
    with pytest.raises(AssertionError) as failed:
        run_doc_examples(page, "needs supportkit-demo", replace={'"SCHEMA" ==': '"x" =='})
    assert "demo.md[block 2]" in "".join(traceback.format_tb(failed.tb))


def test_doc_examples_refuse_a_page_without_the_title(tmp_path: Path) -> None:
    """A page with no block of the title is an error (a renamed fence would pass unnoticed)."""
    page = tmp_path / "demo.md"
    page.write_text(PAGE, encoding="utf-8")
    with pytest.raises(ValueError, match="needs supportkit-missing"):
        run_doc_examples(page, "needs supportkit-missing")
