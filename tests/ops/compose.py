"""Reading docker-compose.yaml the way Docker Compose does, without Docker.

YAML with merge keys (``<<: *anchor``), then variable interpolation as the Compose specification
defines it (``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?error}``,
``${VAR:+alternative}``, nested defaults, ``$$`` for a literal dollar), applied to values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BRACED = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])(.*))?\Z", re.S)


class InterpolationError(ValueError):
    """A ``${VAR?message}`` whose variable is unset, or a malformed ``${...}``."""


@dataclass
class Interpolator:
    """Expands variables from ``env``; records the names used without a value or default."""

    env: Mapping[str, str]
    unset: set[str] = field(default_factory=set)
    used: set[str] = field(default_factory=set)

    def text(self, text: str) -> str:
        out, i = [], 0
        while i < len(text):
            if text[i] != "$":
                out.append(text[i])
                i += 1
            elif text.startswith("$$", i):
                out.append("$")
                i += 2
            elif text.startswith("${", i):
                end = _closing_brace(text, i + 2)
                out.append(self._braced(text[i + 2 : end]))
                i = end + 1
            elif match := _NAME.match(text, i + 1):
                out.append(self._value(match.group()) or "")
                i = match.end()
            else:
                out.append("$")
                i += 1
        return "".join(out)

    def _value(self, name: str, default_given: bool = False) -> str | None:
        self.used.add(name)
        value = self.env.get(name)
        if value is None and not default_given:
            self.unset.add(name)
        return value

    def _braced(self, body: str) -> str:
        match = _BRACED.match(body)
        if not match:
            raise InterpolationError(f"invalid interpolation ${{{body}}}")
        name, op, arg = match.groups()
        value = self._value(name, default_given=op is not None)
        if op is None:
            return value or ""
        empty_counts = op.startswith(":")  # ":-" treats an empty value like an unset one
        present = value is not None and (value != "" or not empty_counts)
        kind = op[-1]
        if kind == "-":
            return value if present else self.text(arg)
        if kind == "+":
            return self.text(arg) if present else ""
        if not present:
            raise InterpolationError(f"{name}: {self.text(arg) or 'required'}")
        return value

    def tree(self, node: Any) -> Any:
        """Interpolate every string value (not keys) of a parsed YAML tree."""
        if isinstance(node, str):
            return self.text(node)
        if isinstance(node, dict):
            return {key: self.tree(value) for key, value in node.items()}
        if isinstance(node, list):
            return [self.tree(value) for value in node]
        return node


def _closing_brace(text: str, start: int) -> int:
    depth = 1
    for i in range(start, len(text)):
        if text.startswith("${", i):
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    raise InterpolationError(f"unclosed ${{ in {text!r}")


def load_raw(path: Path) -> dict[str, Any]:
    """The YAML document with merge keys resolved, before interpolation."""
    return yaml.safe_load(path.read_text())


def load(path: Path, env: Mapping[str, str] | None = None) -> tuple[dict[str, Any], Interpolator]:
    """The interpolated document (with ``env``, default: no variables set) and the interpolator."""
    interpolator = Interpolator(env or {})
    return interpolator.tree(load_raw(path)), interpolator


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's environment as a dict, whether written as a mapping or a list of ``K=V``."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def volume_mounts(service: Mapping[str, Any]) -> dict[str, str]:
    """Container path -> source (host path or volume name) of a service's volumes."""
    mounts = {}
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            mounts[volume["target"]] = volume.get("source", "")
        else:
            source, target = volume.split(":")[:2]
            mounts[target] = source
    return mounts
