"""Session gateway: latency it adds to each audio message, CPU per relayed message against a
pass-through relay, streaming sessions one gateway process carries, and memory per session.

Every figure is compared with baselines measured in the same run at the same session count
and chunk size (the processes are in :mod:`bench.gateway_load`):

- **direct**: the clients talk to the echo upstream itself (no relay);
- **pass-through**: through a relay on the gateway's own websocket stacks (uvicorn + Starlette
  to the client, ``websockets`` upstream, uvloop) that hands every frame on without looking at
  it: the floor. The target is gateway CPU per relayed message ≤ the pass-through's. The
  gateway here runs on the same ``websockets`` upstream (``UPSTREAM_WS_CLIENT=websockets``; the
  picows default is held to a picows pass-through in ``bench_gateway_instructions``). A second
  pass-through on the bare ASGI messages (as the gateway's route reads them) is reported too:
  the difference to it is what the gateway's own work costs;
- **gateway**: ``python -m switchboard.gateway.main`` with an echo upstream that gives each
  response of 25 deltas one item; a second gateway against an echo that gives **every delta
  its own item** shows that item tracking does not grow with the layout.

Sessions stream pcm16 chunks of 40 ms (25 messages/s each way) and of 100 ms (10/s) at
real-time pace; a round trip is append up, delta down. Each process's CPU is sampled over the
measured window only (after the warm-up: no handshakes). The clients, the echo, the relay under
test, Redis and RabbitMQ share the machine, so absolute figures move with its load: compare
within one run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aio_pika
import httpx
import redis.asyncio as aioredis

from bench.harness import BenchContext, Result, percentile, stack
from switchboard.amqp import Topology
from switchboard.cli.stack import Service, Stack, cpu_seconds, free_port

BENCH = "gateway"
SERVER_KEY = "bench-server-key"
UPSTREAM_KEY = "bench-upstream-key"
_LOAD = "bench.gateway_load"


@dataclass
class Level:
    """One level's round trips and the CPU (s) each process used in the measured window."""

    rtts: list[float]
    window_s: float
    cpu_s: dict[str, float]
    #: messages relayed in the window: chunks sent up plus deltas received
    messages: int

    def p(self, pct: float) -> float:
        return percentile(self.rtts, pct) * 1000

    def cpu_per_message(self, name: str) -> float:
        """µs of *name*'s CPU per relayed message (chunks up and deltas down in the window)."""
        return self.cpu_s[name] / max(1, self.messages) * 1e6

    def cores(self, name: str) -> float:
        return self.cpu_s[name] / self.window_s


async def _clients(
    urls: list[str],
    headers: list[dict[str, str]],
    chunk_ms: int,
    warmup_s: float,
    measure_s: float,
    pids: dict[str, int],
    on_phase: Callable[[str], Awaitable[None]] | None = None,
) -> Level:
    """One level of streaming clients in a child process; CPU of the *pids* (and of the
    clients) is sampled at the edges of the measured window (``measure`` and ``stop``), where
    *on_phase* is awaited too."""
    config = {
        "urls": urls,
        "headers": headers,
        "chunk_ms": chunk_ms,
        "warmup_s": warmup_s,
        "measure_s": measure_s,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        _LOAD,
        "clients",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        limit=1 << 27,  # the round trips come back as one JSON line
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(config).encode())
    proc.stdin.close()
    watched = {**pids, "clients": proc.pid}
    marks: dict[str, tuple[float, dict[str, float]]] = {}
    rtts: list[float] | None = None
    messages = 0
    async for line in proc.stdout:
        doc = json.loads(line)
        if "phase" in doc:
            cpu = {name: cpu_seconds(pid) for name, pid in watched.items()}
            marks[doc["phase"]] = (time.perf_counter(), cpu)
            if on_phase is not None:
                await on_phase(doc["phase"])
        else:
            rtts, messages = doc["rtts"], doc["sent"] + doc["received"]
    await proc.wait()
    if proc.returncode != 0 or rtts is None or set(marks) != {"measure", "stop"}:
        raise RuntimeError(f"clients process failed ({proc.returncode})")
    (t0, cpu0), (t1, cpu1) = marks["measure"], marks["stop"]
    return Level(rtts, t1 - t0, {name: cpu1[name] - cpu0[name] for name in watched}, messages)


def _load(processes: Stack, name: str, *args: str) -> Service:
    """A process of :mod:`bench.gateway_load` (echo or pass-through) listening on ``args[1]``."""
    return processes.add(
        name, _LOAD, module=_LOAD, env={}, health_url=None, args=args, ready_port=int(args[1])
    )


