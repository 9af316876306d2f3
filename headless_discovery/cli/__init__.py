"""The ``headless-discovery`` command line: ``name``, ``resolve``, ``pick``, ``mongo-uri``,
``watch``, ``doctor`` and ``demo``.

Every command is a function from parsed arguments to a :class:`~._common.Result` (a JSON
object, its text form and an exit status), except ``watch``, which streams. Library
exceptions become exit statuses in one place, :func:`~._app.main`; see ``docs/cli/``.
"""

from ._app import build_parser, main

__all__ = ["build_parser", "main"]
