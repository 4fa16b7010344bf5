"""Tool worker: ``check_order_status`` round trip through RabbitMQ (p50/p99) and throughput with
one and two worker processes, against the same tool called in-process on the same database in
the same run (the article's design: the tool is a function in the relay process).

Runs on a database of its own (created, migrated, seeded and dropped here) and a namespace of
its own, so it disturbs nobody's data.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import asyncpg
import redis.asyncio as aioredis

from bench.harness import BenchContext, Result, percentile
from switchboard.amqp import Topology
from switchboard.cli.db import ensure_database, migrate, run_seed
from switchboard.contracts.tools import ToolCallRequest, ToolCallResult
from switchboard.keys import RedisKeys
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
) -> float:
    """Calls per second for *n* calls with ``CONCURRENCY`` in flight."""
    counter = iter(range(n))
    failures = 0

    async def lane() -> None:
        nonlocal failures
        for i in counter:
            if not (await call(_request(i))).ok:
                failures += 1

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{failures} bench calls failed")
    return n / elapsed


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process *pid* so far (Linux /proc)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115 - a tiny procfs read
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Process:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = {**os.environ, **env, "LOG_LEVEL": "WARNING"}
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "switchboard.worker.main",
            env=self.env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=None,  # warnings and errors show on the bench's console
        )

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


async def _wait_serving(redis: aioredis.Redis, keys: RedisKeys, worker_id: str) -> None:
    """Until the worker has announced its catalog (it does so once it consumes)."""
    async with asyncio.timeout(60):
        while not await redis.exists(keys.catalog_worker(worker_id)):  # noqa: ASYNC110 - no event to await across processes
            await asyncio.sleep(0.05)


async def run(ctx: BenchContext) -> list[Result]:
    n_latency = 300 if ctx.quick else 2000
    n_throughput = 1000 if ctx.quick else 6000
    database_url = _database_url(ctx.database_url, f"bench_worker_{uuid.uuid4().hex[:8]}")
    namespace = f"{ctx.namespace}-worker"
    await ensure_database(database_url)
    processes: list[_Process] = []
    redis = aioredis.from_url(ctx.redis_url)
    connection = await aio_pika.connect_robust(
        ctx.amqp_url, client_properties={"connection_name": "switchboard-bench-worker"}
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
        )
        # the baseline: the same executor (arguments, database, result) with no broker
        baseline = WorkerService(settings)
        try:
            await _latencies(baseline.executor.execute, 200)  # warm the pool and caches
            local = await _latencies(baseline.executor.execute, n_latency)
            cpu_before = time.process_time()
            local_rate = await _throughput(baseline.executor.execute, n_throughput)
            local_cpu = (time.process_time() - cpu_before) / n_throughput
        finally:
            await baseline.engine.dispose()
            await baseline.redis.aclose()

        env = {
            "DATABASE_URL": database_url,
            "AMQP_URL": ctx.amqp_url,
            "REDIS_URL": ctx.redis_url,
            "SWITCHBOARD_NAMESPACE": namespace,
            "WORKER_TODAY": AS_OF.isoformat(),
            "WORKER_HTTP_PORT": "0",
            "WORKER_TOOLS": TOOL,
        }
        topology = Topology(namespace)
        keys = RedisKeys(namespace)
        processes.append(_Process({**env, "WORKER_ID": "bench-1"}))
        await processes[0].start()
        await _wait_serving(redis, keys, "bench-1")
        async with ToolClient(connection, topology) as client:
            await _latencies(client.send, 200)
            remote = await _latencies(client.send, n_latency)
            pid = processes[0].pid
            cpu_before = _cpu_seconds(pid)
            one_rate = await _throughput(client.send, n_throughput)
            worker_cpu = (_cpu_seconds(pid) - cpu_before) / n_throughput
            processes.append(_Process({**env, "WORKER_ID": "bench-2"}))
            await processes[1].start()
            await _wait_serving(redis, keys, "bench-2")
            await _latencies(client.send, 100)
            two_rate = await _throughput(client.send, n_throughput)
    finally:
        for process in processes:
            await process.stop()
        with contextlib.suppress(Exception):
            cleanup = await connection.channel()
            await Topology(namespace).delete_all(cleanup, tools=tuple(t.name for t in ALL_TOOLS))
        await connection.close()
        await redis.aclose()
        await _drop_database(database_url)

    p50_local, p99_local = percentile(local, 50), percentile(local, 99)
    p50_remote, p99_remote = percentile(remote, 50), percentile(remote, 99)
    p50_overhead = p50_remote - p50_local
    p99_overhead = p99_remote - p99_local
    cores = os.cpu_count() or 1
    note = (
        f"{cores} CPU(s) shared by the bench's client, RabbitMQ, Postgres and the workers; "
        "workers run uvloop (uvicorn auto), the in-process baseline the bench's asyncio loop"
    )
    return [
        Result(BENCH, "in-process p50", p50_local, "ms", notes="executor called directly"),
        Result(BENCH, "in-process p99", p99_local, "ms"),
        Result(BENCH, "rabbitmq round trip p50", p50_remote, "ms", p50_local, "in-process p50"),
        Result(BENCH, "rabbitmq round trip p99", p99_remote, "ms", p99_local, "in-process p99"),
        Result(
            BENCH,
            "p50 overhead over in-process",
            p50_overhead,
            "ms",
            target="<= 1.5 ms",
            met=p50_overhead <= 1.5,
        ),
        Result(
            BENCH,
            "p99 overhead over in-process",
            p99_overhead,
            "ms",
            target="<= 5 ms",
            met=p99_overhead <= 5.0,
        ),
        Result(
            BENCH,
            "in-process throughput",
            local_rate,
            "calls/s",
            notes=f"{CONCURRENCY} in flight",
        ),
        Result(
            BENCH,
            "throughput, 1 worker process",
            one_rate,
            "calls/s",
            local_rate,
            "in-process",
            target=">= 1500/s per process",
            met=one_rate >= 1500,
            notes=note,
        ),
        Result(
            BENCH,
            "worker CPU per call",
            worker_cpu * 1000,
            "ms",
            local_cpu * 1000,
            "in-process CPU per call",
            notes="the worker process alone (broker, client and Postgres not counted)",
        ),
        Result(
            BENCH,
            "capacity per worker process",
            1 / worker_cpu if worker_cpu else float("nan"),
            "calls/CPU-s",
            1 / local_cpu if local_cpu else None,
            "in-process",
            target=">= 1500/s per process",
            met=bool(worker_cpu) and 1 / worker_cpu >= 1500,
            notes="calls one fully used core would carry: throughput with a core of its own",
        ),
        Result(
            BENCH,
            "throughput, 2 worker processes",
            two_rate,
            "calls/s",
            one_rate,
            "1 worker process",
            target=">= 1500/s per process",
            met=two_rate >= 3000,
            notes=note,
        ),
    ]
