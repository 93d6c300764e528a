"""The benchmark harness measures what it claims: its hand-built wire bytes are the
messages the daemon expects, and the profile summary attributes samples correctly.

No timing is asserted here (DESIGN.md section 7: the benchmark prints its verdicts).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.common import binance_order_request, percentile
from bench.load import _id_and_tag, _varint
from bench.profile import summarise
from signer._proto.sequence.signer.v1 import common_pb2
from signer._proto.sequence.signer.v1 import signing_service_pb2 as pb


@pytest.mark.parametrize("item_id", [1, 127, 128, 300, 16_384, 2**32 + 5])
def test_stream_request_bytes_are_the_proto_message(item_id: int) -> None:
    request = binance_order_request()
    wire = b"\x08" + _varint(item_id) + b"\x12" + _varint(len(request)) + request
    msg = pb.SignVenueRequestStreamRequest.FromString(wire)
    assert msg.id == item_id
    assert msg.request.SerializeToString() == request
    assert msg.request.venue == "binance" and msg.request.request.path == "/api/v3/order"


@pytest.mark.parametrize("item_id", [1, 200, 70_000])
def test_stream_response_id_and_result_tag(item_id: int) -> None:
    ok = pb.SignVenueRequestStreamResponse(
        id=item_id, response=pb.SignVenueRequestResponse(audit_id="7")
    ).SerializeToString()
    err = pb.SignVenueRequestStreamResponse(
        id=item_id, error=common_pb2.StreamError(code="PERMISSION_DENIED")
    ).SerializeToString()
    assert _id_and_tag(ok) == (item_id, 0x12)
    assert _id_and_tag(err) == (item_id, 0x1A)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([3.0], 99) == 3.0


def test_profile_summary_splits_grpc_daemon_and_crypto(tmp_path: Path) -> None:
    loop = "run (asyncio/runners.py:190);Handle._run (asyncio/events.py:80)"
    raw = tmp_path / "stacks.raw"
    raw.write_text(
        f"{loop} 60\n"
        f"{loop};Pipeline.sign (signer/pipeline.py:99);parse (signer/venues/binance.py:1) 30\n"
        f"{loop};Pipeline.sign (signer/pipeline.py:99);hex (signer/schemes/hmac.py:60) 10\n"
    )
    text = summarise(raw, rate=100, calls=1)
    assert "100 GIL samples" in text
    assert "60.0%" in text and "gRPC + event loop" in text
    assert "30.0%" in text and "daemon Python outside crypto" in text
    assert "10.0%" in text and "cryptography" in text
    assert "40.0%" in text and "signer/pipeline.py:Pipeline.sign" in text
