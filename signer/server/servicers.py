"""gRPC servicers: authenticate, convert, call the daemon, convert back.

Every RPC goes through ``_rpc``: caller resolution and role check, a deadline
(the caller's, capped by ``max_deadline_s``), and the single status mapping of
``signer.server.status``. Servicers hold no logic of their own.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from signer import __version__
from signer._proto.sequence.signer.v1 import (
    audit_service_pb2,
    audit_service_pb2_grpc,
    common_pb2,
    credential_service_pb2,
    credential_service_pb2_grpc,
    identity_service_pb2,
    identity_service_pb2_grpc,
    policy_service_pb2,
    policy_service_pb2_grpc,
    signing_service_pb2,
    signing_service_pb2_grpc,
    wallet_service_pb2,
    wallet_service_pb2_grpc,
)
from signer.domain import Caller, CredentialFields, Role
from signer.errors import InvalidRequestError, NotImplementedYetError, SignerError
from signer.evm.tx import SignedTransaction
from signer.keystore.wallets import WalletRecord
from signer.server import convert, stream
from signer.server.auth import CallerResolver, require
from signer.server.handlers import check_decoded, generic_handler
from signer.server.status import internal_error, status_for
from signer.services import Services
from signer.stamp_order import StampTurn
from signer.withdraw import ContractCallRequest, WithdrawRequest

Ctx = grpc.aio.ServicerContext[Any, Any]
R = TypeVar("R")
Handler = Callable[[Any, Caller, Any, Ctx], Awaitable[R]]


class _Base:
    def __init__(self, services: Services, resolver: CallerResolver, max_deadline_s: float):
        self.s = services
        self.resolver = resolver
        self.max_deadline_s = max_deadline_s


def _rpc(*roles: Role) -> Callable[[Handler[R]], Callable[[Any, Any, Ctx], Awaitable[R]]]:
    def wrap(fn: Handler[R]) -> Callable[[Any, Any, Ctx], Awaitable[R]]:
        @functools.wraps(fn)
        async def call(self: _Base, request: Any, context: Ctx) -> R:
            remaining = context.time_remaining()
            timeout = (
                self.max_deadline_s if remaining is None else min(remaining, self.max_deadline_s)
            )
            try:
                caller = self.resolver.resolve(context)
                require(caller, *roles)
                check_decoded(request)
                async with asyncio.timeout(timeout):  # no extra task per RPC (wait_for makes one)
                    return await fn(self, caller, request, context)
            except SignerError as exc:
                code, message, trailers = status_for(exc)
                await context.abort(code, message, trailers)
            except TimeoutError:
                await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded")
            except Exception as exc:  # noqa: BLE001 - the one place unexpected errors end
                await context.abort(*internal_error(exc))
            raise AssertionError("unreachable")  # pragma: no cover

        return call

    return wrap


class CredentialServicer(_Base, credential_service_pb2_grpc.CredentialServiceServicer):
    @_rpc(Role.API)
    async def SetCredentials(
        self, caller: Caller, req: credential_service_pb2.SetCredentialsRequest, ctx: Ctx
    ) -> credential_service_pb2.SetCredentialsResponse:
        principal = convert.principal(req)
        plain = any((req.api_key, req.api_secret, req.passphrase, req.extra_json))
        fields = CredentialFields(req.api_key, req.api_secret, req.passphrase, req.extra_json)
        await self.s.credentials.set(
            caller, principal, req.venue, fields if plain else None, bytes(req.sealed)
        )
        return credential_service_pb2.SetCredentialsResponse(venue=req.venue, status="stored")

    @_rpc(Role.API)
    async def DeleteCredentials(
        self, caller: Caller, req: credential_service_pb2.DeleteCredentialsRequest, ctx: Ctx
    ) -> credential_service_pb2.DeleteCredentialsResponse:
        deleted = await self.s.credentials.delete(caller, convert.principal(req), req.venue)
        return credential_service_pb2.DeleteCredentialsResponse(venue=req.venue, deleted=deleted)

    @_rpc(Role.API)
    async def ListVenues(
        self, caller: Caller, req: credential_service_pb2.ListVenuesRequest, ctx: Ctx
    ) -> credential_service_pb2.ListVenuesResponse:
        venues = self.s.credentials.list_venues(convert.principal(req))
        return credential_service_pb2.ListVenuesResponse(venues=venues)


class SigningServicer(_Base, signing_service_pb2_grpc.SigningServiceServicer):
    @_rpc(Role.API)
    async def SignVenueRequest(
        self, caller: Caller, req: signing_service_pb2.SignVenueRequestRequest, ctx: Ctx
    ) -> signing_service_pb2.SignVenueRequestResponse:
        signed = await self.s.pipeline.sign(caller, convert.sign_request(req))
        return convert.signed_response(signed)

    async def SignVenueRequestStream(
        self,
        requests: AsyncIterator[signing_service_pb2.SignVenueRequestStreamRequest],
        context: Ctx,
    ) -> AsyncIterator[signing_service_pb2.SignVenueRequestStreamResponse]:
        try:
            caller = self.resolver.resolve(context)
            require(caller, Role.API)
        except SignerError as exc:
            code, message, trailers = status_for(exc)
            await context.abort(code, message, trailers)
        # Items concurrently, answers in order, stamped in order (signer.server.stream).
        async for response in stream.ordered(requests, functools.partial(self._one, caller)):
            yield response

    async def _one(
        self,
        caller: Caller,
        item: signing_service_pb2.SignVenueRequestStreamRequest,
        turn: StampTurn,
    ) -> signing_service_pb2.SignVenueRequestStreamResponse:
        Resp = signing_service_pb2.SignVenueRequestStreamResponse
        item_id = 0  # an undecodable item has no id: reported as 0
        try:
            check_decoded(item)
            item_id = item.id
            signed = await self.s.pipeline.sign(caller, convert.sign_request(item.request), turn)
            return Resp(id=item_id, response=convert.signed_response(signed))
        except SignerError as exc:
            reason = exc.reason.value if exc.reason else ""
            err = common_pb2.StreamError(code=exc.code, reason=reason, message=exc.public_message)
            return Resp(id=item_id, error=err)
        except Exception as exc:  # noqa: BLE001 - reported in-band, logged without message
            code, message = internal_error(exc)
            return Resp(id=item_id, error=common_pb2.StreamError(code=code.name, message=message))


class IdentityServicer(_Base, identity_service_pb2_grpc.IdentityServiceServicer):
    @_rpc(Role.API, Role.ADMIN)
    async def GetIdentity(
        self, caller: Caller, req: identity_service_pb2.GetIdentityRequest, ctx: Ctx
    ) -> identity_service_pb2.GetIdentityResponse:
        return identity_service_pb2.GetIdentityResponse(
            sealing_public_key=self.s.sealing.public_key,
            audit_public_key=self.s.audit_signer.public_key,
            version=__version__,
        )


class PolicyServicer(_Base, policy_service_pb2_grpc.PolicyServiceServicer):
    @_rpc(Role.API, Role.ADMIN)
    async def GetPolicy(
        self, caller: Caller, req: policy_service_pb2.GetPolicyRequest, ctx: Ctx
    ) -> policy_service_pb2.GetPolicyResponse:
        holder = self.s.policy
        loaded = Timestamp()
        loaded.FromNanoseconds(int(holder.loaded_at * 1e9))
        doc = holder.document
        return policy_service_pb2.GetPolicyResponse(
            version=doc.version, sha256=doc.sha256, document=doc.raw, loaded_at=loaded
        )

    @_rpc(Role.ADMIN)
    async def UpdatePolicy(
        self, caller: Caller, req: policy_service_pb2.UpdatePolicyRequest, ctx: Ctx
    ) -> policy_service_pb2.UpdatePolicyResponse:
        signatures = [(sig.public_key, bytes(sig.signature)) for sig in req.signatures]
        version = await self.s.policy_updates.update(
            caller.identity, bytes(req.document), signatures
        )
        return policy_service_pb2.UpdatePolicyResponse(version=version)

    @_rpc(Role.API, Role.ADMIN)
    async def EvaluatePolicy(
        self, caller: Caller, req: policy_service_pb2.EvaluatePolicyRequest, ctx: Ctx
    ) -> policy_service_pb2.EvaluatePolicyResponse:
        if not req.HasField("request"):
            raise InvalidRequestError("request is required", field="request")
        decision = self.s.pipeline.evaluate(convert.sign_request(req.request))
        return policy_service_pb2.EvaluatePolicyResponse(
            allowed=decision.allowed, rule_id=decision.rule_id, reasons=decision.reasons
        )


class AuditServicer(_Base, audit_service_pb2_grpc.AuditServiceServicer):
    @_rpc(Role.ADMIN)
    async def GetAuditHead(
        self, caller: Caller, req: audit_service_pb2.GetAuditHeadRequest, ctx: Ctx
    ) -> audit_service_pb2.GetAuditHeadResponse:
        head, signature = self.s.audit.signed_head()
        return audit_service_pb2.GetAuditHeadResponse(
            seq=head.seq, hash=head.hash, signature=signature
        )

    async def ReadAudit(
        self, req: audit_service_pb2.ReadAuditRequest, context: Ctx
    ) -> AsyncIterator[audit_service_pb2.ReadAuditResponse]:
        try:
            require(self.resolver.resolve(context), Role.ADMIN)
            check_decoded(req)
            if req.limit > 1000:
                raise InvalidRequestError("limit must be at most 1000", field="limit")
        except SignerError as exc:
            code, message, trailers = status_for(exc)
            await context.abort(code, message, trailers)
        try:
            entries = await asyncio.to_thread(self.s.audit.read, req.after_seq, req.limit or 100)
        except SignerError as exc:
            code, message, trailers = status_for(exc)
            await context.abort(code, message, trailers)
        for entry in entries:
            ts = Timestamp()
            ts.FromMilliseconds(entry.ts_ms)
            yield audit_service_pb2.ReadAuditResponse(
                record=audit_service_pb2.AuditRecord(
                    seq=entry.seq, time=ts, json=entry.line, prev_hash=entry.prev, hash=entry.hash
                )
            )


def _unimplemented(name: str) -> Callable[..., Awaitable[Any]]:
    @_rpc(Role.API)
    async def method(self: _Base, caller: Caller, req: Any, ctx: Ctx) -> Any:
        raise NotImplementedYetError(f"{name} is not available in this build")

    method.__name__ = name
    return method


def _wallet(record: WalletRecord) -> wallet_service_pb2.Wallet:
    created = Timestamp()
    created.FromSeconds(record.created_at)
    return wallet_service_pb2.Wallet(
        wallet_id=record.wallet_id,
        address=record.address,
        role=record.role,
        signer_backend="turnkey" if record.role == "trading" else "connected",
        status=record.status,
        can_trade_api=record.role == "trading",
        label=record.label,
        created_at=created,
    )


def _signed_tx(signed: SignedTransaction) -> wallet_service_pb2.SignedTransaction:
    fields = signed.fields
    return wallet_service_pb2.SignedTransaction(
        raw_transaction=signed.raw,
        tx_hash=signed.tx_hash,
        chain_id=fields.chain_id,
        nonce=fields.nonce,
        **{"from": signed.from_address, "to": fields.to_address},
    )


class WalletServicer(_Base, wallet_service_pb2_grpc.WalletServiceServicer):
    @_rpc(Role.API)
    async def ListWallets(
        self, caller: Caller, req: wallet_service_pb2.ListWalletsRequest, ctx: Ctx
    ) -> wallet_service_pb2.ListWalletsResponse:
        wallets = self.s.wallets.list(convert.principal(req))
        return wallet_service_pb2.ListWalletsResponse(wallets=[_wallet(w) for w in wallets])

    @_rpc(Role.API)
    async def GetTradingWallet(
        self, caller: Caller, req: wallet_service_pb2.GetTradingWalletRequest, ctx: Ctx
    ) -> wallet_service_pb2.GetTradingWalletResponse:
        wallet = self.s.wallets.trading(convert.principal(req))
        return wallet_service_pb2.GetTradingWalletResponse(wallet=_wallet(wallet))

    @_rpc(Role.API)
    async def GetDefaultWallet(
        self, caller: Caller, req: wallet_service_pb2.GetDefaultWalletRequest, ctx: Ctx
    ) -> wallet_service_pb2.GetDefaultWalletResponse:
        wallet = self.s.wallets.trading(convert.principal(req))
        return wallet_service_pb2.GetDefaultWalletResponse(wallet=_wallet(wallet))

    @_rpc(Role.API)
    async def CreateTradingWallet(
        self, caller: Caller, req: wallet_service_pb2.CreateTradingWalletRequest, ctx: Ctx
    ) -> wallet_service_pb2.CreateTradingWalletResponse:
        wallet = await self.s.wallets.create_trading(caller, convert.principal(req), req.label)
        return wallet_service_pb2.CreateTradingWalletResponse(wallet=_wallet(wallet))

    @_rpc(Role.API)
    async def GetLinkChallenge(
        self, caller: Caller, req: wallet_service_pb2.GetLinkChallengeRequest, ctx: Ctx
    ) -> wallet_service_pb2.GetLinkChallengeResponse:
        message, expires = await self.s.wallets.challenge(
            convert.principal(req), req.address, req.chain_id
        )
        return wallet_service_pb2.GetLinkChallengeResponse(message=message, expires_at=expires)

    @_rpc(Role.API)
    async def LinkConnectedWallet(
        self, caller: Caller, req: wallet_service_pb2.LinkConnectedWalletRequest, ctx: Ctx
    ) -> wallet_service_pb2.LinkConnectedWalletResponse:
        wallet = await self.s.wallets.link(
            caller, convert.principal(req), req.message, bytes(req.signature)
        )
        return wallet_service_pb2.LinkConnectedWalletResponse(wallet=_wallet(wallet))

    @_rpc(Role.API)
    async def UnlinkConnectedWallet(
        self, caller: Caller, req: wallet_service_pb2.UnlinkConnectedWalletRequest, ctx: Ctx
    ) -> wallet_service_pb2.UnlinkConnectedWalletResponse:
        removed = await self.s.wallets.unlink(caller, convert.principal(req), req.address)
        return wallet_service_pb2.UnlinkConnectedWalletResponse(unlinked=removed)

    @_rpc(Role.API)
    async def Withdraw(
        self, caller: Caller, req: wallet_service_pb2.WithdrawRequest, ctx: Ctx
    ) -> wallet_service_pb2.WithdrawResponse:
        signed = await self.s.withdrawals.withdraw(
            caller,
            WithdrawRequest(
                convert.principal(req), req.chain, req.token, req.amount, req.recipient,
                req.tx.nonce, req.tx.max_fee_per_gas, req.tx.max_priority_fee_per_gas,
                req.tx.gas_limit,
            ),
        )  # fmt: skip
        return wallet_service_pb2.WithdrawResponse(transaction=_signed_tx(signed))

    @_rpc(Role.API)
    async def SignTransaction(
        self, caller: Caller, req: wallet_service_pb2.SignTransactionRequest, ctx: Ctx
    ) -> wallet_service_pb2.SignTransactionResponse:
        signed = await self.s.withdrawals.sign_transaction(
            caller,
            ContractCallRequest(
                convert.principal(req), req.wallet_id, req.chain_id, req.to, req.value,
                bytes(req.data), req.tx.nonce, req.tx.max_fee_per_gas,
                req.tx.max_priority_fee_per_gas, req.tx.gas_limit,
            ),
        )  # fmt: skip
        return wallet_service_pb2.SignTransactionResponse(transaction=_signed_tx(signed))


def register(
    server: grpc.aio.Server, services: Services, resolver: CallerResolver, deadline: float
) -> list[str]:
    """Add every servicer to ``server``; returns the full service names."""
    servicers: list[tuple[type[_Base], Any]] = [
        (CredentialServicer, credential_service_pb2),
        (SigningServicer, signing_service_pb2),
        (IdentityServicer, identity_service_pb2),
        (PolicyServicer, policy_service_pb2),
        (AuditServicer, audit_service_pb2),
        (WalletServicer, wallet_service_pb2),
    ]
    names = []
    for cls, module in servicers:
        (service,) = module.DESCRIPTOR.services_by_name.values()
        servicer = cls(services, resolver, deadline)
        server.add_generic_rpc_handlers((generic_handler(service, servicer),))
        names.append(service.full_name)
    return names
