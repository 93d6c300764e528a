"""The policy document loader: the shipped default, every refusal, and fuzzing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy.document import (
    KNOWN_VENUES,
    MAX_DOCUMENT_BYTES,
    PolicyDocument,
    PolicyDocumentError,
    default_document_bytes,
    load_document,
    read_document_file,
)
from policy.intents import EndpointClass

ALL_CLASSES = frozenset({EndpointClass.TRADE, EndpointClass.CANCEL, EndpointClass.READ})
HYPERLIQUID_CLASSES = frozenset({
    EndpointClass.TRADE, EndpointClass.CANCEL, EndpointClass.WITHDRAW_HOME,
    EndpointClass.APPROVE_AGENT,
})  # fmt: skip
VALID = b"""# a comment
version = 3
[venues.binance]
enabled = true
modes = ["live", "sandbox"]
classes = ["trade", "cancel", "read"]
"""


def test_default_document_loads_as_specified() -> None:
    raw = default_document_bytes()
    doc = load_document(raw)
    assert doc.version == 1
    assert doc.raw == raw
    assert doc.sha256 == hashlib.sha256(raw).hexdigest()
    assert [venue.venue for venue in doc.venues] == [
        "kraken",
        "binance",
        *(v for v in KNOWN_VENUES if v not in ("kraken", "binance")),
    ]
    kraken, binance = doc.venue("kraken"), doc.venue("binance")
    assert kraken is not None and binance is not None
    assert (kraken.enabled, kraken.modes, kraken.classes) == (
        True,
        frozenset({"live"}),
        ALL_CLASSES,
    )
    assert (binance.enabled, binance.modes, binance.classes) == (
        True,
        frozenset({"live", "sandbox"}),
        ALL_CLASSES,
    )
    assert {v.venue for v in doc.venues if v.enabled} == set(KNOWN_VENUES)
    no_sandbox = {"kraken", "bitmart", "polymarket"}
    for venue in doc.venues:
        modes = frozenset({"live"} if venue.venue in no_sandbox else {"live", "sandbox"})
        # Hyperliquid reads are the unsigned POST /info; funds go home only.
        classes = HYPERLIQUID_CLASSES if venue.venue == "hyperliquid" else ALL_CLASSES
        assert (venue.modes, venue.classes) == (modes, classes), venue.venue
    text = raw.decode()
    assert "enabled when its venue module lands" not in text
    assert "signed" in text.split("version = 1")[0]


def test_known_venues_match_the_daemon() -> None:
    from signer.domain import VENUES  # the test may import signer; policy/ may not

    assert KNOWN_VENUES == VENUES


def test_document_keeps_exact_bytes_and_hash() -> None:
    doc = load_document(VALID)
    assert doc.raw is VALID
    assert doc.sha256 == hashlib.sha256(VALID).hexdigest()
    assert "raw" not in repr(doc)


def test_venue_missing_from_document_is_absent_and_disabled_venue_needs_no_lists() -> None:
    doc = load_document(b"version = 1\n[venues.okx]\nenabled = false\n")
    assert doc.venue("binance") is None
    okx = doc.venue("okx")
    assert okx is not None and not okx.enabled and not okx.modes and not okx.classes


def test_empty_venues_table_is_a_deny_everything_document() -> None:
    assert load_document(b"version = 2\n[venues]\n").venues == ()


def _doc(venue_body: str, version: str = "version = 1") -> bytes:
    return f"{version}\n[venues.binance]\n{venue_body}\n".encode()


_ENABLED = 'enabled = true\nmodes = ["live"]\n'
INVALID: list[tuple[bytes, str, int | None]] = [
    (b"version = 1\nvenue = {}\n[venues]\n", 'venue: unknown key "venue" (line 2)', 2),
    (
        b"version = 1\n[venues.ftx]\nenabled = false\n",
        'venues.ftx: unknown venue "ftx" (line 2)',
        2,
    ),
    (
        b'version = 1\n[venues."Binance"]\nenabled = false\n',
        'venues.Binance: unknown venue "Binance"',
        2,
    ),
    (
        _doc(_ENABLED + 'classes = ["trade"]\nwithdraw = true'),
        "venues.binance.withdraw: unknown key",
        6,
    ),
    (_doc('enabled = "yes"'), "venues.binance.enabled: required, must be true or false", 3),
    (_doc('modes = ["live"]'), "venues.binance.enabled: required", 2),
    (_doc("enabled = 1"), "venues.binance.enabled:", 3),
    (_doc("enabled = false", "version = 1.5"), "version: required, must be an integer", 1),
    (_doc("enabled = false", "version = true"), "version: required, must be an integer", 1),
    (_doc("enabled = false", "version = 0"), "version:", 1),
    (_doc("enabled = false", "version = -4"), "version:", 1),
    (_doc("enabled = false", f"version = {2**63}"), "version:", 1),
    (_doc("enabled = false", 'version = "1"'), "version:", 1),
    (_doc("enabled = false", "# no version"), "version: required", None),
    (b"version = 1\n", "venues: required, must be a table", None),
    (b"version = 1\nvenues = 1\n", "venues: required, must be a table", 2),
    (b"version = 1\n[venues]\nbinance = 1\n", "venues.binance: must be a table (line 3)", 3),
    (
        _doc(_ENABLED + 'classes = ["trade", "cancel", "withdraw"]'),
        'venues.binance.classes[2]: unknown endpoint class "withdraw" (line 5)',
        5,
    ),
    (_doc(_ENABLED + "classes = [1]"), "venues.binance.classes[0]: unknown endpoint class 1", 5),
    (_doc(_ENABLED + 'classes = [["trade"]]'), "unknown endpoint class <list>", 5),
    (_doc(_ENABLED + 'classes = "trade"'), "venues.binance.classes: must be a list", 5),
    (_doc(_ENABLED + "classes = []"), "venues.binance.classes: an enabled venue needs", 5),
    (_doc(_ENABLED), "venues.binance.classes: an enabled venue needs", 2),
    (_doc('enabled = true\nmodes = []\nclasses = ["read"]'), "venues.binance.modes: an enabled", 4),
    (
        _doc('enabled = true\nmodes = ["live", "live"]'),
        'venues.binance.modes[1]: duplicate mode "live"',
        4,
    ),
    (_doc('enabled = true\nmodes = ["Live"]'), 'venues.binance.modes[0]: unknown mode "Live"', 4),
    (
        _doc('enabled = true\nmodes = ["live"]\nclasses = ["read", "read"]'),
        "classes[1]: duplicate",
        5,
    ),
    (_doc('enabled = false\nclasses = ["withdraw"]'), "venues.binance.classes[0]: unknown", 4),
    (
        b'version = 1\nvenues = { binance = { enabled = "yes" } }\n',
        "venues.binance.enabled: required, must be true or false (line 2)",
        2,
    ),
    (b"version = 1\n[venues]\nbinance.enabled = 2\n", "venues.binance.enabled:", 3),
]


@pytest.mark.parametrize(("data", "message", "line"), INVALID)
def test_invalid_document_is_refused_naming_key_path_and_line(
    data: bytes, message: str, line: int | None
) -> None:
    with pytest.raises(PolicyDocumentError) as caught:
        load_document(data)
    assert message in str(caught.value)
    assert caught.value.line == line
    assert caught.value.path == str(caught.value).split(":")[0]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"version = \n", "invalid TOML: "),
        (b"version = 1\nversion = 2\n", "line 2"),
        (b"version = 1\n[venues]\n[venues]\n", "line 3"),
        (b"version = 1\n# caf\xe9\n", "not UTF-8 (line 2)"),
        (b"\xff\xfe" + "version = 1".encode("utf-16-le"), "not UTF-8 (line 1)"),
        (b"version = 1\na = " + b"[" * 5000, "nesting too deep"),
        (b"version = 1\na = " + b"{b=" * 5000, "nesting too deep"),
        (b"#" * (MAX_DOCUMENT_BYTES + 1), f"exceeds {MAX_DOCUMENT_BYTES} bytes"),
    ],
)
def test_unparseable_document_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(PolicyDocumentError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_document(data)


def test_document_of_exactly_the_limit_loads() -> None:
    padded = VALID + b"#" * (MAX_DOCUMENT_BYTES - len(VALID))
    assert len(padded) == MAX_DOCUMENT_BYTES
    assert load_document(padded).version == 3


def test_non_bytes_input_is_refused() -> None:
    with pytest.raises(PolicyDocumentError, match="must be bytes"):
        load_document(VALID.decode())  # type: ignore[arg-type]


def test_error_message_does_not_echo_long_or_control_values() -> None:
    data = _doc('enabled = true\nmodes = ["' + "\\u001b" * 500 + '"]')
    with pytest.raises(PolicyDocumentError) as caught:
        load_document(data)
    assert str(caught.value).isprintable()
    assert len(str(caught.value)) < 200


def test_read_document_file(tmp_path: Path) -> None:
    good, big = tmp_path / "good.toml", tmp_path / "big.toml"
    good.write_bytes(VALID)
    big.write_bytes(b"#" * (MAX_DOCUMENT_BYTES + 10))
    assert read_document_file(good).raw == VALID
    with pytest.raises(PolicyDocumentError, match="exceeds"):
        read_document_file(big)


def _loads_or_refuses(data: bytes) -> None:
    try:
        result = load_document(data)
    except PolicyDocumentError:
        return
    assert isinstance(result, PolicyDocument)


@settings(max_examples=300)
@given(st.binary(max_size=512))
def test_random_bytes_only_load_or_raise_policy_document_error(data: bytes) -> None:
    _loads_or_refuses(data)


_FRAGMENTS = st.sampled_from(
    [
        "version = 1",
        "version = 2.0",
        "version = true",
        "[venues]",
        "[venues.binance]",
        "[venues.kraken]",
        "[venues.nope]",
        "[[venues.okx]]",
        "enabled = true",
        "enabled = false",
        'modes = ["live"]',
        'modes = ["live", "sandbox", "live"]',
        'classes = ["trade"]',
        'classes = ["read", "withdraw"]',
        "classes = []",
        "binance.enabled = true",
        "venues = {}",
        'venues.okx = { enabled = "no" }',
        "x = 1979-05-27T07:32:00Z",
        "modes = [[1], {a = 2}]",
        "# comment",
        "",
        "[",
        "]",
        "=",
        '"',
        "'''",
    ]
)
_NOISE = st.text(alphabet='[]{}=."#\n 0123456789abcdefglmnrstuvwy,-_', max_size=30)
_TOMLISH = st.tuples(
    st.sampled_from(["", "version = 1\n", "version = 1\n[venues]\n"]),
    st.lists(st.one_of(_FRAGMENTS, _FRAGMENTS, _FRAGMENTS, _NOISE), max_size=12),
).map(lambda parts: parts[0] + "\n".join(parts[1]))


@settings(max_examples=500)
@given(_TOMLISH)
def test_tomlish_text_only_loads_or_raises_policy_document_error(text: str) -> None:
    _loads_or_refuses(text.encode())


def test_nesting_bound_holds_when_a_dependency_raised_the_recursion_limit() -> None:
    # py_ecc (via eth_account) raises the process-wide limit to 100000.
    import sys

    before = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)
    try:
        with pytest.raises(PolicyDocumentError, match="nesting too deep"):
            load_document(b"version = 1\na = " + b"[" * 20 + b"]" * 20 + b"\n")
        doc = load_document(b"version = 1\n# [[[[[[[[[[[[[[[[[[[[\n[venues]\n")
        assert doc.version == 1
    finally:
        sys.setrecursionlimit(before)
