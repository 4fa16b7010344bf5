"""Real speech through the emulator: synthesised WAV-like audio in, server VAD, recognition,
a tool call from spoken digits, and audio out; also G.711 and manual commits."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import numpy as np

from switchboard.emulator.audio import decode, encode, resample
from tests.support.clients import EventLog
from tests.support.emulator import pcm_b64
from tests.support.realtime import CHUNK, ORDER_TOOLS, stream


async def test_spoken_request_becomes_tool_call(ga: EventLog, say: Any) -> None:
    """Spoken words go through server VAD and recognition into a function call with the spoken order id."""
    await ga.until("session.created")
    await ga.send(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "tools": ORDER_TOOLS,
                "audio": {"input": {"transcription": {"model": "whisper-1"}}},
            },
        }
    )
    await ga.until("session.updated")
    await stream(ga, say("What is the status of order one zero zero zero zero one?"))
    started = await ga.until("input_audio_buffer.speech_started")
    stopped = await ga.until("input_audio_buffer.speech_stopped")
    assert 0 <= started["audio_start_ms"] < stopped["audio_end_ms"]
    committed = await ga.until("input_audio_buffer.committed")
    assert committed["item_id"] == started["item_id"] == stopped["item_id"]
    transcript = await ga.until("conversation.item.input_audio_transcription.completed")
    assert "100001" in transcript["transcript"]
    done = (await ga.until("response.done"))["response"]
    call = done["output"][0]
    assert call["name"] == "check_order_status"
    assert json.loads(call["arguments"]) == {"order_id": 100001}


async def test_audio_round_trip_recognises_the_spoken_reply(
    ga: EventLog, say: Any, speech: Any
) -> None:
    """The assistant's audio reply is real speech: recognising it gives back its own transcript."""
    await ga.until("session.created")
    await ga.send(
        {
            "type": "session.update",
            "session": {"type": "realtime", "audio": {"input": {"turn_detection": None}}},
        }
    )
    await ga.until("session.updated")
    await stream(ga, say("Hello"))
    await ga.send({"type": "input_audio_buffer.commit"})
    await ga.until("input_audio_buffer.committed")
    await ga.send({"type": "response.create"})
    events = await ga.collect_until("response.done")
    assert not ga.of("input_audio_buffer.speech_started"), (
        "no VAD events when turn detection is off"
    )
    audio = b"".join(
        base64.b64decode(e["delta"]) for e in events if e["type"] == "response.output_audio.delta"
    )
    transcript = next(e for e in events if e["type"] == "response.output_audio_transcript.done")[
        "transcript"
    ]
    heard = (
        await speech.transcribe(resample(decode("audio/pcm", audio), 24000, 16000))
    ).text.lower()
    assert "help" in heard and "help" in transcript.lower()


async def test_g711_ulaw_in_and_alaw_out(ga: EventLog, say: Any) -> None:
    """μ-law input at 8 kHz is understood and a-law output is produced at 8 kHz."""
    await ga.until("session.created")
    await ga.send(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "tools": ORDER_TOOLS,
                "audio": {
                    "input": {"format": {"type": "audio/pcmu"}},
                    "output": {"format": {"type": "audio/pcma"}},
                },
            },
        }
    )
    await ga.until("session.updated")
    narrow = encode(
        "audio/pcmu", say("What is the status of order four five six seven eight nine?")
    )
    await stream(ga, narrow, chunk_bytes=800)
    done = (await ga.until("response.done"))["response"]
    call = done["output"][0]
    assert call["name"] == "check_order_status"
    assert json.loads(call["arguments"]) == {"order_id": 456789}
    await ga.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "function_call_output",
                "call_id": call["call_id"],
                "output": '{"cancelled": true}',
            },
        }
    )
    await ga.send({"type": "response.create"})
    events = await ga.collect_until("response.done")
    chunks = [
        base64.b64decode(e["delta"]) for e in events if e["type"] == "response.output_audio.delta"
    ]
    total = sum(len(c) for c in chunks)
    seconds = total / 8000
    words = len(
        next(e for e in events if e["type"] == "response.output_audio_transcript.done")[
            "transcript"
        ].split()
    )
    assert 0.15 * words < seconds < 1.0 * words  # one byte per sample at 8 kHz: speech-length audio


