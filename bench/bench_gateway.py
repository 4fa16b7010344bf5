"""Session gateway: latency it adds to each audio message, streaming sessions one gateway
process carries, and memory per session.

Upstream: a minimal **echo upstream** in this benchmark (not the emulator): it speaks just enough
of the GA protocol for the gateway's session setup (``session.created``, ``session.updated``)
and answers every ``input_audio_buffer.append`` at once with a ``response.output_audio.delta``
carrying the same audio. The emulator runs VAD and resampling on every appended chunk (and
recognition/synthesis per turn), which would measure the emulator, not the relay.

Each session streams 100 ms pcm16 chunks at real-time pace (10 messages/s each way). The round
trip client → gateway → echo → gateway → client is compared with client → echo → client in the
same run at the same session count; the difference is the latency the gateway adds (both
directions, one hop each). The gateway (``python -m switchboard.gateway.main``), the echo
upstream and the streaming clients each run in their own process (the last two on uvloop), so
the measuring side is not what saturates first; the CPU each of the three used is sampled over
the measured window only (after the warm-up, so session handshakes are not counted) and
reported per relayed message (gateway) or per round trip (clients, echo, with the direct run's
figures beside them).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass
from typing import Any

import aio_pika
import httpx
import redis.asyncio as aioredis
import websockets
from websockets.asyncio.server import ServerConnection, serve

from bench.harness import BenchContext, Result, percentile
from switchboard.amqp import Topology

BENCH = "gateway"
SERVER_KEY = "bench-server-key"
UPSTREAM_KEY = "bench-upstream-key"
CHUNK_MS = 100
AUDIO = base64.b64encode(b"\x10\x00" * 24 * CHUNK_MS).decode()
_SESSION = {
    "type": "realtime",
    "object": "realtime.session",
    "id": "sess_echo",
    "model": "echo",
    "output_modalities": ["audio"],
    "instructions": "",
    "tools": [],
    "tool_choice": "auto",
    "max_output_tokens": "inf",
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": 24000},
            "transcription": None,
            "noise_reduction": None,
            "turn_detection": None,
        },
        "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy", "speed": 1.0},
    },
}
_APPEND_PREFIX = '{"type":"input_audio_buffer.append","event_id":"'
_DELTA = (
    '{"type":"response.output_audio.delta","event_id":"ev","response_id":"resp_%s",'
    '"item_id":"item_echo","output_index":0,"content_index":0,"delta":"%s"}'
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _echo(ws: ServerConnection) -> None:
    """The echo upstream: session setup, then every append answered with an audio delta."""
    await ws.send(json.dumps({"type": "session.created", "event_id": "ev0", "session": _SESSION}))
    try:
        async for message in ws:
            text = message if isinstance(message, str) else message.decode()
            if text.startswith(_APPEND_PREFIX):
                end = text.index('"', len(_APPEND_PREFIX))
                seq = text[len(_APPEND_PREFIX) : end]
                await ws.send(_DELTA % (seq, AUDIO))
            elif '"session.update"' in text[:64]:
                await ws.send(
                    json.dumps({"type": "session.updated", "event_id": "ev1", "session": _SESSION})
                )
    except websockets.ConnectionClosed:
        pass


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _stream(
    url: str, headers: dict[str, str], stop: asyncio.Event, rtts: list[float], ready: asyncio.Event
) -> None:
    """One streaming session: a 100 ms chunk every 100 ms; RTT per chunk into *rtts*."""
    sent: dict[str, float] = {}
    async with websockets.connect(
        url, additional_headers=headers, max_size=None, compression=None
    ) as ws:
        first = await ws.recv()
        assert '"session.created"' in str(first)[:64], first

        async def receive() -> None:
            async for message in ws:
                text = message if isinstance(message, str) else message.decode()
                if text.startswith('{"type":"response.output_audio.delta"'):
                    start = text.index('"resp_') + 6
                    seq = text[start : text.index('"', start)]
                    at = sent.pop(seq, None)
                    if at is not None and ready.is_set():
                        rtts.append(time.perf_counter() - at)

        reader = asyncio.create_task(receive())
        n = 0
        next_at = time.perf_counter()
        try:
            while not stop.is_set():
                n += 1
                seq = str(n)
                sent[seq] = time.perf_counter()
                await ws.send(f'{_APPEND_PREFIX}{seq}","audio":"{AUDIO}"}}')
                next_at += CHUNK_MS / 1000
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                await reader


async def _run_level(
    count: int,
    url_for: Any,
    headers_for: Any,
    *,
    warmup_s: float,
    measure_s: float,
    on_phase: Any = None,
) -> list[float]:
    """*count* sessions streaming together; RTTs (s) measured after the warm-up.
    *on_phase* is called with ``"measure"`` and ``"stop"`` at the edges of the measured window."""
    stop = asyncio.Event()
    ready = asyncio.Event()
    rtts: list[float] = []
    tasks = []
    for i in range(count):
        tasks.append(
            asyncio.create_task(_stream(await url_for(i), headers_for(i), stop, rtts, ready))
        )
        if i % 20 == 19:
            await asyncio.sleep(0.05)  # ramp up instead of a thundering herd
    await asyncio.sleep(warmup_s)
    if on_phase is not None:
        on_phase("measure")
    ready.set()
    await asyncio.sleep(measure_s)
    if on_phase is not None:
        on_phase("stop")
    stop.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    failed = [r for r in results if isinstance(r, BaseException)]
    if failed:
        raise RuntimeError(f"{len(failed)} of {count} sessions failed: {failed[0]!r}")
    return rtts


@dataclass
class Level:
    """One level's round trips and the CPU (s) each process used in the measured window."""

    rtts: list[float]
    window_s: float
    cpu_s: dict[str, float]


