"""Find the pods behind a Kubernetes headless Service through DNS.

Resolve a Service to its pods' endpoints, choose one with a pluggable strategy, or build a
MongoDB connection string that follows the replica set::

    from headless_discovery import mongo_uri

    uri = mongo_uri("mongodb-headless-service", namespace="infrastructure", replica_set="rs0")
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from . import instrumentation
from .discovery import AsyncDiscovery, ChangeCallback, Discovery, DiscoveryOptions, StalePolicy
from .endpoints import (
    AddressAnswer,
    Endpoint,
    Family,
    HostPort,
    Resolution,
    SrvAnswer,
    SrvRecord,
    TxtAnswer,
)
from .environment import PodEnvironment
from .errors import (
    ConfigurationError,
    DiscoveryError,
    InvalidNameError,
    NoEndpointsError,
    ResolutionError,
    ResolverTimeoutError,
    ResolverUnavailableError,
    ServiceNotFoundError,
    StaleEndpointsError,
    UntrustedAnswerError,
    WaitTimeoutError,
)
from .lookup import amongo_uri, aresolve, mongo_uri, resolve, service_name
from .mongo import (
    HostsFrom,
    MongoOptions,
    MongoUriParts,
    OptionValue,
    build_mongo_srv_uri,
    build_mongo_uri,
    mask_password,
)
from .names import KubernetesName, ServiceName, SrvProtocol, parse_name
from .plan import MongoUriArguments, ResolveOptions
from .pymongo_client import async_mongo_client, mongo_client
from .refresh import RefreshPolicy
from .resolvers import AsyncResolver, Resolver, StaticResolver, SystemResolver
from .resolvers._base import AsyncTxtResolver, TxtResolver
from .seeds import build_seed_list, seed_list
from .state import DiscoveryStats
from .strategies import (
    STRATEGY_NAMES,
    ConsistentHash,
    FailureTracking,
    InFlightTracking,
    LeastOutstanding,
    OutlierEjection,
    PickFirst,
    Preparing,
    PreparingInSlices,
    Random,
    RoundRobin,
    Strategy,
    Weighted,
    acquire,
    strategy_from_name,
)
from .trust import Network

if _TYPE_CHECKING:
    from .resolvers import AsyncDnsResolver, DnsResolver

    __version__: str


def __getattr__(name: str) -> object:
    # The DNS client is loaded with its first use (see headless_discovery.resolvers).
    if name in ("DnsResolver", "AsyncDnsResolver"):
        from . import resolvers

        value = getattr(resolvers, name)
        globals()[name] = value
        return value
    # __version__ is looked up on first use: importlib.metadata costs more at import time
    # than the rest of the package.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("headless-discovery")
        except PackageNotFoundError:  # a source tree that was never installed
            return "0.0.0"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "STRATEGY_NAMES",
    "AddressAnswer",
    "AsyncDiscovery",
    "AsyncDnsResolver",
    "AsyncResolver",
    "AsyncTxtResolver",
    "ChangeCallback",
    "ConfigurationError",
    "ConsistentHash",
    "Discovery",
    "DiscoveryError",
    "DiscoveryOptions",
    "DiscoveryStats",
    "DnsResolver",
    "Endpoint",
    "FailureTracking",
    "Family",
    "HostPort",
    "HostsFrom",
    "InFlightTracking",
    "InvalidNameError",
    "KubernetesName",
    "LeastOutstanding",
    "MongoOptions",
    "MongoUriArguments",
    "MongoUriParts",
    "Network",
    "NoEndpointsError",
    "OptionValue",
    "OutlierEjection",
    "PickFirst",
    "PodEnvironment",
    "Preparing",
    "PreparingInSlices",
    "Random",
    "RefreshPolicy",
    "Resolution",
    "ResolutionError",
    "ResolveOptions",
    "Resolver",
    "ResolverTimeoutError",
    "ResolverUnavailableError",
    "RoundRobin",
    "ServiceName",
    "ServiceNotFoundError",
    "SrvAnswer",
    "SrvProtocol",
    "SrvRecord",
    "StaleEndpointsError",
    "StalePolicy",
    "StaticResolver",
    "Strategy",
    "SystemResolver",
    "TxtAnswer",
    "TxtResolver",
    "UntrustedAnswerError",
    "WaitTimeoutError",
    "Weighted",
    "__version__",
    "acquire",
    "amongo_uri",
    "aresolve",
    "async_mongo_client",
    "build_mongo_srv_uri",
    "build_mongo_uri",
    "build_seed_list",
    "instrumentation",
    "mask_password",
    "mongo_client",
    "mongo_uri",
    "parse_name",
    "resolve",
    "seed_list",
    "service_name",
    "strategy_from_name",
]
