"""The contract every venue module fulfils.

A venue module owns three things (DESIGN.md section 2):

1. its endpoint table in code: the allowlisted (method, path template, class)
   triples and, for each, a strict parameter schema;
2. ``parse()``: the strict parser from a caller's ``HttpRequest`` to a
   ``ParsedRequest`` whose ``intent`` the policy decides on. Envelope problems
   (bad method, non-ASCII path, non-UTF-8 body, a host that is not the venue's
   host for the principal's mode) raise ``InvalidRequestError`` /
   ``ModeMismatchError``. Everything else that is wrong (path not allowlisted,
   unknown/duplicate/caller-stamped parameters, a withdraw parameter set on an
   order path) is *not* raised: it is recorded in ``intent.endpoint`` = None or
   ``intent.violations`` so that the policy denies it and the denial is audited;
3. ``sign()``: builds the exact bytes the venue signs, signs them with the
   scheme from ``signer/schemes/`` and returns the full request to send.

SECURITY: ``sign()`` is only ever called with a ``ParsedRequest`` whose intent
the policy allowed; it must sign exactly the canonical parameters ``parse()``
validated, never bytes taken from the caller unparsed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from policy.intents import EndpointClass, VenueRequestIntent
from signer.domain import HttpRequest, Mode, Principal, SignedRequest
from signer.keystore.handles import VenueCredentials


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One allowlisted endpoint: method, path template (``{name}`` segments) and class."""

    method: str
    path: str
    endpoint_class: EndpointClass

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


class Clock(Protocol):
    """Time and nonces, stamped by the daemon (never by the caller)."""

    def now_ms(self) -> int:
        """Wall-clock milliseconds since the epoch."""
        ...

    def next_nonce(self, scope: str) -> int:
        """A value strictly greater than any returned before for ``scope``
        (durably, across restarts) and at least ``now_ms()``."""
        ...


@dataclass(frozen=True, slots=True)
class Binding:
    """Checks that need the principal's own stored data; the pipeline runs them
    after the policy allow and before ``sign()``.

    Attributes:
        trading_wallet: sign only with the principal's trading wallet, whatever
            credentials are stored (e.g. Hyperliquid ``approveAgent``, which
            only the account's master key can sign).
        held_agent: lower-case address that must be the ``api_key`` of this
            principal's stored credentials for the venue, i.e. an agent key
            the daemon itself holds ("" = no such check).
    """

    trading_wallet: bool = False
    held_agent: str = ""


@dataclass(frozen=True, slots=True)
class ParsedRequest:
    """The strict parse of a caller's request.

    Attributes:
        intent: what the policy decides on.
        host: the venue host for the principal's mode.
        detail: venue-private canonical form (validated parameters, JSON body)
            that ``sign()`` turns into bytes.
        binding: post-allow checks on the principal's own data, or None.
    """

    intent: VenueRequestIntent
    host: str
    detail: object
    binding: Binding | None = None


class Venue(Protocol):
    """A venue module's public face (see the module docstring)."""

    name: str
    hosts: dict[Mode, str | None]

    def parse(self, principal: Principal, request: HttpRequest) -> ParsedRequest: ...

    def sign(
        self, parsed: ParsedRequest, creds: VenueCredentials, clock: Clock
    ) -> SignedRequest: ...
