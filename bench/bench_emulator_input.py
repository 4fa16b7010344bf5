"""Realtime emulator, input path: CPU per streaming session with the VAD's silence gate against
without it, same run, same audio.

Each session is a caller who says one sentence (the emulator's own synthesiser) and then stays
silent for the rest of a minute, streamed as the gateway streams it: ``input_audio_buffer.append``
events of 40 ms of pcm16 at 24 kHz. Every chunk goes the way an append goes through the emulator
(JSON, base64, resampling to 16 kHz, VAD, server-VAD turn detection, the input buffer), for N
sessions taken in turn as the input thread takes them. CPU is this process's CPU time; the
figure is CPU-seconds per second of audio, i.e. the share of one core one streaming caller
takes on the input path (the websocket itself and the rest of the session are not counted).
Gate on and off alternate three times and each figure is the least of its three runs, so load
from other work on the machine falls on both alike; the ratio is what to read.

Where valgrind is installed (not in ``--quick``), the same session is also counted in
instructions, which do not move with the machine's load (see :mod:`bench.callgrind`): one
session's minute of digital silence in a child process under callgrind, counting only the loop.

Backgrounds: digital silence (what the synthetic callers of the load tests and the soak send
between turns), white noise at -75 dBFS (a quiet line, below the gate's -70 dBFS), and white
noise at -60 dBFS (a noisy line, above it: nothing is skipped, the gate's own cost shows).
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import callgrind
from bench.harness import BenchContext, Result
from switchboard.contracts.client_events import audio_append
from switchboard.emulator.audio import Resampler, decode
from switchboard.emulator.input_buffer import InputBuffer
from switchboard.emulator.tts import PiperSynthesizer
from switchboard.emulator.vad import SAMPLE_RATE, WINDOW_MS, SileroVad, TurnDetector

SENTENCE = "Hi, could you tell me where my order one oh one six seven seven is?"
CALL_S = 60
RATE = 24_000
CHUNK = RATE * 40 // 1000
BACKGROUNDS = {"digital silence": None, "noise -75 dBFS": -75.0, "noise -60 dBFS": -60.0}


def _call(voice: np.ndarray, noise_dbfs: float | None, seed: int) -> list[str]:
    """One caller's minute as the append events the gateway sends (JSON text)."""
    audio = np.zeros(RATE * CALL_S, dtype=np.float64)
    start = RATE // 2
    audio[start : start + voice.size] = voice
    if noise_dbfs is not None:
        rng = np.random.default_rng(seed)
        audio += rng.normal(0.0, 32768 * 10 ** (noise_dbfs / 20), audio.size)
    pcm = np.clip(audio, -32768, 32767).astype("<i2")
    return [
        json.dumps(audio_append(base64.b64encode(pcm[i : i + CHUNK].tobytes()).decode()))
        for i in range(0, pcm.size, CHUNK)
    ]


def _stream(vad: SileroVad, calls: list[list[str]], *, gated: bool) -> tuple[float, int, int]:
    """Every session's chunks through the input path, sessions in turn: (CPU seconds, model
    windows, turns detected)."""
    sessions = [
        (
            Resampler(RATE, SAMPLE_RATE),
            vad.stream(gated=gated),
            TurnDetector(threshold=0.5, prefix_padding_ms=300, silence_duration_ms=500),
            InputBuffer(),
        )
        for _ in calls
    ]
    windows = [0] * len(calls)
    turns = 0
    cpu = time.process_time()
    for index in range(len(calls[0])):
        for n, (resampler, stream, detector, buffer) in enumerate(sessions):
            event = json.loads(calls[n][index])
            samples = decode("audio/pcm", base64.b64decode(event["audio"], validate=True))
            pcm16k = resampler.process(samples)
            probs = stream.feed(pcm16k)
            buffer.add(pcm16k)
            turns += len(
                detector.push(probs, first_window_ms=windows[n] * WINDOW_MS, buffer_start_ms=0)
            )
            windows[n] += len(probs)
    cpu = time.process_time() - cpu
    return cpu, sum(stream.model_windows for _, stream, _, _ in sessions), turns


def _child(calls_path: str, gated: str) -> None:
    """Under callgrind: load, say ``ready``, stream the session when told, say ``done``."""
    calls = [json.loads(Path(calls_path).read_text())]
    vad = SileroVad()
    print("ready", flush=True)
    sys.stdin.readline()
    _stream(vad, calls, gated=gated == "gated")
    print("done", flush=True)
    sys.stdin.readline()


