"""Typed intents: what a caller asks the daemon to sign, as the policy sees it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class EndpointClass(StrEnum):
    """What an allowlisted venue endpoint does. Anything else is not an endpoint class."""

    TRADE = "trade"
    CANCEL = "cancel"
    READ = "read"
    WITHDRAW_HOME = "withdraw-home"
    """Funds leave the venue account, and only to a connected wallet of the
    principal (``recipient_linked``); never a general "withdraw"."""
    APPROVE_AGENT = "approve-agent"
    """The trading wallet authorises an agent key the daemon itself holds."""


@dataclass(frozen=True, slots=True)
class VenueRequestIntent:
    """A request to sign one venue HTTP request.

    Built by the venue module's strict parser. ``endpoint`` is the template the
    request matched in the code's allowlist (e.g. ``"POST /api/v3/order"``), or
    None when it matched nothing. ``violations`` lists what the strict parser
    refused (unknown or duplicate parameters, caller-supplied nonces, a
    withdraw parameter on an order path...), each a sentence safe to show.

    Attributes:
        client_id: the principal's client id.
        mode: "live" or "sandbox".
        venue: venue id, e.g. "binance".
        method: upper-case HTTP method as requested.
        path: request path as requested.
        endpoint: matched allowlist template or None.
        endpoint_class: class of the matched endpoint or None.
        violations: strict-parse findings; any finding denies.
        features: venue features the request uses (``policy.venue_options``);
            each must be granted by the document.
        recipient: class ``withdraw-home`` only: the lower-case address the
            funds go to.
        recipient_linked: filled in by the signer from the principal's
            connected wallets (public rows, no key); the policy denies a
            ``withdraw-home`` request unless it is True.
        spend_chain, spend_token: class ``withdraw-home`` only: the withdraw
            cap (``[limits.withdraw.<chain>.<token>]``) the amount counts
            against, e.g. ``("hyperliquid", "USDC")``.
        spend_amount: class ``withdraw-home`` only: the amount leaving, a
            decimal string in token units exactly as signed (``"12.5"``).
    """

    client_id: str
    mode: str
    venue: str
    method: str
    path: str
    endpoint: str | None
    endpoint_class: EndpointClass | None
    violations: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    recipient: str = ""
    recipient_linked: bool = False
    spend_chain: str = ""
    spend_token: str = ""
    spend_amount: str = ""
