"""Every hook, argument and notice field is documented (in the spirit of datasette's test_docs)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import attrs
import pytest

from supportkit import hookspecs
from supportkit._hookargs import NOTICE_TYPES
from supportkit._plugins import PluginHost

PAGE = Path(__file__).resolve().parent.parent / "docs" / "plugins" / "hooks.md"
HEADING = re.compile(r"^### `(\w+)\(([\w, ]*)\)`\n", re.M)


def _sections() -> dict[str, tuple[str, str]]:
    """``{hook: (signature args, section text)}`` from the hooks page."""
    text = PAGE.read_text(encoding="utf-8")
    matches = list(HEADING.finditer(text))
    sections = {}
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        end = following.start() if following else len(text)
        sections[match[1]] = (match[2], text[match.end() : end])
    return sections


SECTIONS = _sections()
HOOKS = {
    name: caller
    for name, caller in vars(PluginHost(load_entrypoints=False)._pm.hook).items()
    if not name.startswith("_")
}


def test_the_page_documents_exactly_the_hooks() -> None:
    """No hook is missing from the page and no section documents a hook that does not exist."""
    assert sorted(HOOKS) == sorted(SECTIONS)


@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_every_argument_is_documented(hook: str) -> None:
    """The heading shows the hook's arguments and each has its own bullet."""
    argnames = list(HOOKS[hook].spec.argnames)
    signature, section = SECTIONS[hook]
    assert argnames == [a.strip() for a in signature.split(",") if a.strip()]
    documented = re.findall(r"^- `(\w+)`:", section.split("**Returns**")[0], re.M)
    assert argnames == documented


@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_every_hook_has_an_example(hook: str) -> None:
    """Each section carries a runnable example (run by test_docs_examples) that asserts."""
    blocks = re.findall(r"^```python\n(.*?)^```", SECTIONS[hook][1], re.S | re.M)
    assert any("assert " in block for block in blocks)


@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_every_hookspec_docstring_is_complete(hook: str) -> None:
    """Summary, every parameter, the return contract, firstresult note and version added."""
    caller = HOOKS[hook]
    doc = inspect.getdoc(caller.spec.function) or ""
    assert doc.splitlines()[0].endswith(".")
    for argname in caller.spec.argnames:
        assert f":param {argname}:" in doc
    assert ":returns:" in doc
    assert ".. versionadded:: 0.1" in doc
    firstresult = bool(caller.spec.opts.get("firstresult"))
    assert firstresult == ("Stops at first non-None result." in doc)
    historic = bool(caller.spec.opts.get("historic"))
    assert historic == hook.startswith("supportkit_register_")


@pytest.mark.parametrize("kind", sorted(NOTICE_TYPES))
def test_every_notice_field_is_documented_with_its_hook(kind: str) -> None:
    """The broadcast section names each field and property of its notice class."""
    cls = NOTICE_TYPES[kind]
    properties = [
        name
        for name, value in inspect.getmembers(cls)
        if isinstance(value, property) and name not in ("ticket_id", "at")
    ]
    section = SECTIONS[f"supportkit_{kind}"][1]
    for name in [field.name for field in attrs.fields(cls)] + properties:
        assert f"`{name}`" in section, name


def test_hookspecs_module_exports_the_markers() -> None:
    """Plugins import the markers from supportkit (or supportkit.hookspecs)."""
    import supportkit

    assert supportkit.hookimpl is hookspecs.hookimpl
    assert "supportkit" == hookspecs.hookspec.project_name
