"""The shell examples of README.md and docs/*.md, as the examples test reads them (issue 18).

Every fenced block whose language is `bash`, `sh`, `shell` or `console` is an example. Each one is
either run by `test_doc_examples.py` against a live `make run` server, or marked, on the line just
before its fence (blank lines allowed between), with why it cannot be:

    <!-- example: not-run: needs PostgreSQL and root (apt-get) -->

A run example's HTTP calls (curl) must answer 2xx, unless the marker names the statuses the
text promises: `<!-- example: status 422 -->` (several: `status 200 409`). In a `console` block only
the lines starting with `$ ` are commands (the rest is output).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHELL_LANGUAGES = frozenset({"bash", "sh", "shell", "console"})
MAKE_RUN_ADDRESS = "127.0.0.1:8002"  # what the docs say `make run` serves on

_FENCE = re.compile(r"^(?P<indent>\s*)```(?P<language>[\w+-]*)\s*$")
_MARKER = re.compile(r"^\s*<!--\s*example:\s*(?P<body>.*?)\s*-->\s*$")
_NOT_RUN = re.compile(r"^not-run:\s*(?P<reason>.*)$")
_STATUS = re.compile(r"^status((?:\s+\d{3})+)$")


@dataclass(frozen=True)
class Example:
    path: Path
    line: int  # of the opening fence, 1-based
    language: str
    text: str  # the commands, as written
    not_run: str | None  # the stated reason, when it is not run
    statuses: frozenset[int] | None  # the statuses its HTTP calls may answer; None: any 2xx

    @property
    def where(self) -> str:
        try:
            name = self.path.relative_to(ROOT)
        except ValueError:
            name = self.path
        return f"{name}:{self.line}"

    def commands(self, port: int) -> str:
        """The commands to run: the text with `make run`'s address rewritten to `port`'s."""
        text = self.text
        if self.language == "console":
            text = "\n".join(line[2:] for line in text.splitlines() if line.startswith("$ "))
        return text.replace(MAKE_RUN_ADDRESS, f"127.0.0.1:{port}")


class ExampleMarkupError(ValueError):
    """A marker that says nothing usable, or that no example follows."""


def examples_in(path: Path) -> list[Example]:
    """The shell examples of one markdown file, in order, with their markers."""
    lines = path.read_text().splitlines()
    examples: list[Example] = []
    marker: tuple[int, str] | None = None  # (line, body) of the last marker not yet used
    index = 0
    while index < len(lines):
        line = lines[index]
        found = _MARKER.match(line)
        if found:
            if marker is not None:
                raise ExampleMarkupError(f"{path}:{marker[0]}: example marker with no fence after it")
            marker = (index + 1, found.group("body"))
            index += 1
            continue
        fence = _FENCE.match(line)
        if not fence:
            if line.strip() and marker is not None:
                raise ExampleMarkupError(f"{path}:{marker[0]}: example marker not followed by a fenced block")
            index += 1
            continue
        start = index
        end = start + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        language = fence.group("language")
        if language in SHELL_LANGUAGES:
            indent = len(fence.group("indent"))
            text = "\n".join(body[indent:] for body in lines[start + 1 : end])
            not_run, statuses = _marker_meaning(path, marker)
            examples.append(Example(path, start + 1, language, text, not_run, statuses))
        elif marker is not None:
            raise ExampleMarkupError(f"{path}:{marker[0]}: example marker before a ```{language} block")
        marker = None
        index = end + 1
    if marker is not None:
        raise ExampleMarkupError(f"{path}:{marker[0]}: example marker with no fence after it")
    return examples


def _marker_meaning(path: Path, marker: tuple[int, str] | None) -> tuple[str | None, frozenset[int] | None]:
    if marker is None:
        return None, None
    line, body = marker
    not_run = _NOT_RUN.match(body)
    if not_run:
        reason = not_run.group("reason").strip()
        if len(reason) < 10:
            raise ExampleMarkupError(f"{path}:{line}: a not-run example must say why (got {reason!r})")
        return reason, None
    status = _STATUS.match(body)
    if status:
        return None, frozenset(int(code) for code in status.group(1).split())
    raise ExampleMarkupError(
        f"{path}:{line}: unknown example marker {body!r} (use 'not-run: <reason>' or 'status <code> ...')"
    )


def documents() -> list[Path]:
    """README.md and every page of docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
