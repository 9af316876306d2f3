"""Run the blocks of one page, in page order, as their reader would (see ``blocks``).

``python -m tests.docs.run PAGE pod`` runs the Python blocks and the pod's console lines, in
one namespace, inside the pod; ``run_page(page, "host")`` runs the console lines of the
reader's machine. Both report the first failure of the page, or none.
"""

from __future__ import annotations

import ast
import asyncio
import doctest
import inspect
import io
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import tokenize
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .blocks import HOST_PROMPT, POD_PROMPT, ROOT, Block, blocks

#: Printed before the JSON report of a run in the pod.
REPORT = "docs-run-report: "
_CHECKER = doctest.OutputChecker()
_FLAGS = doctest.ELLIPSIS
# What varies from run to run in the CLI's output: the time a lookup took.
_TIMINGS = [
    (re.compile(r"\b\d+(\.\d+)? ms\b"), "N ms"),
    (re.compile(r'"elapsed_ms": [\d.]+'), '"elapsed_ms": N'),
    (re.compile(r"after \d+\.\d+ s\b"), "after N s"),
]
# A comment that shows a value, as opposed to one that explains.
_SHOWN_VALUE = re.compile(r"""#\s*((['"\[({]|-?\d|True\b|False\b|None\b).*)$""")


class BlockFailed(Exception):
    """A block did not do what its page says."""


def matches(want: str, got: str) -> bool:
    """Whether output ``got`` is what the page shows as ``want`` (``...``: anything)."""
    for pattern, repl in _TIMINGS:
        want, got = pattern.sub(repl, want), pattern.sub(repl, got)
    want = "\n".join(line.rstrip() for line in want.strip("\n").splitlines()) + "\n"
    got = "\n".join(line.rstrip() for line in got.strip("\n").splitlines()) + "\n"
    return _CHECKER.check_output(want, got, _FLAGS)


# -- Python ------------------------------------------------------------------------------------


def _shown_values(source: str) -> dict[int, str]:
    """Line number -> the value a comment on that line shows."""
    shown = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            match = _SHOWN_VALUE.match(token.string)
            if match:
                shown[token.start[0]] = match.group(1).strip()
    return shown


def _with_checks(source: str) -> ast.Module:
    """The block, with a check after each statement whose value a comment shows.

    The comment is on the statement's last line or alone on the next line; an expression is
    checked, or the one name an assignment binds.
    """
    tree = ast.parse(source)
    shown = _shown_values(source)
    lines = source.splitlines()
    body: list[ast.stmt] = []
    for stmt in tree.body:
        body.append(stmt)
        end = stmt.end_lineno or stmt.lineno
        want = shown.get(end)
        if want is None and end < len(lines) and lines[end].lstrip().startswith("#"):
            want = shown.get(end + 1)
        if want is None:
            continue
        if isinstance(stmt, ast.Expr):
            body[-1] = ast.Assign([ast.Name("__shown__", ast.Store())], stmt.value)
            value: ast.expr = ast.Name("__shown__", ast.Load())
        elif isinstance(stmt, ast.Assign) and [type(t) for t in stmt.targets] == [ast.Name]:
            value = ast.Name(stmt.targets[0].id, ast.Load())  # type: ignore[attr-defined]
        else:
            continue
        call = ast.Call(
            ast.Name("__check_shown__", ast.Load()),
            [value, ast.Constant(want), ast.Constant(stmt.lineno)],
            [],
        )
        body.append(ast.Expr(call))
    tree.body = body
    return ast.fix_missing_locations(tree)


def _check_shown(value: object, want: str, line: int) -> None:
    if not _CHECKER.check_output(want + "\n", repr(value) + "\n", _FLAGS):
        raise BlockFailed(f"line {line} of the block shows {want}, but the value is {value!r}")


