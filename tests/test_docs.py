"""The documentation site's sources: what `nox -s docs` cannot see, checked on every test run.

The strict site build (`nox -s docs`) checks links, anchors and the API pages; these tests
check what it cannot: that every link `doctor` prints lands on a section, that every page is
in the navigation, and that the Python in the pages is Python.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.docs

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading, which the site uses too (pymdownx.slugs, lower case)."""
    text = re.sub(r"<[^>]+>|`", "", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.M | re.S)
    return {slug(h) for h in re.findall(r"^#{1,6} (.+?)\s*$", text, re.M)}


def doctor_anchors() -> set[str]:
    """Every section of the troubleshooting page that doctor links to."""
    found: set[str] = set()
    doctor = sorted((ROOT / "headless_discovery" / "doctor").glob("*.py"))
    for source in [*doctor, *sorted(DOCS.glob("cli/*.md"))]:
        text = source.read_text()
        # A check's own anchor in the table, and the more precise ones its verdicts give.
        found.update(re.findall(r'\banchor="([\w-]+)"', text))
        found.update(re.findall(r"troubleshooting\.md#([\w-]+)", text))
    return found


def test_every_doctor_link_lands_on_a_troubleshooting_section() -> None:
    linked = doctor_anchors()
    assert len(linked) >= 10, (
        "the anchors in the doctor package are no longer found: update this test"
    )
    missing = linked - anchors(DOCS / "explanation" / "troubleshooting.md")
    assert not missing, f"sections missing from troubleshooting.md: {sorted(missing)}"


def test_slugs_are_githubs() -> None:
    assert slug("Where am I?") == "where-am-i"
    assert slug("MongoDB SRV: TLS default") == "mongodb-srv-tls-default"
    assert slug("Errors with `--json`") == "errors-with---json"


class _Loader(yaml.SafeLoader):
    """mkdocs.yml uses !!python/name tags; the navigation needs none of them."""


_Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)


def nav_pages(entries: list[Any]) -> list[str]:
    pages: list[str] = []
    for entry in entries:
        values = entry.values() if isinstance(entry, dict) else [entry]
        for value in values:
            if isinstance(value, list):
                pages.extend(nav_pages(value))
            else:
                pages.append(value)
    return pages


def test_every_page_is_in_the_navigation_once() -> None:
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=_Loader)
    pages = nav_pages(config["nav"])
    assert len(pages) == len(set(pages))
    assert set(pages) == {str(page.relative_to(DOCS)) for page in PAGES}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_python_in_the_pages_compiles(page: Path) -> None:
    for block in re.findall(r"^```python\n(.*?)^```", page.read_text(), re.M | re.S):
        # Snippets may await at top level, as in an asyncio REPL.
        compile(block, str(page), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