class _Gateway:
    """A gateway process in front of one echo upstream, and client secrets for it; *name*,
    *wrapper* and *env* as for ``Stack.add`` (the instruction counts run it under valgrind);
    *module* runs it (a bench's own entry point around the gateway's ``main``)."""

    def __init__(
        self,
        processes: Stack,
        ctx: BenchContext,
        namespace: str,
        echo_port: int,
        *,
        client: str = "websockets",
        name: str | None = None,
        wrapper: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        module: str = "switchboard.gateway.main",
    ) -> None:
        self.port = free_port()
        self.service = processes.add(
            name or f"gateway-{echo_port}-{client}",
            module,
            module=module,
            health_url=f"http://127.0.0.1:{self.port}/readyz",
            wrapper=wrapper,
            env={
                "AMQP_URL": ctx.amqp_url,
                "REDIS_URL": ctx.redis_url,
                "SWITCHBOARD_NAMESPACE": namespace,
                "SWITCHBOARD_ENV": "test",
                "LOG_LEVEL": "WARNING",
                "GATEWAY_PORT": str(self.port),
                "GATEWAY_SERVER_KEY": SERVER_KEY,
                "GATEWAY_ID": f"bench-gateway-{echo_port}",
                "UPSTREAM_URL": f"ws://127.0.0.1:{echo_port}",
                "UPSTREAM_API_KEY": UPSTREAM_KEY,
                "GATEWAY_MAX_SESSIONS_PER_CUSTOMER": "10",
                "GATEWAY_CATALOG_REFRESH_S": "60",
                "UPSTREAM_CONNECT_TIMEOUT_S": "60",
                # the pass-throughs here are on websockets: the same upstream client by default
                "UPSTREAM_WS_CLIENT": client,
                # the relay alone: recording has its own bench (bench_gateway_recording), and a
                # gateway left to the default recorded into DATABASE_URL's database (or, where
                # that did not exist, reconnected to Postgres for every segment)
                "GATEWAY_RECORDING": "false",
                **(env or {}),
            },
        )

    async def targets(self, count: int) -> tuple[list[str], list[dict[str, str]]]:
        headers = []
        # a generous timeout: under valgrind the first secrets take seconds each
        base_url = f"http://127.0.0.1:{self.port}"
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
            for i in range(count):
                answer = await http.post(
                    "/v1/realtime/client_secrets",
                    json={"customer_id": f"bench_{i:04d}"},
                    headers={"Authorization": f"Bearer {SERVER_KEY}"},
                )
                answer.raise_for_status()
                headers.append({"Authorization": f"Bearer {answer.json()['value']}"})
        return [f"ws://127.0.0.1:{self.port}/v1/realtime?model=bench"] * count, headers


def _plain(port: int, count: int) -> tuple[list[str], list[dict[str, str]]]:
    url = f"ws://127.0.0.1:{port}/openai/v1/realtime?model=bench"
    return [url] * count, [{"api-key": UPSTREAM_KEY}] * count


