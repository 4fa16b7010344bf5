"""Session gateway with recording on and off: gateway CPU per streaming session, same run.

Gateway processes identical but for ``GATEWAY_RECORDING`` (:mod:`bench.gateway_ab`), in front
of echo upstreams (:mod:`bench.gateway_load`); the ones recording write into the Postgres
recording store of a database of their own (created, migrated and dropped here). The same
clients (pcm16 chunks of 40 ms each way at real-time pace: caller and assistant both speak all
the time) run against each in turn; the figure is CPU per session: the gateway's CPU seconds
per second of the measured window divided by the sessions, off and on alternating. The same
comparison is counted in instructions (callgrind) at two sessions, a figure the machine's load
does not move.

Two answer layouts, because the assistant channel is one segment (one store write and two
events) per answer: answers of 5 s (``long``: the figure held to the target, recording on <=
1.15x off, issue 20) and answers of 1 s back to back (``response``: five times the writes, the
worst case, reported without a target). The load average of the machine is printed beside
them: the clients, the echoes, the gateways, Postgres, Redis and RabbitMQ share it.
"""

from __future__ import annotations

import os
import statistics
import sys
import uuid
from pathlib import Path

import asyncpg

from bench.bench_loadtest import _database_url
from bench.gateway_ab import Arm, cpu_per_session, instructions_per_message
from bench.harness import BenchContext, Result
from switchboard.cli.db import ensure_database, migrate

BENCH = "gateway-recording"
TARGET = 1.15
OUT = Path("bench-results") / "callgrind-recording"
#: echo layout -> what the row calls it, and whether the target applies
LAYOUTS = {"long": ("5 s answers", True), "response": ("1 s answers, worst case", False)}


async def run(ctx: BenchContext) -> list[Result]:
    count = 100 if ctx.quick else 300
    warmup_s, measure_s = (3.0, 10.0) if ctx.quick else (5.0, 20.0)
    rounds = 2 if ctx.quick else 4  # off-on, then on-off: a drift of the load hits both alike
    database = await _database(ctx)
    arms = _arms(database)
    written: list[str] = []

    async def count_written() -> None:
        written.append(await _written(database))

    try:
        cpu = await cpu_per_session(
            ctx,
            label="gwrec",
            arms=arms,
            layouts=list(LAYOUTS),
            count=count,
            rounds=rounds,
            warmup_s=warmup_s,
            measure_s=measure_s,
            after=count_written,
        )
    finally:
        await _drop(ctx, database)
    results = []
    for layout, (label, targeted) in LAYOUTS.items():
        off, on = (cpu.per_session[(layout, arm.name)] for arm in arms)
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
                notes=f"{rounds} alternating rounds of {measure_s:g} s; picows upstream; "
                f"{written[0] if written else '?'}; load average "
                f"{min(cpu.loads):.1f}-{max(cpu.loads):.1f} on {os.cpu_count()} CPUs",
            )
        )
    results += await _instructions(ctx)
    return results


def _arms(database: str) -> tuple[Arm, Arm]:
    return (
        Arm("recording-false", {"GATEWAY_RECORDING": "false"}),
        Arm("recording-true", {"GATEWAY_RECORDING": "true", "RECORDING_DATABASE_URL": database}),
    )


async def _instructions(ctx: BenchContext) -> list[Result]:
    """The same comparison in instructions (callgrind), 5 s answers at two sessions."""
    rounds, measure_s = (2 if ctx.quick else 4), 15.0
    database = await _database(ctx)
    try:
        figures = await instructions_per_message(
            ctx,
            label="rec",
            arms=_arms(database),
            layout="long",
            out=OUT,
            rounds=rounds,
            measure_s=measure_s,
        )
    finally:
        await _drop(ctx, database)
    if figures is None:
        return []
    off_runs, on_runs = figures["recording-false"], figures["recording-true"]
    off, on = statistics.mean(off_runs), statistics.mean(on_runs)
    ratios = ", ".join(f"{b / a:.3f}" for a, b in zip(off_runs, on_runs, strict=True))
    print(f"  5 s answers: recording on/off instructions {on / off:.3f}x", file=sys.stderr)
    return [
        Result(
            BENCH,
            "gateway instructions per relayed message, recording on, 5 s answers, 2 sessions "
            "(callgrind)",
            on / 1000,
            "k instr",
            off / 1000,
            "recording off",
            target=f"<= {TARGET}x off",
            met=on / off <= TARGET,
            notes=f"{rounds} alternating rounds of {measure_s:g} s, per-round ratios {ratios}; "
            "picows upstream; instructions, not seconds (no cache misses, no kernel time)",
        )
    ]


async def _database(ctx: BenchContext) -> str:
    """A database of the bench's own for the recording store, created and migrated."""
    database = _database_url(ctx.database_url, f"bench_rec_{uuid.uuid4().hex[:8]}")
    await ensure_database(database)
    await migrate(database)
    return database


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
