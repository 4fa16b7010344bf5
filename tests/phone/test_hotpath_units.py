"""The bridge's per-frame paths, without sockets: audio deltas read without parsing their
audio, bot audio passed through in one piece, caller audio batched into fewer appends, and the
messages to Twilio built by concatenation; each gives what the general path gives."""

from __future__ import annotations

import asyncio
import base64
import json
import random

import orjson
import pytest

from switchboard.phone import playback as playback_module
from switchboard.phone.carriers.twilio_codec import mark_message, media_message
from switchboard.phone.deltas import read_audio_delta
from switchboard.phone.metrics import PhoneMetrics
from switchboard.phone.playback import Playback
from switchboard.phone.uplink import APPEND_HEAD, Uplink, join_b64

AUDIO = base64.b64encode(bytes(range(160))).decode()


def _b64(n: int, seed: int = 0) -> str:
    return base64.b64encode(random.Random(seed).randbytes(n)).decode()


# -- audio deltas ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "event",
    [
        {"type": "response.output_audio.delta", "item_id": "item_1", "delta": AUDIO},
        {
            "type": "response.output_audio.delta",
            "event_id": "event_9",
            "response_id": "resp_1",
            "item_id": "item_A1",
            "output_index": 0,
            "content_index": 0,
            "delta": AUDIO,
        },
    ],
)
def test_audio_deltas_in_the_gateway_layout_are_read_without_parsing(event: dict) -> None:
    """A compact delta, ``type`` first and ``delta`` last, gives the parsed item id and audio."""
    text = orjson.dumps(event).decode()
    assert read_audio_delta(text) == (event["item_id"], event["delta"])


@pytest.mark.parametrize(
    "text",
    [
        # another layout: parsed whole
        '{"item_id":"item_1","type":"response.output_audio.delta","delta":"AAAA"}',
        '{"type":"response.output_audio.delta","delta":"AAAA","item_id":"item_1"}',
        '{"type": "response.output_audio.delta", "item_id": "item_1", "delta": "AAAA"}',
        '{"type":"response.output_audio.delta","item_id":"item_1","delta":"AAAA"} ',
        # escapes: JSON may write "/" as "\/", and ids may hold escaped characters
        '{"type":"response.output_audio.delta","item_id":"item_1","delta":"AA\\/A"}',
        '{"type":"response.output_audio.delta","item_id":"it\\"em","delta":"AAAA"}',
        # nested values before the audio
        '{"type":"response.output_audio.delta","x":{"item_id":"a"},"item_id":"b","delta":"AAAA"}',
        '{"type":"response.output_audio.delta","x":["a"],"item_id":"b","delta":"AAAA"}',
        # no item id; other events
        '{"type":"response.output_audio.delta","delta":"AAAA"}',
        '{"type":"response.output_audio.done","item_id":"item_1"}',
        '{"type":"response.output_audio_transcript.delta","item_id":"i","delta":"hi"}',
        '{"type":"input_audio_buffer.speech_started","item_id":"item_1"}',
    ],
)
def test_anything_else_is_left_to_the_json_parser(text: str) -> None:
    """Layouts and events the reader does not vouch for answer None (parsed whole)."""
    assert read_audio_delta(text) is None


def test_binary_frames_are_left_to_the_json_parser() -> None:
    """A delta sent as a binary frame is parsed whole."""
    assert (
        read_audio_delta(b'{"type":"response.output_audio.delta","item_id":"i","delta":""}') is None
    )


# -- bot audio in pieces -----------------------------------------------------------------------
def _run(playback: Playback, deltas: list[tuple[str, str]]) -> list[tuple[str, str, int]]:
    out = []
    for item_id, delta in deltas:
        for piece in playback.pieces(item_id, delta):
            end = playback._pending[piece.mark][1] if piece.mark is not None else None
            out.append((piece.mark, piece.payload, end))
    return out


