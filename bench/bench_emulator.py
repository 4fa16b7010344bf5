"""Realtime emulator: end of speech → first audio delta, CPU per second of audio, and how many
concurrent real-time sessions one core carries before replies fall behind.

Baselines measured in the same run: a text turn (no recognition) for latency, and bare piper
synthesis for CPU per second of audio.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import time

import numpy as np
import uvicorn
import websockets

from bench.harness import BenchContext, Result, percentile
from switchboard.contracts.client_events import (
    audio_append,
    response_create,
    session_update,
    user_text,
)
from switchboard.emulator.app import create_app
from switchboard.emulator.settings import EmulatorSettings
from switchboard.emulator.speech import Speech

KEY = "bench-emulator-key"
TOOLS = [
    {
        "type": "function",
        "name": "check_order_status",
        "description": "Look up the status of one of the customer's orders.",
        "parameters": {
            "type": "object",
            "properties": {"order_id": {"type": "integer"}},
            "required": ["order_id"],
        },
    }
]
UTTERANCE = "Hello, could you tell me what time you open tomorrow?"
#: A reply more than this late after the end of speech counts as falling behind real time.
BEHIND_S = 1.5


async def _serve(
    speech: Speech, settings: EmulatorSettings
) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, speech=speech), host="127.0.0.1", port=0, log_config=None
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # uvicorn exposes a flag, not an event
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    return server, task, server.servers[0].sockets[0].getsockname()[1]


async def _turn(port: int, audio: np.ndarray | None, *, paced: bool) -> tuple[float, float]:
    """One session, one turn: (seconds from end of speech / response.create to first audio, output audio s)."""
    url = f"ws://127.0.0.1:{port}/openai/v1/realtime?model=bench"
    async with websockets.connect(url, additional_headers={"api-key": KEY}, max_size=None) as ws:
        await ws.send(json.dumps(session_update(tools=TOOLS)))
        origin = 0.0
        if audio is None:
            await ws.send(json.dumps(user_text(UTTERANCE)))
            origin = time.perf_counter()
            await ws.send(json.dumps(response_create()))
        else:

            async def feed() -> None:
                for start in range(0, audio.size, 2400):
                    chunk = base64.b64encode(
                        audio[start : start + 2400].astype("<i2").tobytes()
                    ).decode()
                    await ws.send(json.dumps(audio_append(chunk)))
                    if paced:
                        await asyncio.sleep(0.1)

            feeder = asyncio.create_task(feed())
        first = None
        out_bytes = 0
        async for raw in ws:
            event = json.loads(raw)
            if event["type"] == "input_audio_buffer.speech_stopped":
                origin = time.perf_counter()
            elif event["type"] == "response.output_audio.delta":
                first = first or time.perf_counter()
                out_bytes += len(base64.b64decode(event["delta"]))
            elif event["type"] == "response.done":
                break
        if audio is not None:
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeder
        assert first is not None, "no audio reply"
        return first - origin, out_bytes / 2 / 24000


async def run(ctx: BenchContext) -> list[Result]:
    settings = EmulatorSettings(EMULATOR_API_KEY=KEY, EMULATOR_PORT=0)
    speech = Speech(settings)
    server, task, port = await _serve(speech, settings)
    try:
        voice = speech.synthesizer.synthesize(UTTERANCE)
        audio = np.concatenate([np.zeros(4800, np.int16), voice, np.zeros(24000, np.int16)])
        speech_s = voice.size / 24000
        turns = 4 if ctx.quick else 12
        # baseline: text turn → first audio (synthesis only)
        text_lat = [(await _turn(port, None, paced=False))[0] for _ in range(turns)]
        # end of speech → first audio (VAD + recognition + policy + synthesis)
        cpu0 = time.process_time()
        out_s = 0.0
        speech_lat = []
        for _ in range(turns):
            lat, produced = await _turn(port, audio, paced=False)
            speech_lat.append(lat)
            out_s += produced
        cpu_turns = time.process_time() - cpu0
        audio_s = turns * (audio.size / 24000) + out_s
        # baseline CPU: bare synthesis of the same reply length
        cpu1 = time.process_time()
        synth = speech.synthesizer.synthesize(
            "Sorry, I'm not sure I can help with that. I can help with things like: check order status."
        )
        cpu_synth = (time.process_time() - cpu1) / (synth.size / 24000)
        # concurrency: paced real-time sessions until replies fall behind
        cores = os.cpu_count() or 1
        levels = [1, 2, 4] if ctx.quick else [1, 2, 4, 6, 8]
        carried = 0
        notes = []
        for level in levels:
            lats = await asyncio.gather(*(_turn(port, audio, paced=True) for _ in range(level)))
            p95 = percentile([lat for lat, _ in lats], 95)
            notes.append(f"{level}:{p95:.2f}s")
            if p95 > BEHIND_S:
                break
            carried = level
    finally:
        server.should_exit = True
        await task
        speech.close()
    return [
        Result(
            "emulator",
            "end of speech → first audio p50",
            percentile(speech_lat, 50) * 1000,
            "ms",
            percentile(text_lat, 50) * 1000,
            "text turn p50",
            target="< 1000 ms",
            met=percentile(speech_lat, 50) < 1.0,
            notes=f"utterance {speech_s:.1f}s",
        ),
        Result(
            "emulator",
            "end of speech → first audio p95",
            percentile(speech_lat, 95) * 1000,
            "ms",
            percentile(text_lat, 95) * 1000,
            "text turn p95",
            target="< 1500 ms",
            met=percentile(speech_lat, 95) < 1.5,
        ),
        Result(
            "emulator",
            "CPU per second of audio (in+out)",
            cpu_turns / audio_s,
            "cpu-s/s",
            cpu_synth,
            "piper synthesis alone",
            notes="whole process: VAD, ASR, policy, TTS, websocket client",
        ),
        Result(
            "emulator",
            "real-time sessions per core",
            carried / cores,
            "sessions/core",
            1 / cores,
            "one session",
            target=f"p95 reply ≤ {BEHIND_S}s",
            notes="p95 by level " + ", ".join(notes),
        ),
    ]
