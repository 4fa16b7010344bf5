"""Tool worker: ``check_order_status`` through RabbitMQ under each candidate transport
configuration (call queue kind, request persistence, publisher confirms, reply path, prefetch),
against two baselines measured in the same run: the same tool called in-process on the same
database (the article's design: the tool is a function in the relay process), and a bare
aio-pika RPC loop on the same configuration (the broker's floor, ``bench/worker_floor.py``).

For each candidate: p50/p99 round trip and its overhead over in-process, calls/s with one and
with two worker processes (and each process's share), the workers' CPU per call. The chosen
configuration (the defaults, docs/worker.md) is then profiled with cProfile to show where a
worker's time goes. Runs on a database of its own (created, migrated, seeded and dropped here)
and a namespace of its own, so it disturbs nobody's data.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import os
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import asyncpg

from bench.harness import BenchContext, Result, percentile, stack
from bench.worker_cprofile import read_profile
from bench.worker_floor import Transport, floor
from bench.worker_report import Measured, results
from switchboard.amqp import Topology
from switchboard.cli.db import ensure_database, migrate, run_seed
from switchboard.cli.stack import Service, Stack, free_port
from switchboard.contracts.tools import ToolCallRequest, ToolCallResult
from switchboard.settings import normalise_database_url
from switchboard.toolclient import ToolClient
from switchboard.worker.service import WorkerService
from switchboard.worker.settings import WorkerSettings
from switchboard.worker.tools import ALL_TOOLS

BENCH = "worker"
AS_OF = date(2026, 11, 1)
TOOL = "check_order_status"
#: (customer, order) pairs of the seeded demo data, cycled through.
TARGETS = (("cus_0001", 100001), ("cus_0001", 100002), ("cus_0002", 100004), ("cus_0003", 100007))
CONCURRENCY = 64
#: Database and tool timeouts of the bench's workers: a busy shared machine must slow the
#: figures down, not fail the calls (64 in flight wait for 10 pooled connections).
SLOW_MACHINE_TIMEOUT_S = 30.0

#: The candidates, the configuration of the release before first; CHOSEN is the default.
BEFORE = Transport("quorum/persistent/queue/confirmed", "quorum", True, True, "queue")
CHOSEN = Transport(
    "classic/transient/direct/answers unconfirmed",
    "classic",
    False,
    True,
    "direct",
    reply_confirms=False,
)
CANDIDATES = (
    BEFORE,
    Transport("classic/persistent/queue/confirmed", "classic", True, True, "queue"),
    Transport("classic/transient/queue/confirmed", "classic", False, True, "queue"),
    Transport("classic/transient/direct/confirmed", "classic", False, True, "direct"),
    CHOSEN,
    Transport(
        "classic/transient/direct/unconfirmed",
        "classic",
        False,
        False,
        "direct",
        reply_confirms=False,
    ),
    dataclasses.replace(CHOSEN, label=f"{CHOSEN.label}/prefetch 8", prefetch=8),
    dataclasses.replace(CHOSEN, label=f"{CHOSEN.label}/prefetch 128", prefetch=128),
)


def _database_url(base: str, name: str) -> str:
    parts = urlsplit(normalise_database_url(base))
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _drop_database(url: str) -> None:
    parts = urlsplit(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    name = parts.path.strip("/")
    admin = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")), timeout=10)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def _request(i: int) -> ToolCallRequest:
    customer, order = TARGETS[i % len(TARGETS)]
    return ToolCallRequest(
        call_id=f"bench_{uuid.uuid4().hex}",
        session_id="bench",
        customer_id=customer,
        tool=TOOL,
        arguments={"order_id": order},
        deadline=datetime.now(UTC) + timedelta(seconds=30),
    )


async def _latencies(
    call: Callable[[ToolCallRequest], Awaitable[ToolCallResult]], n: int
) -> list[float]:
    """Milliseconds of *n* calls made one after another."""
    out = []
    for i in range(n):
        request = _request(i)
        started = time.perf_counter()
        result = await call(request)
        out.append((time.perf_counter() - started) * 1000)
        if not result.ok:
            raise RuntimeError(f"bench call failed: {result.error}")
    return out


async def _throughput(
    call: Callable[[ToolCallRequest], Awaitable[ToolCallResult]], n: int
) -> tuple[float, collections.Counter[str]]:
    """Calls per second for *n* calls with ``CONCURRENCY`` in flight, and who answered them."""
    counter = iter(range(n))
    answered: collections.Counter[str] = collections.Counter()
    failures = 0

    async def lane() -> None:
        nonlocal failures
        for i in counter:
            result = await call(_request(i))
            answered[result.worker] += 1
            failures += not result.ok

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{failures} bench calls failed")
    return n / elapsed, answered


@dataclass
class Run:
    """What every measurement of one run shares."""

    amqp: aio_pika.abc.AbstractRobustConnection
    processes: Stack
    namespace: str
    n_latency: int
    n_throughput: int

    def worker(self, transport: Transport, name: str, profile: str | None = None) -> Service:
        """``python -m switchboard.worker.main`` (ready on ``/readyz``: consuming, catalog
        announced), or, given a *profile* path, the same service under
        ``bench.worker_profiled`` (SIGUSR1 starts profiling, SIGUSR2 writes the dump). Its
        name is its ``WORKER_ID``."""
        env = {**transport.worker_env(), "WORKER_ID": name}
        if profile is not None:
            module = "bench.worker_profiled"
            return self.processes.add(
                name,
                module,
                module=module,
                args=(profile,),
                env=env,
                health_url=None,
                ready_logs=("worker serving",),
            )
        port = free_port()
        return self.processes.add(
            name,
            "switchboard.worker.main",
            module="switchboard.worker.main",
            env={**env, "WORKER_HTTP_PORT": str(port)},
            health_url=f"http://127.0.0.1:{port}/readyz",
        )

    def client(self, transport: Transport) -> ToolClient:
        return ToolClient(
            self.amqp,
            Topology(self.namespace),
            direct_reply_to=transport.reply == "direct",
            persistent=transport.persistent,
            confirms=transport.confirms,
        )


async def _measure(run: Run, transport: Transport) -> Measured:
    """The tool path under *transport*: latency, then throughput with one and two processes."""
    out = Measured()
    first = run.worker(transport, "bench-1")
    second = run.worker(transport, "bench-2")
    try:
        await first.start()
        async with run.client(transport) as client:
            await _latencies(client.send, 100)  # warm up
            out.latencies = await _latencies(client.send, run.n_latency)
            before = first.cpu_seconds()
            out.one_rate, _ = await _throughput(client.send, run.n_throughput)
            out.cpu_per_call = (first.cpu_seconds() - before) / run.n_throughput
            await second.start()
            await _latencies(client.send, 100)
            before_both = {p.name: p.cpu_seconds() for p in (first, second)}
            out.two_rate, answered = await _throughput(client.send, run.n_throughput)
            cpu = {p.name: p.cpu_seconds() - before_both[p.name] for p in (first, second)}
            out.two_cpu_per_call = sum(cpu.values()) / run.n_throughput
            out.shares = {w: answered[w] / run.n_throughput for w in sorted(answered)}
            out.cpu_shares = cpu
    finally:
        await second.stop()
        await first.stop()
    return out


async def _profile(run: Run, transport: Transport, path: str) -> None:
    """Throughput calls against one worker with cProfile on for just those calls."""
    worker = run.worker(transport, "bench-profiled", profile=path)
    try:
        await worker.start()
        async with run.client(transport) as client:
            await _latencies(client.send, 100)  # warm up
            worker.send_signal(signal.SIGUSR1)
            await _throughput(client.send, run.n_throughput)
            worker.send_signal(signal.SIGUSR2)
        async with asyncio.timeout(30):
            while not os.path.exists(path):  # noqa: ASYNC110, ASYNC240 - a file another process writes (one stat)
                await asyncio.sleep(0.05)
    finally:
        await worker.stop()


async def _floors(ctx: BenchContext, run: Run) -> dict[Transport, tuple[list[float], float]]:
    """The bare aio-pika RPC loop under each candidate's configuration (prefetch aside)."""
    sample = _request(0)
    request_body = sample.model_dump_json().encode()
    reply_body = b"x" * 700  # about the size of a check_order_status answer
    out: dict[Transport, tuple[list[float], float]] = {}
    for transport in CANDIDATES:
        if any(f.broker_side == transport.broker_side for f in out):
            continue
        out[transport] = await floor(
            ctx.amqp_url,
            transport,
            request_body=request_body,
            reply_body=reply_body,
            n_latency=run.n_latency,
            n_throughput=run.n_throughput,
            concurrency=CONCURRENCY,
        )
    return out


