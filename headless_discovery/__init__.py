"""Find the pods behind a Kubernetes headless Service through DNS.

Resolve a Service to its pods' endpoints, choose one with a pluggable strategy, or build a
MongoDB connection string that follows the replica set::

    from headless_discovery import mongo_uri

    uri = mongo_uri("mongodb-headless-service", namespace="infrastructure", replica_set="rs0")
"""

import importlib.metadata as _metadata

from .discovery import AsyncDiscovery, ChangeCallback, Discovery, DiscoveryOptions, StalePolicy
from .endpoints import AddressAnswer, Endpoint, Family, Resolution, SrvAnswer, SrvRecord
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
from .lookup import aresolve, mongo_uri, resolve, service_name
from .mongo import build_mongo_srv_uri, build_mongo_uri, mask_password
from .names import KubernetesName, ServiceName, parse_name
from .refresh import RefreshPolicy
from .resolvers import (
    AsyncDnsResolver,
    AsyncResolver,
    DnsResolver,
    Resolver,
    StaticResolver,
    SystemResolver,
)
from .strategies import (
    STRATEGY_NAMES,
    PickFirst,
    Random,
    RoundRobin,
    Strategy,
    strategy_from_name,
)

try:
    __version__ = _metadata.version("headless-discovery")
except _metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = [
    "STRATEGY_NAMES",
    "AddressAnswer",
    "AsyncDiscovery",
    "AsyncDnsResolver",
    "AsyncResolver",
    "ChangeCallback",
    "ConfigurationError",
    "Discovery",
    "DiscoveryError",
    "DiscoveryOptions",
    "DnsResolver",
    "Endpoint",
    "Family",
    "InvalidNameError",
    "KubernetesName",
    "NoEndpointsError",
    "PickFirst",
    "PodEnvironment",
    "Random",
    "RefreshPolicy",
    "Resolution",
    "ResolutionError",
    "Resolver",
    "ResolverTimeoutError",
    "ResolverUnavailableError",
    "RoundRobin",
    "ServiceName",
    "ServiceNotFoundError",
    "SrvAnswer",
    "SrvRecord",
    "StaleEndpointsError",
    "StalePolicy",
    "StaticResolver",
    "Strategy",
    "SystemResolver",
    "UntrustedAnswerError",
    "WaitTimeoutError",
    "__version__",
    "aresolve",
    "build_mongo_srv_uri",
    "build_mongo_uri",
    "mask_password",
    "mongo_uri",
    "parse_name",
    "resolve",
    "service_name",
    "strategy_from_name",
]
