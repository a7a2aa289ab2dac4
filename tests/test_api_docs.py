"""The API reference lists every enum member: mkdocstrings shows a member (with its value) only
when it has a docstring, so every member of every public enum needs one."""

from __future__ import annotations

import ast
import enum
import inspect
from pathlib import Path

import supportkit

SRC = Path(supportkit.__file__).resolve().parent


def _class_bodies() -> dict[str, list[list[ast.stmt]]]:
    """Every class body in the package, by class name (names may repeat across modules)."""
    bodies: dict[str, list[list[ast.stmt]]] = {}
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bodies.setdefault(node.name, []).append(node.body)
    return bodies


def _documented(body: list[ast.stmt]) -> tuple[set[str], set[str]]:
    """The names a class body assigns, and those followed by a docstring."""
    assigned, documented = set(), set()
    for node, after in zip(body, [*body[1:], None], strict=True):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            assigned.add(name)
            if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant):
                documented.add(name)
    return assigned, documented


def test_every_public_enum_member_has_a_docstring() -> None:
    """Status, Priority, Channel, Role and the other public enums document every member."""
    bodies = _class_bodies()
    undocumented = []
    enums = [
        obj
        for name in supportkit.__all__
        if inspect.isclass(obj := getattr(supportkit, name)) and issubclass(obj, enum.Enum)
    ]
    for cls in enums:
        members = set(cls.__members__)
        # The enum's own class body: the one that assigns all of its members.
        [body] = [b for b in bodies[cls.__name__] if members <= _documented(b)[0]]
        undocumented += [f"{cls.__name__}.{m}" for m in sorted(members - _documented(body)[1])]
    assert (True, []) == (len(enums) >= 8, undocumented)
