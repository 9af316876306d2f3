"""The exception tree: structured attributes survive pickling."""

from __future__ import annotations

import pickle

import pytest

from headless_discovery import (
    ConfigurationError,
    DiscoveryError,
    InvalidNameError,
    NoEndpointsError,
    ResolverTimeoutError,
    ResolverUnavailableError,
    ServiceNotFoundError,
    StaleEndpointsError,
    UntrustedAnswerError,
    WaitTimeoutError,
)

ERRORS = [
    InvalidNameError("Db_1", "bad character"),
    ConfigurationError("port out of range"),
    NoEndpointsError("none", name="a.b.", rdtype="A", nameserver="10.96.0.10:53"),
    ServiceNotFoundError("nx", name="a.b.", rdtype="A"),
    ResolverTimeoutError("slow", name="a.b.", rdtype="A", elapsed=5.0),
    ResolverUnavailableError("servfail", name="a.b.", rdtype="SRV"),
    StaleEndpointsError("old", name="a.b."),
    UntrustedAnswerError("dropped", name="a.b."),
    WaitTimeoutError("too few", name="a.b.", wanted=3, seen=1),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_errors_pickle_with_their_attributes(error: DiscoveryError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert vars(copy) == vars(error)
    assert isinstance(copy, DiscoveryError)


def test_timeouts_are_timeout_errors_and_names_are_value_errors() -> None:
    assert isinstance(ResolverTimeoutError("x"), TimeoutError)
    assert isinstance(WaitTimeoutError("x", name=None, wanted=1, seen=0), TimeoutError)
    assert isinstance(InvalidNameError("x", "y"), ValueError)
    assert issubclass(ServiceNotFoundError, NoEndpointsError)
