"""Every check of the project, one session each: ``nox -s tests``, ``lint``, ``types``, ``demo``,
``bench``."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests", "lint", "types"]

PYTHON = "3.11"
TEST_DEPS = ["pytest>=8", "pytest-timeout", "hypothesis>=6.100", "mockupdb>=1.8"]


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """Resolve the embedded demo cluster (no cluster needed) and print endpoints and URIs."""
    session.install(".")
    session.run("headless-discovery", "demo")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Unit and integration tests; installs BIND 9 first when it is missing (needs root)."""
    session.run("bash", ".ci/system-deps", external=True)
    session.install(".[mongo]", *TEST_DEPS)
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    session.install("ruff==0.17.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def types(session: nox.Session) -> None:
    """mypy --strict on the package and the typed usage file."""
    session.install(".[mongo]", "mypy==2.4.1", "pytest", "nox")
    session.run("mypy", "headless_discovery", "tests/typing", "tests/harness", "noxfile.py")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Selection-strategy benchmark: ns per pick against random.choice and uhashring."""
    session.install(".", "uhashring")  # uhashring is the benchmark's yardstick, not a dependency
    session.run("python", "benchmarks/bench_strategies.py", *session.posargs)
