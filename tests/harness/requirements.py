"""Skip or fail a test that needs something this machine lacks: root, BIND 9.

Locally a missing requirement skips the test with the command that provides it. In CI (the
``CI`` environment variable is set) it fails the test: tests that need a DNS server or a
network namespace must run there, never be skipped (house rule 11).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

__all__ = ["find_named", "require_named", "require_root"]

# Debian installs named in /usr/sbin, which is not on an ordinary user's PATH.
_NAMED_DEFAULT = Path("/usr/sbin/named")


def find_named() -> str | None:
    """The path of the ``named`` binary, or ``None`` when BIND 9 is not installed."""
    if _NAMED_DEFAULT.is_file() and os.access(_NAMED_DEFAULT, os.X_OK):
        return str(_NAMED_DEFAULT)
    return shutil.which("named")


def require_root() -> None:
    """Skip (locally) or fail (CI) the calling test unless it runs as root.

    Network namespaces, ``ip netns exec`` and port 53 need root.
    """
    if os.geteuid() != 0:
        _unavailable(
            "needs root (network namespaces): run as root, e.g. sudo nox -s tests",
            "needs root (network namespaces); CI must run as root",
        )


def require_named() -> str:
    """Skip (locally) or fail (CI) the calling test unless BIND 9 is installed.

    Returns:
        The path of ``named``.
    """
    named = find_named()
    if named is None:
        _unavailable(
            "needs BIND 9 (named): apt-get install bind9",
            "needs BIND 9 (named); CI must install it (apt-get install bind9, .ci/system-deps)",
        )
    return named


def _unavailable(local_reason: str, ci_reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(ci_reason, pytrace=False)
    pytest.skip(local_reason)
