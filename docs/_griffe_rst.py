"""A griffe extension that lets the reference render the package's reST-flavoured docstrings.

The docstrings are Google style, read by ``help()`` and IDEs as much as by this site, and use
three reST habits that Markdown does not know:

- roles, ``:class:`~headless_discovery.Resolution```: become cross-references to the public
  name (``headless_discovery.Resolution``) when it is documented, code otherwise;
- literal blocks after ``::``: become fenced code blocks (``pycon`` for ``>>>`` sessions);
- ``.. versionadded:: X``: becomes "Added in version X.";
- ``#:`` comments above a module attribute (``Family``, ``STRATEGY_NAMES``): become its
  docstring, as Sphinx reads them.

Loaded by mkdocstrings (``extensions`` in ``mkdocs.yml``); not part of the package.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|func|meth|attr|data|mod|exc|obj):`(~?)([^`]+)`")
_VERSIONADDED = re.compile(r"^(\s*)\.\. versionadded:: (\S+)\s*$", re.MULTILINE)
_PACKAGE = "headless_discovery"


class RestToMarkdown(griffe.Extension):
    """Rewrite the docstrings of the whole package once it is loaded."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        if pkg.name != _PACKAGE:
            return
        public = _public_paths(pkg)
        for obj in _walk(pkg):
            if obj.docstring is None and obj.is_attribute:
                comment = _comment_above(obj)
                if comment:
                    obj.docstring = griffe.Docstring(comment, parent=obj)
            if obj.docstring is not None:
                obj.docstring.value = _convert(obj.docstring.value, obj, public)


def _comment_above(obj: griffe.Object) -> str | None:
    """The ``#:`` comment lines right above ``obj``'s first line, without the markers."""
    if obj.lineno is None or not isinstance(obj.filepath, Path):
        return None
    try:
        lines = obj.lines_collection[obj.filepath]
    except KeyError:
        return None
    found: list[str] = []
    index = obj.lineno - 2
    while index >= 0 and lines[index].strip().startswith("#:"):
        found.insert(0, lines[index].strip()[2:].strip())
        index -= 1
    return "\n".join(found) or None


def _public_paths(pkg: griffe.Module) -> dict[str, str]:
    """Canonical path -> documented path, for every name in ``__all__``."""
    paths: dict[str, str] = {}
    for name in pkg.exports or ():
        member = pkg.members.get(str(name))
        if member is None:
            continue
        target = member.target_path if member.is_alias else member.path  # type: ignore[union-attr]
        paths[target] = f"{_PACKAGE}.{name}"
        paths[f"{_PACKAGE}.{name}"] = f"{_PACKAGE}.{name}"
    return paths


def _walk(obj: griffe.Object) -> list[griffe.Object]:
    found = [obj]
    for member in obj.members.values():
        if not member.is_alias:
            found.extend(_walk(member))  # type: ignore[arg-type]
    return found


def _public(path: str, public: dict[str, str]) -> str | None:
    """The documented path of ``path`` or of its member: ``...discovery.Discovery.pick``."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        prefix = ".".join(parts[:cut])
        if prefix in public:
            return ".".join([public[prefix], *parts[cut:]])
    return None


def _resolve(target: str, obj: griffe.Object, public: dict[str, str]) -> str | None:
    path: str | None = None
    if target.startswith(f"{_PACKAGE}."):
        path = target
    else:
        first, _, rest = target.partition(".")
        scope: griffe.Object | None = obj if obj.is_class or obj.is_module else obj.parent
        while scope is not None and path is None:
            try:
                found = scope.resolve(first)
            except griffe.NameResolutionError:
                scope = scope.parent
                continue
            path = f"{found}.{rest}" if rest else found
    if path is None:
        return None
    try:
        member = obj.modules_collection.get_member(path)
    except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None
    if member.is_attribute and member.docstring is None and member.parent is not None:
        # A dataclass field, described in its class's Attributes section: link the class.
        path = member.parent.path
    return _public(path, public)


def _roles(text: str, obj: griffe.Object, public: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        short, target = match.group(1) == "~", match.group(2)
        shown = target.rsplit(".", 1)[-1] if short else target
        path = _resolve(target, obj, public)
        return f"[`{shown}`][{path}]" if path else f"`{shown}`"

    return _ROLE.sub(replace, text)


def _literal_blocks(text: str) -> str:
    """``text::`` followed by an indented block: ``text:`` and a fenced block."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.rstrip().endswith("::"):
            out.append(line)
            i += 1
            continue
        indent = len(line) - len(line.lstrip())
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        block: list[str] = []
        while j < len(lines) and (
            not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > indent
        ):
            block.append(lines[j])
            j += 1
        while block and not block[-1].strip():
            block.pop()
        code = textwrap.dedent("\n".join(block))
        lang = "pycon" if code.lstrip().startswith(">>>") else "python"
        pad = " " * indent
        title = line.rstrip()[:-1]
        out.append(title if title.strip() != "Example:" else f"{pad}**Example:**")
        out.append("")
        out.append(f"{pad}```{lang}")
        out.extend(f"{pad}{c}" if c else "" for c in code.split("\n"))
        out.append(f"{pad}```")
        out.append("")
        i = j
    return "\n".join(out)


def _convert(text: str, obj: griffe.Object, public: dict[str, str]) -> str:
    text = _VERSIONADDED.sub(r"\1*Added in version \2.*", text)
    text = _literal_blocks(text)
    return _roles(text, obj, public)
