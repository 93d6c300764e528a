"""Every venue parser, fed adversarial mutations of valid requests (in process).

Properties, for each of the eleven venues:

1. ``parse`` + ``decide`` (``evaluate_request``, the EvaluatePolicy path) end in
   a decision or a ``SignerError`` with a stable reason code; nothing else
   escapes (no RecursionError, UnicodeError, OverflowError, KeyError...).
2. A malformed mutant (``tests.property.mutations``) is never allowed.
3. Whatever is allowed is signed by the venue's ``sign`` or refused with a
   ``SignerError``; signing never fails with anything else (that would be an
   INTERNAL after the policy said yes).

Examples per venue are kept small for CI; ``-m slow`` runs many more.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from signer.domain import Principal, SignRequest
from signer.errors import Reason, SignerError
from signer.pipeline import evaluate_request
from tests.property import seeds
from tests.property.mutations import Mutant, mutants
from tests.unit.venues.conftest import FixedClock

VENUE_IDS = sorted({venue for _, venue, _ in seeds.allowed_seeds()})
FAST = settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=3000, suppress_health_check=[HealthCheck.too_slow])


def test_every_venue_has_allowed_seeds() -> None:
    # The mutations start from requests that would be signed, for every venue.
    assert sorted(seeds.venues()) == VENUE_IDS
    assert len(seeds.allowed_seeds()) >= 200


@st.composite
def cases(draw: st.DrawFn, venue: str) -> tuple[Principal, Mutant]:
    pool = [(p, r) for p, v, r in seeds.allowed_seeds() if v == venue]
    principal, request = draw(st.sampled_from(pool))
    return principal, draw(mutants(request))


def check(venue: str, principal: Principal, mutant: Mutant) -> None:
    req = SignRequest(principal, venue, mutant.request)
    try:
        evaluation = evaluate_request(
            seeds.venues(), frozenset(seeds.venues()), seeds.document(), req, seeds.linked
        )
    except SignerError as exc:
        refused: SignerError | None = exc
    else:
        refused = None
    if refused is not None:
        assert refused.reason in set(Reason), (mutant.kind, refused)
        event(f"{mutant.kind}: refused {refused.reason}")
        return
    if not evaluation.decision.allowed:
        event(f"{mutant.kind}: denied")
        return
    assert not mutant.malformed, (mutant.kind, mutant.request)
    event(f"{mutant.kind}: allowed")
    creds = seeds.credentials()[venue]
    try:
        signed = seeds.venues()[venue].sign(evaluation.parsed, creds, FixedClock())
    except SignerError as exc:
        refused = exc
    else:
        assert signed.request.path == mutant.request.path
        return
    assert refused.reason in set(Reason), (mutant.kind, refused)


@pytest.mark.parametrize("venue", VENUE_IDS)
@FAST
@given(data=st.data())
def test_mutated_requests_get_typed_outcomes(venue: str, data: st.DataObject) -> None:
    check(venue, *data.draw(cases(venue)))


@pytest.mark.slow
@pytest.mark.parametrize("venue", VENUE_IDS)
@SLOW
@given(data=st.data())
def test_mutated_requests_get_typed_outcomes_many(venue: str, data: st.DataObject) -> None:
    check(venue, *data.draw(cases(venue)))
