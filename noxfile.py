"""Every check of the project, one session each: ``nox -s tests``, ``lint``, ``types``, ``demo``,
``bench``, ``docs``, ``package``, ``stress``, ``mutation``, and ``tests_all`` (the tests on
every supported Python here)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests", "lint", "types"]

PYTHON = "3.11"
# The Pythons the classifiers promise; tests/test_packaging.py keeps the two in step.
SUPPORTED = ("3.10", "3.11", "3.12", "3.13")
TEST_DEPS = [
    "pytest>=8",
    "pytest-timeout",
    "hypothesis>=6.100",
    "mockupdb>=1.8",
    # The oracle of tests/unit/test_mongo_oracle.py and tests/integration/test_doctor_oracle.py
    # (they import pymongo.uri_parser, pymongo.common and pymongo.synchronous.srv_resolver).
    "pymongo>=4.10,<4.21",
    "PyYAML>=6",  # tests/test_examples.py and test_docs.py read manifests and mkdocs.yml
    "build>=1.2",  # tests/test_packaging.py builds the sdist and wheel it inspects
    "hatchling>=1.24",
    "sybil>=9",  # tests/docs: finds the code blocks of the pages (Markdown lexer)
    "trustme>=1.1",  # tests/integrations: a CA for the Service's certificates
    # tests/integrations/test_opentelemetry*.py: the real SDK, its Prometheus exporter and
    # the parser of what it serves.
    "opentelemetry-sdk>=1.30",
    "opentelemetry-exporter-prometheus>=0.51b0",
    "prometheus-client>=0.20",
    "grpcio>=1.63",  # tests/integrations/test_grpc*.py: real gRPC servers and channels
]
# The extras the tests install: the HTTP clients' integrations are tested with their clients.
TEST_EXTRAS = ".[mongo,httpx,requests,aiohttp,opentelemetry,grpc]"
DOCS_DEPS = [
    "mkdocs==1.6.1",
    "mkdocs-material==9.8.2",
    "mkdocstrings==1.0.8",
    "mkdocstrings-python==2.0.11",
    "griffelib==2.4.1",
    "pymdown-extensions==13.1.2",
    "ruff==0.17.6",  # mkdocstrings formats the signatures with it
]


def _interpreters() -> dict[str, str]:
    """The supported Pythons this machine has: version -> interpreter.

    pyenv's shims answer only for the versions made active (``pyenv global 3.11 3.12``), so
    the versions pyenv installed are looked up in its own directory first.
    """
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found: dict[str, str] = {}
    for version in SUPPORTED:
        installed = sorted(
            pyenv.glob(f"{version}.*/bin/python{version}"),
            key=lambda path: [int(part) for part in path.parts[-3].split(".") if part.isdigit()],
        )
        on_path = shutil.which(f"python{version}")
        if installed:
            found[version] = str(installed[-1])
        elif on_path and "/shims/" not in on_path:
            found[version] = on_path
    current = f"{sys.version_info.major}.{sys.version_info.minor}"
    if current in SUPPORTED:
        found.setdefault(current, sys.executable)
    return found


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """Resolve the embedded demo cluster (no cluster needed) and print endpoints and URIs."""
    session.install(".")
    session.run("headless-discovery", "demo")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Unit and integration tests; installs BIND 9 first when it is missing (needs root)."""
    session.run("bash", ".ci/system-deps", external=True)
    session.install(TEST_EXTRAS, *TEST_DEPS)
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def stress(session: nox.Session) -> None:
    """The concurrency stress tests at full length (10 s each; the test run uses 3 s)."""
    session.run("bash", ".ci/system-deps", external=True)
    session.install(TEST_EXTRAS, *TEST_DEPS)
    session.run("pytest", "tests/stress", *session.posargs, env={"HD_STRESS_SECONDS": "10"})


