"""Missing root or BIND 9 skips a test locally and fails it in CI."""

from __future__ import annotations

import pytest

from tests.harness import requirements


@pytest.fixture
def not_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)


@pytest.fixture
def no_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(requirements, "find_named", lambda: None)


@pytest.mark.usefixtures("not_root")
def test_require_root_skips_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="sudo nox -s tests"):
        requirements.require_root()


@pytest.mark.usefixtures("not_root")
def test_require_root_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run as root"):
        requirements.require_root()


@pytest.mark.usefixtures("no_named")
def test_require_named_skips_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install bind9"):
        requirements.require_named()


@pytest.mark.usefixtures("no_named")
def test_require_named_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="CI must install it"):
        requirements.require_named()
