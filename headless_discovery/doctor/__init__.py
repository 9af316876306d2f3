"""Why discovery of a headless Service does not work: the checks behind ``doctor``.

Two halves, as in a sans-I/O protocol library:

- ``_gather`` [I/O]: :func:`gather` does every lookup, only through the resolver protocols
  (:class:`~headless_discovery.Resolver`, and the optional TXT and UDP-probe capabilities),
  and returns plain :class:`Observations`.
- ``_checks`` [pure]: the table :data:`CHECKS`, one :class:`Check` per row (id, title, docs
  anchor, and a small function from observations to a :class:`Judgement`);
  :func:`diagnose` runs the table and returns the :class:`Report` of :class:`Finding` values,
  each with a verdict, what was seen, what to do, and a link to the troubleshooting page.
- ``_observations`` [pure]: the value types between the two.

Tests feed :func:`diagnose` literal observations; the command line renders the
:class:`Report`.
"""

from ..resolvers._base import UdpProbe
from ._checks import (
    CHECKS,
    Check,
    Judgement,
    check_environment,
    check_libc,
    check_mongo_replica_set,
    check_mongo_seeding,
    check_mongo_targets,
    check_mongo_tls,
    check_mongo_txt,
    check_resolves,
    check_srv,
    check_udp,
    diagnose,
)
from ._gather import gather
from ._observations import (
    COMMON_PORT_NAMES,
    DOCS_PAGE,
    Finding,
    Observations,
    Outcome,
    Report,
    SrvOutcome,
    TxtOutcome,
    Verdict,
)

__all__ = [
    "CHECKS",
    "COMMON_PORT_NAMES",
    "DOCS_PAGE",
    "Check",
    "Finding",
    "Judgement",
    "Observations",
    "Outcome",
    "Report",
    "SrvOutcome",
    "TxtOutcome",
    "UdpProbe",
    "Verdict",
    "check_environment",
    "check_libc",
    "check_mongo_replica_set",
    "check_mongo_seeding",
    "check_mongo_targets",
    "check_mongo_tls",
    "check_mongo_txt",
    "check_resolves",
    "check_srv",
    "check_udp",
    "diagnose",
    "gather",
]
