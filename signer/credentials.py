"""Credential writes: unseal the transport envelope, validate, seal at rest, audit.

SECURITY: nothing secret leaves this module: responses carry the venue name
and a status; audit records carry the venue and the record version only (no
digest of the material either: a digest of a low-entropy passphrase is a
dictionary-attack oracle).
"""

from __future__ import annotations

import asyncio

from signer.audit import AuditLog
from signer.domain import VENUES, Caller, CredentialFields, Principal
from signer.errors import InvalidCredentialsError, SignerError, UnknownVenueError
from signer.keystore import Keystore
from signer.schemes.daemon_keys import SealingKey
from signer.venues.credentials import parse_sealed_fields, validate_credentials

MAX_SEALED_BYTES = 64 * 1024


class CredentialManager:
    """SetCredentials / DeleteCredentials / ListVenues."""

    def __init__(self, keystore: Keystore, sealing: SealingKey, audit: AuditLog) -> None:
        self._keystore = keystore
        self._sealing = sealing
        self._audit = audit

    async def set(
        self,
        caller: Caller,
        principal: Principal,
        venue: str,
        fields: CredentialFields | None,
        sealed: bytes,
    ) -> None:
        """Validate and store; durable (fsync'd) and audited before this returns.

        A refused write is audited too (reason only, never the material).
        """
        try:
            _check_venue(venue)
            if sealed:
                if fields is not None:
                    raise InvalidCredentialsError(
                        "sealed: send either sealed or the plain fields, not both", field="sealed"
                    )
                if len(sealed) > MAX_SEALED_BYTES:
                    raise InvalidCredentialsError("sealed: larger than 64 KiB", field="sealed")
                fields = parse_sealed_fields(self._sealing.open(sealed))
            # Validation loads PEM keys (an RSA-4096 check costs ~0.25 s of CPU): off the loop.
            version = await asyncio.to_thread(
                self._validate_and_store, principal, venue, fields or CredentialFields("", "")
            )
        except SignerError as exc:
            event = _event("set_credentials", caller, principal, venue, 0)
            event.update(decision="refused", rule=exc.reason or "", reasons=[exc.public_message])
            await self._audit.append(event)
            raise
        await self._audit.append(_event("set_credentials", caller, principal, venue, version))

    def _validate_and_store(
        self, principal: Principal, venue: str, fields: CredentialFields
    ) -> int:
        return self._keystore.put_credentials(principal, venue, validate_credentials(venue, fields))

    async def delete(self, caller: Caller, principal: Principal, venue: str) -> bool:
        _check_venue(venue)
        deleted = await asyncio.to_thread(self._keystore.delete_credentials, principal, venue)
        await self._audit.append(_event("delete_credentials", caller, principal, venue, 0))
        return deleted

    def list_venues(self, principal: Principal) -> list[str]:
        return self._keystore.list_venues(principal)


def _check_venue(venue: str) -> None:
    if venue not in VENUES:
        raise UnknownVenueError("unknown venue")


def _event(
    action: str, caller: Caller, principal: Principal, venue: str, version: int
) -> dict[str, object]:
    return {
        "action": action,
        "caller": caller.identity,
        "client_id": principal.client_id,
        "mode": principal.mode.value,
        "venue": venue if venue in VENUES else "?",
        "record_version": version,
        "decision": "allow",
        "rule": "credentials.write",
    }
