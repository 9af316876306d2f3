"""The layers of docs/explanation/architecture.md, kept true: which module may import which.

Pure modules (values, rules and the sans-I/O cores) take data and return data: they import no
socket, asyncio or dnspython, and none of the package's I/O modules. The drivers may import
the cores, never the other way round; only the command line sits on top of everything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "headless_discovery"

#: The layers, bottom up; a module may import from its own layer and the ones below.
LAYERS: dict[str, int] = {
    # 0: values and rules
    "errors": 0,
    "environment": 0,
    "names": 0,
    "endpoints": 0,
    "mongo": 0,
    "refresh": 0,
    "trust": 0,
    "instrumentation": 0,
    "resolvers._base": 0,
    "resolvers._messages": 0,
    "resolvers._wire": 0,
    # 1: sans-I/O cores
    "plan": 1,
    "state": 1,
    "strategies": 1,
    "resolvers._dnscore": 1,
    "doctor._observations": 1,
    "doctor._checks": 1,
    # 2: drivers and backends (I/O at the edge)
    "resolvers._dnsclient": 2,
    "resolvers._system": 2,
    "resolvers._static": 2,
    "resolvers": 2,
    "lookup": 2,
    "discovery": 2,
    "seeds": 2,
    "pymongo_client": 2,
    "doctor._gather": 2,
    "doctor": 2,
    # 3: applications and the clients' integrations
    "cli": 3,
    "integrations": 3,
    "__main__": 3,
}
PURE_LAYERS = (0, 1)
IO_LIBRARIES = frozenset({"socket", "asyncio", "dns", "selectors", "ssl"})


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer(module: str) -> int:
    for prefix in (module, *(module.rsplit(".", n)[0] for n in range(1, module.count(".") + 1))):
        if prefix in LAYERS:
            return LAYERS[prefix]
    raise AssertionError(f"{module} is in no layer: add it to LAYERS and to the page")


def _imports(path: Path) -> tuple[set[str], set[str]]:
    """The package modules and the outside libraries ``path`` imports."""
    own: set[str] = set()
    outside: set[str] = set()
    module = _module(path)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
            target = [*base, *([node.module] if node.module else [])]
            if node.module is None:  # from . import _wire, or from .. import __version__
                for alias in node.names:
                    name = [*target, alias.name]
                    where = PACKAGE.joinpath(*name)
                    is_module = where.is_dir() or where.with_suffix(".py").is_file()
                    own.add(".".join(name if is_module else target))
            else:
                own.add(".".join(target))
        elif isinstance(node, ast.ImportFrom) and node.module:
            outside.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            outside.update(alias.name.split(".")[0] for alias in node.names)
    own.discard("")
    return own, outside


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module(p) or "__init__")
def test_a_module_imports_only_its_layer_and_below(path: Path) -> None:
    module = _module(path)
    if module == "":
        return  # the package itself re-exports everything
    own, outside = _imports(path)
    layer = _layer(module)
    above = sorted(m for m in own if m and _layer(m) > layer)
    assert not above, f"{module} (layer {layer}) imports {above} from a layer above"
    if layer in PURE_LAYERS:
        assert not outside & IO_LIBRARIES, f"{module} is pure but imports {outside & IO_LIBRARIES}"


def test_every_layer_is_on_the_page() -> None:
    page = (PACKAGE.parent / "docs" / "explanation" / "architecture.md").read_text()
    for module in LAYERS:
        is_package = (PACKAGE / module.replace(".", "/")).is_dir()
        shown = module.replace(".", "/") + ("/" if is_package else ".py")
        assert shown in page, f"{shown} is missing from the architecture page"


def test_an_integration_without_its_library_names_the_extra() -> None:
    from headless_discovery import ConfigurationError
    from headless_discovery.integrations import _require

    with pytest.raises(
        ConfigurationError, match=r"needs no_such_client_library, .*headless-discovery\[x\]'"
    ):
        _require("no_such_client_library", "x")
    assert _require("json", "x").__name__ == "json"