async def _sample_rss(service: Service, peak: list[int], stop: asyncio.Event) -> None:
    """Track the peak RSS of *service* into ``peak[0]`` until *stop*."""
    while not stop.is_set():
        peak[0] = max(peak[0], service.rss_kib() or 0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


Runs = dict[tuple[int, int], dict[str, Level]]


async def run(ctx: BenchContext) -> list[Result]:
    plan = {40: (100, 300), 100: (100,)} if ctx.quick else {40: (100, 300, 600), 100: (300,)}
    warmup_s, measure_s = (2.0, 4.0) if ctx.quick else (3.0, 10.0)
    namespace = f"{ctx.namespace}-gw"
    echo_port, echo_delta_port = free_port(), free_port()
    relay_port, raw_port = free_port(), free_port()
    processes = stack()
    echo = _load(processes, "echo", "echo", str(echo_port), "response")
    echo_delta = _load(processes, "echo-delta", "echo", str(echo_delta_port), "delta")
    relay = _load(
        processes, "passthrough", "passthrough", str(relay_port), str(echo_port), "framework"
    )
    raw = _load(processes, "passthrough-raw", "passthrough", str(raw_port), str(echo_port), "raw")
    gateway = _Gateway(processes, ctx, namespace, echo_port)
    runs: Runs = {}
    memory_kib: float | None = None
    try:
        await processes.start()
        base_rss = gateway.service.rss_kib() or 0
        for chunk_ms, levels in plan.items():
            for count in levels:
                got = runs[(chunk_ms, count)] = {}
                echo_pid = {"echo": echo.pid}
                urls, headers = _plain(echo_port, count)
                got["direct"] = await _clients(
                    urls, headers, chunk_ms, warmup_s, measure_s, echo_pid
                )
                urls, headers = _plain(relay_port, count)
                got["passthrough"] = await _clients(
                    urls, headers, chunk_ms, warmup_s, measure_s, {**echo_pid, "relay": relay.pid}
                )
                urls, headers = _plain(raw_port, count)
                got["raw"] = await _clients(
                    urls, headers, chunk_ms, warmup_s, measure_s, {**echo_pid, "relay": raw.pid}
                )
                peak, sampler_stop = [0], asyncio.Event()
                sampler = asyncio.create_task(_sample_rss(gateway.service, peak, sampler_stop))
                urls, headers = await gateway.targets(count)
                relay_pid = {**echo_pid, "relay": gateway.service.pid}
                got["gateway"] = await _clients(
                    urls, headers, chunk_ms, warmup_s, measure_s, relay_pid
                )
                sampler_stop.set()
                await sampler
                if chunk_ms == 40 and count == 300:
                    memory_kib = (peak[0] - base_rss) / count
                _progress(chunk_ms, count, got)
        await gateway.service.stop()
        # the same gateway code against an upstream that gives every delta its own item
        count = 300
        gateway = _Gateway(processes, ctx, namespace, echo_delta_port)
        await gateway.service.start()
        got = runs[(-40, count)] = {}
        urls, headers = _plain(echo_delta_port, count)
        got["direct"] = await _clients(
            urls, headers, 40, warmup_s, measure_s, {"echo": echo_delta.pid}
        )
        urls, headers = await gateway.targets(count)
        relay_pid = {"echo": echo_delta.pid, "relay": gateway.service.pid}
        got["gateway"] = await _clients(urls, headers, 40, warmup_s, measure_s, relay_pid)
        _progress(40, count, got, "item per delta")
    finally:
        await asyncio.to_thread(processes.stop, grace_s=30)
        await _clean(ctx, namespace)
    return _results(runs, memory_kib)


def _progress(chunk_ms: int, count: int, got: dict[str, Level], label: str = "") -> None:
    parts = [
        f"{name} p50/p99 {level.p(50):.2f}/{level.p(99):.2f} ms"
        + (f", relay {level.cores('relay'):.2f} cores" if "relay" in level.cpu_s else "")
        + f", clients {level.cores('clients'):.2f}"
        for name, level in got.items()
    ]
    print(f"  {chunk_ms} ms x {count} {label}: " + "; ".join(parts), file=sys.stderr)


def _results(runs: Runs, memory_kib: float | None) -> list[Result]:
    note = "echo upstream (no ASR/TTS); machine shared by clients, echo, relay, Redis, RabbitMQ"
    results: list[Result] = []
    carried = 0
    for (chunk, count), got in runs.items():
        if chunk < 0:
            continue
        direct, relay, raw, gateway = (got[k] for k in ("direct", "passthrough", "raw", "gateway"))
        tag = f"{chunk} ms chunks, {count} sessions"
        added99 = gateway.p(99) - direct.p(99)
        target, limit = ("<= 2 ms", 2.0) if count == 300 and chunk == 40 else (None, None)
        if chunk == 40 and added99 <= 5.0:
            carried = max(carried, count)
        results += [
            Result(
                BENCH, f"added p50, {tag}", gateway.p(50) - direct.p(50), "ms",
                direct.p(50), "direct p50", notes=note,
            ),
            Result(
                BENCH, f"added p99, {tag}", added99, "ms", direct.p(99), "direct p99",
                target=target, met=None if limit is None else added99 <= limit,
                notes=f"pass-through adds {relay.p(99) - direct.p(99):.2f} ms",
            ),
            Result(
                BENCH, f"gateway CPU per relayed message, {tag}",
                gateway.cpu_per_message("relay"), "us",
                relay.cpu_per_message("relay"), "pass-through",
                target="<= pass-through" if chunk == 40 else None,
                met=gateway.cpu_per_message("relay") <= relay.cpu_per_message("relay")
                if chunk == 40 else None,
                notes=f"{gateway.cores('relay'):.2f} cores (pass-through "
                f"{relay.cores('relay'):.2f}); measured window only",
            ),
            Result(
                BENCH, f"gateway CPU per relayed message vs raw ASGI pass-through, {tag}",
                gateway.cpu_per_message("relay"), "us",
                raw.cpu_per_message("relay"), "raw pass-through",
                notes=f"raw pass-through p99 adds {raw.p(99) - direct.p(99):.2f} ms",
            ),
        ]  # fmt: skip
    results.append(
        Result(
            BENCH,
            "streaming sessions per process (40 ms chunks, p99 added <= 5 ms)",
            carried,
            "sessions",
            target=">= 600",
            met=carried >= 600,
            notes=f"largest level tried: {max(c for k, c in runs if k == 40)}",
        )
    )
    if memory_kib is not None:
        results.append(
            Result(
                BENCH,
                "memory per session",
                memory_kib,
                "KiB",
                target="<= 128 KiB",
                met=memory_kib <= 128,
                notes="gateway RSS growth at 300 streaming sessions (40 ms) / 300",
            )
        )
    per_delta = runs.get((-40, 300))
    per_response = runs.get((40, 300))
    if per_delta is not None and per_response is not None:
        added = per_delta["gateway"].p(99) - per_delta["direct"].p(99)
        base = per_response["gateway"].p(99) - per_response["direct"].p(99)
        results += [
            Result(
                BENCH, "added p99, item per delta, 40 ms chunks, 300 sessions", added, "ms",
                base, "item per response",
            ),
            Result(
                BENCH, "gateway CPU per relayed message, item per delta, 40 ms, 300 sessions",
                per_delta["gateway"].cpu_per_message("relay"), "us",
                per_response["gateway"].cpu_per_message("relay"), "item per response",
            ),
        ]  # fmt: skip
    return results


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