async def _clients(
    urls: list[str],
    headers: list[dict[str, str]],
    warmup_s: float,
    measure_s: float,
    pids: dict[str, int],
) -> Level:
    """Run one level of streaming clients in a child process; CPU of the *pids* (and of the
    clients process itself) is sampled at the edges of the measured window, after the warm-up,
    so session handshakes are not counted."""
    config = json.dumps(
        {"urls": urls, "headers": headers, "warmup_s": warmup_s, "measure_s": measure_s}
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.bench_gateway",
        "clients",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        limit=1 << 26,  # the round trips come back as one JSON line
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(config.encode())
    proc.stdin.close()
    watched = {**pids, "clients": proc.pid}
    marks: dict[str, tuple[float, dict[str, float]]] = {}
    rtts: list[float] | None = None
    async for line in proc.stdout:
        doc = json.loads(line)
        if "phase" in doc:
            marks[doc["phase"]] = (
                time.perf_counter(),
                {name: _cpu_seconds(pid) for name, pid in watched.items()},
            )
        else:
            rtts = doc["rtts"]
    await proc.wait()
    if proc.returncode != 0 or rtts is None or set(marks) != {"measure", "stop"}:
        raise RuntimeError(f"clients process failed ({proc.returncode})")
    (t0, cpu0), (t1, cpu1) = marks["measure"], marks["stop"]
    return Level(rtts, t1 - t0, {name: cpu1[name] - cpu0[name] for name in watched})


async def _clients_main() -> None:
    config = json.loads(sys.stdin.read())
    urls, headers = config["urls"], config["headers"]

    async def url_for(i: int) -> str:
        return str(urls[i])

    def on_phase(phase: str) -> None:
        sys.stdout.write(json.dumps({"phase": phase}) + "\n")
        sys.stdout.flush()

    rtts = await _run_level(
        len(urls),
        url_for,
        lambda i: headers[i],
        warmup_s=config["warmup_s"],
        measure_s=config["measure_s"],
        on_phase=on_phase,
    )
    sys.stdout.write(json.dumps({"rtts": rtts}) + "\n")


async def _echo_main(port: int) -> None:
    async with serve(_echo, "127.0.0.1", port, max_size=None, compression=None):
        await asyncio.Future()


async def _wait_port(port: int) -> None:
    async with asyncio.timeout(30):
        while True:  # another process: poll until it listens
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            return


async def run(ctx: BenchContext) -> list[Result]:
    levels = (100, 300) if ctx.quick else (100, 300, 500)
    warmup_s, measure_s = (2.0, 4.0) if ctx.quick else (3.0, 12.0)
    namespace = f"{ctx.namespace}-gw"
    echo_port = _free_port()
    gateway_port = _free_port()
    results: list[Result] = []
    echo = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.bench_gateway", "echo", str(echo_port)
    )
    try:
        await _wait_port(echo_port)
        env = {
            **os.environ,
            "AMQP_URL": ctx.amqp_url,
            "REDIS_URL": ctx.redis_url,
            "SWITCHBOARD_NAMESPACE": namespace,
            "SWITCHBOARD_ENV": "test",
            "LOG_LEVEL": "WARNING",
            "GATEWAY_PORT": str(gateway_port),
            "GATEWAY_SERVER_KEY": SERVER_KEY,
            "GATEWAY_ID": "bench-gateway",
            "UPSTREAM_URL": f"ws://127.0.0.1:{echo_port}",
            "UPSTREAM_API_KEY": UPSTREAM_KEY,
            "GATEWAY_MAX_SESSIONS_PER_CUSTOMER": "10",
            "GATEWAY_CATALOG_REFRESH_S": "60",
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "switchboard.gateway.main",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
        )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway_port}") as http:
                async with asyncio.timeout(60):
                    while True:  # another process: poll its readiness
                        with contextlib.suppress(httpx.HTTPError):
                            if (await http.get("/readyz")).status_code == 200:
                                break
                        await asyncio.sleep(0.1)

                secrets: list[str] = []

                async def mint(count: int) -> None:
                    secrets.clear()
                    for i in range(count):
                        answer = await http.post(
                            "/v1/realtime/client_secrets",
                            json={"customer_id": f"bench_{i:04d}"},
                            headers={"Authorization": f"Bearer {SERVER_KEY}"},
                        )
                        answer.raise_for_status()
                        secrets.append(answer.json()["value"])

                base_rss = _rss_kib(proc.pid)
                by_level: dict[int, tuple[Level, Level]] = {}
                memory_kib: float | None = None
                for count in levels:
                    direct = await _clients(
                        [f"ws://127.0.0.1:{echo_port}/openai/v1/realtime?model=bench"] * count,
                        [{"api-key": UPSTREAM_KEY}] * count,
                        warmup_s,
                        measure_s,
                        {"echo": echo.pid},
                    )
                    await mint(count)
                    peak = [0]
                    sampler_stop = asyncio.Event()
                    sampler = asyncio.create_task(_sample_rss(proc.pid, peak, sampler_stop))
                    via = await _clients(
                        [f"ws://127.0.0.1:{gateway_port}/v1/realtime?model=bench"] * count,
                        [{"Authorization": f"Bearer {secret}"} for secret in secrets],
                        warmup_s,
                        measure_s,
                        {"echo": echo.pid, "gateway": proc.pid},
                    )
                    sampler_stop.set()
                    await sampler
                    by_level[count] = (direct, via)
                    if count == 300:
                        memory_kib = (peak[0] - base_rss) / count
                    print(
                        f"  {count} sessions: direct p50/p99 "
                        f"{percentile(direct.rtts, 50) * 1000:.2f}/"
                        f"{percentile(direct.rtts, 99) * 1000:.2f} ms, via gateway "
                        f"{percentile(via.rtts, 50) * 1000:.2f}/"
                        f"{percentile(via.rtts, 99) * 1000:.2f} ms; cores used: "
                        + ", ".join(
                            f"{name} {cpu / via.window_s:.2f}" for name, cpu in via.cpu_s.items()
                        )
                        + f" (direct: clients {direct.cpu_s['clients'] / direct.window_s:.2f},"
                        f" echo {direct.cpu_s['echo'] / direct.window_s:.2f})",
                        file=sys.stderr,
                    )
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), 30)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
            await _clean(ctx, namespace)
    finally:
        echo.kill()
        await echo.wait()

    note = (
        "echo upstream process (no ASR/TTS); 100 ms pcm16 chunks at real-time pace; "
        "clients, echo, gateway, Redis and RabbitMQ share the machine"
    )
    figures: dict[int, tuple[float, float, float, float]] = {}
    for count, (direct, via) in by_level.items():
        d50, d99 = percentile(direct.rtts, 50) * 1000, percentile(direct.rtts, 99) * 1000
        g50, g99 = percentile(via.rtts, 50) * 1000, percentile(via.rtts, 99) * 1000
        figures[count] = (d50, d99, g50, g99)
        target = "<= 2 ms" if count == 100 else "<= 5 ms" if count == 300 else None
        limit = 2.0 if count == 100 else 5.0 if count == 300 else None
        results += [
            Result(
                BENCH,
                f"added p50, {count} sessions",
                g50 - d50,
                "ms",
                d50,
                "direct p50",
                notes=note,
            ),
            Result(
                BENCH,
                f"added p99, {count} sessions",
                g99 - d99,
                "ms",
                d99,
                "direct p99",
                target=target,
                met=None if limit is None else (g99 - d99) <= limit,
            ),
        ]
    carried = max((c for c, v in figures.items() if v[3] - v[1] <= 5.0), default=0)
    results.append(
        Result(
            BENCH,
            "streaming sessions per process (p99 added <= 5 ms)",
            carried,
            "sessions",
            target=">= 300",
            met=carried >= 300,
            notes=f"largest level tried of {levels}",
        )
    )
    if memory_kib is not None:
        results.append(
            Result(
                BENCH,
                "memory per session",
                memory_kib,
                "KiB",
                target="<= 256 KiB",
                met=memory_kib <= 256,
                notes="gateway RSS growth at 300 streaming sessions / 300",
            )
        )
    window = "measured window only (after the warm-up: no handshakes)"
    for count, (direct, via) in by_level.items():
        # each round trip is two relayed messages: the append up, the delta down
        relayed = 2 * max(1, len(via.rtts))
        results += [
            Result(
                BENCH,
                f"gateway CPU per relayed message, {count} sessions",
                via.cpu_s["gateway"] / relayed * 1e6,
                "us",
                notes=f"{window}; {via.cpu_s['gateway'] / via.window_s:.2f} cores",
            ),
            Result(
                BENCH,
                f"clients CPU per round trip, {count} sessions",
                via.cpu_s["clients"] / max(1, len(via.rtts)) * 1e6,
                "us",
                direct.cpu_s["clients"] / max(1, len(direct.rtts)) * 1e6,
                "direct",
                notes=f"the load generator; {via.cpu_s['clients'] / via.window_s:.2f} cores",
            ),
            Result(
                BENCH,
                f"echo upstream CPU per round trip, {count} sessions",
                via.cpu_s["echo"] / max(1, len(via.rtts)) * 1e6,
                "us",
                direct.cpu_s["echo"] / max(1, len(direct.rtts)) * 1e6,
                "direct",
                notes=f"{via.cpu_s['echo'] / via.window_s:.2f} cores",
            ),
        ]
    return results


async def _sample_rss(pid: int, peak: list[int], stop: asyncio.Event) -> None:
    """Track the peak RSS of *pid* into ``peak[0]`` until *stop*."""
    while not stop.is_set():
        with contextlib.suppress(OSError):
            peak[0] = max(peak[0], _rss_kib(pid))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


async def _clean(ctx: BenchContext, namespace: str) -> None:
    with contextlib.suppress(Exception):
        connection = await aio_pika.connect(ctx.amqp_url)
        async with connection:
            channel = await connection.channel()
            await Topology(namespace).delete_all(channel)
    with contextlib.suppress(Exception):
        redis = aioredis.from_url(ctx.redis_url)
        async for key in redis.scan_iter(match=f"{namespace}:*", count=500):
            await redis.delete(key)
        await redis.aclose()


if __name__ == "__main__":
    import uvloop

    if sys.argv[1] == "echo":
        uvloop.run(_echo_main(int(sys.argv[2])))
    else:
        uvloop.run(_clients_main())
