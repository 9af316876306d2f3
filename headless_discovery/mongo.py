"""MongoDB connection strings from endpoints: pure building and checking, no I/O.

The strings follow the rules of pymongo's parser (``pymongo.uri_parser``) exactly:
credentials and option values are escaped with ``quote_plus`` (so a literal ``+`` survives
as ``%2B``), IPv6 hosts are bracketed, booleans are ``true``/``false``, and combinations
pymongo would refuse are refused here first, with a :class:`ConfigurationError` that never
contains the password.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal, TypedDict, Union
from urllib.parse import quote, quote_plus, unquote_plus

from .endpoints import Endpoint, HostPort, seed_entries
from .errors import ConfigurationError

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "HostsFrom",
    "MongoOptions",
    "MongoUriParts",
    "OptionValue",
    "build_mongo_srv_uri",
    "build_mongo_uri",
    "mask_password",
]

#: Seed a URI with pod IP addresses or with per-pod DNS names.
HostsFrom = Literal["ip", "hostname"]
#: What an option value may be; a sequence repeats the option (``readPreferenceTags``).
OptionValue = Union[str, int, float, bool, Sequence[str]]

_OPTION_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")
# pymongo keeps the values of these two options as written and unescapes them only when it
# splits them into key:value pairs, as it does with the same value given as a MongoClient
# keyword: "SERVICE_NAME:a%2Fb" means {"SERVICE_NAME": "a/b"} either way. So the value goes
# into the URI with its meaning kept: % and + (which unescaping reads) stay, and so do the
# separators : and , and the readable / ? @; anything else is percent-escaped, which the
# unescaping undoes.
_RAW_OPTIONS = frozenset({"authmechanismproperties", "readpreferencetags"})
_RAW_SAFE = "%+:,/?@!$'()*[]~"
_BAD_DATABASE_CHARS = frozenset('/\\. "$\x00')


def _check_text(value: str, what: str) -> None:
    """Refuse text that cannot be written as UTF-8 (a lone surrogate, e.g. from a
    mis-decoded environment variable), naming the field and never the value: the error
    must not carry a password, not even in a chained ``UnicodeEncodeError``."""
    for index, char in enumerate(value):
        if "\ud800" <= char <= "\udfff":
            raise ConfigurationError(
                f"the {what} holds a lone surrogate at position {index}, which is not text "
                "UTF-8 can encode; check how it was read (environment, file encoding)"
            )


def _userinfo(username: str | None, password: str | None) -> str:
    if username is None:
        if password is not None:
            raise ConfigurationError("a password was given without a username")
        return ""
    if not isinstance(username, str) or not username:
        raise ConfigurationError("the username must be a non-empty string")
    _check_text(username, "username")
    if password is None:
        return quote_plus(username, safe="") + "@"
    if not isinstance(password, str):
        raise ConfigurationError("the password must be a string")
    _check_text(password, "password")
    return f"{quote_plus(username, safe='')}:{quote_plus(password, safe='')}@"


def _database(database: str | None) -> str:
    if database is None:
        return ""
    if not isinstance(database, str) or not database:
        raise ConfigurationError("the database name must be a non-empty string")
    _check_text(database, "database name")
    bad = sorted(_BAD_DATABASE_CHARS.intersection(database))
    if bad:
        raise ConfigurationError(
            f"the database name {database!r} contains {', '.join(map(repr, bad))}; "
            'MongoDB database names cannot hold / \\ . space " $ or NUL'
        )
    return quote_plus(database, safe="")


def _format_value(name: str, value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if not isinstance(value, str):
        raise ConfigurationError(f"the value of option {name!r} must be a string, number or bool")
    _check_text(value, f"value of option {name!r}")
    lower = name.lower()
    if lower in _RAW_OPTIONS:
        _check_pairs(name, value, tags=lower == "readpreferencetags")
        return quote(value, safe=_RAW_SAFE)
    return quote_plus(value, safe="")


def _check_pairs(name: str, value: str, *, tags: bool) -> None:
    """Refuse a value pymongo cannot split into ``key:value`` pairs, as pymongo splits it:
    tags after splitting, properties before (the whole value is unescaped first); an empty
    tag set (``""``) is allowed, an empty property value is not."""
    if tags and not value:
        return
    for pair in (value if tags else unquote_plus(value)).split(","):
        parts = pair.split(":") if tags else pair.partition(":")[::2]
        if len(parts) != 2 or not (tags or parts[1]):
            raise ConfigurationError(
                f"the value of option {name!r} must be key:value pairs separated by commas"
                + ("" if tags else ", each value non-empty")
            )


def _check_read_option(name: str, value: object) -> None:
    """Refuse a value pymongo would refuse of an option the checks read, or authSource=""."""
    lower = name.lower()
    if lower in ("directconnection", "loadbalanced") and not (
        isinstance(value, bool) or value in ("true", "false")
    ):
        raise ConfigurationError(
            f"the value of option {name!r} must be true or false (a bool or 'true'/'false')"
        )
    if lower == "authsource" and value == "":
        raise ConfigurationError("the value of option 'authSource' cannot be empty")
    if lower == "srvmaxhosts":
        limit = _limit(value)
        if limit is None or limit < 0:
            raise ConfigurationError(f"the value of option {name!r} must be a non-negative integer")


def _query(
    options: Mapping[str, OptionValue], *, n_hosts: int, srv: bool, check: bool = True
) -> str:
    seen: dict[str, str] = {}
    pairs: list[str] = []
    for name, value in options.items():
        if not isinstance(name, str) or not _OPTION_NAME.fullmatch(name):
            raise ConfigurationError(f"{name!r} is not a MongoDB URI option name")
        lower = name.lower()
        if lower in seen:
            raise ConfigurationError(f"option {name!r} is given twice (as {seen[lower]!r})")
        seen[lower] = name
        values: Sequence[str | int | float | bool] = (
            value if isinstance(value, (list, tuple)) else [value]  # type: ignore[list-item]
        )
        if len(values) > 1 and lower != "readpreferencetags":
            raise ConfigurationError(f"only readPreferenceTags may be repeated, not {name!r}")
        _check_read_option(name, value)
        pairs.extend(f"{name}={_format_value(name, v)}" for v in values)
    if check:
        _check_combinations({k: options[v] for k, v in seen.items()}, n_hosts=n_hosts, srv=srv)
    return "?" + "&".join(pairs) if pairs else ""


def _truthy(value: object) -> bool:
    return value is True or value == "true"


def _limit(value: object) -> int | None:
    """The number ``srvMaxHosts`` stands for, ``None`` when it is none (pymongo refuses it)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def _check_combinations(opts: Mapping[str, object], *, n_hosts: int, srv: bool) -> None:
    """Refuse what pymongo would refuse, before it does."""
    # srvMaxHosts=0 means "no limit": pymongo and the specification accept it anywhere.
    limited = _limit(opts.get("srvmaxhosts", 0)) != 0
    if not srv and (limited or "srvservicename" in opts):
        name = "srvMaxHosts" if limited else "srvServiceName"
        raise ConfigurationError(f"{name} is only allowed in mongodb+srv:// URIs")
    if limited and (opts.get("replicaset") or _truthy(opts.get("loadbalanced"))):
        raise ConfigurationError("srvMaxHosts cannot be combined with replicaSet or loadBalanced")
    if _truthy(opts.get("directconnection")) and (srv or n_hosts > 1):
        raise ConfigurationError(
            "directConnection=true needs exactly one host and no mongodb+srv://"
        )
    if _truthy(opts.get("loadbalanced")):
        if _truthy(opts.get("directconnection")):
            raise ConfigurationError("loadBalanced=true cannot be combined with directConnection")
        if n_hosts > 1:
            raise ConfigurationError("loadBalanced=true cannot be used with several hosts")
        if opts.get("replicaset"):
            raise ConfigurationError("loadBalanced=true cannot be combined with replicaSet")


