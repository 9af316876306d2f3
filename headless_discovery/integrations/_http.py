"""What the HTTP integrations decide, shared by httpx, requests and aiohttp. No I/O.

Which requests go to the pods, whether a failed attempt is retried and on which pod, which
status codes count as failures, what the error says when there is no pod to pick, and which
pods left (their idle connections are closed). No sockets, no client library: the modules
:mod:`~headless_discovery.integrations.httpx`, :mod:`~headless_discovery.integrations.requests`
and :mod:`~headless_discovery.integrations.aiohttp` translate their client's exceptions into
a :data:`Failure` kind, ask a :class:`Balancer`, and do the I/O, the sync and async drivers
side by side.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Literal

from ..endpoints import Endpoint
from ..errors import ConfigurationError, DiscoveryError
from ..instrumentation import RequestRetried, _emit
from ..names import ServiceName
from ..strategies import FailureTracking, InFlightTracking, Strategy
from ..strategies._base import tracks_in_flight

if TYPE_CHECKING:
    from ..discovery import AsyncDiscovery, Discovery

__all__ = [
    "IDEMPOTENT_METHODS",
    "Attempts",
    "Balancer",
    "Failure",
    "InFlight",
    "Release",
    "Router",
    "Sending",
    "check_retries",
    "check_statuses",
    "nothing_to_pick",
]

#: RFC 9110 section 9.2.2: a repeated request has the same effect as one.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})

#: How an attempt failed: ``"connect"``, nothing of the request left the client (connection
#: refused, connect timeout); ``"sent"``, the connection broke or timed out after the request
#: may have reached the pod; ``"status"``, the pod answered with one of ``failure_statuses``.
Failure = Literal["connect", "sent", "status"]

# A strategy that keeps choosing pods already tried (random, two random choices) is asked
# this many times per endpoint before the first untried pod in snapshot order is taken.
_PICKS_PER_ENDPOINT = 2


class Router:
    """The host names whose requests go to the pods.

    Args:
        service: The discovery's Service; its :attr:`~ServiceName.aliases` are routed.
        name: The DNS name followed (absolute); routed alone when ``service`` is ``None``
            (a discovery made with ``dns_name=``).
    """

    __slots__ = ("names",)

    def __init__(self, service: ServiceName | None, name: str) -> None:
        self.names = service.aliases if service is not None else frozenset({name.rstrip(".")})

    def routes(self, host: str) -> bool:
        """Whether a request for ``host`` (any case, trailing dot or not) goes to a pod."""
        # The exact spelling is the common case: one set lookup, no new string.
        return host in self.names or host.rstrip(".").lower() in self.names


def check_retries(retries: int) -> int:
    """``retries`` if it is a whole number of at least 0.

    Raises:
        ConfigurationError: It is not.
    """
    if type(retries) is not int or retries < 0:
        raise ConfigurationError(f"retries must be an int of at least 0, not {retries!r}")
    return retries


def check_statuses(statuses: Iterable[int]) -> frozenset[int]:
    """The status codes that count as failures, checked to be 100 to 599.

    Raises:
        ConfigurationError: One is not an HTTP status code.
    """
    checked = frozenset(statuses)
    for status in checked:
        if type(status) is not int or not 100 <= status <= 599:
            raise ConfigurationError(
                f"failure_statuses holds {status!r}, which is not an HTTP status code (100-599)"
            )
    return checked


def nothing_to_pick(error: DiscoveryError, endpoints: int, last_error: Exception | None) -> str:
    """The message of the client's connection error when discovery has no pod to give."""
    seen = f"{endpoints} endpoints" if endpoints else "no endpoints"
    lookup = "the last lookup succeeded" if last_error is None else f"last lookup: {last_error}"
    return f"no pod to connect to: {error} (discovery holds {seen}; {lookup})"


