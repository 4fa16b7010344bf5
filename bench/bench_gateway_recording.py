"""Session gateway with recording on and off: gateway CPU per streaming session, same run.

Gateway processes identical but for ``GATEWAY_RECORDING``, in front of echo upstreams
(:mod:`bench.gateway_load`); the ones recording write into the Postgres recording store of a
database of their own (created, migrated and dropped here). The same clients (pcm16 chunks of
40 ms each way at real-time pace: caller and assistant both speak all the time) run against
each in turn; each gateway's CPU is sampled over the measured window only (after the warm-up, so
no handshakes), and the figure is CPU per session: the gateway's CPU seconds per second of the
window divided by the sessions. Off and on alternate (twice in a full run) and the sums are
compared, so a drift of the machine's load hits both.

Two answer layouts, because the assistant channel is one segment (one store write and two
events) per answer: answers of 5 s (``long``: the figure held to the target, recording on <=
1.15x off, issue 20) and answers of 1 s back to back (``response``: five times the writes, the
worst case, reported without a target). The load average of the machine is printed beside
them: the clients, the echoes, the gateways, Postgres, Redis and RabbitMQ share it.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid

import asyncpg

from bench.bench_gateway import _clean, _clients, _Gateway, _load
from bench.bench_loadtest import _database_url
from bench.harness import BenchContext, Result, stack
from switchboard.cli.db import ensure_database, migrate
from switchboard.cli.stack import Service, free_port

BENCH = "gateway-recording"
TARGET = 1.15
#: echo layout -> what the row calls it, and whether the target applies
LAYOUTS = {"long": ("5 s answers", True), "response": ("1 s answers, worst case", False)}


async def run(ctx: BenchContext) -> list[Result]:
    count, chunk_ms = (100, 40) if ctx.quick else (300, 40)
    warmup_s, measure_s = (3.0, 10.0) if ctx.quick else (5.0, 20.0)
    rounds = 1 if ctx.quick else 2
    namespace = f"{ctx.namespace}-gwrec"
    database = _database_url(ctx.database_url, f"bench_rec_{uuid.uuid4().hex[:8]}")
    await ensure_database(database)
    await migrate(database)
    processes = stack()
    gateways: dict[tuple[str, str], _Gateway] = {}
    echoes: dict[str, Service] = {}
    for layout in LAYOUTS:
        port = free_port()
        echoes[layout] = _load(processes, f"echo-{layout}", "echo", str(port), layout)
        for recording in ("false", "true"):
            gateway = _Gateway(
                processes,
                ctx,
                namespace,
                port,
                name=f"gateway-{layout}-recording-{recording}",
                env={
                    "GATEWAY_ID": f"bench-gateway-{layout}-recording-{recording}",
                    "GATEWAY_RECORDING": recording,
                    "RECORDING_DATABASE_URL": database,
                },
            )
            gateways[(layout, recording)] = gateway
    cpu = dict.fromkeys(gateways, 0.0)
    window = dict.fromkeys(gateways, 0.0)
    load = [os.getloadavg()[0]]
    written = ""
    try:
        await processes.start()
        for _ in range(rounds):
            for (layout, recording), gateway in gateways.items():
                urls, headers = await gateway.targets(count)
                watched = {"echo": echoes[layout].pid, "relay": gateway.service.pid}
                level = await _clients(urls, headers, chunk_ms, warmup_s, measure_s, watched)
                cpu[(layout, recording)] += level.cpu_s["relay"]
                window[(layout, recording)] += level.window_s
                load.append(os.getloadavg()[0])
                print(
                    f"  {layout}, recording {recording}: {level.cores('relay'):.3f} cores for "
                    f"{count} sessions, p99 {level.p(99):.2f} ms, load {load[-1]:.1f}",
                    file=sys.stderr,
                )
        written = await _written(database)
    finally:
        await asyncio.to_thread(processes.stop, grace_s=30)
        await _clean(ctx, namespace)
        await _drop(ctx, database)
    results = []
    for layout, (label, targeted) in LAYOUTS.items():
        on, off = (cpu[(layout, r)] / window[(layout, r)] / count * 1000 for r in ("true", "false"))
        ratio = on / off
        print(f"  {label}: recording on/off CPU per session {ratio:.3f}x", file=sys.stderr)
        results.append(
            Result(
                BENCH,
                f"gateway CPU per session, recording on, {label}, {count} sessions",
                on,
                "ms/s",
                off,
                "recording off",
                target=f"<= {TARGET}x off" if targeted else None,
                met=ratio <= TARGET if targeted else None,
                notes=f"{rounds} alternating round(s) of {measure_s:g} s; {written}; load "
                f"average {min(load):.1f}-{max(load):.1f} on {os.cpu_count()} CPUs",
            )
        )
    return results


async def _written(database: str) -> str:
    """What the recording gateways wrote (to show they did record)."""
    conn = await asyncpg.connect(database.replace("+asyncpg", "", 1))
    try:
        row = await conn.fetchrow(
            "SELECT count(*), coalesce(sum(size), 0)::bigint FROM audit.recording_object"
        )
    finally:
        await conn.close()
    assert row is not None
    return f"{row[0]} segments, {int(row[1]) / 1e6:.0f} MB written in all"


async def _drop(ctx: BenchContext, database: str) -> None:
    name = database.rsplit("/", 1)[1]
    admin = await asyncpg.connect(
        _database_url(ctx.database_url, "postgres").replace("+asyncpg", "", 1)
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
