"""The result of a policy evaluation."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Decision:
    """Allow or deny, the id of the rule that decided, and why.

    ``rule_id`` is stable (tests and audit records refer to it); ``reasons``
    are sentences safe to show a caller.
    """

    allowed: bool
    rule_id: str
    reasons: tuple[str, ...] = ()

    @classmethod
    def allow(cls, rule_id: str, *reasons: str) -> Decision:
        return cls(True, rule_id, tuple(reasons))

    @classmethod
    def deny(cls, rule_id: str, *reasons: str) -> Decision:
        return cls(False, rule_id, tuple(reasons))
