"""Discovery inside the clients applications already use.

Each module here is an optional integration with its own extra; ``import headless_discovery``
imports none of them, and importing one without its library raises a
:class:`~headless_discovery.ConfigurationError` that names the extra to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ..errors import ConfigurationError

__all__: list[str] = []


def _require(module: str, extra: str) -> ModuleType:
    """Import ``module`` for the integration of the extra ``extra``, or say how to get it.

    Raises:
        ConfigurationError: The module is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigurationError(
            f"this integration needs {module}, which is not installed: "
            f"pip install 'headless-discovery[{extra}]'"
        ) from exc