def _dumps(out_dir: Path, pid: int) -> set[Path]:
    return set(out_dir.glob(f"input.{pid}.out.*"))


async def _instructions(calls: list[str], *, gated: bool, out_dir: Path) -> int:
    """Instructions the input path executes for one session's *calls* (callgrind)."""
    calls_path = out_dir / "calls.json"
    calls_path.write_text(json.dumps(calls))
    proc = await asyncio.create_subprocess_exec(
        *callgrind.wrapper(out_dir, "input"),
        sys.executable,
        "-m",
        "bench.bench_emulator_input",
        str(calls_path),
        "gated" if gated else "ungated",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdin is not None and proc.stdout is not None

    async def control(*args: str) -> None:
        ctl = await asyncio.create_subprocess_exec(
            "callgrind_control",
            *args,
            str(proc.pid),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await ctl.communicate()
        if ctl.returncode != 0:
            raise RuntimeError(f"callgrind_control {' '.join(args)}: {out.decode()[-300:]}")

    try:
        if (await proc.stdout.readline()).strip() != b"ready":
            raise RuntimeError("the counted child did not start")
        await control("-i", "on")
        await control("-z")
        proc.stdin.write(b"go\n")
        await proc.stdin.drain()
        if (await proc.stdout.readline()).strip() != b"done":
            raise RuntimeError("the counted child did not finish")
        before = _dumps(out_dir, proc.pid)
        await control("-d")
        (dump,) = _dumps(out_dir, proc.pid) - before
        proc.stdin.write(b"exit\n")
        await proc.stdin.drain()
        await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    match = callgrind._TOTALS.search(dump.read_bytes())
    if match is None:
        raise RuntimeError(f"no totals in {dump}")
    return int(match.group(1))


async def _counted(voice: np.ndarray) -> list[Result]:
    """Instructions per second of audio, one session's minute of digital silence, gate on/off."""
    calls = _call(voice, None, 0)
    with tempfile.TemporaryDirectory(prefix="bench-input-") as tmp:
        counts = {
            gated: await _instructions(calls, gated=gated, out_dir=Path(tmp))
            for gated in (False, True)
        }
    return [
        Result(
            "emulator_input",
            "input instructions per second of audio, digital silence (callgrind)",
            counts[True] / CALL_S,
            "instr/s",
            counts[False] / CALL_S,
            "without the gate",
            notes=f"one session, {CALL_S}s; the loop only (imports and model load not counted)",
        )
    ]


async def run(ctx: BenchContext) -> list[Result]:
    sessions = 2 if ctx.quick else 10
    voice = PiperSynthesizer().synthesize(SENTENCE)
    vad = SileroVad()
    results = []
    for label, noise in BACKGROUNDS.items():
        calls = [_call(voice, noise, seed) for seed in range(sessions)]
        audio_s = sessions * CALL_S
        cpu = {True: float("inf"), False: float("inf")}
        model = {True: 0, False: 0}
        turns = {True: 0, False: 0}
        for gated in (False, True) * 3:
            spent, windows, detected = _stream(vad, calls, gated=gated)
            cpu[gated] = min(cpu[gated], spent)
            model[gated] = windows
            turns[gated] = detected
        total_windows = audio_s * 1000 // WINDOW_MS
        results.append(
            Result(
                "emulator_input",
                f"input CPU per streaming session, {label}",
                cpu[True] / audio_s * 1000,
                "cpu-ms/s",
                cpu[False] / audio_s * 1000,
                "without the gate",
                notes=(
                    f"{sessions} sessions x {CALL_S}s, one {voice.size / RATE:.1f}s sentence each; "
                    f"model windows {model[True]:,} vs {model[False]:,} of {total_windows:,}; "
                    f"turn events {turns[True]} vs {turns[False]}"
                ),
            )
        )
        results.append(
            Result(
                "emulator_input",
                f"VAD model windows per session-minute, {label}",
                model[True] / sessions,
                "windows",
                model[False] / sessions,
                "without the gate",
                notes=f"turn events {turns[True]} vs {turns[False]} (must be equal)",
            )
        )
    if not ctx.quick and callgrind.available():
        results += await _counted(voice)
    return results


if __name__ == "__main__":
    _child(*sys.argv[1:])
