"""allowed_networks and the SRV domain rule: untrusted answers are screened."""

from __future__ import annotations

import logging

import pytest

from headless_discovery import (
    ConfigurationError,
    Discovery,
    RefreshPolicy,
    ServiceName,
    SrvRecord,
    StaticResolver,
    UntrustedAnswerError,
    mongo_uri,
    resolve,
)
from tests.support.resolvers import ScriptedResolver

SVC = ServiceName("db", "prod", "cluster.local")
POISONED = StaticResolver(
    {
        SVC.fqdn: ["10.244.0.5", "10.244.1.7", "203.0.113.66"],
        SVC.srv("mongodb"): [
            SrvRecord(SVC.pod("db-0"), 27017, addresses=("10.244.0.5",)),
            SrvRecord("evil.attacker.example", 27017, addresses=("10.244.9.9",)),
        ],
    }
)


def test_addresses_outside_the_pod_network_are_dropped_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="headless_discovery"):
        res = resolve(SVC, resolver=POISONED, allowed_networks=["10.244.0.0/16"])
    assert [ep.address for ep in res] == ["10.244.0.5", "10.244.1.7"]
    assert "203.0.113.66" in caplog.text
    assert "outside allowed_networks" in caplog.text
    assert len(resolve(SVC, resolver=POISONED)) == 3


def test_nothing_left_is_a_clear_error() -> None:
    with pytest.raises(UntrustedAnswerError, match=r"every endpoint of .* was dropped"):
        resolve(SVC, resolver=POISONED, allowed_networks=["192.168.0.0/16", "fd00::/8"])


def test_srv_targets_outside_the_services_domain_never_reach_the_uri() -> None:
    uri = mongo_uri(SVC, hosts="hostname", resolver=POISONED)
    assert "attacker" not in uri
    assert uri == f"mongodb://{SVC.pod('db-0')}:27017/"


def test_bad_networks_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="not a CIDR"):
        resolve(SVC, resolver=POISONED, allowed_networks=["10.244.0.1/16"])
    with pytest.raises(ConfigurationError, match="empty"):
        resolve(SVC, resolver=POISONED, allowed_networks=[])


def test_discovery_keeps_the_last_good_endpoints_when_an_answer_is_all_untrusted() -> None:
    resolver = ScriptedResolver(["10.244.0.5"])
    quiet = RefreshPolicy(min_interval=60, max_interval=60, backoff_base=60)
    with Discovery(
        SVC, resolver=resolver, refresh=quiet, allowed_networks=["10.244.0.0/16"]
    ) as pods:
        resolver.addresses = ["203.0.113.66"]
        with pytest.raises(UntrustedAnswerError, match=r"203\.0\.113\.66 outside allowed_networks"):
            pods.refresh()
        assert pods.pick().address == "10.244.0.5"
