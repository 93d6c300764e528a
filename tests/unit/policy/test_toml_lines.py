"""The best-effort line finder behind every 'line N' in policy error messages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policy._toml_lines import PathPart, find_line, format_path

SOURCE = """# header
version = 1
[venues.binance]
enabled = true
classes = [
  "trade",
]
[venues . "kraken"]
modes = ['live']
[[case]]
name = "a"
[case.intent]
mode = "live"
[[case]]
name = "b"
[case.intent]
  venue = "okx"
[venues]
okx.enabled = false
"""


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (("version",), 2),
        (("venues", "binance"), 3),
        (("venues", "binance", "enabled"), 4),
        (("venues", "binance", "classes", 0), 5),  # multi-line array: the key's line
        (("venues", "kraken", "modes"), 9),
        (("venues", "kraken", "unknown"), 8),  # nearest enclosing table
        (("case", 0), 10),
        (("case", 1, "name"), 15),
        (("case", 1, "intent", "venue"), 17),
        (("case", 0, "intent", "mode"), 13),
        (("venues", "okx", "enabled"), 19),
        (("venues", "okx"), 19),  # implied by a dotted key or a deeper [a.b.c] header
        (("case", 1, "intent"), 16),
        (("nothing",), None),
    ],
)
def test_find_line(path: tuple[PathPart, ...], line: int | None) -> None:
    assert find_line(SOURCE, path) == line


def test_lines_count_only_newlines() -> None:
    # tomllib counts "\n" only; other Unicode line breaks must not shift numbers.
    assert find_line("a = 'x\u2028y'\r\nb = 1\n", ("b",)) == 2


def test_format_path() -> None:
    assert format_path(("venues", "binance", "classes", 2)) == "venues.binance.classes[2]"
    assert format_path(("case", 3, "intent", "mode")) == "case[3].intent.mode"
    assert format_path(()) == "<document>"


@given(st.text(max_size=300), st.lists(st.one_of(st.text(max_size=5), st.integers()), max_size=4))
def test_find_line_never_raises(text: str, path: list[PathPart]) -> None:
    line = find_line(text, path)
    assert line is None or 1 <= line <= text.count("\n") + 1
