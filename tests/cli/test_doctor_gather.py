"""The I/O half of doctor: gather() asks the resolver protocols, and only them (no DNS server)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from headless_discovery import (
    AddressAnswer,
    Family,
    NoEndpointsError,
    PodEnvironment,
    ResolverTimeoutError,
    ResolverUnavailableError,
    ServiceName,
    ServiceNotFoundError,
    SrvAnswer,
    StaticResolver,
)
from headless_discovery.doctor import Observations, UdpProbe, diagnose, gather
from headless_discovery.endpoints import TxtAnswer
from headless_discovery.resolvers._base import TxtResolver, UdpProbing
from tests.harness.cluster import Cluster

from .conftest import Cli, write_zone

SVC = ServiceName("mongodb", "db", "cluster.local")
ADDRESSES: Mapping[str, tuple[str, ...]] = {SVC.query_name: ("10.244.0.10", "10.244.0.11")}


class Plain:
    """A resolver of the user's own: addresses and SRV, no TXT, no UDP probe."""

    def __init__(self, addresses: Mapping[str, tuple[str, ...]]) -> None:
        self.addresses = addresses

    def resolve_addresses(self, name: str, *, family: Family = "any") -> AddressAnswer:
        if name not in self.addresses:
            raise ServiceNotFoundError(f"{name} does not exist", name=name, rdtype="A/AAAA")
        return AddressAnswer(name, self.addresses[name], 5.0, "plain")

    def resolve_srv(self, name: str, *, family: Family = "any") -> SrvAnswer:
        raise NoEndpointsError(f"{name} has no SRV records", name=name, rdtype="SRV")


class Capable(Plain):
    """With both optional capabilities; records what doctor asked for."""

    def __init__(
        self,
        addresses: Mapping[str, tuple[str, ...]],
        txt: TxtAnswer | Exception,
        probe: UdpProbe | Exception,
    ) -> None:
        super().__init__(addresses)
        self.txt = txt
        self.probe = probe
        self.asked: list[tuple[str, str]] = []

    def resolve_txt(self, name: str) -> TxtAnswer:
        self.asked.append(("TXT", name))
        if isinstance(self.txt, Exception):
            raise self.txt
        return self.txt

    def probe_udp(self, name: str) -> UdpProbe:
        self.asked.append(("UDP", name))
        if isinstance(self.probe, Exception):
            raise self.probe
        return self.probe


def observe(resolver: object, **options: object) -> Observations:
    return gather(
        SVC,
        resolver=resolver,  # type: ignore[arg-type]
        environment=PodEnvironment(),
        namespace_source="--namespace",
        cluster_domain_source="--cluster-domain",
        source="a resolver of your own",
        **options,  # type: ignore[arg-type]
    )


def test_a_resolver_without_the_capabilities_gives_no_txt_and_no_udp_observation() -> None:
    plain = Plain(ADDRESSES)
    assert not isinstance(plain, TxtResolver)
    assert not isinstance(plain, UdpProbing)
    obs = observe(plain, mongo=True)
    assert (obs.txt, obs.udp) == (None, None)
    verdicts = {f.id: (f.verdict, f.detail) for f in diagnose(obs).findings}
    assert verdicts["udp-truncation"] == ("skip", "no nameserver involved (a resolver of your own)")
    assert verdicts["mongodb-srv-txt"] == (
        "skip",
        "TXT records cannot be looked up in a resolver of your own",
    )
    assert verdicts["service-resolves"][0] == "ok"


def test_txt_and_the_udp_probe_go_through_the_resolver() -> None:
    resolver = Capable(
        ADDRESSES,
        TxtAnswer(SVC.query_name, ("replicaSet=rs0",), 5.0, "10.96.0.10:53"),
        UdpProbe("10.96.0.10:53", truncated=True, records=1),
    )
    obs = observe(resolver, mongo=True)
    assert resolver.asked == [("UDP", SVC.query_name), ("TXT", SVC.query_name)]
    assert obs.txt == ("replicaSet=rs0",)
    assert obs.udp == UdpProbe("10.96.0.10:53", truncated=True, records=1)
    # Without --mongo no TXT lookup is made.
    resolver.asked.clear()
    assert observe(resolver).txt is None
    assert resolver.asked == [("UDP", SVC.query_name)]


def test_no_udp_probe_when_the_name_does_not_resolve() -> None:
    resolver = Capable({}, NoEndpointsError("no TXT"), UdpProbe("x:53", False, 0))
    obs = observe(resolver, mongo=True)
    assert isinstance(obs.addresses, ServiceNotFoundError)
    assert obs.udp is None
    assert resolver.asked == [("TXT", SVC.query_name)]