async def run(ctx: BenchContext) -> list[Result]:
    n_latency = 300 if ctx.quick else 2000
    n_throughput = 1000 if ctx.quick else 6000
    database_url = _database_url(ctx.database_url, f"bench_worker_{uuid.uuid4().hex[:8]}")
    namespace = f"{ctx.namespace}-worker"
    await ensure_database(database_url)
    connection = await aio_pika.connect_robust(
        ctx.amqp_url, client_properties={"connection_name": "switchboard-bench-worker"}
    )
    profile_path = os.path.join(tempfile.mkdtemp(prefix="bench-worker-"), "worker.prof")
    processes = stack(
        DATABASE_URL=database_url,
        AMQP_URL=ctx.amqp_url,
        REDIS_URL=ctx.redis_url,
        SWITCHBOARD_NAMESPACE=namespace,
        WORKER_TODAY=AS_OF.isoformat(),
        WORKER_TOOLS=TOOL,
        DATABASE_TIMEOUT_S=str(SLOW_MACHINE_TIMEOUT_S),
        WORKER_TOOL_TIMEOUT_S=str(SLOW_MACHINE_TIMEOUT_S),
        LOG_LEVEL="WARNING",
    )
    try:
        await migrate(database_url)
        await run_seed(database_url, as_of=AS_OF, customers=1000, orders=10000)
        settings = WorkerSettings(
            DATABASE_URL=database_url,
            AMQP_URL=ctx.amqp_url,
            REDIS_URL=ctx.redis_url,
            SWITCHBOARD_NAMESPACE=namespace,
            WORKER_ID="bench-inprocess",
            WORKER_TODAY=AS_OF,
            DATABASE_TIMEOUT_S=SLOW_MACHINE_TIMEOUT_S,
            WORKER_TOOL_TIMEOUT_S=SLOW_MACHINE_TIMEOUT_S,
        )
        # the baseline: the same executor (arguments, database, result) with no broker
        baseline = WorkerService(settings)
        try:
            await _latencies(baseline.executor.execute, 200)  # warm the pool and caches
            local = await _latencies(baseline.executor.execute, n_latency)
            cpu_before = time.process_time()
            local_rate, _ = await _throughput(baseline.executor.execute, n_throughput)
            local_cpu = (time.process_time() - cpu_before) / n_throughput
        finally:
            await baseline.engine.dispose()
            await baseline.redis.aclose()

        bench_run = Run(connection, processes, namespace, n_latency, n_throughput)
        floors = await _floors(ctx, bench_run)
        measured: dict[Transport, Measured] = {}
        for transport in CANDIDATES:
            print(f"  worker: {transport.label}", file=sys.stderr, flush=True)
            measured[transport] = await _measure(bench_run, transport)
        await _profile(bench_run, CHOSEN, profile_path)
        profile = read_profile(profile_path, n_throughput)
    finally:
        await asyncio.to_thread(processes.stop, grace_s=30)
        with contextlib.suppress(Exception):
            cleanup = await connection.channel()
            await Topology(namespace).delete_all(cleanup, tools=tuple(t.name for t in ALL_TOOLS))
        await connection.close()
        await _drop_database(database_url)
    print(
        f"\nworker profile ({CHOSEN.label}), CPU by own time:\n{profile.summary()}\n{profile.top}",
        file=sys.stderr,
    )
    local_p50, local_p99 = percentile(local, 50), percentile(local, 99)
    return results(
        chosen_transport=CHOSEN,
        concurrency=CONCURRENCY,
        local_rate=local_rate,
        local_cpu=local_cpu,
        floors=floors,
        measured=measured,
        profile=profile,
        local_pct=(local_p50, local_p99),
    )
