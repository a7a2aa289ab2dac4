"""Development tasks. ``nox`` with no arguments runs tests, lint, typing, plugin tests, docs and
the docs examples in the README's environment."""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "typing", "plugins", "docs", "examples"]

ROOT = Path(__file__).parent
PYPROJECT = nox.project.load_toml("pyproject.toml")
PLUGINS = sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml"))


def group(name: str) -> list[str]:
    """The requirements of a ``[dependency-groups]`` entry."""
    return list(nox.project.dependency_groups(PYPROJECT, name))


@nox.session
def tests(session: nox.Session) -> None:
    """Install the package with its extras and run the test suite with branch coverage."""
    session.install("-e", ".[cli,numpy]", *group("tests"))
    # `coverage run` rather than pytest-cov: supportkit.testing is a pytest11 plugin, so pytest
    # imports supportkit before pytest-cov would start measuring.
    session.run("coverage", "run", "-m", "pytest", *(session.posargs or ["tests"]))
    session.run("coverage", "report")


@nox.session
def thorough(session: nox.Session) -> None:
    """Only the Hypothesis tests, with the thorough profile (5,000 examples each; slow, on demand).

    Hypothesis marks its tests ``hypothesis``; tests/conftest.py reads SUPPORTKIT_HYPOTHESIS.
    """
    session.install("-e", ".[cli,numpy]", *group("tests"))
    paths = session.posargs or ["tests"]
    session.run("pytest", "-m", "hypothesis", *paths, env={"SUPPORTKIT_HYPOTHESIS": "thorough"})


@nox.session
def fuzz(session: nox.Session) -> None:
    """The fuzz suite in full: at least 1,000,000 generated inputs over every public entry point,
    the plugins' too (every package in plugins/ is installed, so no target is skipped; a skipped
    fuzz test fails the run); prints the count and the untyped exceptions, which must be 0.

    ``nox -s tests`` runs the same suite with a quick profile (tests/fuzzkit.py).
    """
    session.install("-e", ".[cli,numpy]", *group("tests"))
    install_plugins(session)
    env = {"SUPPORTKIT_FUZZ": "full", "SUPPORTKIT_FUZZ_MIN": "1000000"}
    paths = session.posargs or [str(p) for p in sorted((ROOT / "tests").glob("test_fuzz*.py"))]
    session.run("pytest", "-p", "no:cacheprovider", "--durations=10", *paths, env=env)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint rules and formatting."""
    session.install(*group("lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typing(session: nox.Session) -> None:
    """mypy --strict on src/ and on every plugin package's src/ (with the plugins installed)."""
    session.install("-e", ".[cli,numpy]", *group("typing"))
    install_plugins(session)
    session.run("mypy")
    session.run("mypy", *(str(plugin / "src") for plugin in PLUGINS))


@nox.session
def plugins(session: nox.Session) -> None:
    """Downstream tests: install each package in plugins/ beside the core and run its tests."""
    session.install("-e", ".", *group("tests"))
    install_plugins(session)
    for plugin in PLUGINS:
        session.run("pytest", str(plugin / "tests"), "-p", "no:cacheprovider")
    # The core tests that need a plugin (skipped by `tests`, where plugins are absent): the
    # plugins' fuzz targets and the settings race on PostgreSQL; and the docs examples, which
    # must also run where every plugin is installed (no example's channel may clash with one).
    session.run(
        "pytest",
        "tests/test_docs_examples.py",
        "tests/test_fuzz.py",
        "tests/test_fuzz_integrations.py",
        "tests/test_fuzz_http.py",
        "tests/test_fuzz_problems.py",
        "tests/test_config_settings.py::test_two_desks_applying_at_once_on_postgres_one_wins",
        "-p",
        "no:cacheprovider",
    )


def install_plugins(session: nox.Session) -> None:
    """Install every package in plugins/ (editable, with its ``test`` extra) in one pip call, so
    a plugin that depends on another (supportkit-http on supportkit-webhook) gets it from this
    checkout."""
    session.install(*(arg for plugin in PLUGINS for arg in ("-e", with_test_extra(plugin))))


def with_test_extra(plugin: Path) -> str:
    """The plugin's path, with its ``test`` extra (test-only requirements) if it has one."""
    project = nox.project.load_toml(plugin / "pyproject.toml")["project"]
    return f"{plugin}[test]" if "test" in project.get("optional-dependencies", {}) else str(plugin)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site with warnings as errors."""
    session.install("-e", ".[cli,numpy]", *group("docs"))
    session.run("mkdocs", "build", "--strict", "--site-dir", str(ROOT / ".site"))
    # The site works opened from disk: no fonts or scripts from other hosts, links name files.
    session.run("python", "tests/check_site.py", str(ROOT / ".site"))


@nox.session
def examples(session: nox.Session) -> None:
    """Every docs example, twice, where only the README's ``pip install -e ".[cli]"`` is."""
    session.install("-e", ".[cli]")
    session.run("python", "tests/docs_examples.py")


@nox.session
def bench(session: nox.Session) -> None:
    """Run every benchmark in benchmarks/ (``nox -s bench -- --quick`` for a short run).

    ``-- --json PATH`` writes every benchmark's figures into one flat JSON file and
    ``-- --compare OLD.json`` prints each figure's change from such a file.
    """
    session.install("-e", ".[cli,numpy]", *group("bench"))
    # Benchmarks of plugins (bench_email.py, bench_http.py) import them; one pip call, so a
    # plugin that depends on another gets it from this checkout.
    session.install(*(arg for plugin in PLUGINS for arg in ("-e", str(plugin))))
    args = list(session.posargs)
    out = None
    if "--json" in args:  # each benchmark writes its own file; they are merged at the end
        at = args.index("--json")
        out = Path(args[at + 1]).resolve()
        del args[at : at + 2]
    parts = []
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        part = Path(session.create_tmp()) / f"{script.stem}.json"
        parts.append(str(part))
        session.run("python", str(script), *args, "--json", str(part))
    if out is not None:
        session.run("python", str(ROOT / "benchmarks" / "figures.py"), "merge", str(out), *parts)