async def test_speech_interrupts_the_response(ga: EventLog, say: Any) -> None:
    """Speech starting during a response cancels it with reason turn_detected (interrupt_response)."""
    await ga.until("session.created")
    await ga.send(
        {
            "type": "response.create",
            "response": {
                "instructions": 'Say "Let me read you our long list of store opening hours. Monday to Friday nine to five. Saturday ten to four."'
            },
        }
    )
    await ga.until("response.output_audio.delta")
    await stream(ga, say("Stop please"))
    done = (await ga.until("response.done"))["response"]
    assert done["status"] == "cancelled"
    assert done["status_details"]["reason"] == "turn_detected"


def _hold_until(path: str) -> None:
    """A job for a speech worker process: busy until *path* exists."""
    import os
    import time

    while not os.path.exists(path):
        time.sleep(0.02)


@contextlib.asynccontextmanager
async def _speech_workers_held(speech: Any, gate: Any) -> AsyncIterator[list[Any]]:
    """Every speech worker busy (a recognition backlog) until the block ends."""
    held = [
        asyncio.wrap_future(speech.workers.executor.submit(_hold_until, str(gate)))
        for _ in range(speech.workers.processes)
    ]
    try:
        yield held
    finally:
        gate.touch()
        await asyncio.gather(*held)


async def _transcribing(ga: EventLog) -> None:
    """The session created, with input transcription on."""
    await ga.until("session.created")
    await ga.send(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "audio": {"input": {"transcription": {"model": "whisper-1"}}},
            },
        }
    )
    await ga.until("session.updated")


async def test_appended_audio_is_taken_in_while_every_speech_worker_is_busy(
    ga: EventLog, say: Any, speech: Any, tmp_path: Any
) -> None:
    """Voice activity detection does not wait behind recognition or synthesis: with every
    speech worker held (a recognition backlog), speech still starts and stops a turn. Queued
    behind them, appends stalled the connection's reading until peers dropped it on a keepalive
    ping timeout (seen under 50 callers in the chaos run)."""
    audio = say("Hello there, I have a question.")  # synthesised by the workers: before
    async with _speech_workers_held(speech, tmp_path / "release") as held:
        await _transcribing(ga)
        await stream(ga, audio)
        started = await ga.until("input_audio_buffer.speech_started")
        stopped = await ga.until("input_audio_buffer.speech_stopped")
        assert started["item_id"] == stopped["item_id"]
        assert not any(f.done() for f in held)  # the workers were busy throughout
    # once the backlog clears, the turn is recognised and answered as usual
    transcript = await ga.until("conversation.item.input_audio_transcription.completed")
    assert "question" in transcript["transcript"].lower()
    await ga.until("response.done")


async def test_a_response_cancelled_while_its_transcript_waits_leaves_the_session_working(
    ga: EventLog, say: Any, speech: Any, tmp_path: Any
) -> None:
    """A response waiting for the user's transcript (recognition queued behind busy workers) is
    cancelled; when the transcript arrives the session goes on. The cancelled wait used to
    cancel the item's transcript future, and setting it then crashed the whole session (seen
    under 50 callers in the chaos run: "session crashed ... InvalidStateError")."""
    audio = say("Where is my order?")
    async with _speech_workers_held(speech, tmp_path / "release") as held:
        await _transcribing(ga)
        await stream(ga, audio)
        created = (await ga.until("response.created"))["response"]
        await ga.send({"type": "response.cancel", "response_id": created["id"]})
        done = (await ga.until("response.done"))["response"]
        assert done["status"] == "cancelled"
        assert not any(f.done() for f in held)  # the transcript was still pending
    transcript = await ga.until("conversation.item.input_audio_transcription.completed")
    assert "order" in transcript["transcript"].lower()
    await ga.send({"type": "response.create"})
    assert (await ga.until("response.done"))["response"]["status"] == "completed"


