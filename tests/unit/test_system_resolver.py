"""SystemResolver: getaddrinfo's answers and failures, translated at one boundary.

getaddrinfo is replaced by a fake here; tests/integration runs the real one in a pod.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest

from headless_discovery import (
    ConfigurationError,
    InvalidNameError,
    NoEndpointsError,
    ResolverUnavailableError,
    ServiceNotFoundError,
    SystemResolver,
)
from headless_discovery.resolvers import _system

NAME = "mongodb.db.svc.cluster.local."


def info(address: str) -> tuple[object, ...]:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return (family, socket.SOCK_STREAM, 6, "", (address, 0))


def answering(result: list[tuple[object, ...]] | BaseException) -> Callable[..., object]:
    def fake(*args: object, **kwargs: object) -> object:
        if isinstance(result, BaseException):
            raise result
        return result

    return fake


@pytest.fixture(params=["sync", "async"])
def lookup(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Callable[[list[tuple[object, ...]] | BaseException, str], object]:
    """Resolve NAME with getaddrinfo faked, through the sync or the async method."""

    def run(result: list[tuple[object, ...]] | BaseException, family: str = "any") -> object:
        fake = answering(result)
        monkeypatch.setattr(socket, "getaddrinfo", fake)
        resolver = SystemResolver()
        if request.param == "sync":
            return resolver.resolve_addresses(NAME, family=family)  # type: ignore[arg-type]

        async def main() -> object:
            loop = asyncio.get_running_loop()

            async def loop_getaddrinfo(*args: object, **kwargs: object) -> object:
                return fake(*args, **kwargs)

            monkeypatch.setattr(loop, "getaddrinfo", loop_getaddrinfo)
            return await resolver.aresolve_addresses(NAME, family=family)  # type: ignore[arg-type]

        return asyncio.run(main())

    return run


def test_addresses_are_distinct_in_answer_order_without_zones(
    lookup: Callable[..., object],
) -> None:
    answer = lookup([info("10.0.0.2"), info("10.0.0.1"), info("10.0.0.2"), info("fe80::1%eth0")])
    assert answer.addresses == ("10.0.0.2", "10.0.0.1", "fe80::1")  # type: ignore[attr-defined]
    assert (answer.ttl, answer.nameserver) == (None, "getaddrinfo")  # type: ignore[attr-defined]


def test_an_empty_answer_is_no_endpoints(lookup: Callable[..., object]) -> None:
    with pytest.raises(NoEndpointsError, match="no A/AAAA records") as info_:
        lookup([])
    assert (info_.value.name, info_.value.rdtype) == (NAME, "A/AAAA")


@pytest.mark.parametrize(
    ("error", "kind", "message"),
    [
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), ServiceNotFoundError,
         r"does not exist \(NXDOMAIN\) \(answered by getaddrinfo\)"),
        (socket.gaierror(_system._EAI_NODATA, "No address associated"), NoEndpointsError,
         "no A/AAAA records"),
        (socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"),
         ResolverUnavailableError,
         r"getaddrinfo\('mongodb\.db\.svc\.cluster\.local\.'\) failed after \d+\.\d\d s: "
         r"Temporary failure in name resolution; check the nameserver in /etc/resolv.conf"),
    ],
)  # fmt: skip
def test_gaierrors_become_ours_with_their_attributes(
    lookup: Callable[..., object], error: OSError, kind: type[Exception], message: str
) -> None:
    with pytest.raises(kind, match=message) as raised:
        lookup(error)
    assert type(raised.value) is kind
    assert (raised.value.name, raised.value.rdtype) == (NAME, "A/AAAA")  # type: ignore[attr-defined]
    assert raised.value.nameserver == "getaddrinfo"  # type: ignore[attr-defined]
    assert raised.value.__cause__ is error


def test_other_os_errors_are_the_resolver_unavailable(lookup: Callable[..., object]) -> None:
    error = OSError(24, "Too many open files")
    with pytest.raises(ResolverUnavailableError, match=r"failed: \[Errno 24\] Too many") as raised:
        lookup(error)
    assert (raised.value.name, raised.value.rdtype, raised.value.nameserver) == (
        NAME,
        "A/AAAA",
        None,
    )
    assert raised.value.__cause__ is error


def test_a_name_idna_cannot_encode_is_an_invalid_name(lookup: Callable[..., object]) -> None:
    error = UnicodeError("label too long")
    with pytest.raises(
        InvalidNameError, match=r"not a valid DNS name \(label too long\)"
    ) as raised:
        lookup(error)
    assert raised.value.name == NAME
    assert raised.value.__cause__ is error


def test_other_exceptions_pass_through_untouched(lookup: Callable[..., object]) -> None:
    with pytest.raises(KeyError, match="a bug"):
        lookup(KeyError("a bug"))


@pytest.mark.parametrize("family", ["IPv4", "inet", None])
def test_the_family_is_checked_by_the_one_check(
    lookup: Callable[..., object], family: object
) -> None:
    with pytest.raises(ConfigurationError, match=r"family must be 'any', 'ipv4' or 'ipv6', not"):
        lookup([info("10.0.0.1")], family)


@pytest.mark.parametrize("name", ["", "a\x00b", 42])
def test_names_that_are_no_names_are_refused_before_getaddrinfo(name: object) -> None:
    with pytest.raises(InvalidNameError, match="a DNS name must be a non-empty string"):
        SystemResolver().resolve_addresses(name)  # type: ignore[arg-type]


def test_sync_and_async_fail_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    error = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    monkeypatch.setattr(socket, "getaddrinfo", answering(error))
    with pytest.raises(ServiceNotFoundError, match=r"\(answered by getaddrinfo\)") as sync:
        SystemResolver().resolve_addresses(NAME)

    async def main() -> None:
        loop = asyncio.get_running_loop()

        async def failing(*args: object, **kwargs: object) -> object:
            raise error

        monkeypatch.setattr(loop, "getaddrinfo", failing)
        await SystemResolver().aresolve_addresses(NAME)

    with pytest.raises(ServiceNotFoundError, match=r"\(answered by getaddrinfo\)") as asynchronous:
        asyncio.run(main())
    assert str(sync.value) == str(asynchronous.value)
    assert vars(sync.value) == vars(asynchronous.value)


def test_resolve_asks_getaddrinfo_once_as_a_program_would(monkeypatch: pytest.MonkeyPatch) -> None:
    """resolve() adds no lookup of its own: one getaddrinfo call per resolve(), with the
    absolute name and the arguments of ``getaddrinfo(name, None, AF_UNSPEC, SOCK_STREAM)``,
    and it reads nothing of the pod for a complete name."""
    from headless_discovery import PodEnvironment, resolve

    calls: list[tuple[object, ...]] = []

    def fake(*args: object, **kwargs: object) -> object:
        calls.append((*args, *kwargs.items()))
        return [info("10.0.0.2"), info("10.0.0.1")]

    def no_detection(*args: object, **kwargs: object) -> PodEnvironment:
        raise AssertionError("a complete name must not read the pod's environment")

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    monkeypatch.setattr(PodEnvironment, "detect", no_detection)
    for _ in range(2):
        result = resolve(NAME, resolver=SystemResolver())
        assert [ep.address for ep in result] == ["10.0.0.1", "10.0.0.2"]
    expected = (NAME, None, socket.AF_UNSPEC, socket.SOCK_STREAM)
    assert calls == [expected, expected]
    resolve(NAME.rstrip("."), resolver=SystemResolver(), family="ipv6")
    assert calls[-1] == (NAME, None, socket.AF_INET6, socket.SOCK_STREAM)
