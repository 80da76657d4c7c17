"""The shell commands of README.md, read from its fenced ``bash`` blocks, so tests run them as written."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)
_SECTION = re.compile(r"^## (.+)$", re.M)


@dataclass(frozen=True)
class Command:
    """One command of README: its section and its words (comments removed)."""

    section: str
    argv: tuple[str, ...]

    def option(self, name: str) -> str:
        """The value after ``name`` (e.g. ``-c``)."""
        return self.argv[self.argv.index(name) + 1]


def commands(text: str | None = None) -> list[Command]:
    """Every command of every ``bash`` block, continuation lines and multi-line quotes joined."""
    text = README.read_text() if text is None else text
    sections = [(m.start(), m.group(1).strip()) for m in _SECTION.finditer(text)]
    out: list[Command] = []
    for block in _BLOCK.finditer(text):
        section = next((name for start, name in reversed(sections) if start < block.start()), "")
        pending = ""
        for line in block.group(1).splitlines():
            pending += line[:-1] + " " if line.endswith("\\") else line + "\n"
            if line.endswith("\\"):
                continue
            try:
                argv = shlex.split(pending, comments=True)
            except ValueError:  # a quote spans lines (a -c '{...}' over two lines)
                continue
            if argv:
                out.append(Command(section, tuple(argv)))
            pending = ""
    return out


def dags_tests(text: str | None = None) -> list[Command]:
    """README's ``airflow dags test ecom_nightly DATE ...`` commands."""
    return [c for c in commands(text) if c.argv[:4] == ("airflow", "dags", "test", "ecom_nightly")]
