"""The code blocks of the pages, found by Sybil's Markdown lexer, and where each one runs.

A block runs where its reader would type it:

- ``python`` and ``pycon``: in a pod (the test harness's network namespace whose cluster DNS
  serves the demo zone), since the pages show code that runs in the cluster. A ``pycon``
  block is a doctest; a ``python`` statement followed by a comment that is a Python value
  (``svc.fqdn  # 'mongodb-headless-service...'``) must evaluate to that value.
- ``console``: each ``$ `` line on the reader's machine (no cluster DNS: only the zone file or
  a local nameserver), each ``root@dns-check:/# `` line in the pod; the lines up to the next
  prompt are the output, compared with ``...`` matching anything; ``[exit status N]`` is the
  exit status.
- A block titled with a file name (```` ```text title="kafka.zone" ````) is written to that
  file, in the directory where the console lines run.
- A block titled ``needs ...`` (```` ```console title="needs a cluster" ````) is shown to the
  reader with that title and does not run; ``tests/test_docs_run.py`` lists every one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sybil import Document
from sybil.parsers.markdown.lexers import FencedCodeBlockLexer

ROOT = Path(__file__).resolve().parent.parent.parent
PAGES = [
    ROOT / "README.md",
    ROOT / "examples" / "README.md",
    *sorted((ROOT / "docs").rglob("*.md")),
]
HOST_PROMPT = "$ "
POD_PROMPT = "root@dns-check:/# "
_LEXER = FencedCodeBlockLexer(
    language=r"[\w-]+(?: [^\n]*)?", mapping={"language": "info", "source": "source"}
)


@dataclass(frozen=True, slots=True)
class Block:
    """One fenced code block of a page."""

    page: Path
    line: int
    language: str
    title: str | None
    source: str

    @property
    def where(self) -> str:
        """``page:line``, for messages."""
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def needs(self) -> str | None:
        """What the block needs that the tests do not have (``needs a cluster``), if marked."""
        return self.title if self.title is not None and self.title.startswith("needs ") else None

    @property
    def file_name(self) -> str | None:
        """The file this block is the content of, when its title is a file name."""
        if self.title is None or self.needs or not re.fullmatch(r"[\w.-]+\.\w+", self.title):
            return None
        return self.title


def blocks(page: Path) -> list[Block]:
    """The fenced code blocks of ``page``, in page order."""
    text = page.read_text()
    found = []
    for region in _LEXER(Document(text, str(page))):
        info = str(region.lexemes["info"]).strip()
        language, _, attributes = info.partition(" ")
        title = re.search(r'title="([^"]*)"', attributes)
        found.append(
            Block(
                page=page,
                line=text.count("\n", 0, region.start) + 1,
                language=language,
                title=title.group(1) if title else None,
                source=str(region.lexemes["source"]),
            )
        )
    return found
