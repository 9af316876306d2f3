"""Shared by every test module: nothing beyond the runtime dependencies and pytest.

The end-to-end harness (BIND, pod namespaces, MockupDB) is imported by the conftest files of
the tiers that use it (``integration/``, ``cli/``, ``harness/``), so that with only the
runtime dependencies installed ``pytest tests/unit`` collects and runs.
"""
