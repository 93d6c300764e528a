"""Strict parsing helpers shared by the venue modules.

Invariants (each has a test in tests/unit/venues/test_params.py):

1. The envelope is checked before anything else: method is one of
   GET/POST/PUT/DELETE in upper case; the path is printable ASCII, starts with
   ``/``, has no ``?``/``#`` and is at most 2048 characters. Otherwise
   ``InvalidRequestError``.
2. Form bodies and query strings are split on ``&`` only; every item is exactly
   ``key=value``; keys are ASCII ``[A-Za-z0-9_[]]`` (brackets may be written
   ``%5B``/``%5D``); values use only unreserved characters, a few harmless
   sub-delimiters and ``%XX`` escapes. ``+`` (space or plus?), ``;`` (a second
   separator for some servers), bad escapes, non-UTF-8 and control or format
   characters after decoding are refused with ``InvalidRequestError``: the
   daemon never guesses what the caller meant.
3. Duplicate keys are not an envelope error: they become violations, so the
   policy denies the request and the denial is audited.
4. JSON bodies are parsed with duplicate keys reported, NaN/Infinity refused,
   floats kept as ``Decimal`` (which no schema admits), and size and depth
   bounded before the parser runs.
5. What is signed is re-encoded from the parsed values (``encode_form``,
   ``canonical_json``), never copied from the caller's bytes.
6. Caller headers other than Content-Type / Accept / User-Agent are violations
   (the daemon alone adds authentication headers).
7. A ``Schema`` names every admitted parameter; anything else is a violation.
   A schema cannot be built that admits a parameter it also lists as stamped
   by the daemon or as a withdrawal/transfer parameter.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from types import MappingProxyType
from urllib.parse import quote, unquote_to_bytes

from policy.intents import EndpointClass, VenueRequestIntent
from signer.domain import HttpRequest, Mode, Principal
from signer.errors import InvalidCredentialsError, InvalidRequestError, ModeMismatchError

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_QUERY_CHARS",
    "HeaderCheck",
    "Kind",
    "Pair",
    "Param",
    "Schema",
    "Validator",
    "canonical_json",
    "check_headers",
    "check_method",
    "check_path",
    "content_type_violations",
    "describe",
    "duplicate_violations",
    "encode_form",
    "encode_value",
    "header_safe_api_key",
    "make_intent",
    "match_template",
    "param",
    "parse_form",
    "parse_json_object",
    "resolve_host",
]

Pair = tuple[str, str]

METHODS = frozenset({"GET", "POST", "PUT", "DELETE"})
MAX_PATH_CHARS = 2048
MAX_QUERY_CHARS = 8192
MAX_BODY_BYTES = 65536
MAX_ITEMS = 128
MAX_KEY_CHARS = 64
MAX_JSON_DEPTH = 8

_PATH_RE = re.compile(r"/[\x21-\x7e]*")
_KEY_RE = re.compile(r"(?:[A-Za-z0-9_\[\]]|%5[BbDd])+")
# SECURITY: no '+', ';', '&', '=', '#', space or raw '%' (only as a full escape).
_VALUE_RE = re.compile(r"(?:[A-Za-z0-9\-._~!$'()*,/:@]|%[0-9A-Fa-f]{2})*")
_SEGMENT_RE = re.compile(r"[A-Za-z0-9_-]{1,128}")
_HEADER_NAME_RE = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}")
_HEADER_VALUE_RE = re.compile(r"[\x20-\x7e]{0,256}")

# SECURITY: conservative allowlist; everything else (Authorization, API-Key,
# X-MBX-APIKEY, API-Sign, cookies, X-Forwarded-*) is a violation.
ALLOWED_HEADERS = frozenset({"content-type", "accept", "user-agent"})
_PASSTHROUGH_HEADERS = frozenset({"accept", "user-agent"})


def check_method(method: str) -> str:
    """Return ``method`` if it is GET/POST/PUT/DELETE written in upper case."""
    if method not in METHODS:
        raise InvalidRequestError(
            "request.method must be one of GET, POST, PUT, DELETE (upper case)",
            field="request.method",
        )
    return method


def check_path(path: str) -> str:
    """Return ``path`` if it is a plausible origin-form path (invariant 1)."""
    if len(path) > MAX_PATH_CHARS or not _PATH_RE.fullmatch(path) or "?" in path or "#" in path:
        raise InvalidRequestError(
            "request.path must be printable ASCII, start with '/', carry no query or "
            "fragment and be at most 2048 characters",
            field="request.path",
        )
    return path


def resolve_host(venue: str, hosts: dict[Mode, str | None], mode: Mode, requested: str) -> str:
    """The venue host for ``mode``; a caller-given host must be exactly that host.

    Raises:
        ModeMismatchError: the venue has no host for ``mode``, or ``requested``
            is the host of the other mode.
        InvalidRequestError: ``requested`` is some other host.
    """
    expected = hosts.get(mode)
    if expected is None:
        raise ModeMismatchError(
            f"{venue} has no {mode.value} environment; {mode.value} principals cannot "
            f"sign {venue} requests",
            field="principal.mode",
        )
    if requested in ("", expected):
        return expected
    if requested in hosts.values():
        raise ModeMismatchError(
            f"request.host belongs to the other {venue} environment, not {mode.value}",
            field="request.host",
        )
    raise InvalidRequestError(f"request.host is not a {venue} host", field="request.host")


def make_intent(
    principal: Principal,
    venue: str,
    request: HttpRequest,
    matched: tuple[str, EndpointClass] | None,
    violations: Sequence[str],
) -> VenueRequestIntent:
    """The intent the policy decides on.

    An unmatched path is reported by ``endpoint=None`` alone (the policy's
    ``endpoint.not-allowlisted`` rule), not as a violation.
    """
    return VenueRequestIntent(
        client_id=principal.client_id,
        mode=principal.mode.value,
        venue=venue,
        method=request.method,
        path=request.path,
        endpoint=matched[0] if matched else None,
        endpoint_class=matched[1] if matched else None,
        violations=tuple(violations),
    )


def match_template(path: str, template: str) -> bool:
    """Exact match; a ``{name}`` template segment matches ``[A-Za-z0-9_-]{1,128}``."""
    if "{" not in template:
        return path == template
    got, want = path.split("/"), template.split("/")
    if len(got) != len(want):
        return False
    for segment, pattern in zip(got, want, strict=True):
        if pattern.startswith("{") and pattern.endswith("}"):
            if not _SEGMENT_RE.fullmatch(segment):
                return False
        elif segment != pattern:
            return False
    return True


def _decode_value(raw: str, where: str, index: int) -> str:
    if not _VALUE_RE.fullmatch(raw):
        raise InvalidRequestError(
            f"{where}: item {index} has a character that must be percent-encoded "
            "('+', ';', space...) or an invalid '%' escape",
            field=where,
        )
    if "%" not in raw:
        # Fast path: _VALUE_RE admitted printable ASCII only, and nothing is escaped.
        return raw
    try:
        value = unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequestError(
            f"{where}: item {index} is not UTF-8 after percent-decoding", field=where
        ) from None
    if value.isascii() and value.isprintable():
        return value  # 0x20-0x7e: no control, format or separator character
    if any(_is_forbidden_char(ch) for ch in value):
        raise InvalidRequestError(
            f"{where}: item {index} contains control or invisible characters", field=where
        )
    return value


def _is_forbidden_char(ch: str) -> bool:
    # Cc/Cf/Cs/Co/Cn (controls, bidi and zero-width marks...), line/paragraph separators.
    category = unicodedata.category(ch)
    return category[0] == "C" or category in ("Zl", "Zp")


def parse_form(data: str | bytes, *, where: str, limit: int = MAX_QUERY_CHARS) -> tuple[Pair, ...]:
    """Strictly parse a query string or ``application/x-www-form-urlencoded`` body.

    Args:
        data: the raw query (str) or body (bytes).
        where: ``"request.query"`` or ``"request.body"``, used in messages.
        limit: maximum length in characters.

    Returns:
        The decoded (key, value) pairs in order; duplicates are kept (see
        ``duplicate_violations``).

    Raises:
        InvalidRequestError: anything that is not unambiguous form encoding.
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError:
            raise InvalidRequestError(
                f"{where}: must be ASCII (percent-encode other characters)", field=where
            ) from None
    else:
        text = data
    if len(text) > limit:
        raise InvalidRequestError(f"{where}: longer than {limit} characters", field=where)
    if not text:
        return ()
    items = text.split("&")
    if len(items) > MAX_ITEMS:
        raise InvalidRequestError(f"{where}: more than {MAX_ITEMS} parameters", field=where)
    pairs: list[Pair] = []
    for index, item in enumerate(items, start=1):
        raw_key, sep, raw_value = item.partition("=")
        if not sep:
            raise InvalidRequestError(f"{where}: item {index} is not key=value", field=where)
        if len(raw_key) > MAX_KEY_CHARS or not _KEY_RE.fullmatch(raw_key):
            raise InvalidRequestError(
                f"{where}: item {index} has a key outside [A-Za-z0-9_[]]", field=where
            )
        key = raw_key
        if "%" in key:
            key = key.replace("%5B", "[").replace("%5b", "[")
            key = key.replace("%5D", "]").replace("%5d", "]")
        pairs.append((key, _decode_value(raw_value, where, index)))
    return tuple(pairs)


