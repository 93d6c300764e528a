"""OKX v5 REST (VENUES.md section 7).

Invariants (tests: tests/unit/venues/test_okx.py, tests/security/test_expfail_okx.py):

1. Only the 28 ``/api/v5`` endpoints of venue_endpoints.json's okx allow list
   match (exact method and path); ``/api/v5/asset/...``, ``/users/...`` and
   everything else do not.
2. Every endpoint has a strict schema taken from the OKX v5 API reference
   (https://www.okx.com/docs-v5/en/, sections "Order Book Trading > Trade",
   "> Algo Trading" and "Trading Account", as published 2026-06): unknown,
   duplicate or mistyped parameters are violations, nested ``attachAlgoOrds`` /
   ``triggerParams`` objects are checked with their own schemas, and no schema
   can admit a withdrawal/transfer name (``Schema`` refuses to be built with one).
3. GET parameters come in the query only, POST parameters in a JSON body only
   (an object, or for the four batch endpoints an array of 1-20 / 1-10
   objects). Caller headers other than Content-Type/Accept/User-Agent are
   violations, so a caller can neither add nor strip ``x-simulated-trading``.
4. ``sign()`` re-encodes what was validated (the query in the caller's order,
   percent-encoded; the body as compact JSON in the caller's key order) and
   signs ``timestamp + METHOD + requestPath(+?query) + body`` with
   HMAC-SHA256, base64. The timestamp is ISO-8601 UTC with milliseconds from
   ``clock.now_ms()``; OKX refuses it 30 s later. Place/amend (single and
   batch), the endpoints OKX documents ``expTime`` for ("Overview > REST API >
   Transaction timeouts"), also get ``expTime`` = now + ``exp_window_ms``.
5. Sandbox principals get the same host with ``x-simulated-trading: 1`` (OKX
   demo trading); live requests never carry it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from policy.intents import EndpointClass
from signer.domain import HttpRequest, Mode, Principal, SignedRequest
from signer.errors import PolicyDeniedError
from signer.keystore.handles import VenueCredentials
from signer.schemes.hmac import HmacSha256, header_secret
from signer.venues import _params as P
from signer.venues._params import Kind, Param, Schema, param
from signer.venues.base import Clock, Endpoint, ParsedRequest

NAME = "okx"
HOST = "www.okx.com"
HOSTS: dict[Mode, str | None] = {Mode.LIVE: HOST, Mode.SANDBOX: HOST}
JSON = "application/json"
PREFIX = "/api/v5/"
STAMPED = frozenset({"expTime", "timestamp", "sign"})
# SECURITY: names from the Funding (withdrawal, transfer, convert) and
# Sub-account bodies; ``ccy`` alone is a margin currency on trade endpoints.
FORBIDDEN = frozenset({
    "amt", "toAddr", "toAddrType", "dest", "fee", "chain", "areaCode", "rcvrInfo", "clientId",
    "from", "to", "subAcct", "type", "loanTrans", "omitPosRisk", "invoice", "address", "memo",
    "fromCcy", "toCcy", "quoteId", "wdId", "coin", "amount", "network", "toAccountType",
    "destination", "withdrawOrderId",
})  # fmt: skip

# --- value checks -----------------------------------------------------------------
_rx = re.compile
_INST = r"[A-Z0-9.]{1,24}(?:-[A-Z0-9.]{1,24}){1,5}"
INST_ID = _rx(_INST)
INST_IDS_5 = _rx(_INST + r"(?:," + _INST + r"){0,4}")
INST_IDS_10 = _rx(_INST + r"(?:," + _INST + r"){0,9}")
FAMILY = _rx(r"[A-Z0-9]{1,24}-[A-Z0-9]{1,24}")
CCY = _rx(r"[A-Z0-9]{1,16}")
CCYS = _rx(r"[A-Z0-9]{1,16}(?:,[A-Z0-9]{1,16}){0,19}")
DEC = _rx(r"[0-9]{1,20}(?:\.[0-9]{1,20})?")
SIGNED = _rx(r"-?[0-9]{1,20}(?:\.[0-9]{1,20})?")  # -1 = market price; negative ratios
ID = _rx(r"[0-9]{1,20}")
IDS_20 = _rx(r"[0-9]{1,20}(?:,[0-9]{1,20}){0,19}")
CL_ID = _rx(r"[A-Za-z0-9]{1,32}")
TAG = _rx(r"[A-Za-z0-9]{1,16}")
TIME_MS = _rx(r"[0-9]{1,16}")
LIMIT = _rx(r"100|[1-9][0-9]?")
STP_ID = _rx(r"[1-9][0-9]{0,8}")
TIMEOUT = _rx(r"0|[1-9][0-9]|1[01][0-9]|120")  # 0 (off) or 10-120 seconds
LOCK_MS = _rx(r"[0-9]{1,4}|10000")
SUB_TYPE = _rx(r"[0-9]{1,4}")
GROUP_ID = _rx(r"[0-9]{1,10}")
SMALL_INT = _rx(r"[1-9][0-9]{0,5}")
THOLD = _rx(r"100|[1-9][0-9]?")
BOOL = frozenset({"true", "false"})
SIDE = frozenset({"buy", "sell"})
POS_SIDE = frozenset({"long", "short", "net"})
TD_MODE = frozenset({"cross", "isolated", "cash", "spot_isolated"})
MGN_MODE = frozenset({"cross", "isolated"})
ORD_TYPE = frozenset({
    "market", "limit", "post_only", "fok", "ioc", "optimal_limit_ioc", "mmp",
    "mmp_and_post_only", "elp",
})  # fmt: skip
ALGO_TYPE = frozenset({
    "conditional", "oco", "chase", "trigger", "move_order_stop", "twap", "smart_iceberg",
})  # fmt: skip
INST_TYPE = frozenset({"SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION", "EVENTS"})
TGT_CCY = frozenset({"base_ccy", "quote_ccy"})
STP_MODE = frozenset({"cancel_maker", "cancel_taker", "cancel_both"})
ZERO_ONE = frozenset({"0", "1"})
PX_TYPE = frozenset({"last", "index", "mark"})
TP_KIND = frozenset({"condition", "limit"})
QUICK_MGN = frozenset({"manual", "auto_borrow", "auto_repay"})


def _csv(name: str, values: frozenset[str], most: int) -> P.Validator:
    """A comma list of distinct enum values (e.g. ``ordType=post_only,fok``)."""

    def check(value: object) -> list[str]:
        items = value.split(",") if isinstance(value, str) else []
        ok = 1 <= len(items) <= most and len(set(items)) == len(items)
        if ok and set(items) <= values:
            return []
        return [f"parameter {name!r} must be a comma list of: {', '.join(sorted(values))}"]

    return check


def _schema(
    *params: Param,
    one_of: Sequence[tuple[str, ...]] = (),
    only_one: Sequence[tuple[str, ...]] = (),
) -> Schema:
    return Schema(
        tuple(params),
        one_of=tuple(one_of),
        at_most_one=tuple(only_one),
        stamped=STAMPED,
        forbidden=FORBIDDEN,
    )


def _objects(name: str, schema: Schema, most: int) -> P.Validator:
    """A JSON array of 1..``most`` objects, each checked with ``schema``."""

    def check(value: object) -> list[str]:
        if not isinstance(value, list) or not 1 <= len(value) <= most:
            return [f"{name} must be a JSON array of 1 to {most} objects"]
        out: list[str] = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                out.append(f"{name}[{index}] must be a JSON object")
                continue
            out.extend(f"{name}[{index}]: {v}" for v in schema.validate(list(item.items())))
        return out

    return check


def _list(name: str, schema: Schema, most: int) -> Param:
    return param(name, _objects(name, schema, most), kind=Kind.LIST)


INST = param("instId", INST_ID, required=True)
ORDER_REF = (param("ordId", ID), param("clOrdId", CL_ID))
ALGO_REF = (param("algoId", ID), param("algoClOrdId", CL_ID))
PAGING = (param("after", ID), param("before", ID), param("limit", LIMIT))
TIME_RANGE = (param("begin", TIME_MS), param("end", TIME_MS))
_TP_SL_TYPES = (param("tpTriggerPxType", PX_TYPE), param("slTriggerPxType", PX_TYPE))
_NEW_TP_SL_TYPES = (param("newTpTriggerPxType", PX_TYPE), param("newSlTriggerPxType", PX_TYPE))
_TRAIL = (param("callbackRatio", DEC), param("callbackSpread", DEC), param("activePx", DEC))
_NEW_TRAIL = (
    param("newCallbackRatio", DEC),
    param("newCallbackSpread", DEC),
    param("newActivePx", DEC),
)

# attachAlgoOrds of place order / batch orders / precheck / order-algo.
ATTACH = _schema(
    param("attachAlgoClOrdId", CL_ID), param("tpTriggerPx", DEC), param("tpTriggerRatio", SIGNED),
    param("tpOrdPx", SIGNED), param("tpOrdKind", TP_KIND), param("slTriggerPx", DEC),
    param("slTriggerRatio", SIGNED), param("slOrdPx", SIGNED), *_TP_SL_TYPES, param("sz", DEC),
    param("amendPxOnTriggerType", ZERO_ONE), *_TRAIL,
    only_one=(("tpTriggerPx", "tpTriggerRatio"), ("slTriggerPx", "slTriggerRatio"),
              ("callbackRatio", "callbackSpread")),
)  # fmt: skip
# attachAlgoOrds of amend order (identifies the attached order to change).
ATTACH_AMEND = _schema(
    param("attachAlgoId", ID), param("attachAlgoClOrdId", CL_ID), param("newTpTriggerPx", DEC),
    param("newTpTriggerRatio", SIGNED), param("newTpOrdPx", SIGNED),
    param("newTpOrdKind", TP_KIND), param("newSlTriggerPx", DEC),
    param("newSlTriggerRatio", SIGNED), param("newSlOrdPx", SIGNED), *_NEW_TP_SL_TYPES,
    param("sz", DEC), param("amendPxOnTriggerType", ZERO_ONE), *_NEW_TRAIL,
    only_one=(("newTpTriggerPx", "newTpTriggerRatio"), ("newSlTriggerPx", "newSlTriggerRatio")),
)  # fmt: skip
# attachAlgoOrds of amend algo order (trigger orders).
ATTACH_ALGO_AMEND = _schema(
    param("newTpTriggerPx", DEC), param("newTpTriggerRatio", SIGNED), param("newTpOrdPx", SIGNED),
    param("newSlTriggerPx", DEC), param("newSlTriggerRatio", SIGNED),
    param("newSlOrdPx", SIGNED), *_NEW_TP_SL_TYPES, *_NEW_TRAIL,
)  # fmt: skip
TRIGGER_PARAMS = _schema(
    param("triggerAction", frozenset({"start"}), required=True),
    param("triggerStrategy", frozenset({"instant", "price", "rsi"}), required=True),
    param("triggerPx", DEC),
    param("triggerCond", frozenset({"cross_up", "cross_down", "above", "below", "cross"})),
    param("timeframe", frozenset({"3m", "5m", "15m", "30m", "1H", "4H", "1D"})),
    param("thold", THOLD), param("timePeriod", frozenset({"14"})),
)  # fmt: skip

ORDER = _schema(
    INST, param("tdMode", TD_MODE, required=True), param("ccy", CCY), param("clOrdId", CL_ID),
    param("tag", TAG), param("side", SIDE, required=True), param("posSide", POS_SIDE),
    param("ordType", ORD_TYPE, required=True), param("sz", DEC, required=True),
    param("px", DEC), param("speedBump", frozenset({"1"})),
    param("outcome", frozenset({"yes", "no"})), param("pxUsd", DEC), param("pxVol", DEC),
    param("reduceOnly", BOOL, kind=Kind.BOOL), param("tgtCcy", TGT_CCY),
    param("banAmend", BOOL, kind=Kind.BOOL), param("pxAmendType", ZERO_ONE),
    param("tradeQuoteCcy", CCY), param("slippagePct", DEC), param("stpMode", STP_MODE),
    param("stpId", STP_ID), param("isElpTakerAccess", BOOL, kind=Kind.BOOL),
    param("quickMgnType", QUICK_MGN), _list("attachAlgoOrds", ATTACH, 11),
    only_one=(("px", "pxUsd", "pxVol"),),
)  # fmt: skip
PRECHECK = _schema(
    INST, param("tdMode", TD_MODE, required=True), param("clOrdId", CL_ID),
    param("side", SIDE, required=True), param("posSide", POS_SIDE),
    param("ordType", ORD_TYPE, required=True), param("sz", DEC, required=True),
    param("px", DEC), param("outcome", frozenset({"yes", "no"})),
    param("reduceOnly", BOOL, kind=Kind.BOOL), param("tgtCcy", TGT_CCY),
    _list("attachAlgoOrds", ATTACH, 11),
)  # fmt: skip
CANCEL = _schema(INST, *ORDER_REF, one_of=(("ordId", "clOrdId"),))
AMEND = _schema(
    INST, param("cxlOnFail", BOOL, kind=Kind.BOOL), *ORDER_REF, param("reqId", CL_ID),
    param("newSz", DEC), param("newPx", DEC), param("speedBump", frozenset({"1"})),
    param("newPxUsd", DEC), param("newPxVol", DEC), param("pxAmendType", ZERO_ONE),
    _list("attachAlgoOrds", ATTACH_AMEND, 11),
    one_of=(("ordId", "clOrdId"),), only_one=(("newPx", "newPxUsd", "newPxVol"),),
)  # fmt: skip
ALGO = _schema(
    INST, param("tdMode", TD_MODE, required=True), param("ccy", CCY),
    param("side", SIDE, required=True), param("posSide", POS_SIDE),
    param("ordType", ALGO_TYPE, required=True), param("sz", DEC), param("tag", TAG),
    param("tgtCcy", TGT_CCY), param("algoClOrdId", CL_ID),
    param("closeFraction", frozenset({"1"})), param("tradeQuoteCcy", CCY),
    param("tpTriggerPx", DEC), param("tpOrdPx", SIGNED), param("tpOrdKind", TP_KIND),
    param("slTriggerPx", DEC), param("slOrdPx", SIGNED), *_TP_SL_TYPES,
    param("cxlOnClosePos", BOOL, kind=Kind.BOOL), param("reduceOnly", BOOL, kind=Kind.BOOL),
    param("chaseType", frozenset({"distance", "ratio"})), param("chaseVal", DEC),
    param("maxChaseType", frozenset({"distance", "ratio"})), param("maxChaseVal", DEC),
    param("triggerPx", DEC), param("orderPx", SIGNED),
    param("advanceOrdType", frozenset({"fok", "ioc"})), param("triggerPxType", PX_TYPE),
    _list("attachAlgoOrds", ATTACH, 11), *_TRAIL, param("pxVar", DEC),
    param("pxSpread", DEC), param("szLimit", DEC), param("pxLimit", DEC),
    param("timeInterval", SMALL_INT), param("lmtOrderNumber", SMALL_INT),
    param("aggressiveness", frozenset({"radical", "mid", "conservative"})),
    _list("triggerParams", TRIGGER_PARAMS, 10),
    one_of=(("sz", "closeFraction"),),
    only_one=(("sz", "closeFraction"), ("callbackRatio", "callbackSpread"),
              ("pxVar", "pxSpread")),
)  # fmt: skip
CANCEL_ALGO = _schema(INST, *ALGO_REF, one_of=(("algoId", "algoClOrdId"),))
AMEND_ALGO = _schema(
    INST, *ALGO_REF, param("cxlOnFail", BOOL, kind=Kind.BOOL), param("reqId", CL_ID),
    param("newSz", DEC), param("newTpTriggerPx", DEC), param("newTpOrdPx", SIGNED),
    param("newSlTriggerPx", DEC), param("newSlOrdPx", SIGNED), *_NEW_TP_SL_TYPES,
    param("newTriggerPx", DEC), param("newOrdPx", SIGNED), param("newTriggerPxType", PX_TYPE),
    _list("attachAlgoOrds", ATTACH_ALGO_AMEND, 11), one_of=(("algoId", "algoClOrdId"),),
)  # fmt: skip
_HISTORY = (
    param("instType", INST_TYPE, required=True), param("instFamily", FAMILY),
    param("instId", INST_ID), param("ordType", _csv("ordType", ORD_TYPE | {"op_fok"}, 10)),
    param("state", frozenset({"canceled", "filled", "mmp_canceled"})),
    param("category", frozenset({
        "twap", "adl", "full_liquidation", "partial_liquidation", "delivery", "ddh",
    })),
    *PAGING, *TIME_RANGE,
)  # fmt: skip
_FILLS = (
    param("instFamily", FAMILY), param("instId", INST_ID), param("ordId", ID),
    param("subType", SUB_TYPE), *PAGING, *TIME_RANGE,
)  # fmt: skip
_MAX = (
    param("instId", INST_IDS_5, required=True), param("tdMode", TD_MODE, required=True),
    param("ccy", CCY), param("px", DEC), param("tradeQuoteCcy", CCY),
)  # fmt: skip

SCHEMAS: Mapping[str, Schema] = {
    "POST /api/v5/trade/order": ORDER,
    "POST /api/v5/trade/batch-orders": ORDER,
    "POST /api/v5/trade/cancel-order": CANCEL,
    "POST /api/v5/trade/cancel-batch-orders": CANCEL,
    "POST /api/v5/trade/amend-order": AMEND,
    "POST /api/v5/trade/amend-batch-orders": AMEND,
    "POST /api/v5/trade/close-position": _schema(
        INST, param("posSide", POS_SIDE), param("mgnMode", MGN_MODE, required=True),
        param("ccy", CCY), param("autoCxl", BOOL, kind=Kind.BOOL), param("clOrdId", CL_ID),
        param("tag", TAG),
    ),
    "POST /api/v5/trade/mass-cancel": _schema(
        param("instType", frozenset({"OPTION"}), required=True),
        param("instFamily", FAMILY, required=True), param("lockInterval", LOCK_MS),
    ),
    "POST /api/v5/trade/cancel-all-after": _schema(
        param("timeOut", TIMEOUT, required=True), param("tag", TAG)
    ),
    "POST /api/v5/trade/order-precheck": PRECHECK,
    "POST /api/v5/trade/order-algo": ALGO,
    "POST /api/v5/trade/cancel-algos": CANCEL_ALGO,
    "POST /api/v5/trade/amend-algos": AMEND_ALGO,
    "GET /api/v5/trade/order": _schema(INST, *ORDER_REF, one_of=(("ordId", "clOrdId"),)),
    "GET /api/v5/trade/orders-pending": _schema(
        param("instType", INST_TYPE), param("instFamily", FAMILY), param("instId", INST_ID),
        param("ordType", _csv("ordType", ORD_TYPE | {"op_fok"}, 10)),
        param("state", frozenset({"live", "partially_filled"})), *PAGING,
    ),
    "GET /api/v5/trade/orders-history": _schema(*_HISTORY),
    "GET /api/v5/trade/orders-history-archive": _schema(*_HISTORY),
    "GET /api/v5/trade/fills": _schema(param("instType", INST_TYPE), *_FILLS),
    "GET /api/v5/trade/fills-history": _schema(
        param("instType", INST_TYPE, required=True), *_FILLS
    ),
    "GET /api/v5/trade/order-algo": _schema(*ALGO_REF, one_of=(("algoId", "algoClOrdId"),)),
    "GET /api/v5/trade/orders-algo-pending": _schema(
        param("ordType", _csv("ordType", ALGO_TYPE, 7), required=True), *ALGO_REF,
        param("instType", INST_TYPE), param("instId", INST_ID), *PAGING,
    ),
    "GET /api/v5/trade/orders-algo-history": _schema(
        param("ordType", _csv("ordType", ALGO_TYPE, 7), required=True),
        param("state", frozenset({"effective", "canceled", "order_failed"})),
        param("algoId", ID), param("instType", INST_TYPE), param("instId", INST_ID), *PAGING,
        one_of=(("state", "algoId"),),
    ),
    "GET /api/v5/account/balance": _schema(param("ccy", CCYS)),
    "GET /api/v5/account/positions": _schema(
        param("instType", INST_TYPE - {"SPOT", "EVENTS"}), param("instId", INST_IDS_10),
        param("posId", IDS_20),
    ),
    "GET /api/v5/account/config": _schema(),
    "GET /api/v5/account/trade-fee": _schema(
        param("instType", INST_TYPE, required=True), param("instId", INST_ID),
        param("instFamily", FAMILY), param("groupId", GROUP_ID),
    ),
    "GET /api/v5/account/max-size": _schema(*_MAX, param("leverage", DEC)),
    "GET /api/v5/account/max-avail-size": _schema(
        *_MAX, param("reduceOnly", BOOL), param("quickMgnType", QUICK_MGN)
    ),
}  # fmt: skip
# Endpoints whose JSON body is an array of objects, with the documented maximum.
ARRAY_BODIES: Mapping[str, int] = {
    "POST /api/v5/trade/batch-orders": 20,
    "POST /api/v5/trade/cancel-batch-orders": 20,
    "POST /api/v5/trade/amend-batch-orders": 20,
    "POST /api/v5/trade/cancel-algos": 10,
}
EXP_TIME = frozenset({
    "POST /api/v5/trade/order", "POST /api/v5/trade/batch-orders",
    "POST /api/v5/trade/amend-order", "POST /api/v5/trade/amend-batch-orders",
})  # fmt: skip
_CANCELS = frozenset({
    "cancel-order", "cancel-batch-orders", "mass-cancel", "cancel-all-after", "cancel-algos",
})  # fmt: skip


def _endpoint_class(key: str) -> EndpointClass:
    method, path = key.split(" ", 1)
    if method == "GET":
        return EndpointClass.READ
    return EndpointClass.CANCEL if path.rsplit("/", 1)[1] in _CANCELS else EndpointClass.TRADE


ENDPOINTS: tuple[Endpoint, ...] = tuple(
    Endpoint(key.split(" ", 1)[0], key.split(" ", 1)[1], _endpoint_class(key)) for key in SCHEMAS
)


@dataclass(frozen=True, slots=True)
class OkxDetail:
    """What ``sign()`` needs: the validated query pairs or JSON body, and the mode."""

    key: str
    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    body: object
    simulated: bool
    passthrough: tuple[tuple[str, str], ...]


def iso_timestamp(now_ms: int) -> str:
    """``OK-ACCESS-TIMESTAMP``: ISO-8601 UTC with milliseconds (``2020-12-08T09:08:57.715Z``)."""
    seconds, millis = divmod(now_ms, 1000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{millis:03d}Z"


def prehash(timestamp: str, method: str, request_path: str, body: str) -> bytes:
    """The bytes OKX signs: ``timestamp + METHOD + requestPath(+?query) + body``."""
    return (timestamp + method + request_path + body).encode("ascii")


def _body_violations(key: str, body: object) -> list[str]:
    most = ARRAY_BODIES.get(key)
    if most is None:
        if not isinstance(body, dict):
            return ["this endpoint takes a JSON object body"]
        return SCHEMAS[key].validate(list(body.items()))
    return list(_objects("request.body", SCHEMAS[key], most)(body))


class OkxVenue:
    """The OKX v5 venue (see the module docstring).

    Args:
        exp_window_ms: ``expTime`` = now + this on place/amend endpoints (1-30000 ms;
            OKX refuses any request 30 s after its timestamp regardless).
    """

    name = NAME
    hosts = HOSTS

    def __init__(self, exp_window_ms: int = 5000) -> None:
        if not 1 <= exp_window_ms <= 30000:
            raise ValueError("exp_window_ms must be between 1 and 30000")
        self.exp_window_ms = exp_window_ms

    def parse(self, principal: Principal, request: HttpRequest) -> ParsedRequest:
        """Strictly parse ``request`` into an intent (``Venue.parse``)."""
        method, path = P.check_method(request.method), P.check_path(request.path)
        host = P.resolve_host(NAME, HOSTS, principal.mode, request.host)
        headers = P.check_headers(request.headers)
        violations = list(headers.violations)
        query = P.parse_form(request.query, where="request.query")
        violations += P.duplicate_violations((k for k, _ in query), "request.query")
        endpoint = next(
            (e for e in ENDPOINTS if e.method == method and P.match_template(path, e.path)), None
        )
        if endpoint is None:
            return ParsedRequest(
                P.make_intent(principal, NAME, request, None, violations), host, None
            )
        body: object = None
        if method == "GET":
            if request.body:
                violations.append("GET requests carry their parameters in the query only")
            violations += SCHEMAS[endpoint.key].validate(query)
        else:
            if query:
                violations.append(
                    "OKX POST parameters go in the JSON body; request.query must be empty"
                )
            violations += P.content_type_violations(headers.content_type, JSON)
            body, duplicates = P.parse_json_body(request.body)
            violations += duplicates
            violations += _body_violations(endpoint.key, body)
        simulated = principal.mode is Mode.SANDBOX
        detail = OkxDetail(endpoint.key, method, path, query, body, simulated, headers.passthrough)
        matched = (endpoint.key, endpoint.endpoint_class)
        return ParsedRequest(
            P.make_intent(principal, NAME, request, matched, violations), host, detail
        )

    def sign(self, parsed: ParsedRequest, creds: VenueCredentials, clock: Clock) -> SignedRequest:
        """Stamp the timestamp (and expTime), sign the exact bytes sent (``Venue.sign``)."""
        detail = parsed.detail
        if (
            parsed.intent.violations
            or parsed.intent.endpoint is None
            or not isinstance(detail, OkxDetail)
        ):
            # SECURITY: defence in depth; the pipeline never calls sign() for these.
            raise PolicyDeniedError("the strict parser refused this request; it cannot be signed")
        api_key = P.header_safe_api_key(creds.api_key)
        now = clock.now_ms()
        timestamp = iso_timestamp(now)
        query = P.encode_form(detail.query) if detail.method == "GET" else ""
        text = "" if detail.method == "GET" else P.canonical_json(detail.body)
        request_path = detail.path + (f"?{query}" if query else "")
        key = creds.derived("okx:hmac-sha256", lambda: HmacSha256(creds.secret))
        passphrase = creds.derived("okx:passphrase", lambda: header_secret(creds.passphrase))
        auth = (
            ("OK-ACCESS-KEY", api_key),
            ("OK-ACCESS-SIGN", key.base64(prehash(timestamp, detail.method, request_path, text))),
            ("OK-ACCESS-TIMESTAMP", timestamp),
            ("OK-ACCESS-PASSPHRASE", passphrase),
        )
        headers = [*auth, ("Content-Type", JSON)]
        if detail.key in EXP_TIME:
            headers.append(("expTime", str(now + self.exp_window_ms)))
        if detail.simulated:
            headers.append(("x-simulated-trading", "1"))
        headers += detail.passthrough
        request = HttpRequest(
            detail.method, detail.path, query, text.encode("ascii"), tuple(headers), parsed.host
        )
        return SignedRequest(request=request, auth_headers=auth)


VENUE = OkxVenue()
