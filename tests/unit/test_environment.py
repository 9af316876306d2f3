"""Detecting namespace, cluster domain and resolver options from files the test writes."""

from __future__ import annotations

from pathlib import Path

from headless_discovery import PodEnvironment, ServiceName

POD_RESOLV_CONF = """\
nameserver 10.96.0.10
search shop.svc.corp.internal svc.corp.internal corp.internal
options ndots:5 timeout:1
"""


def test_inside_a_pod(tmp_path: Path) -> None:
    resolv = tmp_path / "resolv.conf"
    resolv.write_text(POD_RESOLV_CONF)
    ns_file = tmp_path / "namespace"
    ns_file.write_text("payments\n")
    env = PodEnvironment.detect(resolv_conf=resolv, namespace_file=ns_file, environ={})
    assert env.in_pod
    assert env.namespace == "payments"
    assert env.namespace_source == str(ns_file)
    assert env.cluster_domain == "corp.internal"
    assert env.ndots == 5
    assert env.nameservers == ("10.96.0.10",)
    assert env.search[0] == "shop.svc.corp.internal"
    assert ServiceName("api", environment=env).fqdn == "api.payments.svc.corp.internal"


def test_pod_namespace_variable_wins(tmp_path: Path) -> None:
    resolv = tmp_path / "resolv.conf"
    resolv.write_text(POD_RESOLV_CONF)
    ns_file = tmp_path / "namespace"
    ns_file.write_text("payments")
    env = PodEnvironment.detect(
        resolv_conf=resolv, namespace_file=ns_file, environ={"POD_NAMESPACE": "Orders"}
    )
    assert (env.namespace, env.namespace_source) == ("orders", "POD_NAMESPACE")


def test_search_list_gives_the_namespace_last(tmp_path: Path) -> None:
    resolv = tmp_path / "resolv.conf"
    resolv.write_text(POD_RESOLV_CONF)
    env = PodEnvironment.detect(resolv_conf=resolv, namespace_file=tmp_path / "missing", environ={})
    assert (env.namespace, env.namespace_source) == ("shop", "resolv.conf search list")


def test_outside_a_pod(tmp_path: Path) -> None:
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 192.0.2.1\nsearch example.org\n")
    env = PodEnvironment.detect(resolv_conf=resolv, namespace_file=tmp_path / "x", environ={})
    assert not env.in_pod
    assert env.ndots == 1
    assert env.namespace_or_default == "default"
    assert env.cluster_domain_or_default == "cluster.local"


def test_missing_files_are_not_an_error(tmp_path: Path) -> None:
    env = PodEnvironment.detect(
        resolv_conf=tmp_path / "none", namespace_file=tmp_path / "none", environ={}
    )
    assert env == PodEnvironment()
