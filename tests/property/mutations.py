"""Hypothesis strategies that turn a valid venue request into an adversarial one.

``mutants(seed)`` draws a ``Mutant``: the seed with one mutation applied, named
by ``kind``, and ``malformed`` set when the mutation makes the request one that
must never be signed (non-UTF-8 or truncated body, NaN/Infinity or a float,
JSON nested 10,000 deep, a duplicate or unknown parameter, a scalar swapped for
an object or array and back, a path or method not on the allow list, a caller
authentication header). Other mutations (huge or negative numbers, confusable
or lone-surrogate strings) may or may not be valid: the property for them is
only "a typed error or a signature, never a crash".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from hypothesis import strategies as st

from signer.domain import HttpRequest
from signer.venues import coinbase

DEEP = 10_000
# Values spliced into the JSON text as written (json.dumps cannot produce them).
RAW_TOKENS = {
    "nan": "NaN", "inf": "Infinity", "-inf": "-Infinity", "1e400": "1e400",
    "-1e400": "-1e400", "float": "1.5", "-0.0": "-0.0", "tiny": "1E-400",
    "deep-array": "[" * DEEP + "]" * DEEP, "deep-object": '{"a":' * DEEP + "1" + "}" * DEEP,
}  # fmt: skip
SCALARS: list[object] = [
    None, True, False, 0, -1, 2**63, 2**64, 2**256, -(2**256), 10**300, "", "x" * 3000,
    "-1", "1" * 400, "1e400", "NaN", "Infinity", "0x" + "f" * 64,
    "\uff22\uff34\uff23\uff35\uff33\uff24\uff34", "BTC\u200bUSDT", "\u0661\u0662\u0663", "\u202eBUY", "buy\x00", "\ud800",
    "\u212a", "b\u0131y", "\u210c", "\u00a0",
]  # fmt: skip
INT_EDGES = [
    0,
    -1,
    1,
    2**31,
    2**53 + 1,
    2**63 - 1,
    2**63,
    2**64 - 1,
    2**64,
    2**255,
    2**256,
    -(2**63),
]
NUMERIC_TEXT = [
    "0", "-0", "00001", "1e5", "1E-7", "0.000000000000000000000001", "9" * 40, "1.", ".5", "-1",
    "1_000", " 1", "0x10", "+1", "1" + "0" * 77, "115792089237316195423570985008687907853269984665640564039457584007913129639936",
]  # fmt: skip
CONTAINERS: list[object] = [{}, [], {"a": 1}, [1, 2], [[]], {"": None}]
FORM_VALUES = {
    # (percent-encoded value, always malformed?)
    "%ff": True, "%00": True, "%ed%a0%80": True, "%e2%80%ae": True, "%0a": True,
    "%EF%BC%A1": False, "-1": False, "1e400": False, "NaN": False, "Infinity": False,
    "1" * 400: False, "0x" + "f" * 64: False, "%2B1": False, "%C4%B1": False, "0": False,
    "00001": False, "1E-7": False, "9" * 40: False, "-0": False, "1.": False, ".5": False,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Mutant:
    request: HttpRequest
    kind: str
    malformed: bool


def _paths(value: object, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()  # fmt: skip
    for key, child in items:
        out.append((*prefix, key))
        out.extend(_paths(child, (*prefix, key)))
    return out


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


def _set(value: Any, path: tuple[Any, ...], new: object) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _set(copy[path[0]], path[1:], new) if path[1:] else new
    return copy


def _dump(value: object) -> bytes:
    return json.dumps(value).encode("utf-8", "surrogatepass")


def _json_mutants(draw: st.DrawFn, body: Any) -> tuple[bytes, str, bool]:
    paths = _paths(body)
    if not paths:
        return draw(st.sampled_from([(b"[" * DEEP, "deep-open", True), (b"{,}", "bad-json", True)]))
    path = draw(st.sampled_from(paths))
    old = _get(body, path)
    how = draw(
        st.sampled_from(["raw", "swap", "scalar", "edge", "duplicate", "unknown", "huge-array"])
    )
    if how == "raw":
        token = draw(st.sampled_from(sorted(RAW_TOKENS)))
        marker = "\x01MARK\x01"
        text = _dump(_set(body, path, marker)).decode("utf-8", "surrogatepass")
        return text.replace(json.dumps(marker), RAW_TOKENS[token]).encode(), f"raw-{token}", True
    if how == "swap":
        scalar = not isinstance(old, (dict, list))
        new = draw(st.sampled_from(CONTAINERS if scalar else SCALARS[:10]))
        return _dump(_set(body, path, new)), "type-swap", True
    if how == "scalar":
        new = draw(st.sampled_from(SCALARS))
        return _dump(_set(body, path, new)), "scalar", False
    if how == "edge" and type(old) in (int, str):
        new = draw(st.sampled_from(INT_EDGES if type(old) is int else NUMERIC_TEXT))
        return _dump(_set(body, path, new)), "edge", False
    parent = _get(body, path[:-1])
    if how == "duplicate" and isinstance(parent, dict):
        text = _dump(body).decode("utf-8", "surrogatepass")
        key = json.dumps(path[-1])
        # Repeat the first occurrence of "key": as an extra member with a different value.
        at = text.find(key + ":")
        return (text[:at] + key + ": 0, " + text[at:]).encode(), "duplicate-key", True
    if how == "unknown" and isinstance(parent, dict):
        name = draw(st.sampled_from(["zz_unknown", str(path[-1]) + "\u200b", "address", ""]))
        return _dump(_set(body, (*path[:-1], name), "1")), "unknown-key", True
    if isinstance(old, list) and old:
        return _dump(_set(body, path, [old[0]] * 2_000)), "huge-array", True
    return _dump(_set(body, path, list(range(30_000)))), "huge-array", True


def _form_mutant(draw: st.DrawFn, form: str) -> tuple[str, str, bool]:
    items = [item for item in form.split("&") if item]
    how = draw(st.sampled_from(["value", "duplicate", "unknown", "bare", "empty"]))
    if how == "value" and items:
        i = draw(st.integers(0, len(items) - 1))
        value, bad = draw(st.sampled_from(sorted(FORM_VALUES.items())))
        items[i] = items[i].split("=", 1)[0] + "=" + value
        return "&".join(items), "form-value", bad
    if how == "duplicate" and items:
        item = draw(st.sampled_from(items))
        # Coinbase reads arrays as a repeated key: repeating one of those is not malformed.
        repeated = item.split("=", 1)[0] in coinbase.QUERY_LISTS
        return "&".join([*items, item]), "form-duplicate", not repeated
    if how == "unknown":
        return "&".join([*items, "zz_unknown=1"]), "form-unknown", True
    if how == "bare":
        return "&".join([*items, "symbol"]), "form-bare", True
    return "&".join([*items, ""]) + "&", "form-empty-item", True


def _envelope(draw: st.DrawFn, req: HttpRequest) -> tuple[HttpRequest, str]:
    how = draw(st.sampled_from(["method", "path", "header", "host"]))
    if how == "method":
        return replace(req, method=req.method.lower()), "method-case"
    if how == "path":
        suffix = draw(st.sampled_from(["/", "/../x", "%2f", "/\uff0e", "//"]))
        return replace(req, path=req.path + suffix), "path"
    if how == "header":
        name = draw(
            st.sampled_from(["Authorization", "X-MBX-APIKEY", "Content-Type\x00", "Cookie"])
        )
        return replace(req, headers=((name, "x"), *req.headers)), "header"
    return replace(req, host=draw(st.sampled_from(["evil.example", "localhost"]))), "host"


def _is_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


@st.composite
def mutants(draw: st.DrawFn, seed: HttpRequest) -> Mutant:
    """The seed with one adversarial mutation (see the module docstring)."""
    parsed = _is_json(seed.body) if seed.body else None
    where = draw(st.sampled_from(["body", "body", "query", "bytes", "envelope"]))
    if where == "body" and isinstance(parsed, (dict, list)):
        body, kind, bad = _json_mutants(draw, parsed)
        return Mutant(replace(seed, body=body), kind, bad)
    if where == "body" and seed.body and parsed is None:
        form, kind, bad = _form_mutant(draw, seed.body.decode())
        return Mutant(replace(seed, body=form.encode()), kind, bad)
    if where == "query" and seed.query:
        form, kind, bad = _form_mutant(draw, seed.query)
        return Mutant(replace(seed, query=form), kind, bad)
    if where == "bytes":
        junk = draw(st.sampled_from([b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\x80"]))
        at = draw(st.integers(0, len(seed.body)))
        return Mutant(replace(seed, body=seed.body[:at] + junk + seed.body[at:]), "non-utf8", True)
    if len(seed.body) > 1 and parsed is not None and draw(st.booleans()):
        cut = draw(st.integers(1, len(seed.body) - 1))
        return Mutant(replace(seed, body=seed.body[:cut]), "truncated", True)
    request, kind = _envelope(draw, seed)
    return Mutant(request, kind, True)
