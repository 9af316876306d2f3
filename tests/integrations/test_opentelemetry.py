"""OpenTelemetryHook with the real OpenTelemetry SDK and an in-memory reader: every instrument,
its attributes and its values after discovery followed a real BIND 9 through scaling, an outage
and ejections."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    Gauge,
    Histogram,
    HistogramDataPoint,
    InMemoryMetricReader,
    Sum,
)

from headless_discovery import (
    Discovery,
    DnsResolver,
    Endpoint,
    OutlierEjection,
    RefreshPolicy,
    ResolutionError,
    RoundRobin,
    ServiceName,
    ServiceNotFoundError,
    StaticResolver,
    instrumentation,
    resolve,
)
from headless_discovery.instrumentation import EndpointReturned, RequestRetried
from headless_discovery.integrations.opentelemetry import OpenTelemetryHook
from tests.harness.bind import BindServer
from tests.harness.cluster import Cluster, Service
from tests.harness.requirements import require_named
from tests.support.resolvers import FakeClock

SVC = ServiceName("api", "shop", "cluster.local")
ADDRESS = "api.shop.svc.cluster.local"  # server.address: the FQDN without the root's dot
# The refresher stays quiet: each test looks up with refresh(), so the counts are exact.
QUIET = RefreshPolicy(min_interval=600, max_interval=600, backoff_base=600, backoff_max=600)

Attributes = frozenset[tuple[str, object]]
SERVICE: Attributes = frozenset({("server.address", ADDRESS)})


def on_service(key: str, value: str) -> Attributes:
    return SERVICE | {(key, value)}


@dataclass
class Instrument:
    kind: str
    unit: str
    points: dict[Attributes, object] = field(default_factory=dict)


class Metrics:
    """A real SDK MeterProvider whose in-memory reader the test collects from."""

    def __init__(self) -> None:
        self.reader = InMemoryMetricReader()
        self.provider = MeterProvider(metric_readers=[self.reader])

    def collect(self) -> dict[str, Instrument]:
        """Instrument name -> kind, unit and points by attributes, as the SDK exports them
        now: a counter's or gauge's number, ``(count, sum)`` of a histogram."""
        found: dict[str, Instrument] = {}
        data = self.reader.get_metrics_data()
        assert data is not None
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                assert scope.scope.name == "headless_discovery"
                for metric in scope.metrics:
                    kinds = {Sum: "counter", Gauge: "gauge", Histogram: "histogram"}
                    instrument = Instrument(kinds[type(metric.data)], metric.unit or "")
                    if isinstance(metric.data, Sum):
                        assert metric.data.is_monotonic, metric.name
                    for point in metric.data.data_points:
                        key = frozenset((point.attributes or {}).items())
                        if isinstance(point, HistogramDataPoint):
                            instrument.points[key] = (point.count, point.sum)
                        else:
                            instrument.points[key] = point.value
                    found[metric.name] = instrument
        return found


@contextmanager
def installed(hook: OpenTelemetryHook) -> Iterator[None]:
    """The hook for every lookup of the process (one-shot ``resolve()`` too), then removed."""
    remove = instrumentation.add_hook(hook)
    try:
        yield
    finally:
        remove()


@pytest.fixture
def metrics() -> Iterator[Metrics]:
    sdk = Metrics()
    yield sdk
    sdk.provider.shutdown()


@pytest.fixture
def shop() -> tuple[Cluster, Service]:
    model = Cluster(ttl=2)
    api = model.statefulset("api", "shop", 3, ports={"http": 8080})
    return model, api


@pytest.fixture
def server(shop: tuple[Cluster, Service]) -> Iterator[BindServer]:
    require_named()
    with BindServer(shop[0]) as bind:
        yield bind


def dns(bind: BindServer) -> DnsResolver:
    return DnsResolver([bind.nameserver], bind.port, timeout=0.3, lifetime=0.6)


@pytest.mark.dns
def test_scaling_up_and_down_against_bind(
    metrics: Metrics, server: BindServer, shop: tuple[Cluster, Service]
) -> None:
    cluster, api = shop
    hook = OpenTelemetryHook(metrics.provider)
    with Discovery(
        SVC, port=8080, family="ipv4", resolver=dns(server), refresh=QUIET, hooks=[hook]
    ) as pods:
        assert metrics.collect()["headless_discovery.endpoints"].points == {SERVICE: 3}
        cluster.scale(api, 5)
        server.sync()
        pods.refresh()  # changed: 2 added
        pods.refresh()  # unchanged
        cluster.scale(api, 1)
        server.sync()
        pods.refresh()  # changed: 4 removed
        cluster.scale(api, 0)
        server.sync()
        pods.refresh()  # empty: NXDOMAIN, 1 removed
        stats = pods.stats()
    got = metrics.collect()
    assert got["headless_discovery.endpoints"].points == {SERVICE: 0}
    assert got["headless_discovery.refreshes"].points == {
        on_service("outcome", "changed"): 3,
        on_service("outcome", "unchanged"): 1,
        on_service("outcome", "empty"): 1,
    }
    assert got["headless_discovery.endpoint.changes"].points == {
        on_service("change", "added"): 5,
        on_service("change", "removed"): 5,
    }
    assert got["headless_discovery.staleness"].points == {SERVICE: 0.0}
    lookups = got["dns.lookup.duration"].points
    ok = frozenset({("dns.question.name", ADDRESS)})
    nxdomain = ok | {("error.type", "headless_discovery.errors.ServiceNotFoundError")}
    assert set(lookups) == {ok, nxdomain}
    count, total = lookups[ok]  # type: ignore[misc]
    assert count == 4
    assert 0 < total < 4 * 0.6
    assert lookups[nxdomain][0] == 1  # type: ignore[index]
    # What stats() counted is what the metrics say.
    assert (stats.refreshes_changed, stats.refreshes_unchanged, stats.refreshes_empty) == (3, 1, 1)
    assert "headless_discovery.ejections" not in got  # nothing recorded: no point yet


@pytest.mark.dns
def test_a_dns_outage_is_served_stale_and_measured(metrics: Metrics, server: BindServer) -> None:
    clock = FakeClock()
    hook = OpenTelemetryHook(metrics.provider, clock=clock)
    with Discovery(
        SVC,
        port=8080,
        family="ipv4",
        resolver=dns(server),
        refresh=QUIET,
        clock=clock,
        hooks=[hook],
    ) as pods:
        server.stop()
        clock.advance(10)
        with pytest.raises(ResolutionError, match=ADDRESS):
            pods.refresh()
        clock.advance(5)
        with pytest.raises(ResolutionError, match=ADDRESS):
            pods.refresh()
        error = type(pods.last_error)
        clock.advance(4)  # the gauge keeps counting between refreshes
        during = metrics.collect()
        assert pods.stats().staleness == 19.0
        server.start()
        clock.advance(1)
        pods.refresh()
        after = metrics.collect()
    assert during["headless_discovery.staleness"].points == {SERVICE: 19.0}
    assert during["headless_discovery.endpoints"].points == {SERVICE: 3}  # still served
    assert during["headless_discovery.refreshes"].points == {
        on_service("outcome", "changed"): 1,
        on_service("outcome", "failed"): 2,
    }
    failed = frozenset(
        {
            ("dns.question.name", ADDRESS),
            ("error.type", f"headless_discovery.errors.{error.__name__}"),
        }
    )
    assert during["dns.lookup.duration"].points[failed][0] == 2  # type: ignore[index]
    assert after["headless_discovery.staleness"].points == {SERVICE: 0.0}  # fresh again
    assert after["headless_discovery.refreshes"].points[on_service("outcome", "unchanged")] == 1


@pytest.mark.dns
def test_ejections_are_counted(metrics: Metrics, server: BindServer) -> None:
    clock = FakeClock()
    hook = OpenTelemetryHook(metrics.provider, clock=clock)
    # Ejections come from the strategy, which does not know the discovery's hooks.
    strategy = OutlierEjection(
        RoundRobin(), consecutive_failures=2, max_ejected_fraction=1.0, clock=clock, hooks=[hook]
    )
    with Discovery(
        SVC, port=8080, resolver=dns(server), refresh=QUIET, strategy=strategy, hooks=[hook]
    ) as pods:
        first, second = pods.endpoints[0], pods.endpoints[1]
        pods.pick()  # the share that may be ejected is of the pods picked from
        for bad in (first, first, second, second):
            pods.report_failure(bad)
        assert pods.stats().ejected == {first, second}
        clock.advance(31)
        pods.pick()  # the first pick after the ejections end brings both back
        assert pods.stats().ejected == frozenset()
    got = metrics.collect()
    ejections = got["headless_discovery.ejections"]
    assert (ejections.kind, ejections.unit, ejections.points) == (
        "counter",
        "{ejection}",
        {frozenset(): 2},
    )


def test_retries_by_client_and_service(metrics: Metrics) -> None:
    hook = OpenTelemetryHook(metrics.provider)
    pod = Endpoint("10.244.0.5", 8080)
    for client in ("httpx", "httpx", "grpc"):
        hook(RequestRetried(ADDRESS + ".", pod, 1, ConnectionError("refused"), client))
    hook(EndpointReturned(pod))  # nothing to record
    retries = metrics.collect()["headless_discovery.retries"]
    assert (retries.kind, retries.unit) == ("counter", "{retry}")
    assert retries.points == {on_service("client", "httpx"): 2, on_service("client", "grpc"): 1}


def test_every_instrument_has_its_kind_and_unit(metrics: Metrics) -> None:
    hook = OpenTelemetryHook(metrics.provider)
    resolver = StaticResolver({ADDRESS: ["10.244.0.5", "10.244.1.7"]})
    strategy = OutlierEjection(RoundRobin(), consecutive_failures=1, hooks=[hook])
    with Discovery(SVC, port=8080, resolver=resolver, strategy=strategy, hooks=[hook]) as pods:
        pods.report_failure(pods.pick())
    hook(RequestRetried(ADDRESS, pods.endpoints[0], 1, TimeoutError(), "requests"))
    got = {name: (i.kind, i.unit) for name, i in metrics.collect().items()}
    assert got == {
        "dns.lookup.duration": ("histogram", "s"),
        "headless_discovery.endpoints": ("gauge", "{endpoint}"),
        "headless_discovery.refreshes": ("counter", "{refresh}"),
        "headless_discovery.endpoint.changes": ("counter", "{endpoint}"),
        "headless_discovery.staleness": ("gauge", "s"),
        "headless_discovery.ejections": ("counter", "{ejection}"),
        "headless_discovery.retries": ("counter", "{retry}"),
    }


def test_the_lookup_histogram_uses_the_conventions_buckets(metrics: Metrics) -> None:
    with installed(OpenTelemetryHook(metrics.provider)):
        resolve(SVC, port=8080, resolver=StaticResolver({ADDRESS: ["10.244.0.5"]}))
    data = metrics.reader.get_metrics_data()
    assert data is not None
    (point,) = data.resource_metrics[0].scope_metrics[0].metrics[0].data.data_points
    assert isinstance(point, HistogramDataPoint)
    assert point.explicit_bounds == (
        0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
    )  # fmt: skip


def test_one_shot_lookups_through_add_hook_carry_the_error_type(metrics: Metrics) -> None:
    with (
        installed(OpenTelemetryHook(metrics.provider)),
        pytest.raises(ServiceNotFoundError, match=r"gone\.shop"),
    ):
        resolve("gone.shop", port=80, resolver=StaticResolver({}))
    assert metrics.collect()["dns.lookup.duration"].points.keys() == {
        frozenset(
            {
                ("dns.question.name", "gone.shop.svc.cluster.local"),
                ("error.type", "headless_discovery.errors.ServiceNotFoundError"),
            }
        )
    }


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_without_a_meter_provider_the_global_one_is_used() -> None:
    result = run(
        "from opentelemetry import metrics\n"
        "from opentelemetry.sdk.metrics import MeterProvider\n"
        "from opentelemetry.sdk.metrics.export import InMemoryMetricReader\n"
        "from headless_discovery import StaticResolver, instrumentation, resolve\n"
        "from headless_discovery.integrations.opentelemetry import OpenTelemetryHook\n"
        "reader = InMemoryMetricReader()\n"
        "metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))\n"
        "resolver = StaticResolver({'a.b.svc.cluster.local': ['10.0.0.1']})\n"
        "instrumentation.add_hook(OpenTelemetryHook())\n"
        "resolve('a.b', port=1, resolver=resolver)\n"
        "data = reader.get_metrics_data()\n"
        "print([m.name for m in data.resource_metrics[0].scope_metrics[0].metrics])\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['dns.lookup.duration']"


def test_the_api_alone_takes_every_event_and_loads_no_sdk() -> None:
    # No SDK configured: the API's meters do nothing. Events are replayed into the hook by
    # hand, since discovery would log and swallow what a hook raises.
    result = run(
        "import sys\n"
        "from headless_discovery import Discovery, Endpoint, StaticResolver\n"
        "from headless_discovery.instrumentation import EndpointEjected, RequestRetried\n"
        "from headless_discovery.integrations.opentelemetry import OpenTelemetryHook\n"
        "seen = []\n"
        "resolver = StaticResolver({'a.b.svc.cluster.local': ['10.0.0.1']})\n"
        "with Discovery('a.b', port=1, resolver=resolver, hooks=[seen.append]):\n"
        "    pass\n"
        "pod = Endpoint('10.0.0.1', 1)\n"
        "seen += [EndpointEjected(pod, 30.0), RequestRetried('a.b', pod, 1, OSError(), 'grpc')]\n"
        "hook = OpenTelemetryHook()\n"
        "for event in seen:\n"
        "    hook(event)\n"
        "print(len(seen), 'opentelemetry.sdk' in sys.modules)\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["5", "False"]


def test_without_opentelemetry_nothing_is_imported_and_the_error_names_the_extra() -> None:
    # opentelemetry made unimportable, as on a machine without the extra.
    result = run(
        "import sys\n"
        "sys.modules['opentelemetry'] = None\n"
        "import headless_discovery\n"
        "from headless_discovery import Discovery, StaticResolver\n"
        "resolver = StaticResolver({'a.b.svc.cluster.local': ['10.0.0.1']})\n"
        "with Discovery('a.b', port=1, resolver=resolver) as pods:\n"
        "    pods.pick()\n"
        "print(sorted(name for name, module in sys.modules.items() if module is not None "
        "and name.startswith(('opentelemetry', 'headless_discovery.integrations'))))\n"
        "try:\n"
        "    import headless_discovery.integrations.opentelemetry\n"
        "except headless_discovery.ConfigurationError as exc:\n"
        "    print(type(exc.__cause__).__name__, exc)\n"
    )
    assert result.returncode == 0, result.stderr
    loaded, error = result.stdout.splitlines()
    assert loaded == "[]"
    assert error == (
        "ModuleNotFoundError this integration needs opentelemetry.metrics, which is not "
        "installed: pip install 'headless-discovery[opentelemetry]'"
    )
