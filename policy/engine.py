"""The evaluator: a policy document and a venue request intent in, a Decision out.

Rules, evaluated in this order; the first that matches decides. These ids are
stable: tests, ``tests/policy_cases/*.toml`` and audit records refer to them.

==========================  =====  =================================================
rule id                     effect when
==========================  =====  =================================================
``request.strict-parse``    deny   the venue parser reported violations (reasons =
                                   the violations)
``endpoint.not-allowlisted`` deny  the request matched no endpoint in the code's
                                   allowlist (``intent.endpoint is None``)
``venue.disabled``          deny   the venue is absent from the document or has
                                   ``enabled = false``
``venue.mode-disabled``     deny   the principal's mode is not in the venue's ``modes``
``endpoint.class-disabled`` deny   the endpoint has no class, or its class is not in
                                   the venue's ``classes``
``venue.feature-disabled``  deny   the request uses a venue feature (e.g. a
                                   Polymarket exchange) the document does not grant
``venue.recipient-not-linked`` deny a ``withdraw-home`` endpoint whose recipient
                                   is not a connected wallet of the principal
                                   (DESIGN.md invariant 4)
``venue.no-withdraw-cap``   deny   a ``withdraw-home`` amount has no
                                   ``[limits.withdraw.<chain>.<token>]`` cap
``limit.per-tx``            deny   a ``withdraw-home`` amount is above its cap's
                                   ``per_tx`` (the rolling 24 h total is the
                                   signer's, ``signer.limits.SpendLedger``)
``limit.error``             deny   a ``withdraw-home`` amount is not a decimal
                                   string the cap's token can carry
``venue.endpoint-allowed``  allow  every check above passed
``default-deny``            deny   anything the rules above do not describe (an
                                   unknown mode, a malformed endpoint or class)
``engine.error``            deny   evaluation raised (malformed intent or document)
==========================  =====  =================================================

SECURITY: ``decide`` never raises and never allows by omission. The allow rule
is reached only after every check passed positively; every other path, an
exception included, ends in a deny (fail closed, DESIGN.md invariant 8).
"""

from __future__ import annotations

from policy.decision import Decision
from policy.document import MODES, PolicyDocument, display
from policy.intents import EndpointClass, VenueRequestIntent
from policy.limits import RULE_ERROR, RULE_PER_TX, AmountCap, decide_spend, to_units

RULE_STRICT_PARSE = "request.strict-parse"
RULE_ENDPOINT_NOT_ALLOWLISTED = "endpoint.not-allowlisted"
RULE_VENUE_DISABLED = "venue.disabled"
RULE_MODE_DISABLED = "venue.mode-disabled"
RULE_CLASS_DISABLED = "endpoint.class-disabled"
RULE_FEATURE_DISABLED = "venue.feature-disabled"
RULE_RECIPIENT_NOT_LINKED = "venue.recipient-not-linked"
RULE_NO_WITHDRAW_CAP = "venue.no-withdraw-cap"
RULE_ENDPOINT_ALLOWED = "venue.endpoint-allowed"
RULE_DEFAULT_DENY = "default-deny"
RULE_ENGINE_ERROR = "engine.error"

RULE_IDS: tuple[str, ...] = (
    RULE_STRICT_PARSE,
    RULE_ENDPOINT_NOT_ALLOWLISTED,
    RULE_VENUE_DISABLED,
    RULE_MODE_DISABLED,
    RULE_CLASS_DISABLED,
    RULE_FEATURE_DISABLED,
    RULE_RECIPIENT_NOT_LINKED,
    RULE_NO_WITHDRAW_CAP,
    RULE_PER_TX,
    RULE_ERROR,
    RULE_ENDPOINT_ALLOWED,
    RULE_DEFAULT_DENY,
    RULE_ENGINE_ERROR,
)
"""Every rule id ``decide`` can return, in evaluation order."""

ALLOW_RULE_IDS: frozenset[str] = frozenset({RULE_ENDPOINT_ALLOWED})
"""The only rule ids that allow."""


def decide(document: PolicyDocument, intent: VenueRequestIntent) -> Decision:
    """Decide whether the venue request described by ``intent`` may be signed.

    Args:
        document: the validated policy document in force.
        intent: what the venue parser made of the request.

    Returns:
        The decision with its rule id and reasons. Never raises: an exception
        during evaluation is ``Decision.deny("engine.error", ...)``.
    """
    try:
        return _evaluate(document, intent)
    # SECURITY: an evaluation error is a deny, never a skip or a crash that a
    # caller might treat as "no decision". The exception text is not echoed.
    except Exception:  # noqa: BLE001
        return Decision.deny(RULE_ENGINE_ERROR, "policy evaluation failed")