@pytest.mark.parametrize("bytes_per_ms", [8, 48])
def test_deltas_within_a_mark_interval_pass_through_as_they_came(
    bytes_per_ms: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pieces, marks, their end times and what is heard are those of the decoding path, for
    deltas of any size (within an interval, across boundaries, odd sizes, empty)."""
    rng = random.Random(7)
    sizes = [160, 160, 800, 1, 0, 2, 799, 161, 3, 4000, 960, 480, 7]
    deltas = [(f"item_{i // 5}", _b64(n * bytes_per_ms // 8 or n, i)) for i, n in enumerate(sizes)]
    deltas += [("item_9", _b64(rng.randrange(1, 2000), 100 + i)) for i in range(40)]
    fast = Playback(bytes_per_ms=bytes_per_ms, mark_interval_ms=100)
    got = _run(fast, deltas)
    monkeypatch.setattr(playback_module, "b64_size", lambda data: None)  # the general path only
    slow = Playback(bytes_per_ms=bytes_per_ms, mark_interval_ms=100)
    want = _run(slow, deltas)
    assert [(m, base64.b64decode(p), end) for m, p, end in got] == [
        (m, base64.b64decode(p), end) for m, p, end in want
    ]
    for item_id in {item for item, _ in deltas}:
        assert fast.sent_ms(item_id) == slow.sent_ms(item_id)
    assert any(m is None for m, _, _ in got) and any(m is not None for m, _, _ in got)
    for mark, _, _ in got[::3]:
        if mark is not None:
            assert fast.played(mark) == slow.played(mark)
    assert [(p.mark, fast._pending[p.mark]) for p in fast.tail()] == [
        (p.mark, slow._pending[p.mark]) for p in slow.tail()
    ]
    assert fast.clear() == slow.clear()


def test_a_delta_that_fits_is_sent_as_it_came() -> None:
    """20 ms deltas under a 100 ms interval are forwarded untouched; only the one that reaches
    the boundary carries a mark."""
    playback = Playback(bytes_per_ms=8, mark_interval_ms=100)
    pieces = [p for _ in range(5) for p in playback.pieces("item_1", AUDIO)]
    assert [p.payload for p in pieces] == [AUDIO] * 5
    assert [p.mark is not None for p in pieces] == [False] * 4 + [True]


# -- caller audio in batches -------------------------------------------------------------------
class _Upstream:
    def __init__(self, *, ok: bool = True) -> None:
        self.sent: list[str] = []
        self.ok = ok

    async def send(self, text: str) -> bool:
        self.sent.append(text)
        return self.ok


def _audio(sent: str) -> bytes:
    event = json.loads(sent)
    assert event["type"] == "input_audio_buffer.append" and sent.startswith(APPEND_HEAD)
    return base64.b64decode(event["audio"])


def _uplink(upstream: _Upstream, batch_ms: int, bytes_per_ms: int = 8) -> Uplink:
    return Uplink(upstream, PhoneMetrics(), bytes_per_ms=bytes_per_ms, batch_ms=batch_ms)  # type: ignore[arg-type]


async def test_caller_frames_go_out_in_batches_of_the_configured_audio() -> None:
    """Five 20 ms µ-law frames make one 100 ms append carrying the same audio in order."""
    upstream = _Upstream()
    uplink = _uplink(upstream, 100)
    frames = [_b64(160, i) for i in range(12)]
    for frame in frames:
        await uplink.audio(frame, 160)
    assert len(upstream.sent) == 2
    await uplink.flush()
    assert len(upstream.sent) == 3
    assert b"".join(map(_audio, upstream.sent)) == b"".join(map(base64.b64decode, frames))
    assert _audio(upstream.sent[0]) == b"".join(map(base64.b64decode, frames[:5]))
    assert uplink.frames.caller_frames == 12
    uplink.close()


async def test_a_batch_is_sent_when_its_time_is_up() -> None:
    """A stream that goes quiet still has its audio sent, the batch's time after its first
    frame."""
    upstream = _Upstream()
    uplink = _uplink(upstream, 60)
    await uplink.audio(AUDIO, 160)
    await asyncio.sleep(0.03)
    assert upstream.sent == []
    await asyncio.sleep(0.06)
    assert [_audio(s) for s in upstream.sent] == [base64.b64decode(AUDIO)]
    uplink.close()


@pytest.mark.parametrize("batch_ms", [0, 20])
async def test_no_batching_forwards_every_frame_as_it_came(batch_ms: int) -> None:
    """With batching off (or a batch of one frame) each frame is one append, untouched."""
    upstream = _Upstream()
    uplink = _uplink(upstream, batch_ms)
    await uplink.audio(AUDIO, 160)
    assert upstream.sent == [APPEND_HEAD + AUDIO + '"}']


async def test_audio_dropped_while_resuming_is_counted_per_frame() -> None:
    """A batch the gateway cannot take counts each of its frames as dropped."""
    upstream = _Upstream(ok=False)
    uplink = _uplink(upstream, 100)
    for _ in range(7):
        await uplink.audio(AUDIO, 160)
    await uplink.flush()
    assert (uplink.frames.caller_frames, uplink.frames.gap_frames) == (0, 7)


def test_base64_parts_join_into_the_same_audio() -> None:
    """Padded parts are decoded and encoded again; unpadded ones are joined as text."""
    padded = [_b64(160, 1), _b64(160, 2), _b64(7, 3)]
    assert base64.b64decode(join_b64(padded, [160, 160, 7])) == b"".join(
        map(base64.b64decode, padded)
    )
    whole = [_b64(960, 1), _b64(960, 2), _b64(100, 3)]
    assert join_b64(whole, [960, 960, 100]) == "".join(whole)
    assert join_b64([AUDIO], [160]) == AUDIO


# -- messages to Twilio ------------------------------------------------------------------------
@pytest.mark.parametrize("sid", ["MZ1", 'M"Z\\1', "MZ\u00e9"])
def test_twilio_messages_built_by_concatenation_are_the_same_json(sid: str) -> None:
    """``media`` and ``mark`` messages parse to what ``json.dumps`` of the dict gives, whatever
    the stream sid or mark name holds; a payload that is not base64 is escaped."""
    for payload in (AUDIO, 'not "base64"\\'):
        assert json.loads(media_message(sid, payload)) == {
            "event": "media",
            "streamSid": sid,
            "media": {"payload": payload},
        }
    for name in ("m1", 'a"b'):
        assert json.loads(mark_message(sid, name)) == {
            "event": "mark",
            "streamSid": sid,
            "mark": {"name": name},
        }
