"""The integrations are optional extras: never imported by the package, and an error that
names the extra when the client library is missing."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from headless_discovery import ConfigurationError

CLIENTS = [("httpx", "httpx"), ("requests", "requests"), ("aiohttp", "aiohttp")]


def test_importing_the_package_imports_no_http_client() -> None:
    code = (
        "import sys, headless_discovery, headless_discovery.integrations; "
        "print(sorted(m for m in ('httpx', 'requests', 'aiohttp') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(("library", "module"), CLIENTS)
def test_an_integration_without_its_library_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, library: str, module: str
) -> None:
    monkeypatch.setitem(sys.modules, library, None)  # what an import of a missing one does
    monkeypatch.delitem(sys.modules, f"headless_discovery.integrations.{module}", raising=False)
    with pytest.raises(
        ConfigurationError, match=rf"needs {library}.*pip install 'headless-discovery\[{module}\]'"
    ):
        importlib.import_module(f"headless_discovery.integrations.{module}")