class PythonSession:
    """One page's Python: a namespace and an event loop, shared by its blocks in order."""

    def __init__(self, page: Path) -> None:
        self.namespace: dict[str, Any] = {"__name__": "__main__", "__check_shown__": _check_shown}
        self.loop = asyncio.new_event_loop()
        self.page = page

    def run_python(self, block: Block) -> None:
        tree = _with_checks(block.source)
        code = compile(tree, block.where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        if code.co_flags & inspect.CO_COROUTINE:
            self.loop.run_until_complete(eval(code, self.namespace))
        else:
            exec(code, self.namespace)

    def run_pycon(self, block: Block) -> None:
        test = doctest.DocTestParser().get_doctest(
            block.source, self.namespace, block.where, str(block.page), block.line
        )
        out = io.StringIO()
        runner = doctest.DocTestRunner(optionflags=_FLAGS)
        runner.run(test, out=out.write, clear_globs=False)
        if runner.failures:
            raise BlockFailed(out.getvalue())


# -- console -----------------------------------------------------------------------------------


def commands(block: Block, prompt: str) -> list[tuple[str, str, str]]:
    """The (command line, output shown, rest of the block) of each ``prompt`` line.

    The rest of the block is there for a command whose output is itself a console session
    (``demo`` prints the commands it runs, each with its output: they run too).
    """
    pairs: list[tuple[str, list[str]]] = []
    lines = block.source.splitlines()
    rests: list[str] = []
    for index, line in enumerate(lines):
        prompted = next((p for p in (HOST_PROMPT, POD_PROMPT) if line.startswith(p)), None)
        if prompted is not None:
            pairs.append((line[len(prompted) :] if prompted == prompt else "", []))
            rests.append("\n".join(lines[index + 1 :]))
        elif pairs:
            pairs[-1][1].append(line)
        else:
            raise BlockFailed(f"{block.where}: a console block starts with a prompt")
    return [
        (command, "\n".join(output), rest)
        for (command, output), rest in zip(pairs, rests, strict=True)
        if command
    ]


def _offline(words: list[str]) -> bool:
    """Whether a command of the CLI asks no DNS server but a local one (or none at all)."""
    if words[1:2] in (["name"], ["demo"]) or "--help" in words or "--zone-file" in words:
        return True
    if words[1:2] == ["mongo-uri"] and "--srv" in words:  # the driver looks it up, not we
        return True
    server = words[words.index("--nameserver") + 1] if "--nameserver" in words else ""
    return server.startswith("127.")


def argv_of(command: str, prompt: str = POD_PROMPT) -> tuple[dict[str, str], list[str]]:
    """Environment assignments and argv of one command line, as run here.

    On the reader's machine (``prompt`` is :data:`HOST_PROMPT`) a command may ask only a
    nameserver on loopback: this machine's own resolv.conf is no cluster's.

    Raises:
        BlockFailed: The command needs something the tests do not have: mark the block.
    """
    words = shlex.split(command, comments=True)
    env = {}
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    if words[:1] == ["headless-discovery"]:
        if prompt == HOST_PROMPT and not _offline(words):
            raise BlockFailed(
                "this asks cluster DNS, which is only in a pod: use the prompt "
                f"{POD_PROMPT!r}, or --zone-file, or --nameserver 127.0.0.1:PORT"
            )
        return env, [sys.executable, "-m", "headless_discovery", *words[1:]]
    if words[:1] == ["python"]:
        return env, [sys.executable, *words[1:]]
    raise BlockFailed(
        f"cannot run {words[:1]} here: give the block a title saying what it needs "
        '(```console title="needs a cluster")'
    )


def run_console(block: Block, prompt: str, cwd: Path, extra_env: dict[str, str]) -> None:
    for command, shown, rest in commands(block, prompt):
        env, argv = argv_of(command, prompt)
        status = re.search(r"^\[exit status (\d+)\]\s*\Z", shown, re.M)
        want_code = int(status.group(1)) if status else 0
        output = shown[: status.start()] if status else shown
        result = subprocess.run(
            argv,
            cwd=cwd,
            # This checkout's package, whatever the working directory.
            env={**os.environ, "PYTHONPATH": str(ROOT), **extra_env, **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        got = result.stdout + result.stderr
        problems = []
        if result.returncode != want_code:
            problems.append(f"exit status {result.returncode}, the page says {want_code}")
        if output.strip() and not (matches(output, got) or matches(rest, got)):
            problems.append(f"the page shows:\n{output}\nit printed:\n{got}")
        if problems:
            raise BlockFailed(f"$ {command}\n" + "\n".join(problems))


# -- a page ------------------------------------------------------------------------------------


def _workdir() -> Path:
    """Where console lines run: a fresh directory with the repository's examples in it."""
    cwd = Path(tempfile.mkdtemp(prefix="hd-docs-"))
    (cwd / "examples").symlink_to(ROOT / "examples")
    return cwd


def run_page(page: Path, where: str, extra_env: dict[str, str] | None = None) -> list[str]:
    """Run what ``where`` (``host`` or ``pod``) runs of ``page``; the failures, at most one.

    Each item names the block (``page:line``) and says what went wrong.
    """
    cwd = _workdir()
    session = PythonSession(page) if where == "pod" else None
    prompt = POD_PROMPT if where == "pod" else HOST_PROMPT
    steps: dict[str, Callable[[Block], None]] = {
        "console": lambda block: run_console(block, prompt, cwd, extra_env or {}),
    }
    if session is not None:
        steps.update(python=session.run_python, pycon=session.run_pycon)
    for block in blocks(page):
        if block.title is not None and block.title.endswith(" (excerpt)"):
            # An excerpt of a file that runs in the tests: every line of it is in the file.
            text = (ROOT / block.title.removesuffix(" (excerpt)")).read_text()
            missing = [
                line
                for line in block.source.splitlines()
                if line.strip() not in {"", "..."} and line.split("  #")[0].rstrip() not in text
            ]
            if missing and where == "host":
                return [f"{block.where}: not in {block.title}: {missing}"]
            continue
        if block.language in {"sh", "bash", "shell"} and block.needs is None:
            return [f"{block.where}: a {block.language} block does not run: make it console"]
        if block.file_name is not None:
            (cwd / block.file_name).write_text(block.source)
            continue
        if block.needs is not None or block.language not in steps:
            continue
        try:
            steps[block.language](block)
        except BlockFailed as exc:
            return [f"{block.where}: {exc}"]
        except BaseException:
            return [f"{block.where}:\n{traceback.format_exc(limit=-3)}"]
    return []


def main() -> None:
    page, where = Path(sys.argv[1]), sys.argv[2]
    failures = run_page(page, where)
    print(REPORT + json.dumps(failures), flush=True)
    # Discoveries and clients a page left open must not keep the process alive.
    os._exit(0)


if __name__ == "__main__":
    main()