def duplicate_violations(names: Iterable[str], where: str) -> list[str]:
    """One violation per parameter name that occurs more than once."""
    names = list(names)
    if len(set(names)) == len(names):
        return []  # the common case, without building messages
    seen: set[str] = set()
    reported: set[str] = set()
    out: list[str] = []
    for name in names:
        if name in seen and name not in reported:
            reported.add(name)
            out.append(f"parameter {describe(name)} appears more than once in {where}")
        seen.add(name)
    return out


def _json_depth_ok(text: str, max_depth: int) -> bool:
    depth, in_string, escaped = 0, False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > max_depth:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def _refuse_constant(name: str) -> object:
    raise InvalidRequestError(f"request.body: JSON constant {name} is not allowed")


def parse_json_object(
    body: bytes, *, max_bytes: int = MAX_BODY_BYTES, max_depth: int = MAX_JSON_DEPTH
) -> tuple[dict[str, object], list[str]]:
    """Strictly parse a JSON object body (invariant 4).

    Returns:
        The object (last value wins for a duplicate key) and the violations
        (one per duplicate key).

    Raises:
        InvalidRequestError: not UTF-8, not JSON, too large or deep, NaN/Infinity,
            or a top-level value that is not an object.
    """
    if len(body) > max_bytes:
        raise InvalidRequestError(f"request.body: larger than {max_bytes} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequestError("request.body: not UTF-8") from None
    if not _json_depth_ok(text, max_depth):
        raise InvalidRequestError(f"request.body: JSON nested deeper than {max_depth}")
    violations: list[str] = []

    def hook(items: list[tuple[str, object]]) -> dict[str, object]:
        names = [name for name, _ in items]
        violations.extend(duplicate_violations(names, "the JSON body"))
        return dict(items)

    try:
        value = json.loads(
            text, object_pairs_hook=hook, parse_constant=_refuse_constant, parse_float=Decimal
        )
    except (ValueError, RecursionError):
        # json.JSONDecodeError and int-too-large are ValueErrors.
        raise InvalidRequestError("request.body: not valid JSON") from None
    if not isinstance(value, dict):
        raise InvalidRequestError("request.body: JSON body must be an object")
    return value, violations


_UNRESERVED_RE = re.compile(r"[A-Za-z0-9\-._~]*")


def parse_json_body(body: bytes) -> tuple[object, list[str]]:
    """Strictly parse a JSON object or array body (``parse_json_object`` rules).

    SECURITY: an array is parsed as the value of a one-key wrapper object so
    that every strictness rule (size, depth, duplicates, no NaN, no floats)
    applies; the raw body must then also be a valid JSON array on its own, so
    the wrapper cannot be used to smuggle a second top-level key.
    """
    if not body.lstrip(b" \t\r\n").startswith(b"["):
        return parse_json_object(body)
    wrapped, violations = parse_json_object(b'{"_":' + body + b"}")
    try:
        raw = json.loads(body)
    except (ValueError, RecursionError):
        raise InvalidRequestError("request.body: not valid JSON") from None
    if not isinstance(raw, list) or list(wrapped) != ["_"]:
        raise InvalidRequestError("request.body: not valid JSON")
    return wrapped["_"], violations


def encode_value(value: str) -> str:
    """Percent-encode ``value`` (UTF-8); only ``A-Za-z0-9-._~`` stay literal."""
    if _UNRESERVED_RE.fullmatch(value):
        return value  # nothing to encode (most values: numbers, symbols, enums)
    return quote(value, safe="")


def encode_form(pairs: Sequence[Pair]) -> str:
    """Canonical ``key=value&...``: keys as validated, values via ``encode_value``."""
    return "&".join(f"{key}={encode_value(value)}" for key, value in pairs)


def canonical_json(value: object) -> str:
    """Compact JSON (``,``/``:`` separators, ASCII escapes, no NaN)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


@dataclass(frozen=True, slots=True)
class HeaderCheck:
    """Result of ``check_headers``.

    Attributes:
        passthrough: Accept / User-Agent headers that are forwarded unchanged.
        content_type: the caller's Content-Type value, or None.
        violations: refused headers, each a sentence naming the header.
    """

    passthrough: tuple[tuple[str, str], ...]
    content_type: str | None
    violations: tuple[str, ...]


def check_headers(headers: Sequence[tuple[str, str]]) -> HeaderCheck:
    """Apply invariant 6 to the caller's headers."""
    passthrough: list[tuple[str, str]] = []
    content_type: str | None = None
    violations: list[str] = []
    seen: set[str] = set()
    for name, value in headers:
        lowered = name.lower()
        if not _HEADER_NAME_RE.fullmatch(name):
            violations.append("a request header has an invalid name")
            continue
        if lowered not in ALLOWED_HEADERS:
            violations.append(
                f"header {describe(name)} is not allowed; the daemon adds authentication headers"
            )
            continue
        if lowered in seen:
            violations.append(f"header {describe(name)} appears more than once")
            continue
        seen.add(lowered)
        if not _HEADER_VALUE_RE.fullmatch(value):
            violations.append(f"header {describe(name)} has a non-printable or overlong value")
        elif lowered == "content-type":
            content_type = value
        elif lowered in _PASSTHROUGH_HEADERS:
            passthrough.append((name, value))
    return HeaderCheck(tuple(passthrough), content_type, tuple(violations))


def content_type_violations(content_type: str | None, expected: str) -> list[str]:
    """A caller Content-Type must name ``expected`` (optionally ``; charset=utf-8``)."""
    if content_type is None:
        return []
    media, _, params = content_type.partition(";")
    params = params.strip().lower()
    if media.strip().lower() != expected or params not in ("", "charset=utf-8"):
        return [f"Content-Type must be {expected} for this endpoint"]
    return []


# --- Declarative parameter schemas (invariant 7) -------------------------------------

MAX_VALUE_CHARS = 1024
_BOOL_TEXT = {True: "true", False: "false"}


def describe(name: str) -> str:
    """A caller-supplied name made safe to show: ASCII-escaped, at most 40 characters."""
    shown = name if len(name) <= 40 else name[:37] + "..."
    return ascii(shown)


class Kind(Enum):
    """The JSON type a parameter takes; form values are always text."""

    STRING = "string"
    INT = "integer"
    BOOL = "boolean"
    LIST = "array"
    OBJECT = "object"


Validator = Callable[[object], Sequence[str]]


@dataclass(frozen=True, slots=True)
class Param:
    """One admitted parameter.

    Exactly one of ``pattern`` (full match), ``enum`` or ``validator`` checks
    the value. Text is checked for STRING/INT/BOOL kinds (JSON integers and
    booleans are first rendered as ``123`` / ``true``); LIST and OBJECT values
    are handed to ``validator``, which returns violation sentences.
    """

    name: str
    pattern: re.Pattern[str] | None = None
    enum: frozenset[str] | None = None
    validator: Validator | None = None
    required: bool = False
    kind: Kind = Kind.STRING

    def __post_init__(self) -> None:
        checks = sum(x is not None for x in (self.pattern, self.enum, self.validator))
        if checks != 1:
            raise ValueError(f"Param {self.name}: give exactly one of pattern, enum, validator")
        if self.kind in (Kind.LIST, Kind.OBJECT) and self.validator is None:
            raise ValueError(f"Param {self.name}: structured kinds need a validator")

    def _as_text(self, value: object) -> str | None:
        if self.kind is Kind.BOOL and isinstance(value, bool):
            return _BOOL_TEXT[value]
        if self.kind is Kind.INT and type(value) is int:
            return str(value)
        return value if isinstance(value, str) else None

    def check(self, value: object) -> list[str]:
        """Violations for ``value`` (empty when it is admitted)."""
        # Messages (and describe()) are built only on a violation: this runs per parameter.
        kind = self.kind
        if kind is Kind.STRING and type(value) is str:
            text: str | None = value  # the common case: a form value
        elif kind is Kind.LIST or kind is Kind.OBJECT:
            wanted = list if kind is Kind.LIST else dict
            if not isinstance(value, wanted):
                return [f"parameter {describe(self.name)} must be a JSON {kind.value}"]
            assert self.validator is not None
            return list(self.validator(value))
        else:
            text = self._as_text(value)
        if text is None:
            return [f"parameter {describe(self.name)} must be a {kind.value}"]
        if len(text) > MAX_VALUE_CHARS:
            return [f"parameter {describe(self.name)} is too long"]
        if self.enum is not None:
            if text not in self.enum:
                allowed = ", ".join(sorted(self.enum))
                return [f"parameter {describe(self.name)} must be one of: {allowed}"]
        elif self.pattern is not None:
            if not self.pattern.fullmatch(text):
                return [f"parameter {describe(self.name)} has an invalid value"]
        elif self.validator is not None:
            return list(self.validator(text))
        return []


@dataclass(frozen=True, slots=True)
class Schema:
    """The complete parameter set of one endpoint.

    Attributes:
        params: every admitted parameter; anything else is a violation.
        one_of: groups of which at least one member must be present.
        at_most_one: groups of which at most one member may be present.
        stamped: names the daemon sets itself (nonce, timestamp, signature...).
        forbidden: withdrawal/transfer names, reported with a specific sentence.
    """

    params: tuple[Param, ...]
    one_of: tuple[tuple[str, ...], ...] = ()
    at_most_one: tuple[tuple[str, ...], ...] = ()
    stamped: frozenset[str] = frozenset()
    forbidden: frozenset[str] = frozenset()
    # Derived once (validate runs per request): name -> Param, required names.
    _by_name: Mapping[str, Param] = field(init=False, repr=False, compare=False)
    _required: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ValueError("Schema: a parameter is declared twice")
        # SECURITY: a schema can never admit a stamped or withdrawal parameter.
        clash = set(names) & (self.stamped | self.forbidden)
        if clash:
            raise ValueError(f"Schema admits reserved parameters: {sorted(clash)}")
        for group in self.one_of + self.at_most_one:
            if not set(group) <= set(names):
                raise ValueError(f"Schema group names unknown parameters: {group}")
        object.__setattr__(self, "_by_name", MappingProxyType({p.name: p for p in self.params}))
        object.__setattr__(self, "_required", tuple(p.name for p in self.params if p.required))

    @property
    def names(self) -> frozenset[str]:
        """The admitted parameter names."""
        return frozenset(p.name for p in self.params)

    def validate(self, items: Sequence[tuple[str, object]]) -> list[str]:
        """Violations for the parameters as sent (names in order, values decoded)."""
        by_name = self._by_name
        present = {name for name, _ in items}
        out: list[str] = []
        for name, value in items:
            admitted = by_name.get(name)
            if admitted is not None:  # never stamped or forbidden (__post_init__)
                out.extend(admitted.check(value))
            elif name in self.stamped:
                out.append(
                    f"parameter {describe(name)} is stamped by the daemon and must not be sent"
                )
            elif name in self.forbidden:
                out.append(
                    f"parameter {describe(name)} belongs to withdrawals or transfers "
                    "and is never signable"
                )
            else:
                out.append(f"parameter {describe(name)} is not allowed on this endpoint")
        out.extend(
            f"parameter {describe(name)} is required"
            for name in self._required
            if name not in present
        )
        for group in self.one_of:
            if present.isdisjoint(group):
                out.append(f"one of {', '.join(group)} is required")
        for group in self.at_most_one:
            if len(present.intersection(group)) > 1:
                out.append(f"at most one of {', '.join(group)} may be sent")
        return out


def param(
    name: str,
    check: re.Pattern[str] | frozenset[str] | Validator,
    *,
    required: bool = False,
    kind: Kind = Kind.STRING,
) -> Param:
    """Shorthand for venue schema tables: the check's type picks the Param field."""
    if isinstance(check, re.Pattern):
        return Param(name, pattern=check, required=required, kind=kind)
    if isinstance(check, frozenset):
        return Param(name, enum=check, required=required, kind=kind)
    return Param(name, validator=check, required=required, kind=kind)


_API_KEY_RE = re.compile(r"[\x21-\x7e]{1,512}")


def header_safe_api_key(api_key: str) -> str:
    """The API key, if it can be put in a header verbatim (defence in depth)."""
    if not _API_KEY_RE.fullmatch(api_key):
        raise InvalidCredentialsError("api_key: must be printable ASCII", field="api_key")
    return api_key