def _merge_options(
    options: Mapping[str, OptionValue] | None, replica_set: str | None
) -> dict[str, OptionValue]:
    merged = dict(options or {})
    if replica_set is not None:
        if not isinstance(replica_set, str) or not replica_set:
            raise ConfigurationError("the replica set name must be a non-empty string")
        _check_text(replica_set, "replica set name")
        if any(k.lower() == "replicaset" for k in merged if isinstance(k, str)):
            raise ConfigurationError("replicaSet is given both as replica_set= and in options")
        merged["replicaSet"] = replica_set
    return merged


class MongoUriParts(TypedDict, total=False):
    """The keyword arguments that become a :class:`MongoOptions`: everything of a MongoDB
    URI but its hosts. Every builder and every ``mongo_uri`` function takes them.

    .. versionadded:: 0.1.0
    """

    replica_set: str | None
    username: str | None
    password: str | None
    database: str | None
    options: Mapping[str, OptionValue] | None


@dataclass(frozen=True, slots=True)
class MongoOptions:
    """Everything of a MongoDB URI but its hosts: replica set, credentials, database, options.

    One value shared by :func:`build_mongo_uri`, :func:`build_mongo_srv_uri`,
    :func:`~headless_discovery.mongo_uri`, :func:`~headless_discovery.amongo_uri` and the
    pymongo client helpers, which take the same fields as keyword arguments. It is checked
    when made, before any lookup, and its ``repr`` never shows the password.

    Attributes:
        replica_set: Adds ``replicaSet=<name>``.
        username: Escaped with ``quote_plus``.
        password: Escaped with ``quote_plus``; needs ``username``.
        database: The default/authentication database (the URI path).
        options: Further URI options, e.g. ``{"tls": True, "authSource": "admin"}``
            (kept as a read-only copy).

    Raises:
        ConfigurationError: A field pymongo would refuse, or text that is not valid
            Unicode; the message names the field, never the password.

    Example::

        >>> settings = MongoOptions(replica_set="rs0", options={"tls": True})
        >>> settings.seed_uri([Endpoint("10.244.0.5", 27017)])
        'mongodb://10.244.0.5:27017/?tls=true&replicaSet=rs0'

    .. versionadded:: 0.1.0
    """

    replica_set: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    database: str | None = None
    options: Mapping[str, OptionValue] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        if self.options is not None:
            if not isinstance(self.options, Mapping):
                raise ConfigurationError(
                    f"options must be a mapping of option names to values, not "
                    f"{type(self.options).__name__}"
                )
            object.__setattr__(self, "options", MappingProxyType(dict(self.options)))
        # Everything that does not depend on the hosts, checked once, up front.
        _userinfo(self.username, self.password)
        _database(self.database)
        _query(_merge_options(self.options, self.replica_set), n_hosts=0, srv=True, check=False)

    def with_default_option(self, name: str, value: OptionValue) -> MongoOptions:
        """A copy with option ``name`` set to ``value`` unless it is given already."""
        merged = dict(self.options or {})
        if not any(key.lower() == name.lower() for key in merged):
            merged[name] = value
        return MongoOptions(self.replica_set, self.username, self.password, self.database, merged)

    def _tail(self, n_hosts: int, *, srv: bool) -> str:
        merged = _merge_options(self.options, self.replica_set)
        return f"/{_database(self.database)}{_query(merged, n_hosts=n_hosts, srv=srv)}"

    def seed_uri(self, endpoints: Iterable[Endpoint | HostPort], *, hosts: HostsFrom = "ip") -> str:
        """A ``mongodb://`` URI listing ``endpoints`` (see :func:`build_mongo_uri`).

        Raises:
            ConfigurationError: No endpoints, an endpoint without a hostname for
                ``hosts="hostname"``, or options pymongo would refuse with these hosts.
        """
        entries = seed_entries(endpoints, hosts=hosts, what="a MongoDB seed list")
        userinfo = _userinfo(self.username, self.password)
        return f"mongodb://{userinfo}{','.join(entries)}{self._tail(len(entries), srv=False)}"

    def srv_uri(self, host: str) -> str:
        """A ``mongodb+srv://`` URI for ``host`` (see :func:`build_mongo_srv_uri`).

        Raises:
            ConfigurationError: ``host`` has a port or is an IP address, or options pymongo
                would refuse.
        """
        host = host.rstrip(".").lower() if isinstance(host, str) else host
        if not isinstance(host, str) or not re.fullmatch(r"[a-z0-9_.-]+", host) or "." not in host:
            raise ConfigurationError(
                f"mongodb+srv:// needs one DNS name with at least two labels, no port: {host!r}"
            )
        if re.fullmatch(r"[0-9.]+", host):
            raise ConfigurationError(
                f"mongodb+srv:// needs a DNS name, not an IP address: {host!r}"
            )
        userinfo = _userinfo(self.username, self.password)
        return f"mongodb+srv://{userinfo}{host}{self._tail(1, srv=True)}"