def _evaluate(document: PolicyDocument, intent: VenueRequestIntent) -> Decision:
    if not isinstance(document, PolicyDocument):
        raise TypeError("document is not a PolicyDocument")
    if not isinstance(intent, VenueRequestIntent):
        raise TypeError("intent is not a VenueRequestIntent")
    venue = display(intent.venue)
    endpoint = intent.endpoint

    violations = intent.violations
    if not isinstance(violations, tuple) or not all(isinstance(v, str) for v in violations):
        raise TypeError("violations must be a tuple of strings")
    if violations:
        return Decision.deny(RULE_STRICT_PARSE, *violations)

    if endpoint is None:
        request = display(f"{intent.method} {intent.path}")
        return Decision.deny(
            RULE_ENDPOINT_NOT_ALLOWLISTED,
            f"{request} on venue {venue} is not an allowlisted endpoint",
        )
    if not isinstance(endpoint, str) or not endpoint:
        return _default_deny("the endpoint is malformed")
    shown_endpoint = display(endpoint)

    policy = document.venue(intent.venue)
    if policy is None or not policy.enabled:
        return Decision.deny(
            RULE_VENUE_DISABLED,
            f"venue {venue} is not enabled by policy version {document.version}",
        )

    if intent.mode not in MODES:
        return _default_deny(f"mode {display(intent.mode)} is not a known mode")
    if intent.mode not in policy.modes:
        return Decision.deny(
            RULE_MODE_DISABLED,
            f"venue {venue} is not enabled for {intent.mode} mode "
            f"by policy version {document.version}",
        )

    endpoint_class: object = intent.endpoint_class  # re-checked below, whatever the type says
    if endpoint_class is None:
        return Decision.deny(
            RULE_CLASS_DISABLED, f"endpoint {shown_endpoint} on venue {venue} has no class"
        )
    # SECURITY: only a real EndpointClass counts; a bare string such as
    # "withdraw" smuggled into the intent is not a class at all.
    if not isinstance(endpoint_class, EndpointClass):
        return _default_deny(f"endpoint class {display(endpoint_class)} is not a known class")
    if endpoint_class not in policy.classes:
        return Decision.deny(
            RULE_CLASS_DISABLED,
            f"endpoint class {endpoint_class.value} ({shown_endpoint}) is not enabled "
            f"for venue {venue} by policy version {document.version}",
        )

    features = intent.features
    if not isinstance(features, tuple) or not all(isinstance(f, str) for f in features):
        raise TypeError("features must be a tuple of strings")
    missing = [feature for feature in features if feature not in policy.features]
    if missing:
        return Decision.deny(
            RULE_FEATURE_DISABLED,
            *(
                f"{display(feature)} is not enabled for venue {venue} "
                f"by policy version {document.version}"
                for feature in missing[:8]
            ),
        )

    # SECURITY (invariant 4): funds leave only to a proven wallet of the same
    # principal; ``is not True`` so a truthy non-bool smuggled in cannot pass.
    if endpoint_class is EndpointClass.WITHDRAW_HOME and (
        intent.recipient_linked is not True or not intent.recipient
    ):
        return Decision.deny(
            RULE_RECIPIENT_NOT_LINKED,
            f"{display(intent.recipient or '(none)')} is not a connected wallet of this principal",
        )
    if endpoint_class is EndpointClass.WITHDRAW_HOME:
        spend = venue_spend(document, intent)
        if isinstance(spend, Decision):
            return spend

    return Decision.allow(
        RULE_ENDPOINT_ALLOWED,
        f"endpoint {shown_endpoint} (class {endpoint_class.value}) is allowed on venue "
        f"{venue} in {intent.mode} mode by policy version {document.version}",
    )


def venue_spend(
    document: PolicyDocument, intent: VenueRequestIntent
) -> tuple[AmountCap, int] | Decision:
    """The cap a ``withdraw-home`` amount counts against and the amount in its
    base units, or the deny (no cap, malformed amount, over ``per_tx``).

    SECURITY: as for on-chain withdrawals, a (chain, token) the document gives
    no cap cannot leave at all. The signer takes the same pair to its durable
    24-hour ledger after the allow.
    """
    chain, token = intent.spend_chain, intent.spend_token
    cap = document.limits.withdraw_cap(chain, token) if chain and token else None
    if cap is None:
        return Decision.deny(
            RULE_NO_WITHDRAW_CAP,
            f"policy version {document.version} sets no withdraw cap for "
            f"{display(token or '(none)')} on {display(chain or '(none)')}, so it cannot leave",
        )
    try:
        units = to_units(intent.spend_amount, cap.decimals)
    except ValueError as exc:
        return Decision.deny(RULE_ERROR, f"amount: {exc}")
    per_tx = decide_spend(cap, 0, units)
    return per_tx if not per_tx.allowed else (cap, units)


def _default_deny(detail: str) -> Decision:
    return Decision.deny(RULE_DEFAULT_DENY, f"no rule allows this request: {detail}")