class Attempts:
    """The attempts of one request: which pods were tried and whether to try another.

    Args:
        method: The request's method (upper case).
        retries: How many times the request may be sent to another pod.
        replayable: Whether the body can be sent again (bytes, not a stream being read).
    """

    __slots__ = ("idempotent", "replayable", "retries", "tried")

    def __init__(self, method: str, retries: int, *, replayable: bool = True) -> None:
        self.idempotent = method in IDEMPOTENT_METHODS
        self.replayable = replayable
        self.retries = retries
        self.tried: list[Endpoint] = []

    @property
    def attempt(self) -> int:
        """The retry about to be made: 1 after the first failure."""
        return len(self.tried)

    def failed(self, endpoint: Endpoint, failure: Failure) -> bool:
        """Record that the attempt on ``endpoint`` failed; whether to retry elsewhere.

        A request that never left the client may always be retried; one that may have
        reached a pod only when its method is idempotent and its body can be sent again.
        """
        self.tried.append(endpoint)
        if len(self.tried) > self.retries:
            return False
        return failure == "connect" or (self.idempotent and self.replayable)

    def next_endpoint(
        self, pick: Callable[[], Endpoint], endpoints: Sequence[Endpoint]
    ) -> Endpoint | None:
        """A pod not tried yet for this request, chosen by ``pick`` (the strategy) when it
        offers one, else the first untried one of ``endpoints``; ``None`` when every pod was
        tried.

        Raises:
            DiscoveryError: As ``pick``: nothing can be picked now.
        """
        tried = self.tried
        untried = [endpoint for endpoint in endpoints if endpoint not in tried]
        if not untried:
            return None
        for _ in range(_PICKS_PER_ENDPOINT * len(endpoints)):
            endpoint = pick()
            if endpoint not in tried:
                return endpoint
        return untried[0]


class InFlight:
    """Counts a request as in flight to its pod, for strategies that balance on it
    (:class:`~headless_discovery.InFlightTracking`, e.g. ``least_outstanding``), from the
    attempt until the response is closed. For the others it does nothing and costs nothing.
    """

    __slots__ = ("_strategy",)

    def __init__(self, strategy: Strategy) -> None:
        self._strategy = strategy if tracks_in_flight(strategy) else None

    def hold(self, endpoint: Endpoint) -> Release | None:
        """Count one more request to ``endpoint``; the :class:`Release` ends it (``None``
        when the strategy does not count)."""
        strategy = self._strategy
        if strategy is None:
            return None
        strategy.begin(endpoint)
        return Release(strategy, endpoint)


class Release:
    """Ends one in-flight request; calling it again does nothing (a response is closed
    by the client and by the caller, a stream by its end and its close)."""

    __slots__ = ("_endpoint", "_strategy")

    def __init__(self, strategy: InFlightTracking, endpoint: Endpoint) -> None:
        self._strategy: InFlightTracking | None = strategy
        self._endpoint = endpoint

    def __call__(self) -> None:
        strategy, self._strategy = self._strategy, None
        if strategy is not None:
            strategy.end(self._endpoint)