def build_mongo_uri(
    endpoints: Iterable[Endpoint | HostPort],
    *,
    hosts: HostsFrom = "ip",
    **parts: Unpack[MongoUriParts],
) -> str:
    """A ``mongodb://`` seed-list URI naming every endpoint. Pure: no I/O.

    Args:
        endpoints: The members to seed with, in the order they should appear: endpoints,
            or ``(host, port)`` pairs as pymongo's ``nodelist`` gives them; repeated hosts
            are listed once. An endpoint without a port is listed without one (MongoDB's
            default, 27017).
        hosts: ``"ip"`` lists addresses; ``"hostname"`` lists per-pod DNS names, which
            match the replica-set configuration and TLS certificates.
        replica_set: Adds ``replicaSet=<name>``.
        username: Escaped with ``quote_plus``.
        password: Escaped with ``quote_plus``; needs ``username``.
        database: The default/authentication database (the URI path).
        options: Further URI options, e.g. ``{"tls": True, "authSource": "admin"}``.

    Raises:
        ConfigurationError: No endpoints, something that is neither an endpoint nor a
            ``(host, port)`` pair, an endpoint without a hostname for
            ``hosts="hostname"``, or options pymongo would refuse.

    Example::

        >>> build_mongo_uri([Endpoint("10.244.0.5", 27017), Endpoint("10.244.1.7", 27017)],
        ...                 replica_set="rs0")
        'mongodb://10.244.0.5:27017,10.244.1.7:27017/?replicaSet=rs0'

    .. versionadded:: 0.1.0
    """
    if hosts not in ("ip", "hostname"):
        raise ConfigurationError(f"hosts must be 'ip' or 'hostname', not {hosts!r}")
    return MongoOptions(**parts).seed_uri(endpoints, hosts=hosts)


