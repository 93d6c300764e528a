"""Crypto.com Exchange v1 REST (VENUES.md section 5).

Parameter lists: the Crypto.com Exchange v1 API reference
(https://exchange-docs.crypto.com/exchange/v1/rest-ws/index.html, sections
"Request Format", "Digital Signature", "Account Balance and Position API",
"Trading API", "Advanced Order Management API", "Order, Trade, Transaction
History API"); endpoint list: venue_endpoints.json (ccxt ``v1/private``).

Invariants (tests: tests/unit/venues/test_cryptocom.py, tests/security/test_expfail_cryptocom.py):

1. Every call is ``POST /exchange/v1/<method>`` for one of the 21 allow-listed
   methods, matched exactly; the query is empty.
2. The caller's JSON body holds exactly ``method`` and ``params``. SECURITY:
   ``method`` must equal the URL path after ``/exchange/v1/`` byte for byte
   (the signature covers ``method``, not the URL); ``id``, ``nonce``,
   ``api_key`` and ``sig`` are stamped by the daemon and are violations when
   sent, at the top level or inside ``params``.
3. ``params`` follow a strict schema per method. SECURITY: every scalar must be
   a JSON string (the reference says "all numbers must be strings"); numbers,
   booleans and ``null`` are refused rather than canonicalised, because the
   reference implementations render them differently (Python ``True``/``None``,
   JavaScript ``true``/``null``). Lists hold strings (``exec_inst``) or
   objects of strings (``order_list``); objects nested elsewhere are refused,
   so the paramString never reaches the depth cap where the reference
   implementations disagree. ``exec_inst`` inside an ``order_list`` leg is
   refused for the same reason (the Java reference renders it ``[POST_ONLY]``,
   ccxt and the JavaScript reference ``POST_ONLY``). Withdrawal and transfer
   names (``address``, ``amount``, ``currency``, ``network_id``...) are never
   admitted.
4. ``sign()`` takes ``id`` from ``clock.next_nonce("cryptocom-id:" + api_key)``
   and ``nonce`` from ``clock.now_ms()``, and computes
   ``sig = hex(HMAC-SHA256(secret, method || id || api_key || paramString || nonce))``
   over the validated params, which are the params it sends.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from policy.intents import EndpointClass
from signer.domain import HttpRequest, Mode, Principal, SignedRequest
from signer.errors import PolicyDeniedError
from signer.keystore.handles import VenueCredentials
from signer.schemes.hmac import HmacSha256
from signer.venues import _params as P
from signer.venues._params import Kind, Param, Schema, param
from signer.venues.base import Clock, Endpoint, ParsedRequest

NAME = "cryptocom"
HOSTS: dict[Mode, str | None] = {
    Mode.LIVE: "api.crypto.com",
    Mode.SANDBOX: "uat-api.3ona.co",  # Crypto.com's UAT sandbox for Exchange v1
}
PREFIX = "/exchange/v1/"
JSON = "application/json"
MAX_LEVEL = 3  # the reference paramString's recursion cap
STAMPED = frozenset({"id", "nonce", "api_key", "sig"})
CALLER_FIELDS = frozenset({"method", "params"})
# SECURITY: create-withdrawal / fiat withdraw / subaccount and isolated-margin transfer names.
FORBIDDEN = frozenset({
    "address", "address_tag", "amount", "currency", "network_id", "client_wid", "from", "to",
    "destination", "chain", "isolated_margin_amount", "direction", "bank_account_id",
    "account_id", "sub_account_uuid",
})  # fmt: skip

_rx = re.compile
INSTRUMENT = _rx(r"[A-Z0-9][A-Z0-9_.-]{0,49}")
CCY = _rx(r"[A-Z0-9]{1,16}")
DEC = _rx(r"[0-9]{1,20}(?:\.[0-9]{1,20})?")
CLIENT_OID = _rx(r"[A-Za-z0-9_.:-]{1,36}")
ORDER_ID = _rx(r"[0-9]{1,20}")
TIME = _rx(r"[0-9]{1,19}")
_DIGITS = _rx(r"0|[1-9][0-9]{0,8}")
SIDE = frozenset({"BUY", "SELL"})
ORDER_TYPES = frozenset(
    {"LIMIT", "MARKET", "STOP_LOSS", "STOP_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"}
)
TIF = frozenset({"GOOD_TILL_CANCEL", "IMMEDIATE_OR_CANCEL", "FILL_OR_KILL"})
EXEC_INST = frozenset({"POST_ONLY", "SMART_POST_ONLY"})
JOURNAL_TYPES = frozenset({
    "TRADING", "TRADE_FEE", "ONCHAIN_WITHDRAW", "ONCHAIN_DEPOSIT", "ROLLBACK_DEPOSIT",
    "ROLLBACK_WITHDRAW", "FUNDING", "REALIZED_PNL", "INSURANCE_FUND", "SOCIALIZED_LOSS",
    "LIQUIDATION_FEE", "SESSION_RESET", "ADJUSTMENT", "SESSION_SETTLE", "UNCOVERED_LOSS",
    "ADMIN_ADJUSTMENT", "DELIST", "SETTLEMENT_FEE", "AUTO_CONVERSION", "MANUAL_CONVERSION",
    "SUBACCOUNT_TX", "FIAT_WITHDRAWAL_CANCEL", "MARGIN_TRADE_INTEREST",
})  # fmt: skip


def _int(name: str, lo: int, hi: int, *, required: bool = False) -> Param:
    """A decimal integer in [lo, hi], sent as a JSON string."""

    def check(text: object) -> list[str]:
        ok = isinstance(text, str) and bool(_DIGITS.fullmatch(text)) and lo <= int(text) <= hi
        return [] if ok else [f"parameter {name!r} must be an integer from {lo} to {hi}"]

    return param(name, check, required=required)


def _schema(
    *params: Param,
    one_of: tuple[tuple[str, ...], ...] = (),
    at_most_one: tuple[tuple[str, ...], ...] = (),
) -> Schema:
    return Schema(
        tuple(params), one_of=one_of, at_most_one=at_most_one, stamped=STAMPED, forbidden=FORBIDDEN
    )


def _exec_inst(value: object) -> list[str]:
    ok = (
        isinstance(value, list)
        and len(value) <= 1
        and all(isinstance(v, str) and v in EXEC_INST for v in value)
    )
    return [] if ok else ["parameter 'exec_inst' must be [] or one of POST_ONLY, SMART_POST_ONLY"]


def _legs(name: str, schema: Schema, most: int, *, required: bool = True) -> Param:
    """``order_list``: 1 to ``most`` objects whose values are strings checked by ``schema``."""

    def check(value: object) -> list[str]:
        if not isinstance(value, list) or not 1 <= len(value) <= most:
            return [f"parameter {name!r} must hold 1 to {most} orders"]
        out: list[str] = []
        for index, leg in enumerate(value):
            if not isinstance(leg, dict):
                out.append(f"{name}[{index}] must be a JSON object")
            else:
                out += [f"{name}[{index}]: {v}" for v in schema.validate(list(leg.items()))]
        return out

    return param(name, check, required=required, kind=Kind.LIST)


INSTRUMENT_REQ = param("instrument_name", INSTRUMENT, required=True)
INSTRUMENT_OPT = param("instrument_name", INSTRUMENT)
TIME_RANGE = (param("start_time", TIME), param("end_time", TIME), _int("limit", 1, 100))
STP_FIELDS = (
    param("stp_scope", frozenset({"M", "S"})), param("stp_inst", frozenset({"M", "T", "B"})),
    _int("stp_id", 0, 32767),
)  # fmt: skip
ORDER_FIELDS = (
    INSTRUMENT_REQ, param("side", SIDE, required=True), param("type", ORDER_TYPES, required=True),
    param("price", DEC), param("quantity", DEC), param("notional", DEC),
    param("client_oid", CLIENT_OID), param("time_in_force", TIF), param("ref_price", DEC),
    param("ref_price_type", frozenset({"MARK_PRICE", "INDEX_PRICE", "LAST_PRICE"})),
    param("trigger_price", DEC), param("spot_margin", frozenset({"SPOT", "MARGIN"})),
    *STP_FIELDS, param("fee_instrument_name", CCY),
)  # fmt: skip
ORDER_LEG = _schema(*ORDER_FIELDS)
CANCEL_LEG = _schema(
    INSTRUMENT_OPT, param("order_id", ORDER_ID, required=True), param("client_oid", CLIENT_OID)
)
CONTINGENCY = frozenset({"LIST", "OCO"})
ORDER_REF = (("order_id", "client_oid"),)

SCHEMAS: Mapping[str, Schema] = {
    "private/create-order": _schema(
        *ORDER_FIELDS, param("exec_inst", _exec_inst, kind=Kind.LIST)
    ),
    "private/amend-order": _schema(
        param("client_oid", CLIENT_OID), param("order_id", ORDER_ID),
        param("orig_client_oid", CLIENT_OID), param("new_price", DEC, required=True),
        param("new_quantity", DEC, required=True), one_of=(("order_id", "orig_client_oid"),),
    ),
    "private/cancel-order": _schema(
        param("order_id", ORDER_ID), param("client_oid", CLIENT_OID), one_of=ORDER_REF
    ),
    "private/cancel-all-orders": _schema(
        INSTRUMENT_OPT, param("type", frozenset({"LIMIT", "TRIGGER", "ALL"}))
    ),
    "private/create-order-list": _schema(
        param("contingency_type", CONTINGENCY, required=True),
        _legs("order_list", ORDER_LEG, 10),
    ),
    "private/cancel-order-list": _schema(
        param("contingency_type", CONTINGENCY, required=True), INSTRUMENT_OPT,
        param("list_id", ORDER_ID), _legs("order_list", CANCEL_LEG, 10, required=False),
    ),
    "private/close-position": _schema(
        INSTRUMENT_REQ, param("type", frozenset({"LIMIT", "MARKET"}), required=True),
        param("price", DEC),
    ),
    "private/set-cancel-on-disconnect": _schema(
        param("scope", frozenset({"CONNECTION"}), required=True)
    ),
    "private/get-cancel-on-disconnect": _schema(),
    "private/user-balance": _schema(),
    "private/user-balance-history": _schema(
        param("timeframe", frozenset({"H1", "D1"})), param("end_time", TIME),
        _int("limit", 1, 120),
    ),
    "private/get-positions": _schema(INSTRUMENT_OPT),
    "private/get-open-orders": _schema(INSTRUMENT_OPT),
    "private/get-order-detail": _schema(
        param("order_id", ORDER_ID), param("client_oid", CLIENT_OID), one_of=ORDER_REF
    ),
    "private/get-order-history": _schema(INSTRUMENT_OPT, *TIME_RANGE),
    "private/get-trades": _schema(INSTRUMENT_OPT, *TIME_RANGE),
    "private/get-transactions": _schema(
        INSTRUMENT_OPT, param("journal_type", JOURNAL_TYPES), *TIME_RANGE
    ),
    "private/get-order-list": _schema(
        param("contingency_type", frozenset({"OCO"}), required=True),
        param("list_id", ORDER_ID, required=True), INSTRUMENT_REQ,
    ),
    "private/get-accounts": _schema(_int("page_size", 1, 1000), _int("page", 0, 10**6)),
    "private/get-fee-rate": _schema(),
    "private/get-instrument-fee-rate": _schema(INSTRUMENT_REQ),
}  # fmt: skip

_TRADE = ("create-order", "amend-order", "create-order-list", "close-position", "set-cancel-on")
_CANCEL = ("cancel-order", "cancel-all-orders", "cancel-order-list")


def _endpoint_class(method: str) -> EndpointClass:
    name = method.removeprefix("private/")
    if name in _CANCEL:
        return EndpointClass.CANCEL
    return EndpointClass.TRADE if name.startswith(_TRADE) else EndpointClass.READ


ENDPOINTS: tuple[Endpoint, ...] = tuple(
    Endpoint("POST", PREFIX + method, _endpoint_class(method)) for method in SCHEMAS
)


def _list_rules(method: str, params: Mapping[str, object]) -> list[str]:
    """Cross-field rules of the contingency-order methods (LIST vs OCO)."""
    kind, legs = params.get("contingency_type"), params.get("order_list")
    if method == "private/create-order-list" and kind == "OCO" and isinstance(legs, list):
        return [] if len(legs) == 2 else ["an OCO order_list holds exactly 2 orders"]
    if method != "private/cancel-order-list":
        return []
    if kind == "LIST" and ("order_list" not in params or "list_id" in params):
        return ["a LIST cancel takes order_list and no list_id"]
    oco_ok = "order_list" not in params and {"list_id", "instrument_name"} <= params.keys()
    if kind == "OCO" and not oco_ok:
        return ["an OCO cancel takes list_id and instrument_name, and no order_list"]
    return []


def param_string(params: Mapping[str, object]) -> str:
    """The reference paramString of validated params: keys sorted, ``key || value``.

    SECURITY: only the shapes ``parse()`` admits are rendered (strings, lists of
    strings, lists of objects of strings); anything else raises ``TypeError``
    instead of guessing a rendering the venue might compute differently.
    """
    return _object_string(params, 0)


def _object_string(obj: Mapping[str, object], level: int) -> str:
    return "".join(key + _value_string(obj[key], level) for key in sorted(obj))


def _value_string(value: object, level: int) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and level + 1 < MAX_LEVEL:
        return "".join(_element_string(item, level + 1) for item in value)
    raise TypeError("params value outside the admitted shapes")


def _element_string(item: object, level: int) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, dict) and all(isinstance(v, str) for v in item.values()):
        return _object_string(item, level)
    raise TypeError("params list element outside the admitted shapes")


@dataclass(frozen=True, slots=True)
class CryptocomDetail:
    """What ``sign()`` needs: the path, the method and the validated params."""

    path: str
    method: str
    params: dict[str, object]
    passthrough: tuple[tuple[str, str], ...]


def _body_violations(
    path: str, body: Mapping[str, object]
) -> tuple[str, dict[str, object], list[str]]:
    """Check the caller's top-level body; return (method, params, violations)."""
    out: list[str] = []
    for key in body:
        if key in STAMPED:
            out.append(
                f"body field {P.describe(key)} is stamped by the daemon and must not be sent"
            )
        elif key not in CALLER_FIELDS:
            out.append(f"body field {P.describe(key)} is not allowed; send method and params only")
    method = path.removeprefix(PREFIX)
    # SECURITY: the signature binds body.method, the venue routes on it; the URL must agree.
    if body.get("method") != method:
        out.append("body.method must equal the URL path after /exchange/v1/ exactly")
    params = body.get("params", {})
    if not isinstance(params, dict):
        return method, {}, [*out, "body.params must be a JSON object"]
    out += SCHEMAS[method].validate(list(params.items())) + _list_rules(method, params)
    return method, params, out


