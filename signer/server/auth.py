"""Caller authentication: who is calling, and may they call this RPC?

Each listener is its own gRPC server with its own ``CallerResolver``:

- a Unix socket (or vsock, or the dev-only plaintext port) has one fixed role;
  SECURITY: the socket's file mode admits only the front end's user, so the
  kernel is the authenticator;
- a TLS listener requires a client certificate signed by the configured CA
  (enforced by the TLS handshake); its subject common name is looked up in
  ``callers``; an unmapped identity is UNAUTHENTICATED.
"""

from __future__ import annotations

from collections.abc import Mapping

import grpc

from signer.domain import Caller, Role
from signer.errors import ForbiddenRoleError, UnauthenticatedCallerError


class CallerResolver:
    """Maps a call's transport identity to a ``Caller``."""

    def __init__(
        self, listener_name: str, fixed_role: Role | None, cert_roles: Mapping[str, Role]
    ) -> None:
        self._name = listener_name
        self._fixed = (
            Caller(listener_name, frozenset({fixed_role})) if fixed_role is not None else None
        )
        self._cert_roles = dict(cert_roles)

    def resolve(self, context: grpc.aio.ServicerContext[object, object]) -> Caller:
        if self._fixed is not None:
            return self._fixed
        auth = context.auth_context()
        names = list(auth.get("x509_common_name") or [])
        if len(names) != 1:
            raise UnauthenticatedCallerError("a client certificate is required")
        cn = names[0].decode("utf-8", "replace")
        role = self._cert_roles.get(cn)
        if role is None:
            raise UnauthenticatedCallerError("this client certificate is not mapped to a role")
        return Caller(f"cert:{cn}", frozenset({role}))


def require(caller: Caller, *roles: Role) -> None:
    """Refuse a caller that has none of ``roles``."""
    if caller.roles.isdisjoint(roles):
        wanted = " or ".join(r.value for r in roles)
        raise ForbiddenRoleError(f"this RPC requires the {wanted} role")