class Balancer:
    """The decisions of one client integration over one discovery: routing, picking,
    outcomes, retries and the pods that left. Only picks, counters and events: no I/O.

    Args:
        discovery: The discovery whose pods get the requests.
        client: The integration's name in :class:`RequestRetried` events.
        retries: See :func:`check_retries`.
        failure_statuses: See :func:`check_statuses`.

    Raises:
        ConfigurationError: ``retries`` or ``failure_statuses`` out of range.
    """

    __slots__ = (
        "_removed",
        "_reports",
        "client",
        "discovery",
        "failure_statuses",
        "in_flight",
        "retries",
        "router",
        "unsubscribe",
    )

    def __init__(
        self,
        discovery: Discovery | AsyncDiscovery,
        client: str,
        *,
        retries: int = 1,
        failure_statuses: Iterable[int] = (),
    ) -> None:
        self.retries = check_retries(retries)
        self.failure_statuses = check_statuses(failure_statuses)
        self.discovery = discovery
        self.client = client
        self.router = Router(discovery.service, discovery.name)
        # The strategy's capabilities are looked up once: a runtime protocol check per
        # request would cost more than the pick.
        strategy = discovery._strategy
        self.in_flight = InFlight(strategy)
        self._reports = isinstance(strategy, FailureTracking)
        self._removed: frozenset[str] = frozenset()
        self.unsubscribe = discovery.subscribe(self._changed)

    def _changed(
        self, added: tuple[Endpoint, ...], removed: tuple[Endpoint, ...], snapshot: object
    ) -> None:
        # Runs on the refresher; the drivers close the connections on their own thread or
        # event loop, where their pools live. A pod that came back is no longer removed.
        if removed or added:
            back = {endpoint.address for endpoint in added}
            self._removed = (self._removed | {e.address for e in removed}) - back

    def take_removed(self) -> frozenset[str]:
        """The addresses of pods removed since the last call (usually empty)."""
        removed = self._removed
        if removed:
            self._removed = frozenset()
        return removed

    def sending(self, endpoint: Endpoint, method: str, *, replayable: bool) -> Sending:
        """The attempts of one request, the first on ``endpoint``."""
        return Sending(self, endpoint, method, replayable)

    def first(self) -> Endpoint:
        """The pod for a request's first attempt.

        Raises:
            DiscoveryError: Nothing to pick; :meth:`nothing_to_pick` says it in words.
        """
        return self.discovery.pick()

    def nothing_to_pick(self, error: DiscoveryError) -> str:
        """The message of the client's connection error for ``error`` from a pick."""
        discovery = self.discovery
        return nothing_to_pick(error, len(discovery.endpoints), discovery.last_error)

    def succeeded(self, endpoint: Endpoint) -> None:
        """The pod answered."""
        if self._reports:
            self.discovery.report_success(endpoint)

    def failed(
        self, attempts: Attempts, endpoint: Endpoint, failure: Failure, error: Exception
    ) -> Endpoint | None:
        """Report the failure; the pod to retry on, or ``None`` to give up."""
        discovery = self.discovery
        if self._reports:
            discovery.report_failure(endpoint)
        if not attempts.failed(endpoint, failure):
            return None
        try:
            retry = attempts.next_endpoint(discovery.pick, discovery.endpoints)
        except DiscoveryError:
            return None
        if retry is not None:
            event = RequestRetried(discovery.name, endpoint, attempts.attempt, error, self.client)
            _emit(event, discovery._hooks)
        return retry


class Sending:
    """One routed request through its attempts: the pod of the current attempt, its
    in-flight count, and what follows each outcome. The drivers send and close; this
    decides.

    Args:
        balancer: The integration's decisions.
        endpoint: The pod of the first attempt.
        method: The request's method (upper case).
        replayable: Whether the body can be sent again.
    """

    __slots__ = ("_attempts", "_balancer", "_method", "_replayable", "endpoint", "release")

    def __init__(
        self, balancer: Balancer, endpoint: Endpoint, method: str, replayable: bool
    ) -> None:
        self._balancer = balancer
        self._method = method
        self._replayable = replayable
        self._attempts: Attempts | None = None  # made on the first failure only
        self.endpoint = endpoint
        self.release: Release | None = None

    def begin(self) -> None:
        """An attempt on :attr:`endpoint` starts: count it in flight (when the strategy
        counts); :attr:`release` ends the count."""
        self.release = self._balancer.in_flight.hold(self.endpoint)

    def answered(self, status: int) -> bool:
        """The pod answered ``status``: whether that is one of ``failure_statuses`` (for
        :meth:`failed`); any other status is reported as a success."""
        balancer = self._balancer
        if status in balancer.failure_statuses:
            return True
        balancer.succeeded(self.endpoint)
        return False

    def failed(self, failure: Failure | None, error: Exception) -> bool:
        """The attempt failed (``failure`` ``None``: not the pod's doing); whether to send
        the request again, to the new :attr:`endpoint`.

        The in-flight count ends, except for a failure status that is not retried: that
        response goes to the caller and stays in flight until closed.
        """
        retry = None
        if failure is not None:
            balancer = self._balancer
            if self._attempts is None:
                self._attempts = Attempts(
                    self._method, balancer.retries, replayable=self._replayable
                )
            retry = balancer.failed(self._attempts, self.endpoint, failure, error)
        if (retry is not None or failure != "status") and self.release is not None:
            self.release()
        if retry is None:
            return False
        self.endpoint = retry
        return True
