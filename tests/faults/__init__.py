"""Broken DNS: a misbehaving nameserver (:mod:`tests.faults.server`) and the fault matrix.

Every resolver, and long-lived discovery, must answer each fault with the documented result or
one of our exceptions, within the configured lifetime; see ``docs/reliability.md``.
"""
