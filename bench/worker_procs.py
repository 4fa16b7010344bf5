"""Worker processes for the worker bench: start one (optionally under cProfile), wait until it
consumes, read its CPU time, stop it; and read a cProfile dump into where the CPU went."""

from __future__ import annotations

import asyncio
import io
import os
import pstats
import signal
import sys
from dataclasses import dataclass

import redis.asyncio as aioredis

from switchboard.keys import RedisKeys

__all__ = ["Profile", "WorkerProcess", "cpu_seconds", "read_profile"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process *pid* so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class WorkerProcess:
    """``python -m switchboard.worker.main``, or, given a *profile* path, the same service
    under ``bench.worker_profiled`` (SIGUSR1 starts profiling, SIGUSR2 writes the dump)."""

    def __init__(self, env: dict[str, str], *, profile: str | None = None) -> None:
        self.env = {**os.environ, **env, "LOG_LEVEL": "WARNING"}
        self.worker_id = env["WORKER_ID"]
        self.profile = profile
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    async def start(self, redis: aioredis.Redis, keys: RedisKeys) -> None:
        """Start it and wait until it has announced its catalog (it does so once it consumes)."""
        command = (
            ["bench.worker_profiled", self.profile] if self.profile else ["switchboard.worker.main"]
        )
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            *command,
            env=self.env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=None,  # warnings and errors show on the bench's console
        )
        key = keys.catalog_worker(self.worker_id)
        async with asyncio.timeout(60):
            while not await redis.exists(key):
                if self.proc.returncode is not None:
                    raise RuntimeError(
                        f"worker {self.worker_id} exited with {self.proc.returncode}"
                    )
                await asyncio.sleep(0.05)

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


#: Where a function's own time is counted, by the path of its file (first match wins).
AREAS = (
    ("tool and its database access", ("/worker/tools/", "/sqlalchemy/", "/asyncpg/", "greenlet")),
    ("broker client (aio-pika, aiormq, pamqp)", ("/aio_pika/", "/aiormq/", "/pamqp/")),
    ("the worker's own handling", ("/switchboard/",)),
    ("contracts and JSON (pydantic)", ("pydantic",)),
    ("metrics and logging", ("/prometheus_client/", "/logging/")),
    ("event loop and the rest", ("",)),
)


@dataclass(frozen=True, slots=True)
class Profile:
    """Where a profiled worker's CPU went while it served *calls* calls."""

    calls: int
    total_s: float
    areas: dict[str, float]  # seconds of own time by area
    top: str  # the heaviest functions by own time, as pstats prints them

    @property
    def tool_share(self) -> float:
        """The tool's (and its queries') share of the worker's CPU while serving the calls."""
        return self.areas[AREAS[0][0]] / self.total_s if self.total_s else float("nan")

    def summary(self) -> str:
        per_call = {k: 1000 * v / self.calls for k, v in self.areas.items()}
        return "; ".join(f"{k} {v:.3f} ms" for k, v in per_call.items())


def read_profile(path: str, calls: int, *, lines: int = 25) -> Profile:
    stats = pstats.Stats(path)
    raw = stats.stats  # type: ignore[attr-defined]  # pstats keeps its table there, untyped
    areas = dict.fromkeys((name for name, _ in AREAS), 0.0)
    for (file, _line, function), entry in raw.items():
        where = f"{file}:{function}"
        name = next(n for n, marks in AREAS if any(m in where for m in marks))
        areas[name] += entry[2]  # own time
    out = io.StringIO()
    pstats.Stats(path, stream=out).sort_stats("tottime").print_stats(lines)
    top = out.getvalue()
    top = top[top.find("   ncalls") :] if "   ncalls" in top else top
    return Profile(
        calls=calls,
        total_s=stats.total_tt,  # type: ignore[attr-defined]  # set by pstats, untyped
        areas=areas,
        top=top,
    )
