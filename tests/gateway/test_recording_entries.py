"""The recorder's writer places the relay's entries (:func:`switchboard.gateway.entries.ingest`,
the common cases inline) exactly as the timeline's one-chunk-at-a-time methods define: random
streams of caller chunks (jitter, gaps, full segments, empty chunks, frames), assistant deltas
(several items, interleaved, frames in the compact layout and in others, bare audio text, late
deltas of a cut item), truncations, speech marks and format changes, fed to both in the same
looks, give the same segments and marks."""

from __future__ import annotations

import base64
import json
import random
from typing import Any

import pytest

from switchboard.gateway.entries import (
    CALLER,
    DELTA,
    FORMATS_CHANGED,
    SPEECH,
    SWAP,
    TRUNCATE,
    UPDATE,
    ingest,
)
from switchboard.gateway.recording import Timeline

T0 = 1_000_000.0
_PCMU = {
    "type": "session.update",
    "session": {"audio": {"input": {"format": {"type": "audio/pcmu"}}}},
}


def _delta_frame(rng: random.Random, item: str, audio: str) -> str:
    """An audio delta as an upstream may send it: mostly GA's compact layout, sometimes
    spaced, reordered or with the audio's slashes escaped."""
    event = {
        "type": "response.output_audio.delta",
        "event_id": f"ev_{rng.randrange(10**6)}",
        "response_id": "resp_1",
        "item_id": item,
        "output_index": 0,
        "content_index": 0,
        "delta": audio,
    }
    style = rng.random()
    if style < 0.7:
        return json.dumps(event, separators=(",", ":"))
    if style < 0.8:
        return json.dumps(event)  # spaced
    if style < 0.9:
        return json.dumps({"delta": audio, **{k: v for k, v in event.items() if k != "delta"}})
    return json.dumps(event, separators=(",", ":")).replace("/", "\\/")  # escaped slashes


def _stream(seed: int) -> tuple[list[list[tuple[Any, ...]]], list[float]]:
    """Looks of entries (each a list of 4-tuples) and the wall time after each."""
    rng = random.Random(seed)
    now = T0 + rng.uniform(0, 2)
    looks: list[list[tuple[Any, ...]]] = []
    ticks: list[float] = []
    items = [f"item_{seed}_{k}" for k in range(4)]
    for _ in range(rng.randrange(3, 12)):
        look: list[tuple[Any, ...]] = []
        for _ in range(rng.randrange(0, 60)):
            now += rng.choice((0.0, 0.02, 0.04, 0.04, 0.1))
            if rng.random() < 0.05:  # a pause: some around the gap threshold, some longer
                now += rng.choice((rng.uniform(0.2, 0.32), 0.6))
            r = rng.random()
            if r < 0.45:
                size = rng.choice((0, 2, 320, 960, 1920, 1920, 1920, 4800))
                chunk = rng.randbytes(size)
                if rng.random() < 0.1:  # the frame, when the policy had not decoded it
                    audio = base64.b64encode(chunk).decode()
                    data: Any = json.dumps({"type": "input_audio_buffer.append", "audio": audio})
                else:
                    data = chunk
                look.append((CALLER, data, None, now))
            elif r < 0.9:
                item = rng.choice(items[:2]) if rng.random() < 0.9 else rng.choice(items)
                raw = rng.randbytes(rng.choice((1920, 1920, 961, 48, 3)))
                audio = base64.b64encode(raw).decode()
                data = audio if rng.random() < 0.1 else _delta_frame(rng, item, audio)
                look.append((DELTA, data, (item, "resp_1", len(raw)), now))
            elif r < 0.93:
                look.append((TRUNCATE, rng.choice(items), rng.randrange(0, 400), None))
            elif r < 0.96:
                kind = rng.choice(
                    ("input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped")
                )
                look.append((SPEECH, kind, "user_1", rng.uniform(0, 3000)))
            elif r < 0.97:
                look.append((UPDATE, None, _PCMU, None))
            elif r < 0.98:
                look.append((FORMATS_CHANGED, "audio/pcm", rng.choice(("audio/pcm", None)), None))
            else:
                look.append((SWAP, None, None, None))
        looks.append(look)
        ticks.append(now + rng.choice((0.0, 0.5, 4.0)))
    return looks, ticks


def _one_by_one(t: Timeline, look: list[tuple[Any, ...]]) -> None:
    """The entries through the timeline's methods, one at a time (what each entry means)."""
    for kind, a, b, c in look:
        if kind == CALLER:
            t.caller_audio(a if type(a) is bytes else json.loads(a)["audio"], c)
        elif kind == DELTA:
            audio = json.loads(a)["delta"] if a.startswith("{") else a
            if a.startswith("{") and "\\/" in a:
                audio = audio.replace("/", "\\/")  # kept as cut from the frame (decoded later)
            t.assistant_audio(b[0], audio, c, b[2])
        elif kind == TRUNCATE:
            t.truncated(a, b)
        elif kind == SPEECH:
            t.speech(a, b, c)
        elif kind == UPDATE:
            t.formats("audio/pcmu", None)
        elif kind == FORMATS_CHANGED:
            t.formats(a, b)
        elif kind == SWAP:
            t.upstream_swapped()


def _state(t: Timeline) -> Any:
    """What the timeline holds open between looks."""
    caller = t.caller
    return (
        None if caller is None else (caller.start_ms, caller.size, caller.fmt),
        {k: (v.start_ms, v.size, v.last_ms, v.cut_ms) for k, v in t.assistant.items()},
        t.caller_end,
        t.input_ms,
        sorted(t.closed_items),
    )


def _result(t: Timeline) -> list[Any]:
    t.close()
    segments, marks = t.take()
    return [
        [(s.channel, s.index, s.start_ms, s.data, s.fmt, s.item_id, s.said_ms) for s in segments],
        [m.model_dump() for m in marks],
        (t.caller_end, t.assistant_end, t.input_ms, dict(t.next_index)),
    ]


@pytest.mark.parametrize("segment_ms", [5000.0, 300.0])
def test_ingest_places_entries_as_the_timeline_methods_do(segment_ms: float) -> None:
    for seed in range(150):
        looks, ticks = _stream(seed)
        timelines: list[Timeline] = []
        states: list[list[Any]] = []
        for place in (ingest, _one_by_one):
            looked: list[Any] = []
            states.append(looked)
            t = Timeline(
                started_wall=T0,
                input_format="audio/pcm",
                output_format="audio/pcm",
                segment_ms=segment_ms,
            )
            for look, tick in zip(looks, ticks, strict=True):
                flat = [field for entry in look for field in entry]
                place(t, flat if place is ingest else look)
                looked.append(_state(t))
                t.tick(tick)
                t.settle()
            timelines.append(t)
        assert states[0] == states[1], f"seed {seed}"
        got, want = (_result(t) for t in timelines)
        assert got == want, f"seed {seed}"
        assert want[0], f"seed {seed}: the stream made no segment"