def test_errors_of_the_backend_reach_the_findings_unchanged() -> None:
    timeout = ResolverTimeoutError(
        f"no answer for {SVC.query_name} TXT from 10.96.0.10:53 in 2.0 s",
        name=SVC.query_name,
        rdtype="TXT",
        nameserver="10.96.0.10:53",
        elapsed=2.0,
    )
    refused = ResolverUnavailableError("UDP query refused", nameserver="10.96.0.10:53")
    obs = observe(Capable(ADDRESSES, timeout, refused), mongo=True)
    assert obs.txt is timeout
    assert obs.udp is refused
    assert (timeout.elapsed, timeout.nameserver) == (2.0, "10.96.0.10:53")
    found = {f.id: f for f in diagnose(obs).findings}
    assert found["mongodb-srv-txt"].verdict == "warn"
    assert found["mongodb-srv-txt"].detail == (
        f"the TXT lookup failed: {timeout}; pymongo fails the same way"
    )
    assert found["udp-truncation"].detail == "the UDP probe failed: UDP query refused"


def test_nodata_for_txt_is_no_txt_record() -> None:
    nodata = NoEndpointsError("no TXT records", name=SVC.query_name, rdtype="TXT")
    obs = observe(Capable(ADDRESSES, nodata, UdpProbe("x:53", False, 2)), mongo=True)
    found = {f.id: f for f in diagnose(obs).findings}
    assert found["mongodb-srv-txt"].verdict == "ok"
    assert found["mongodb-srv-txt"].detail.startswith("no TXT record")


def zone_with_txt(path: Path, *txt: str) -> Path:
    cluster = Cluster()
    cluster.statefulset("mongodb", "db", 2)
    cluster.service("mongodb", "db").txt.extend(txt)
    return write_zone(path, cluster)


def test_a_zone_files_txt_comes_through_static_resolver(tmp_path: Path) -> None:
    zone = zone_with_txt(tmp_path / "z.zone", "replicaSet=rs0")
    obs = observe(StaticResolver.from_zone_file(zone), mongo=True)
    assert obs.txt == ("replicaSet=rs0",)
    assert obs.udp is None  # a zone file has no nameserver to probe


def test_zone_file_is_deprecated_but_still_read_for_txt(tmp_path: Path) -> None:
    zone = zone_with_txt(tmp_path / "z.zone", "replicaSet=rs0")
    resolver = Plain({SVC.query_name: ("10.244.0.10",)})
    with pytest.warns(DeprecationWarning, match=r"gather\(zone_file=\.\.\.\) is deprecated") as w:
        obs = observe(resolver, mongo=True, zone_file=zone)
    assert w[0].filename == __file__
    assert obs.txt == ("replicaSet=rs0",)
    with pytest.warns(DeprecationWarning, match="pass the zone file's StaticResolver"):
        broken = observe(resolver, mongo=True, zone_file=tmp_path / "missing.zone")
    assert isinstance(broken.txt, Exception)
    assert str(broken.txt).startswith(f"cannot read zone file {tmp_path / 'missing.zone'}")


def test_doctor_mongo_on_a_zone_file_reads_its_txt_record(cli: Cli, tmp_path: Path) -> None:
    zone = str(zone_with_txt(tmp_path / "z.zone", "replicaSet=rs1&authSource=admin"))
    argv = ("doctor", f"{SVC}.", "--mongo", "--zone-file", zone, "--json")
    found = {c["id"]: c for c in cli(*argv, "--replica-set", "rs0").check(6).json()["checks"]}
    assert found["mongodb-srv-txt"]["verdict"] == "ok"
    assert found["mongodb-srv-txt"]["detail"] == (
        "one TXT record 'replicaSet=rs1&authSource=admin': the driver adds these options "
        "(the URI overrides them)"
    )
    assert found["mongodb-replica-set"]["verdict"] == "fail"
    assert found["udp-truncation"]["verdict"] == "skip"
    ok = {c["id"]: c for c in cli(*argv, "--replica-set", "rs1").check(0).json()["checks"]}
    assert ok["mongodb-replica-set"]["detail"] == "the TXT record and --replica-set agree: rs1"


def test_doctor_mongo_on_a_zone_file_with_two_txt_records_fails(cli: Cli, tmp_path: Path) -> None:
    zone = str(zone_with_txt(tmp_path / "z.zone", "replicaSet=rs0", "authSource=admin"))
    run = cli("doctor", f"{SVC}.", "--mongo", "--zone-file", zone).check(6)
    assert "[FAIL] mongodb+srv: TXT record  [mongodb-srv-txt]" in run.out
    assert "2 TXT records: " in run.out
