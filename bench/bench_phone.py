"""Phone bridge: the latency it adds to the phone path over the web path, and calls one bridge
process carries at 20 ms µ-law frames.

The gateway is stood in for by an **echo gateway** in this benchmark (:mod:`bench.phone_echo`,
its own process): every ``input_audio_buffer.append`` is answered at once with
``response.output_audio.delta`` events carrying the same audio in 20 ms deltas. The real
gateway and the emulator would measure themselves, not the extra hop.

- web path: client → echo gateway → client (Realtime ``append`` → ``delta``).
- phone path: carrier (Twilio Media Streams: ``media`` frames, marks echoed) → bridge → echo
  gateway → bridge → carrier (``media``); the bridge process is ``switchboard.phone.main``.

Each call sends one 20 ms frame (160 bytes of µ-law) every 20 ms; the frame carries a counter,
so each round trip is matched exactly. The difference of the two round trips at the same number
of concurrent calls, in the same run, is the latency the bridge adds (both directions, one hop
each). Calls per bridge process is estimated from the bridge's CPU time per call-second at 100
calls (one core at 100%). Clients run in their own processes (25 calls each, uvloop when
installed); the first seconds of each call (connection set-up) are a warm-up, not measured.

Two bridges are measured in the same run: the default settings, and
``PHONE_APPEND_BATCH_MS=0`` (every carrier frame its own append, as before batching): the
CPU the batching saves and the latency it costs, side by side.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import websockets
from twilio.request_validator import RequestValidator

from bench.harness import BenchContext, Result, percentile, stack
from switchboard.cli.stack import cpu_seconds, free_port

__all__ = ["run"]

TOKEN = "bench-twilio-token"
FRAME = 160
FRAME_S = 0.020


def _frame(n: int) -> str:
    return base64.b64encode(n.to_bytes(4, "big") + b"\xff" * (FRAME - 4)).decode()


def _counter(payload: str) -> int:
    return int.from_bytes(base64.b64decode(payload)[:4], "big")


Call = Callable[
    [int, asyncio.Event, list[float], asyncio.Event, Callable[[], None]],
    Coroutine[Any, Any, None],
]


# -- clients -----------------------------------------------------------------------------------
async def _web_call(
    url: str,
    stop: asyncio.Event,
    rtts: list[float],
    measuring: asyncio.Event,
    on_first: Callable[[], None],
) -> None:
    sent: dict[int, float] = {}
    seen: list[bool] = []
    async with websockets.connect(url, compression=None) as ws:

        async def receive() -> None:
            async for message in ws:
                data = json.loads(message)
                if not seen:
                    seen.append(True)
                    on_first()
                at = sent.pop(_counter(data["delta"]), None)
                if at is not None and measuring.is_set():
                    rtts.append(time.perf_counter() - at)

        reader = asyncio.create_task(receive())
        n, next_at = 0, time.perf_counter()
        try:
            while not stop.is_set():
                n += 1
                sent[n] = time.perf_counter()
                await ws.send(f'{{"type":"input_audio_buffer.append","audio":"{_frame(n)}"}}')
                next_at += FRAME_S
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                await reader


async def _phone_call(
    url: str,
    index: int,
    stop: asyncio.Event,
    rtts: list[float],
    measuring: asyncio.Event,
    on_first: Callable[[], None],
) -> None:
    from switchboard.phone.identity import binding_token
    from switchboard.phone.settings import PhoneSettings

    key = PhoneSettings.model_validate({"TWILIO_AUTH_TOKEN": TOKEN}).binding_key
    call_sid = f"CAbench{index:06d}"
    binding = binding_token(
        key, call_id=call_sid, customer_id=f"cus_{index:04d}", expires_at=int(time.time()) + 600
    )
    signature = RequestValidator(TOKEN).compute_signature(url, {})
    sent: dict[int, float] = {}
    seen: list[bool] = []
    async with websockets.connect(
        url, additional_headers={"X-Twilio-Signature": signature}, compression=None
    ) as ws:
        sid = f"MZbench{index:06d}"
        await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        start = {
            "streamSid": sid,
            "callSid": call_sid,
            "accountSid": "AC0",
            "tracks": ["inbound"],
            "customParameters": {"binding": binding},
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        }
        await ws.send(json.dumps({"event": "start", "streamSid": sid, "start": start}))

        async def receive() -> None:
            async for message in ws:
                data = json.loads(message)
                if data["event"] == "media":
                    if not seen:
                        seen.append(True)
                        on_first()
                    at = sent.pop(_counter(data["media"]["payload"]), None)
                    if at is not None and measuring.is_set():
                        rtts.append(time.perf_counter() - at)
                elif data["event"] == "mark":  # "played" at once
                    await ws.send(
                        json.dumps({"event": "mark", "streamSid": sid, "mark": data["mark"]})
                    )

        reader = asyncio.create_task(receive())
        n, next_at = 0, time.perf_counter()
        try:
            while not stop.is_set():
                n += 1
                sent[n] = time.perf_counter()
                media = {
                    "track": "inbound",
                    "chunk": str(n),
                    "timestamp": str(n * 20),
                    "payload": _frame(n),
                }
                await ws.send(json.dumps({"event": "media", "streamSid": sid, "media": media}))
                next_at += FRAME_S
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                await reader


async def _level_local(
    make: Call, first: int, calls: int, warmup_s: float, measure_s: float
) -> list[float]:
    """Run *calls* calls in this process: once every call has had its first reply (connection
    set-up is not measured), say ``ready`` on stdout, warm up, then measure."""
    stop, measuring, all_up = asyncio.Event(), asyncio.Event(), asyncio.Event()
    rtts: list[float] = []
    up = [0]

    def on_first() -> None:
        up[0] += 1
        if up[0] == calls:
            all_up.set()

    tasks = [
        asyncio.create_task(make(first + i, stop, rtts, measuring, on_first)) for i in range(calls)
    ]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_up.wait(), 120)
    print("ready", flush=True)
    await asyncio.sleep(warmup_s)
    measuring.set()
    await asyncio.sleep(measure_s)
    measuring.clear()
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return rtts


def _clients_main(
    kind: str, url: str, first: int, calls: int, warmup_s: float, measure_s: float, out_path: str
) -> None:
    """A client process: ``ready`` on stdout, then its round trips (seconds) as one JSON list
    in *out_path*."""
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()

    def make(
        i: int,
        stop: asyncio.Event,
        rtts: list[float],
        m: asyncio.Event,
        on_first: Callable[[], None],
    ) -> Coroutine[Any, Any, None]:
        if kind == "web":
            return _web_call(url, stop, rtts, m, on_first)
        return _phone_call(url, i, stop, rtts, m, on_first)

    rtts = asyncio.run(_level_local(make, first, calls, warmup_s, measure_s))
    # into a file, not stdout: the list is over 128 KiB at 25 calls, and through the pipe it
    # arrived cut at 65,536 or 131,072 characters
    Path(out_path).write_text(json.dumps(rtts))


async def _level(
    kind: str, url: str, calls: int, warmup_s: float, measure_s: float, pid: int | None
) -> tuple[list[float], float]:
    """*calls* calls spread over client processes (at most 25 calls each, so the clients are not
    what saturates); their round trips, and the CPU seconds process *pid* used over the measured
    window."""
    procs = []
    per = 25
    outputs: list[Path] = []
    for first in range(0, calls, per):
        fd, name = tempfile.mkstemp(prefix="switchboard-bench-phone-", suffix=".json")
        os.close(fd)
        outputs.append(Path(name))
        procs.append(
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.bench_phone",
                "clients",
                kind,
                url,
                str(first),
                str(min(per, calls - first)),
                str(warmup_s),
                str(measure_s),
                name,
                stdout=asyncio.subprocess.PIPE,
            )
        )
    for proc in procs:  # every call set up
        assert proc.stdout is not None
        await proc.stdout.readline()
    await asyncio.sleep(warmup_s)
    cpu0 = cpu_seconds(pid) if pid else 0.0
    await asyncio.sleep(measure_s)
    cpu = (cpu_seconds(pid) - cpu0) if pid else 0.0
    rtts: list[float] = []
    await asyncio.gather(*(proc.communicate() for proc in procs))
    for path in outputs:
        text = path.read_text()
        path.unlink()
        rtts.extend(json.loads(text or "[]"))
    return rtts, cpu


#: Bridges measured in the same run: the default (every frame its own append), and caller
#: audio batched by 100 ms (``PHONE_APPEND_BATCH_MS=100``: the CPU it saves, the latency it costs).
VARIANTS: tuple[tuple[str, dict[str, str]], ...] = (
    ("", {}),
    (" (PHONE_APPEND_BATCH_MS=100)", {"PHONE_APPEND_BATCH_MS": "100"}),
)


def _results(
    calls: int, label: str, direct: list[float], bridged: list[float], cpu_cores: float
) -> list[Result]:
    d50, d99 = percentile(direct, 50) * 1000, percentile(direct, 99) * 1000
    p50, p99 = percentile(bridged, 50) * 1000, percentile(bridged, 99) * 1000
    notes = f"{len(bridged)} phone / {len(direct)} web round trips; shared machine"
    out = [
        Result(
            "phone",
            f"round trip p50, {calls} call(s){label}",
            p50,
            "ms",
            d50,
            "web path",
            notes=notes,
        ),
        Result(
            "phone",
            f"round trip p99, {calls} call(s){label}",
            p99,
            "ms",
            d99,
            "web path",
            notes=notes,
        ),
    ]
    added = p99 - d99
    # a web path slower than 50 ms p99 through a bare echo means the machine (or the clients)
    # saturated: the difference then measures the noise, not the bridge
    saturated = d99 > 50.0
    out.append(
        Result(
            "phone",
            f"added p99 by the bridge, {calls} call(s){label}",
            added,
            "ms",
            target="<= 2 ms at 100 calls" if calls == 100 else None,
            met=None if saturated or calls != 100 else added <= 2.0,
            notes="phone p99 - web p99, same run"
            + ("; NOT MEANINGFUL: the web path itself saturated" if saturated else ""),
        )
    )
    if calls == 100 and cpu_cores > 0:
        capacity = calls / cpu_cores  # one core at 100%
        out.append(
            Result(
                "phone",
                f"calls per bridge process (CPU-bound estimate){label}",
                capacity,
                "calls",
                target=">= 500",
                met=capacity >= 500,
                notes=f"bridge CPU {cpu_cores:.2f} cores at 100 calls, 20 ms frames, "
                f"{cpu_cores / calls * 1000:.2f} ms CPU per call-second",
            )
        )
    return out


async def run(ctx: BenchContext) -> list[Result]:
    warmup_s, measure_s = (3.0, 5.0) if ctx.quick else (5.0, 12.0)
    echo_port = free_port()
    processes = stack()
    processes.add(
        "phone-echo",
        "bench.phone_echo",
        module="bench.phone_echo",
        args=(str(echo_port),),
        env={},
        health_url=f"http://127.0.0.1:{echo_port}/healthz",
    )
    bridges = []
    for n, (label, env) in enumerate(VARIANTS):
        port = free_port()
        service = processes.add(
            f"phone-bridge{n}",
            "switchboard.phone.main",
            module="switchboard.phone.main",
            health_url=f"http://127.0.0.1:{port}/healthz",
            env={
                "DATABASE_URL": ctx.database_url,
                "SWITCHBOARD_ENV": "test",
                "LOG_LEVEL": "WARNING",
                "PHONE_PORT": str(port),
                "PHONE_GATEWAY_URL": f"http://127.0.0.1:{echo_port}",
                "TWILIO_AUTH_TOKEN": TOKEN,
                **env,
            },
        )
        bridges.append((label, f"ws://127.0.0.1:{port}/twilio/media", service))
    results: list[Result] = []
    try:
        await processes.start()
        web_url = f"ws://127.0.0.1:{echo_port}/v1/realtime"
        for calls in (1, 100):
            direct, _ = await _level("web", web_url, calls, warmup_s, measure_s, None)
            for label, url, service in bridges:
                bridged, cpu = await _level("phone", url, calls, warmup_s, measure_s, service.pid)
                results.extend(_results(calls, label, direct, bridged, cpu / measure_s))
    finally:
        await asyncio.to_thread(processes.stop)
    return results


if __name__ == "__main__":
    if len(sys.argv) == 9 and sys.argv[1] == "clients":
        kind, url, first, calls, warmup, measure, out_path = sys.argv[2:]
        _clients_main(kind, url, int(first), int(calls), float(warmup), float(measure), out_path)
