"""Tool worker: **instructions** per call of one worker process against the broker's floor (a
bare aio-pika echo consumer, ``bench/worker_echo.py``), counted by callgrind, so the CPU figure
holds on a loaded machine (``bench_worker``'s CPU seconds do not: it runs on a shared 2-core
machine).

Both run under ``valgrind --tool=callgrind`` (:mod:`bench.callgrind`) with counting off while
they start; the same bare aio-pika client (direct reply-to, transient requests with publisher
confirms: the chosen configuration) drives a fixed number of ``check_order_status`` calls at
each, one at a time and then with several in flight, and the instructions each process executes
in the measured window are divided by the calls answered in it. A warm-up round is not counted.
The worker's count includes the tool (its query on the read pool's asyncpg connection); the floor's
has no tool at all, so the ratio bounds from above what the worker adds to the library. The
tool alone is counted too, with no broker (``bench/worker_tool.py``): through the worker's
executor (arguments, read pool, result), and as its SQL on one asyncpg prepared statement, so what is the tool and what is the
worker's own handling can be told apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import statistics
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from bench import callgrind
from bench.bench_worker import (
    AS_OF,
    TOOL,
    _database_url,
    _drop_database,
    _request,
)
from bench.harness import BenchContext, Result, stack
from switchboard.amqp import DIRECT_REPLY_TO, Topology
from switchboard.cli.db import ensure_database, migrate, run_seed
from switchboard.cli.stack import Stack, free_port
from switchboard.worker.tools import ALL_TOOLS

BENCH = "worker"
OUT = Path("bench-results") / "callgrind-worker"
#: (label, calls in flight) of the measured windows.
PLAN = (("one at a time", 1), ("16 in flight", 16))
#: The tool alone, in a process of its own (``bench/worker_tool.py``): mode -> figure name.
TOOL_MODES = {"executor": "tool in-process", "asyncpg": "raw asyncpg query"}

Call = Callable[[int], Awaitable[None]]


@dataclass
class Target:
    name: str
    process: callgrind.Counters
    queue: str


async def _client(amqp_url: str) -> tuple[aio_pika.abc.AbstractConnection, Callable[[str], Call]]:
    """A bare RPC client; ``caller(queue)`` gives a call function for one queue."""
    connection = await aio_pika.connect(
        amqp_url, client_properties={"connection_name": "bench-worker-instructions"}
    )
    channel = await connection.channel(publisher_confirms=True)
    pending: dict[str, asyncio.Future[bytes]] = {}

    async def on_reply(message: AbstractIncomingMessage) -> None:
        future = pending.pop(message.correlation_id or "", None)
        if future is not None and not future.done():
            future.set_result(message.body)

    replies = await channel.get_queue(DIRECT_REPLY_TO, ensure=False)
    await replies.consume(on_reply, no_ack=True)
    loop = asyncio.get_running_loop()

    def caller(queue: str) -> Call:
        async def call(i: int) -> None:
            request = _request(i)
            future: asyncio.Future[bytes] = loop.create_future()
            pending[request.call_id] = future
            await channel.default_exchange.publish(
                aio_pika.Message(
                    request.model_dump_json().encode(),
                    content_type="application/json",
                    correlation_id=request.call_id,
                    reply_to=DIRECT_REPLY_TO,
                ),
                routing_key=queue,
            )
            body = await asyncio.wait_for(future, 120)
            if b'"ok":false' in body:
                raise RuntimeError(f"bench call failed: {body[:300]!r}")

        return call

    return connection, caller


async def _calls(call: Call, n: int, concurrency: int) -> None:
    counter = iter(range(n))

    async def lane() -> None:
        for i in counter:
            await call(i)

    await asyncio.gather(*(lane() for _ in range(concurrency)))


async def _measure(target: Target, call: Call, n: int, concurrency: int) -> float:
    """Instructions per call over one window of *n* calls."""
    await target.process.zero()
    await _calls(call, n, concurrency)
    return await target.process.dump() / n


def _counted(
    processes: Stack,
    name: str,
    module: str,
    *args: str,
    health_url: str | None = None,
    ready_logs: tuple[str, ...] = (),
) -> callgrind.Counters:
    """``python -m module args`` of *processes* under callgrind (not started yet), ready as a
    ``Service`` with *health_url* and *ready_logs* is."""
    service = processes.add(
        name,
        module,
        module=module,
        args=args,
        env={},
        health_url=health_url,
        ready_logs=ready_logs,
        wrapper=callgrind.wrapper(OUT, name),
    )
    return callgrind.Counters(service, OUT)


async def _tool_rounds(process: callgrind.Counters, n: int, rounds: int) -> list[float]:
    """Instructions per call of the tool alone (``bench/worker_tool.py``), one at a time."""
    service = process.service
    await process.count_on()
    service.send_signal(signal.SIGUSR1)  # warm-up, not counted
    await service.wait_log("round 1 done", within_s=600)
    got = []
    for k in range(2, rounds + 2):
        await process.zero()
        service.send_signal(signal.SIGUSR1)
        await service.wait_log(f"round {k} done", within_s=600)
        got.append(await process.dump() / n)
    print(
        f"  {process.name}, one at a time: "
        + ", ".join(f"{v / 1000:.1f}k" for v in got)
        + " instructions per call",
        file=sys.stderr,
    )
    return got


async def run(ctx: BenchContext) -> list[Result]:
    if not callgrind.available():
        print("  valgrind is not installed: instruction counts skipped", file=sys.stderr)
        return []
    rounds = 2 if ctx.quick else 3
    n = 300 if ctx.quick else 1000
    namespace = f"{ctx.namespace}-wki"
    topology = Topology(namespace)
    database_url = _database_url(ctx.database_url, f"bench_wki_{uuid.uuid4().hex[:8]}")
    shutil.rmtree(OUT, ignore_errors=True)  # the dumps of an earlier run
    echo_queue = f"bench-wki-echo-{uuid.uuid4().hex[:8]}"
    worker_port = free_port()
    processes = stack(
        PYTHONHASHSEED="0",
        DATABASE_URL=database_url,
        AMQP_URL=ctx.amqp_url,
        REDIS_URL=ctx.redis_url,
        SWITCHBOARD_NAMESPACE=namespace,
        WORKER_ID="bench-wki",
        WORKER_TODAY=AS_OF.isoformat(),
        WORKER_HTTP_PORT=str(worker_port),
        WORKER_TOOLS=TOOL,
        WORKER_CALL_QUEUE_TYPE="classic",
        WORKER_REPLY_CONFIRMS="false",
        WORKER_PREFETCH="32",
        DATABASE_TIMEOUT_S="60",  # the most the settings take: valgrind is slow
        WORKER_TOOL_TIMEOUT_S="60",
        LOG_LEVEL="WARNING",
    )
    floor = _counted(
        processes,
        "floor",
        "bench.worker_echo",
        ctx.amqp_url,
        echo_queue,
        ready_logs=("consuming",),
    )
    worker = _counted(
        processes,
        "worker",
        "switchboard.worker.main",
        health_url=f"http://127.0.0.1:{worker_port}/readyz",
    )
    targets = [
        Target("floor", floor, echo_queue),
        Target("worker", worker, topology.tool_queue(TOOL, "classic")),
    ]
    tools = {
        mode: _counted(
            processes, f"tool-{mode}", "bench.worker_tool", mode, str(n), ready_logs=("ready",)
        )
        for mode in TOOL_MODES
    }
    figures: dict[tuple[str, str], list[float]] = {}
    await ensure_database(database_url)
    connection = None
    try:
        await migrate(database_url)
        await run_seed(database_url, as_of=AS_OF, customers=1000, orders=10000)
        await processes.start(timeout_s=300)
        connection, caller = await _client(ctx.amqp_url)
        for target in targets:
            await target.process.count_on()
            call = caller(target.queue)
            await _calls(call, 100, 4)  # warm-up, not counted
            for label, concurrency in PLAN:
                got = figures[(target.name, label)] = []
                for _ in range(rounds):
                    got.append(await _measure(target, call, n, concurrency))
                print(
                    f"  {target.name}, {label}: "
                    + ", ".join(f"{v / 1000:.1f}k" for v in got)
                    + " instructions per call",
                    file=sys.stderr,
                )
        for mode, process in tools.items():
            figures[(TOOL_MODES[mode], PLAN[0][0])] = await _tool_rounds(process, n, rounds)
    finally:
        await asyncio.to_thread(processes.stop, grace_s=60)
        if connection is not None:
            with contextlib.suppress(Exception):
                cleanup = await connection.channel()
                await topology.delete_all(cleanup, tools=tuple(t.name for t in ALL_TOOLS))
            await connection.close()
        await _drop_database(database_url)
    return _results(figures)


def _results(figures: dict[tuple[str, str], list[float]]) -> list[Result]:
    results: list[Result] = []
    for label, _ in PLAN:
        values = figures.get(("worker", label))
        floor = figures.get(("floor", label))
        if not values:
            continue
        value = statistics.mean(values)
        baseline = statistics.mean(floor) if floor else None
        spread = (max(values) - min(values)) / value * 100
        results.append(
            Result(
                BENCH,
                f"worker process: instructions per call, {label}",
                value / 1000,
                "k instr",
                baseline / 1000 if baseline is not None else None,
                "bare aio-pika echo consumer",
                notes=f"{len(values)} rounds, spread {spread:.1f}%; callgrind, includes the "
                "tool's query; instructions not seconds",
            )
        )
    executor = figures.get(("tool in-process", PLAN[0][0]))
    raw = figures.get(("raw asyncpg query", PLAN[0][0]))
    if executor:
        results.append(
            Result(
                BENCH,
                "the tool alone in-process (executor, asyncpg read pool): instructions per call",
                statistics.mean(executor) / 1000,
                "k instr",
                statistics.mean(raw) / 1000 if raw else None,
                "its SQL on an asyncpg prepared statement",
                notes="no broker; one at a time",
            )
        )
    return results