@nox.session(download_python="never")
@nox.parametrize(
    "python", [nox.param(path, id=version) for version, path in sorted(_interpreters().items())]
)
def tests_all(session: nox.Session) -> None:
    """The tests on every supported Python this machine has; missing versions are left out."""
    session.run("bash", ".ci/system-deps", external=True)
    session.install(TEST_EXTRAS, *TEST_DEPS)
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def mutation(session: nox.Session) -> None:
    """mutmut over the core modules ([tool.mutmut] in pyproject.toml), running the fast tier
    (tests/unit); not in CI. One module: ``nox -s mutation -- "headless_discovery.mongo.*"``.
    See docs/contributing.md for how long it takes and tests/mutation/equivalent.txt."""
    session.install(".[mongo]", *TEST_DEPS, "mutmut==3.8.1")
    session.run("mutmut", "run", "--max-children", "1", *session.posargs)
    session.run("mutmut", "results")


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    session.install("ruff==0.17.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def types(session: nox.Session) -> None:
    """mypy --strict on the package and the typed usage file."""
    session.install(TEST_EXTRAS, "mypy==2.4.1", "types-grpcio", "pytest", "nox", "trustme")
    session.run(
        "mypy", "headless_discovery", "tests/typing", "tests/harness", "examples", "noxfile.py"
    )


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks against the alternatives: strategies (random.choice, uhashring), the fleet
    simulation (the refresh schedule against today's, behind a cache), then discovery on a
    real BIND 9 (dnspython, getaddrinfo, pymongo) and what metrics cost it, written to
    docs/performance.md. Installs
    BIND 9 when missing; the pod rows need root."""
    session.run("bash", ".ci/system-deps", external=True)
    # uhashring and pymongo are the benchmark's yardsticks, not dependencies; the harness
    # (tests/harness) needs pytest and mockupdb.
    session.install(
        ".[mongo,opentelemetry]", "uhashring", "pytest", "mockupdb>=1.8", "opentelemetry-sdk>=1.30"
    )
    session.run("python", "benchmarks/bench_strategies.py")
    # A simulation, no server: what a fleet of 10 000 clients costs a caching cluster DNS.
    session.run("python", "benchmarks/bench_fleet.py", "--write", "docs/performance.md")
    # The HTTP clients through discovery, against the same client talking to one pod.
    session.install(".[httpx,requests,aiohttp]")
    session.run("python", "benchmarks/bench_http.py", "--write", "docs/performance.md")
    session.run(
        "python",
        "benchmarks/bench_discovery.py",
        "--write",
        "docs/performance.md",
        *session.posargs,
    )
    # What OpenTelemetryHook costs pick() and a refresh, on the same BIND.
    session.run("python", "benchmarks/bench_metrics.py", "--write", "docs/performance.md")
    # gRPC: discovery_channel against a plain channel and dns:/// (BIND 9 for the scale-up).
    session.install(".[grpc]")
    session.run("python", "benchmarks/bench_grpc.py", "--write", "docs/performance.md")


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """The documentation site, with every warning an error, into site/."""
    session.install(*DOCS_DEPS)
    session.run("mkdocs", "build", "--strict", "--site-dir", "site", *session.posargs)


@nox.session(python=PYTHON)
def package(session: nox.Session) -> None:
    """Build sdist and wheel, check them, and run the wheel installed in a fresh venv."""
    session.install("build", "twine", "pytest", "PyYAML")
    tmp = Path(session.create_tmp()).resolve()
    dist = tmp / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", str(dist))
    artifacts = sorted(str(path) for path in dist.iterdir())
    session.run("twine", "check", "--strict", *artifacts)
    # The contents: py.typed and the demo zone in, tests out, metadata as promised.
    session.run(
        "pytest",
        "--noconftest",
        "-p",
        "no:cacheprovider",
        "tests/test_packaging.py",
        env={"HEADLESS_DISCOVERY_DIST": str(dist)},
    )
    # A fresh environment with nothing but the wheel and its dependencies, run from outside
    # the source tree so that only the installed package can be imported.
    venv = tmp / "fresh-venv"
    session.run("python", "-m", "venv", "--clear", str(venv))
    python, command = str(venv / "bin" / "python"), str(venv / "bin" / "headless-discovery")
    (wheel,) = dist.glob("*.whl")
    session.run(python, "-m", "pip", "install", "--quiet", str(wheel), external=True)
    with session.chdir(tmp):
        session.run(python, "-c", _INSTALLED_CHECK, wheel.name, external=True)
        session.run(command, "--version", external=True)
        session.run(command, "demo", external=True, silent=True)


_INSTALLED_CHECK = """
import sys, headless_discovery
from headless_discovery import ConfigurationError, mongo_client
version = sys.argv[1].split("-")[1]
assert headless_discovery.__version__ == version, (headless_discovery.__version__, version)
assert "site-packages" in headless_discovery.__file__, headless_discovery.__file__
assert "pymongo" not in sys.modules
try:
    mongo_client("mongodb-headless-service.infrastructure")
except ConfigurationError as exc:  # pymongo is an extra: the error says how to get it
    assert "headless-discovery[mongo]" in str(exc), exc
else:
    raise AssertionError("mongo_client() worked without pymongo")
print("installed", version, "from the wheel, at", headless_discovery.__file__)
"""
