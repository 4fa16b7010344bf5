"""A call's recording through the whole product: the gateway writes both channels into the
recording store as the call goes, the store's assembler makes the two-channel file once the call
ends, and an analyst plays it: the caller's questions on channel 1, the bot as heard on channel 2,
cut where the caller barged in."""

from __future__ import annotations

import asyncio
import io
import time
import wave
from typing import Any

import httpx
import numpy as np
import pytest

from switchboard.cli.call import CallOptions, Turn, run_call
from switchboard.cli.endpoint import gateway_endpoint
from tests.support.product import STORE_AUTH, Product

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def _ready_timeline(product: Product, session_id: str, within_s: float = 60.0) -> Any:
    """The recording's timeline once the store has assembled the file."""
    last: Any = None
    deadline = time.monotonic() + within_s
    async with httpx.AsyncClient(base_url=product.store, auth=STORE_AUTH, timeout=10) as http:
        while time.monotonic() < deadline:
            response = await http.get(f"/api/sessions/{session_id}/recording/timeline")
            last = response.json() if response.status_code == 200 else response.text[:300]
            if response.status_code == 200 and last["status"] == "ready":
                return last
            await asyncio.sleep(0.3)
    raise AssertionError(f"recording of {session_id} never became ready: {last}")


def _channels(data: bytes) -> tuple[int, np.ndarray]:
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (2, 2)
        rate = wav.getframerate()
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return rate, frames.reshape(-1, 2)


def _span(samples: np.ndarray, rate: int, start_ms: float, end_ms: float) -> np.ndarray:
    return samples[int(start_ms * rate / 1000) : int(end_ms * rate / 1000)]


async def test_a_barged_in_call_is_recorded_in_two_channels_cut_where_the_caller_spoke(
    product: Product, say: Any
) -> None:
    endpoint = await gateway_endpoint(product.gateway, "cus_0002")
    turns = [Turn("q", say("Where is my order 100004?")), Turn("stop", say("Stop please."))]
    result = await run_call(
        CallOptions(endpoint=endpoint, turns=turns, barge_in_ms=1000, barge_in_ahead_ms=2500),
        keep_events=True,
    )
    assert result.failure is None and result.state.errors == []
    cut_at = result.state.turns[0].interrupted_at_ms
    assert cut_at is not None
    session_id = result.state.session_id
    assert session_id is not None

    timeline = await _ready_timeline(product, session_id)
    assert timeline["channels"] == ["caller", "assistant"]
    assert timeline["failed_segments"] == 0 and timeline["missing_segments"] == 0
    users = [t for t in timeline["turns"] if t["role"] == "user"]
    bots = [t for t in timeline["turns"] if t["role"] == "assistant"]
    assert len(users) >= 2 and bots
    [cut] = [t for t in bots if t["interrupted"]]
    assert cut["heard_ms"] == pytest.approx(cut_at, abs=1.0)
    assert cut["said_ms"] > cut["heard_ms"]

    async with httpx.AsyncClient(base_url=product.store, auth=STORE_AUTH, timeout=30) as http:
        response = await http.get(f"/api/sessions/{session_id}/recording")
    assert response.status_code == 200
    rate, frames = _channels(response.content)
    caller, bot = frames[:, 0].astype(np.int32), frames[:, 1].astype(np.int32)
    duration_ms = len(frames) * 1000 / rate
    assert duration_ms == pytest.approx(timeline["duration_ms"], abs=50)

    # the caller's two questions are on channel 1, and the bot is not in it
    for turn in users:
        speech = _span(caller, rate, turn["start_ms"], turn["end_ms"])
        assert np.abs(speech).max() > 1000, turn
    # channel 2 holds the interrupted answer for what was heard, then nothing until the bot
    # speaks again
    start = cut["start_ms"]
    heard = _span(bot, rate, start, start + cut["heard_ms"])
    assert len(heard) and np.abs(heard).max() > 1000
    after = [t["start_ms"] for t in bots if t["start_ms"] > start]
    quiet_until = min([start + cut["heard_ms"] + 1000, *after])
    silence = _span(bot, rate, start + cut["heard_ms"] + 1, quiet_until)
    assert len(silence) and not silence.any(), "the bot's channel goes on after the barge-in"
