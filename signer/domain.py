"""Domain types shared by the server, the pipeline and the venues.

Generated protobuf types stay at the edge (``signer/server``); everything
inside the daemon speaks these frozen dataclasses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from signer.errors import InvalidRequestError

_CLIENT_ID_RE = re.compile(r"[A-Za-z0-9._:@-]{1,128}")

VENUES: tuple[str, ...] = (
    "kraken",
    "coinbase",
    "binance",
    "bitget",
    "cryptocom",
    "bitmart",
    "okx",
    "bybit",
    "hyperliquid",
    "kalshi",
    "polymarket",
)


class Mode(StrEnum):
    LIVE = "live"
    SANDBOX = "sandbox"


class Role(StrEnum):
    """What a caller may do: ``api`` signs/credentials/wallets, ``admin`` policy/audit."""

    API = "api"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """The user a request acts for; every stored thing is namespaced by it."""

    client_id: str
    mode: Mode

    def __post_init__(self) -> None:
        if not _CLIENT_ID_RE.fullmatch(self.client_id):
            raise InvalidRequestError(
                "principal.client_id must be 1-128 characters of [A-Za-z0-9._:@-]",
                field="principal.client_id",
            )


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated peer: who it is (certificate CN or listener name) and its roles."""

    identity: str
    roles: frozenset[Role]


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """An HTTP request to a venue, as asked for or as it must be sent.

    ``headers`` is an ordered tuple of (name, value) pairs; names are kept as
    given. ``host`` is empty in a request when the caller leaves it to the daemon.
    """

    method: str
    path: str
    query: str = ""
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    host: str = ""


@dataclass(frozen=True, slots=True)
class SignRequest:
    """A SignVenueRequest after conversion from protobuf."""

    principal: Principal
    venue: str
    request: HttpRequest
    wallet_id: str = ""


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What the daemon returns: the full request to send and the auth headers it added."""

    request: HttpRequest
    auth_headers: tuple[tuple[str, str], ...]
    audit_id: str = ""

    def with_audit_id(self, audit_id: str) -> SignedRequest:
        """This response carrying its audit record's id (``dataclasses.replace``
        without its per-call field introspection; a test pins the field list)."""
        return SignedRequest(self.request, self.auth_headers, audit_id)


@dataclass(frozen=True, slots=True)
class CredentialFields:
    """Credential material as submitted, before validation. Never logged.

    SECURITY: repr is redacted; the fields are plain str because they come from
    protobuf strings and are only handed to the venue validators and the sealer.
    """

    api_key: str = field(repr=False)
    api_secret: str = field(repr=False)
    passphrase: str = field(repr=False, default="")
    extra_json: str = field(repr=False, default="")

    def __repr__(self) -> str:
        return "CredentialFields(<redacted>)"
