"""Kraken spot REST (VENUES.md section 1).

Invariants (tests: tests/unit/venues/test_kraken.py, tests/security/test_expfail_kraken.py):

1. Only ``POST /0/private/<Method>`` for the methods of venue_endpoints.json's
   allow list match an endpoint (exact, case-sensitive); anything else gets
   ``endpoint=None``. Withdraw*, *Transfer, Deposit*, Earn/* never match.
2. Every endpoint has a strict schema from Kraken's REST reference; unknown
   top-level parameters, a caller ``nonce``, duplicates and a non-empty query
   string are violations. ``AddOrderBatch``/``CancelOrderBatch`` take a JSON
   body, every other endpoint a form body.
3. Kraken spot has no sandbox: a sandbox principal gets ``ModeMismatchError``.
4. ``sign()`` puts the daemon's nonce first (``nonce=<n>&...`` or a leading
   ``"nonce"`` key), re-encodes the validated parameters in the caller's order
   and signs ``path || SHA256(nonce || body)`` with HMAC-SHA512 under the
   base64-decoded secret.

SECURITY: Kraken signatures never expire (the nonce only has to grow), so the
signed request must be sent promptly; the nonce comes from the durable,
strictly increasing ``Clock.next_nonce`` scoped to the API key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from policy.intents import EndpointClass
from signer.domain import HttpRequest, Mode, Principal, SignedRequest
from signer.errors import PolicyDeniedError
from signer.keystore.handles import VenueCredentials
from signer.schemes.hmac import HmacSha512, kraken_sign
from signer.venues import _params as P
from signer.venues._params import Kind, Schema, param
from signer.venues.base import Clock, Endpoint, ParsedRequest

NAME = "kraken"
HOSTS: dict[Mode, str | None] = {Mode.LIVE: "api.kraken.com", Mode.SANDBOX: None}
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
PREFIX = "/0/private/"
JSON_METHODS = frozenset({"AddOrderBatch", "CancelOrderBatch"})
STAMPED = frozenset({"nonce"})
# SECURITY: names from Withdraw / WalletTransfer / AccountTransfer / DepositAddresses.
FORBIDDEN = frozenset({"address", "amount", "key", "max_fee", "from", "to", "new", "method"})

_CLASSES: Mapping[EndpointClass, tuple[str, ...]] = {
    EndpointClass.TRADE: ("AddOrder", "AddOrderBatch", "AmendOrder", "EditOrder"),
    EndpointClass.CANCEL: ("CancelOrder", "CancelOrderBatch", "CancelAll", "CancelAllOrdersAfter"),
    EndpointClass.READ: (
        "GetWebSocketsToken", "Balance", "BalanceEx", "TradeBalance", "CreditLines",
        "OpenOrders", "ClosedOrders", "QueryOrders", "OrderAmends", "TradesHistory",
        "QueryTrades", "OpenPositions", "Ledgers", "QueryLedgers", "TradeVolume",
        "GetApiKeyInfo",
    ),
}  # fmt: skip
ENDPOINTS: tuple[Endpoint, ...] = tuple(
    Endpoint("POST", PREFIX + name, cls) for cls, names in _CLASSES.items() for name in names
)

# --- value checks -----------------------------------------------------------------
_rx = re.compile
_TXID = r"[A-Z0-9]{2,10}(?:-[A-Z0-9]{2,10}){1,4}"
DEC = _rx(r"[0-9]{1,20}(?:\.[0-9]{1,20})?")
PRICE = _rx(r"[+#-]?[0-9]{1,20}(?:\.[0-9]{1,20})?%?")  # relative (+,-,#) and % prices
PAIR = _rx(r"[A-Za-z0-9./]{1,32}")
PAIRS = _rx(r"[A-Za-z0-9./]{1,32}(?:,[A-Za-z0-9./]{1,32}){0,49}")
ASSETS = _rx(r"[A-Za-z0-9.]{1,16}(?:,[A-Za-z0-9.]{1,16}){0,49}")
USERREF = _rx(r"-?[0-9]{1,10}")
CL_ORD_ID = _rx(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{32}|[A-Za-z0-9_.:-]{1,18}"
)
CL_ORD_IDS = _rx(r"[A-Za-z0-9_.:-]{1,36}(?:,[A-Za-z0-9_.:-]{1,36}){0,49}")
TXID = _rx(_TXID)
TXIDS_50 = _rx(_TXID + r"(?:," + _TXID + r"){0,49}")
TXIDS_20 = _rx(_TXID + r"(?:," + _TXID + r"){0,19}")
ORDER_REF = _rx(_TXID + r"|-?[0-9]{1,10}")  # CancelOrder txid: txid or userref
LEVERAGE = _rx(r"none|[1-9][0-9]{0,2}(?::1)?")
START_EXPIRE = _rx(r"0|\+?[0-9]{1,12}(?:\.[0-9]{1,9})?")
DEADLINE = _rx(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:Z|[+-][0-9]{2}:[0-9]{2})"
)
TIME_OR_ID = _rx(r"[0-9]{1,12}(?:\.[0-9]{1,9})?|" + _TXID)
OFS = _rx(r"[0-9]{1,9}")
TIMEOUT = _rx(r"[0-9]{1,5}")
OTP = _rx(r"[A-Za-z0-9]{1,64}")
BOOL = frozenset({"true", "false"})
ORDERTYPE = frozenset({
    "market", "limit", "iceberg", "stop-loss", "take-profit", "stop-loss-limit",
    "take-profit-limit", "trailing-stop", "trailing-stop-limit", "settle-position",
})  # fmt: skip
CLOSE_ORDERTYPE = ORDERTYPE - {"market", "settle-position"}
SIDE = frozenset({"buy", "sell"})
TRIGGER = frozenset({"last", "index"})
STPTYPE = frozenset({"cancel-newest", "cancel-oldest", "cancel-both"})
TIF = frozenset({"GTC", "IOC", "GTD"})
ASSET_CLASS = frozenset({"tokenized_asset"})
REBASE = frozenset({"rebased", "base"})
OFLAGS = frozenset({"post", "fcib", "fciq", "nompp", "viqc"})
LEDGER_TYPES = frozenset({
    "all", "trade", "deposit", "withdrawal", "transfer", "margin", "adjustment", "rollover",
    "credit", "settled", "staking", "dividend", "sale", "nft_rebate", "spend", "receive",
    "reward", "conversion",
})  # fmt: skip
TRADE_TYPES = frozenset(
    {"all", "any position", "closed position", "closing position", "no position"}
)


def _oflags(value: object) -> list[str]:
    flags = value.split(",") if isinstance(value, str) else []
    if not flags or len(set(flags)) != len(flags) or not set(flags) <= OFLAGS:
        return [f"parameter 'oflags' must be a comma list of: {', '.join(sorted(OFLAGS))}"]
    return []


def _timeout(value: object) -> list[str]:
    if isinstance(value, str) and TIMEOUT.fullmatch(value) and int(value) <= 86400:
        return []
    return ["parameter 'timeout' must be 0-86400 seconds"]


def _schema(
    *params: P.Param,
    one_of: Sequence[tuple[str, ...]] = (),
    only_one: Sequence[tuple[str, ...]] = (),
) -> Schema:
    return Schema(
        (*params, param("otp", OTP)),
        one_of=tuple(one_of),
        at_most_one=tuple(only_one),
        stamped=STAMPED,
        forbidden=FORBIDDEN,
    )


def _reads(*params: P.Param) -> Schema:
    return _schema(*params, param("rebase_multiplier", REBASE))


def _order_fields(close: P.Param) -> tuple[P.Param, ...]:
    return (
        param("userref", USERREF, kind=Kind.INT),
        param("cl_ord_id", CL_ORD_ID),
        param("ordertype", ORDERTYPE, required=True),
        param("type", SIDE, required=True),
        param("volume", DEC, required=True),
        param("displayvol", DEC),
        param("price", PRICE),
        param("price2", PRICE),
        param("trigger", TRIGGER),
        param("leverage", LEVERAGE),
        param("reduce_only", BOOL, kind=Kind.BOOL),
        param("stptype", STPTYPE),
        param("oflags", _oflags),
        param("timeinforce", TIF),
        param("starttm", START_EXPIRE),
        param("expiretm", START_EXPIRE),
        close,
    )


_CLOSE = Schema(
    (
        param("ordertype", CLOSE_ORDERTYPE, required=True),
        param("price", PRICE),
        param("price2", PRICE),
    )
)
_BATCH_ORDER = Schema(
    _order_fields(param("close", lambda v: _nested("close", _CLOSE, v), kind=Kind.OBJECT)),
    at_most_one=(("userref", "cl_ord_id"),),
    stamped=STAMPED,
    forbidden=FORBIDDEN,
)


def _nested(where: str, schema: Schema, value: object) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where} must be a JSON object"]
    return [f"{where}: {v}" for v in schema.validate(list(value.items()))]


def _batch_orders(value: object) -> list[str]:
    if not isinstance(value, list) or not 2 <= len(value) <= 15:
        return ["parameter 'orders' must hold 2 to 15 orders"]
    out: list[str] = []
    for index, order in enumerate(value):
        out.extend(_nested(f"orders[{index}]", _BATCH_ORDER, order))
    return out


def _id_list(name: str, pattern: re.Pattern[str]) -> P.Validator:
    def check(value: object) -> list[str]:
        ok = isinstance(value, list) and 1 <= len(value) <= 50
        for item in value if isinstance(value, list) else ():
            text = str(item) if type(item) is int else item
            ok = ok and isinstance(text, str) and bool(pattern.fullmatch(text))
        return [] if ok else [f"parameter {name!r} must be a list of 1 to 50 order ids"]

    return check


def _close_form(name: str, values: re.Pattern[str] | frozenset[str]) -> P.Param:
    return param(f"close[{name}]", values)


SCHEMAS: Mapping[str, Schema] = {
    "AddOrder": _schema(
        *_order_fields(_close_form("ordertype", CLOSE_ORDERTYPE)),
        _close_form("price", PRICE), _close_form("price2", PRICE),
        param("pair", PAIR, required=True), param("asset_class", ASSET_CLASS),
        param("deadline", DEADLINE), param("validate", BOOL),
        only_one=(("userref", "cl_ord_id"),),
    ),
    "AddOrderBatch": _schema(
        param("orders", _batch_orders, required=True, kind=Kind.LIST),
        param("pair", PAIR, required=True), param("asset_class", ASSET_CLASS),
        param("deadline", DEADLINE), param("validate", BOOL, kind=Kind.BOOL),
    ),
    "AmendOrder": _schema(
        param("txid", TXID), param("cl_ord_id", CL_ORD_ID), param("order_qty", DEC),
        param("display_qty", DEC), param("limit_price", PRICE), param("trigger_price", PRICE),
        param("post_only", BOOL), param("deadline", DEADLINE),
        one_of=(("txid", "cl_ord_id"),), only_one=(("txid", "cl_ord_id"),),
    ),
    "EditOrder": _schema(
        param("userref", USERREF), param("txid", ORDER_REF, required=True),
        param("volume", DEC), param("displayvol", DEC), param("pair", PAIR, required=True),
        param("asset_class", ASSET_CLASS), param("price", PRICE), param("price2", PRICE),
        param("oflags", _oflags), param("deadline", DEADLINE),
        param("cancel_response", BOOL), param("validate", BOOL),
    ),
    "CancelOrder": _schema(
        param("txid", ORDER_REF), param("cl_ord_id", CL_ORD_ID),
        one_of=(("txid", "cl_ord_id"),), only_one=(("txid", "cl_ord_id"),),
    ),
    "CancelOrderBatch": _schema(
        param("orders", _id_list("orders", ORDER_REF), kind=Kind.LIST),
        param("cl_ord_ids", _id_list("cl_ord_ids", CL_ORD_ID), kind=Kind.LIST),
        one_of=(("orders", "cl_ord_ids"),),
    ),
    "CancelAll": _schema(),
    "CancelAllOrdersAfter": _schema(param("timeout", _timeout, required=True)),
    "GetWebSocketsToken": _schema(),
    "GetApiKeyInfo": _schema(),
    "Balance": _reads(),
    "BalanceEx": _reads(),
    "CreditLines": _reads(),
    "TradeBalance": _reads(param("asset", ASSETS)),
    "OpenOrders": _reads(
        param("trades", BOOL), param("userref", USERREF), param("cl_ord_id", CL_ORD_IDS)
    ),
    "ClosedOrders": _reads(
        param("trades", BOOL), param("userref", USERREF), param("cl_ord_id", CL_ORD_IDS),
        param("start", TIME_OR_ID), param("end", TIME_OR_ID), param("ofs", OFS),
        param("closetime", frozenset({"open", "close", "both"})),
        param("consolidate_taker", BOOL), param("without_count", BOOL),
    ),
    "QueryOrders": _reads(
        param("trades", BOOL), param("userref", USERREF),
        param("txid", TXIDS_50, required=True), param("consolidate_taker", BOOL),
    ),
    "OrderAmends": _reads(param("order_id", TXID, required=True)),
    "TradesHistory": _reads(
        param("type", TRADE_TYPES), param("trades", BOOL), param("start", TIME_OR_ID),
        param("end", TIME_OR_ID), param("ofs", OFS), param("without_count", BOOL),
        param("consolidate_taker", BOOL), param("ledgers", BOOL),
    ),
    "QueryTrades": _reads(param("txid", TXIDS_20, required=True), param("trades", BOOL)),
    "OpenPositions": _reads(
        param("txid", TXIDS_50), param("docalcs", BOOL),
        param("consolidation", frozenset({"market"})),
    ),
    "Ledgers": _reads(
        param("asset", ASSETS), param("aclass", frozenset({"currency", "tokenized_asset"})),
        param("type", LEDGER_TYPES), param("start", TIME_OR_ID), param("end", TIME_OR_ID),
        param("ofs", OFS), param("without_count", BOOL),
    ),
    "QueryLedgers": _reads(param("id", TXIDS_20, required=True), param("trades", BOOL)),
    "TradeVolume": _reads(param("pair", PAIRS)),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class KrakenDetail:
    """What ``sign()`` needs: the path, the body kind and the validated parameters."""

    path: str
    json_body: bool
    params: tuple[tuple[str, object], ...]
    passthrough: tuple[tuple[str, str], ...]


class KrakenVenue:
    """The Kraken spot venue (see the module docstring)."""

    name = NAME
    hosts = HOSTS

    def parse(self, principal: Principal, request: HttpRequest) -> ParsedRequest:
        """Strictly parse ``request`` into an intent (``Venue.parse``)."""
        method, path = P.check_method(request.method), P.check_path(request.path)
        host = P.resolve_host(NAME, HOSTS, principal.mode, request.host)
        headers = P.check_headers(request.headers)
        violations = list(headers.violations)
        if request.query:
            violations.append(
                "Kraken takes parameters in the body only; request.query must be empty"
            )
        endpoint = next(
            (e for e in ENDPOINTS if e.method == method and P.match_template(path, e.path)), None
        )
        if endpoint is None:
            return ParsedRequest(
                P.make_intent(principal, NAME, request, None, violations), host, None
            )
        method_name = path.removeprefix(PREFIX)
        is_json = method_name in JSON_METHODS
        items: list[tuple[str, object]]
        if is_json:
            body, duplicates = P.parse_json_object(request.body)
            items = list(body.items())
            violations += duplicates
        else:
            pairs = P.parse_form(request.body, where="request.body", limit=P.MAX_BODY_BYTES)
            items = list(pairs)
            violations += P.duplicate_violations((k for k, _ in pairs), "request.body")
        violations += P.content_type_violations(headers.content_type, JSON if is_json else FORM)
        violations += SCHEMAS[method_name].validate(items)
        if method_name == "CancelOrderBatch":
            violations += _batch_total(dict(items))
        detail = KrakenDetail(path, is_json, tuple(items), headers.passthrough)
        matched = (endpoint.key, endpoint.endpoint_class)
        return ParsedRequest(
            P.make_intent(principal, NAME, request, matched, violations), host, detail
        )

    def sign(self, parsed: ParsedRequest, creds: VenueCredentials, clock: Clock) -> SignedRequest:
        """Stamp the nonce, build the body, sign it (``Venue.sign``)."""
        detail = parsed.detail
        if (
            parsed.intent.violations
            or parsed.intent.endpoint is None
            or not isinstance(detail, KrakenDetail)
        ):
            # SECURITY: defence in depth; the pipeline never calls sign() for these.
            raise PolicyDeniedError("the strict parser refused this request; it cannot be signed")
        api_key = P.header_safe_api_key(creds.api_key)
        nonce = str(clock.next_nonce(f"{NAME}:{api_key}"))
        if detail.json_body:
            text = P.canonical_json({"nonce": nonce, **dict(detail.params)})
        else:
            text = P.encode_form([("nonce", nonce), *_form_pairs(detail.params)])
        body = text.encode("ascii")
        key = creds.derived(
            "kraken:hmac-sha512", lambda: HmacSha512.from_base64_secret(creds.secret)
        )
        auth = (
            ("API-Key", api_key),
            ("API-Sign", kraken_sign(key, detail.path.encode("ascii"), nonce, body)),
        )
        headers = (*auth, ("Content-Type", JSON if detail.json_body else FORM), *detail.passthrough)
        request = HttpRequest("POST", detail.path, "", body, headers, parsed.host)
        return SignedRequest(request=request, auth_headers=auth)


def _form_pairs(params: Sequence[tuple[str, object]]) -> list[tuple[str, str]]:
    pairs = [(k, v) for k, v in params if isinstance(v, str)]
    if len(pairs) != len(params):  # form values are always text; anything else is a bug
        raise TypeError("form parameters must be strings")
    return pairs


def _batch_total(body: Mapping[str, object]) -> list[str]:
    total = sum(len(v) for k in ("orders", "cl_ord_ids") if isinstance(v := body.get(k), list))
    return ["CancelOrderBatch takes at most 50 ids in total"] if total > 50 else []


VENUE = KrakenVenue()
