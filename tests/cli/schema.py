"""The documented JSON shapes of every command (docs/cli/*.md), and a small checker.

A shape is a Python literal: a ``dict`` lists every key (no more, no fewer), ``[shape]`` is a
list of that shape, a type is that JSON type, :class:`Nullable` allows ``null``,
:class:`OneOf` a fixed set of strings, :class:`MapOf` an object with any keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Nullable:
    inner: Any


@dataclass(frozen=True)
class OneOf:
    values: tuple[str, ...]


@dataclass(frozen=True)
class MapOf:
    value: Any


class Number:
    """An int or a float (not a bool)."""


def check(value: Any, shape: Any, path: str = "$") -> None:
    """Raise AssertionError, naming the JSON path, unless ``value`` has ``shape``."""
    if isinstance(shape, Nullable):
        if value is None:
            return
        shape = shape.inner
    if shape is Number:
        assert isinstance(value, (int, float)), (path, value)
        assert not isinstance(value, bool), (path, value)
    elif shape is int:
        assert isinstance(value, int), (path, value)
        assert not isinstance(value, bool), (path, value)
    elif isinstance(shape, type):
        assert isinstance(value, shape), (path, f"expected {shape.__name__}", value)
    elif isinstance(shape, OneOf):
        assert value in shape.values, (path, value)
    elif isinstance(shape, MapOf):
        assert isinstance(value, dict), (path, value)
        for key, item in value.items():
            assert isinstance(key, str), (path, key)
            check(item, shape.value, f"{path}.{key}")
    elif isinstance(shape, list):
        assert isinstance(value, list), (path, value)
        for index, item in enumerate(value):
            check(item, shape[0], f"{path}[{index}]")
    elif isinstance(shape, dict):
        assert isinstance(value, dict), (path, value)
        assert set(value) == set(shape), (path, sorted(set(value) ^ set(shape)))
        for key, inner in shape.items():
            check(value[key], inner, f"{path}.{key}")
    else:  # pragma: no cover - a mistake in a shape
        raise TypeError(f"unknown shape {shape!r}")


ENDPOINT = {
    "address": str,
    "port": Nullable(int),
    "hostname": Nullable(str),
    "priority": int,
    "weight": int,
}

NAME = {
    "service": str,
    "namespace": str,
    "namespace_source": str,
    "cluster_domain": str,
    "cluster_domain_source": str,
    "fqdn": str,
    "query_name": str,
    "short": str,
    "pod_pattern": str,
    "srv_pattern": str,
    "pods": MapOf(str),
    "srv": MapOf(str),
}

RESOLVE = {
    "name": str,
    "ttl": Nullable(Number),
    "nameserver": Nullable(str),
    "elapsed_ms": Number,
    "endpoints": [ENDPOINT],
}

PICK = {
    "name": str,
    "strategy": str,
    "key": Nullable(str),
    "picks": [ENDPOINT],
    "endpoints": [ENDPOINT],
}

MONGO_URI = {
    "uri": str,
    "scheme": OneOf(("mongodb", "mongodb+srv")),
    "hosts": [str],
    "replica_set": Nullable(str),
    "password_masked": bool,
    "warnings": [str],
}

WATCH_EVENT = {
    "time": str,
    "event": OneOf(("initial", "added", "removed")),
    "endpoint": ENDPOINT,
    "total": int,
}

WATCH_STATS = {
    "time": str,
    "event": OneOf(("stats",)),
    "endpoints": int,
    "refreshes": {"changed": int, "unchanged": int, "empty": int, "failed": int},
    "age": Nullable(Number),
    "last_error": Nullable({"type": str, "message": str}),
    "failures": int,
    "staleness": Number,
    "ejected": [ENDPOINT],
}

DOCTOR = {
    "service": str,
    "ok": bool,
    "checks": [
        {
            "id": str,
            "title": str,
            "verdict": OneOf(("ok", "warn", "fail", "skip")),
            "detail": str,
            "advice": Nullable(str),
            "docs": str,
        }
    ],
}

ERROR = {
    "error": {
        "type": str,
        "message": str,
        "exit_code": int,
        "name": Nullable(str),
        "nameserver": Nullable(str),
    }
}

DEMO = {
    "zone": str,
    "steps": [{"argv": [str], "exit_code": int, "output": dict}],
}