class CryptocomVenue:
    """The Crypto.com Exchange v1 venue (see the module docstring)."""

    name = NAME
    hosts = HOSTS

    def parse(self, principal: Principal, request: HttpRequest) -> ParsedRequest:
        """Strictly parse ``request`` into an intent (``Venue.parse``)."""
        method, path = P.check_method(request.method), P.check_path(request.path)
        host = P.resolve_host(NAME, HOSTS, principal.mode, request.host)
        headers = P.check_headers(request.headers)
        violations = list(headers.violations)
        if request.query:
            violations.append("Crypto.com takes parameters in the JSON body; query must be empty")
        endpoint = next((e for e in ENDPOINTS if e.method == method and e.path == path), None)
        if endpoint is None:
            return ParsedRequest(
                P.make_intent(principal, NAME, request, None, violations), host, None
            )
        detail = None
        if not request.body:
            violations.append("request.body must be a JSON object with method and params")
        else:
            body, duplicates = P.parse_json_object(request.body)
            api_method, params, found = _body_violations(path, body)
            violations += duplicates + found
            violations += P.content_type_violations(headers.content_type, JSON)
            detail = CryptocomDetail(path, api_method, params, headers.passthrough)
        matched = (endpoint.key, endpoint.endpoint_class)
        return ParsedRequest(
            P.make_intent(principal, NAME, request, matched, violations), host, detail
        )

    def sign(self, parsed: ParsedRequest, creds: VenueCredentials, clock: Clock) -> SignedRequest:
        """Stamp id and nonce, sign the pre-image, build the body (``Venue.sign``)."""
        detail = parsed.detail
        if (
            parsed.intent.violations
            or parsed.intent.endpoint is None
            or not isinstance(detail, CryptocomDetail)
        ):
            # SECURITY: defence in depth; the pipeline never calls sign() for these.
            raise PolicyDeniedError("the strict parser refused this request; it cannot be signed")
        api_key = P.header_safe_api_key(creds.api_key)
        request_id = clock.next_nonce(f"cryptocom-id:{api_key}")
        nonce = clock.now_ms()
        mac: HmacSha256 = creds.derived("cryptocom:hmac-sha256", lambda: HmacSha256(creds.secret))
        preimage = f"{detail.method}{request_id}{api_key}{param_string(detail.params)}{nonce}"
        body = {
            "id": request_id,
            "method": detail.method,
            "api_key": api_key,
            "params": detail.params,
            "nonce": nonce,
            "sig": mac.hex(preimage.encode("utf-8")),
        }
        headers = (("Content-Type", JSON), *detail.passthrough)
        text = P.canonical_json(body).encode("ascii")
        request = HttpRequest("POST", detail.path, "", text, headers, parsed.host)
        return SignedRequest(request=request, auth_headers=())


VENUE = CryptocomVenue()
