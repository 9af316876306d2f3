"""Pin the public API: what `from headless_discovery import *` gives, and nothing by accident."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
import typing
from pathlib import Path

import headless_discovery


def _isort_key(name: str) -> tuple[int, str]:
    # ruff's RUF022 order: SCREAMING_CASE, then CamelCase, then the rest.
    if name.isupper():
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


def test_all_is_sorted_and_complete() -> None:
    exported = headless_discovery.__all__
    assert exported == sorted(exported, key=_isort_key)
    assert len(set(exported)) == len(exported)
    for name in exported:
        assert hasattr(headless_discovery, name), name
    public = {n for n in vars(headless_discovery) if not n.startswith("_")}
    modules = {
        "cli",
        "discovery",
        "doctor",
        "refresh",
        "trust",
        "endpoints",
        "environment",
        "instrumentation",
        "integrations",  # imported by its own tests, never by the package
        "errors",
        "lookup",
        "mongo",
        "names",
        "plan",
        "pymongo_client",
        "resolvers",
        "seeds",
        "state",
        "strategies",
    }
    # instrumentation is a public module: its events are reached as
    # headless_discovery.instrumentation.LookupFinished and so on.
    assert public - modules == set(exported) - {"__version__", "instrumentation"}


def test_every_public_name_has_a_docstring() -> None:
    for name in headless_discovery.__all__:
        obj = getattr(headless_discovery, name)
        # Classes and functions; type aliases (Family, ChangeCallback) are documented in
        # their modules and the reference. (Python 3.10 takes Callable[...] for a class.)
        if typing.get_origin(obj) is not None:
            continue
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__doc__, name


def test_version_comes_from_package_metadata() -> None:
    from importlib.metadata import version

    assert headless_discovery.__version__ == version("headless-discovery")


def test_import_does_not_pull_in_asyncio_or_pymongo() -> None:
    code = (
        "import sys, headless_discovery; "
        "print(sorted(m for m in ('asyncio', 'pymongo') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_reference_documents_exactly_the_public_names() -> None:
    reference = Path(__file__).resolve().parent.parent / "docs" / "reference"
    documented = [
        name
        for page in sorted(reference.glob("*.md"))
        for name in re.findall(r"^::: headless_discovery\.(\w+)$", page.read_text(), re.M)
    ]
    assert len(documented) == len(set(documented)), "a name is documented twice"
    assert set(documented) == set(headless_discovery.__all__) - {"__version__"}
