"""End-to-end test harness: a cluster's DNS as data, a real BIND 9, "pod" namespaces, MockupDB.

Modules, from pure to I/O:

- :mod:`tests.harness.cluster`: the declarative model of what cluster DNS serves (no I/O).
- :mod:`tests.harness.bind`: a real ``named`` serving a model, updated live (RFC 2136).
- :mod:`tests.harness.netns`: network-namespace plumbing (``ip netns``, entering a namespace).
- :mod:`tests.harness.pod`: a network namespace set up like a pod, with its own cluster DNS.
- :mod:`tests.harness.mongo`: a MockupDB replica set, in-process or as a child process.
- :mod:`tests.harness.fixtures`: pytest fixtures built from the above.

See ``tests/README.md`` for how to write an end-to-end test with them.
"""
