"""Concurrency and resources: many threads against a Service that changes under them, and
nothing (threads, tasks, sockets, file descriptors) left behind by ``close()``.

``HD_STRESS_SECONDS`` sets how long the concurrency runs last (default 3 s; 10 s in the
dedicated nox session).
"""
