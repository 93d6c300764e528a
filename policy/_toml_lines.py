"""Best-effort line numbers for key paths in TOML source text.

``tomllib`` reports positions only for syntax errors. When a document parses
but fails validation, the loaders here want to say *where* the offending key
is, so this module scans the source text line by line, tracks the current
table header (including ``[[array]]`` tables and their indices) and records the
line on which every header and ``key = value`` starts.

It is deliberately a heuristic: it does not understand multi-line strings or
arrays, and it may return the line of an enclosing table instead of the exact
key. It never raises on odd input; at worst it returns None. Nothing here
decides anything: it only decorates error messages.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

PathPart = str | int
"""One step of a key path: a table key, or an index into an array."""

_ATOM = r"""(?:[A-Za-z0-9_-]+|"[^"\\\n]*"|'[^'\n]*')"""
_KEYS = rf"{_ATOM}(?:\s*\.\s*{_ATOM})*"
_AOT_HEADER = re.compile(rf"\s*\[\[\s*({_KEYS})\s*\]\]")
_HEADER = re.compile(rf"\s*\[\s*({_KEYS})\s*\]")
_KEY_LINE = re.compile(rf"\s*({_KEYS})\s*=")
_ATOM_RE = re.compile(_ATOM)


def format_path(path: Sequence[PathPart]) -> str:
    """Render a key path as ``venues.binance.classes[2]`` or ``case[0].intent``.

    Args:
        path: table keys (str) and array indices (int), outermost first.

    Returns:
        The dotted form used in every error message; ``<document>`` when empty.
    """
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "<document>"


def _split_keys(keys: str) -> list[str]:
    return [atom.strip("\"'") for atom in _ATOM_RE.findall(keys)]


def _index_lines(text: str) -> list[tuple[tuple[PathPart, ...], int]]:
    """Every (resolved key path, 1-based line) a header or key assignment starts."""
    entries: list[tuple[tuple[PathPart, ...], int]] = []
    aot_counts: dict[tuple[PathPart, ...], int] = {}
    current: tuple[PathPart, ...] = ()

    def resolve(parts: Sequence[str]) -> tuple[PathPart, ...]:
        # A plain key under an array of tables refers to its last element.
        out: list[PathPart] = []
        for part in parts:
            out.append(part)
            if tuple(out) in aot_counts:
                out.append(aot_counts[tuple(out)])
        return tuple(out)

    for number, line in enumerate(text.split("\n"), start=1):
        if match := _AOT_HEADER.match(line):
            parts = _split_keys(match.group(1))
            base = (*resolve(parts[:-1]), parts[-1])
            aot_counts[base] = aot_counts.get(base, -1) + 1
            current = (*base, aot_counts[base])
            entries.append((current, number))
        elif match := _HEADER.match(line):
            current = resolve(_split_keys(match.group(1)))
            entries.append((current, number))
        elif match := _KEY_LINE.match(line):
            entries.append(((*current, *_split_keys(match.group(1))), number))
    return entries


def find_line(text: str, path: Sequence[PathPart]) -> int | None:
    """The line where ``path`` is defined (or first implied, as ``[a.b.c]`` implies
    ``a.b``), else where its nearest enclosing table is.

    Args:
        text: the TOML source the path was found in.
        path: key path as produced by the validators.

    Returns:
        A 1-based line number, or None when nothing in the text matches.
    """
    target = tuple(path)
    best: tuple[int, int] | None = None  # (matched length, line)
    implied: int | None = None  # first line defining a key under target ([a.b.c] implies a.b)
    for entry, number in _index_lines(text):
        if entry == target:
            return number
        is_prefix = len(entry) < len(target) and target[: len(entry)] == entry
        if is_prefix and (best is None or len(entry) > best[0]):
            best = (len(entry), number)
        if implied is None and len(entry) > len(target) and entry[: len(target)] == target:
            implied = number
    if implied is not None:
        return implied
    return None if best is None else best[1]