async def test_speech_runs_in_low_priority_worker_processes(speech: Any, say: Any) -> None:
    """Recognition and synthesis run in worker processes, never in the server's own (pocketsphinx
    holds the GIL for a whole decode and would freeze the event loop), at a lower CPU priority
    than the server so that, on a busy machine, connections are served first."""
    import os

    from switchboard.emulator.audio import resample
    from switchboard.emulator.workers import NICENESS

    pids = speech.workers.worker_pids()
    assert pids and os.getpid() not in pids
    assert len(pids) <= speech.workers.processes
    assert speech.workers.niceness() >= min(19, os.nice(0) + NICENESS)
    heard = await speech.transcribe(resample(say("Where is my order?"), 24000, 16000))
    assert "order" in heard.text.lower()
    audio = await speech.synthesize("Your order has shipped.")
    assert audio.dtype == np.int16 and audio.size > 24_000 // 2


async def test_pings_are_answered_while_the_session_is_behind(emulator: Any, speech: Any) -> None:
    """A session behind on its audio (here: the input thread held, as when more callers talk
    than the CPU serves in real time) still reads its connection and answers pings; handled in
    line, every chunk stopped the reading and peers dropped the connection on a keepalive ping
    timeout. The backlog is then worked through in order."""
    import threading

    import websockets

    release = threading.Event()
    held = asyncio.get_running_loop().run_in_executor(speech.ingest_executor, release.wait)
    try:
        async with websockets.connect(
            f"{emulator.ws}/v1/realtime?model=switchboard-test",
            additional_headers={"Authorization": f"Bearer {emulator.api_key}"},
        ) as ws:
            assert json.loads(await ws.recv())["type"] == "session.created"
            chunk = pcm_b64(np.zeros(CHUNK, dtype=np.int16))
            for _ in range(200):  # 20 s of audio the session cannot take in yet
                await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": chunk}))
            pong = await ws.ping()
            async with asyncio.timeout(20):
                await pong
            assert not held.done()  # it was behind all along
            release.set()
            await ws.send(json.dumps({"type": "input_audio_buffer.commit", "event_id": "c1"}))
            async with asyncio.timeout(60):
                while (event := json.loads(await ws.recv()))["type"] != (
                    "input_audio_buffer.committed"
                ):
                    assert event["type"] != "error", event
    finally:
        release.set()
        await held


async def test_idle_timeout_asks_whether_the_caller_is_still_there(ga: EventLog) -> None:
    """With server VAD's idle_timeout_ms, silence after the assistant's reply triggers
    input_audio_buffer.timeout_triggered over that much audio, commits it, and a response asks
    whether the caller is still there."""
    await ga.until("session.created")
    await ga.send(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "output_modalities": ["text"],
                "audio": {
                    "input": {"turn_detection": {"type": "server_vad", "idle_timeout_ms": 5000}}
                },
            },
        }
    )
    await ga.until("session.updated")
    await ga.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Hello"}],
            },
        }
    )
    await ga.send({"type": "response.create"})
    await ga.until("response.done")
    await stream(ga, np.zeros(24_000 * 4, dtype=np.int16))  # 4 s: under the timeout
    await stream(ga, np.zeros(24_000 * 2, dtype=np.int16))  # 6 s in all
    triggered = await ga.until("input_audio_buffer.timeout_triggered")
    # noticed at the first append past the timeout (a session behind takes up to 8 chunks at once)
    assert 5000 <= triggered["audio_end_ms"] - triggered["audio_start_ms"] <= 5000 + 800
    committed = await ga.until("input_audio_buffer.committed")
    assert committed["item_id"] == triggered["item_id"]
    events = await ga.collect_until("response.done")
    text = next(e for e in events if e["type"] == "response.output_text.done")["text"]
    assert "still there" in text
    assert not ga.of("input_audio_buffer.speech_started")
    ga.check_all_valid()