def build_mongo_srv_uri(host: str, **parts: Unpack[MongoUriParts]) -> str:
    """A ``mongodb+srv://`` URI for one DNS name; the driver looks up its SRV records.

    Remember that ``tls`` defaults to true for ``mongodb+srv``: a cluster without TLS needs
    ``options={"tls": False}``. A port name other than ``mongodb`` needs
    ``srvServiceName``.

    Args:
        host: A DNS name (not an IP address, no port), e.g. a Service FQDN.
        replica_set: Adds ``replicaSet=<name>``.
        username: Escaped with ``quote_plus``.
        password: Escaped with ``quote_plus``; needs ``username``.
        database: The default/authentication database (the URI path).
        options: Further URI options.

    Raises:
        ConfigurationError: ``host`` has a port or is an IP address, or options pymongo
            would refuse.

    .. versionadded:: 0.1.0
    """
    return MongoOptions(**parts).srv_uri(host)


def mask_password(uri: str) -> str:
    """``uri`` with the password (if any) replaced by ``****``, for logs and display.

    .. versionadded:: 0.1.0
    """
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return uri
    query = rest.find("?")
    end = len(rest) if query < 0 else query
    slash = rest.find("/", 0, end)
    netloc_end = end if slash < 0 else slash
    at = rest.rfind("@", 0, netloc_end)
    if at < 0 and ":" in rest[:netloc_end]:
        # "user:pass" cut short by an unescaped "/" or "?" in the password: pymongo refuses
        # such a URI, but its password must not show either. Masking too much of a
        # malformed URI is the lesser harm.
        at = rest.find("@")
    userinfo = rest[:at] if at >= 0 else ""
    if ":" not in userinfo:
        return uri
    return f"{scheme}://{userinfo.partition(':')[0]}:****@{rest[at + 1 :]}"
