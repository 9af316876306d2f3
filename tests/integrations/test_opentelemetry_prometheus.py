"""The real Prometheus exporter for OpenTelemetry, serving on loopback: what a Prometheus
server would scrape, fetched over HTTP and parsed with ``prometheus_client``'s own parser."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import pytest
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.parser import text_string_to_metric_families

from headless_discovery import (
    Discovery,
    OutlierEjection,
    RefreshPolicy,
    RoundRobin,
    StaticResolver,
    instrumentation,
)
from headless_discovery.integrations.opentelemetry import OpenTelemetryHook
from tests.support.resolvers import FakeClock, ScriptedResolver

ADDRESS = "api.shop.svc.cluster.local"
QUIET = RefreshPolicy(min_interval=600, max_interval=600, backoff_base=600, backoff_max=600)


@pytest.fixture
def scrape() -> Iterator[tuple[MeterProvider, str]]:
    """A MeterProvider exporting to Prometheus, and the URL of its scrape endpoint."""
    registry = CollectorRegistry()
    reader = PrometheusMetricReader(registry=registry)
    provider = MeterProvider(metric_readers=[reader])
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        yield provider, f"http://127.0.0.1:{server.server_port}/metrics"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
        provider.shutdown()


def test_every_family_is_scraped_with_its_labels(scrape: tuple[MeterProvider, str]) -> None:
    provider, url = scrape
    clock = FakeClock()
    hook = OpenTelemetryHook(provider, clock=clock)
    resolver = ScriptedResolver(["10.244.0.5", "10.244.1.7", "10.244.2.9"])
    strategy = OutlierEjection(RoundRobin(), consecutive_failures=1)
    remove = instrumentation.add_hook(hook)  # every discovery and strategy: ejections too
    try:
        with Discovery(
            ADDRESS, port=8080, resolver=resolver, refresh=QUIET, clock=clock, strategy=strategy
        ) as pods:
            pods.report_failure(pods.pick())
            resolver.fail = True
            clock.advance(12)
            with pytest.raises(TimeoutError, match="scripted timeout"):
                pods.refresh()
            clock.advance(3)
            with urllib.request.urlopen(url, timeout=10) as response:
                text = response.read().decode()
    finally:
        remove()
    families = {family.name: family for family in text_string_to_metric_families(text)}

    def samples(family: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        # The exporter adds the instrumentation scope (otel_scope_name, ...) to every sample.
        return {
            (
                sample.name,
                frozenset(k for k in sample.labels.items() if "otel_scope_" not in k[0]),
            ): (sample.value)
            for sample in families[family].samples
        }

    assert {
        sample.labels["otel_scope_name"]
        for name, family in families.items()
        if name != "target_info"
        for sample in family.samples
    } == {"headless_discovery"}
    assert {name: families[name].type for name in families if name != "target_info"} == {
        "dns_lookup_duration_seconds": "histogram",
        "headless_discovery_endpoints": "gauge",
        "headless_discovery_refreshes": "counter",
        "headless_discovery_endpoint_changes": "counter",
        "headless_discovery_staleness_seconds": "gauge",
        "headless_discovery_ejections": "counter",
    }
    service = ("server_address", ADDRESS)
    assert samples("headless_discovery_endpoints") == {
        ("headless_discovery_endpoints", frozenset({service})): 3.0
    }
    assert samples("headless_discovery_staleness_seconds") == {
        ("headless_discovery_staleness_seconds", frozenset({service})): 15.0
    }
    assert samples("headless_discovery_refreshes") == {
        ("headless_discovery_refreshes_total", frozenset({service, ("outcome", "changed")})): 1.0,
        ("headless_discovery_refreshes_total", frozenset({service, ("outcome", "failed")})): 1.0,
    }
    assert samples("headless_discovery_endpoint_changes") == {
        ("headless_discovery_endpoint_changes_total", frozenset({service, ("change", "added")})): (
            3.0
        )
    }
    assert samples("headless_discovery_ejections") == {
        ("headless_discovery_ejections_total", frozenset()): 1.0
    }
    lookups = samples("dns_lookup_duration_seconds")
    question = ("dns_question_name", ADDRESS)
    # One family, one label set: the exporter gives successful lookups an empty error_type.
    ok = frozenset({question, ("error_type", "")})
    failed = frozenset({question, ("error_type", "headless_discovery.errors.ResolverTimeoutError")})
    assert lookups[("dns_lookup_duration_seconds_count", ok)] == 1.0
    assert lookups[("dns_lookup_duration_seconds_count", failed)] == 1.0
    assert ("dns_lookup_duration_seconds_bucket", ok | {("le", "0.005")}) in lookups
    assert lookups[("dns_lookup_duration_seconds_bucket", failed | {("le", "+Inf")})] == 1.0


def test_retries_are_scraped_by_client(scrape: tuple[MeterProvider, str]) -> None:
    provider, url = scrape
    hook = OpenTelemetryHook(provider)
    resolver = StaticResolver({ADDRESS: ["10.244.0.5"]})
    with Discovery(ADDRESS, port=8080, resolver=resolver, hooks=[hook]) as pods:
        hook(instrumentation.RequestRetried(ADDRESS, pods.pick(), 1, OSError(), "aiohttp"))
    with urllib.request.urlopen(url, timeout=10) as response:
        families = {f.name: f for f in text_string_to_metric_families(response.read().decode())}
    (sample,) = families["headless_discovery_retries"].samples
    assert sample.name == "headless_discovery_retries_total"
    assert (sample.labels["server_address"], sample.labels["client"]) == (ADDRESS, "aiohttp")
    assert sample.value == 1.0
