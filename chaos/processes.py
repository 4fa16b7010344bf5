"""Service processes the chaos runner starts, kills and restarts.

Each :class:`ServiceProcess` is ``python -m MODULE`` with its own environment; it is ready when
its health URL answers 200. Its JSON log lines (stderr) are kept, so a report can quote the last
words of a process that died. ``kill()`` is SIGKILL (no clean-up of any kind), ``terminate()`` is
SIGTERM (the service's graceful drain).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import signal
import socket
import sys
import time
from collections import deque
from typing import Any

import httpx

__all__ = ["ServiceProcess", "free_port", "rss_kib"]


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kib(pid: int) -> int | None:
    """Resident set size of *pid* in KiB (Linux /proc), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class ServiceProcess:
    def __init__(
        self,
        name: str,
        module: str,
        env: dict[str, str],
        health_url: str,
        *,
        ready_within_s: float = 60,
    ) -> None:
        self.name = name
        self.module = module
        self.env = {**os.environ, **env, "LOG_FORMAT": "json"}
        self.health_url = health_url
        self.ready_within_s = ready_within_s
        self.logs: deque[dict[str, Any]] = deque(maxlen=2000)
        self.starts = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    async def start(self) -> float:
        """Start the process and wait until its health URL answers; returns seconds taken."""
        began = time.monotonic()
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            self.module,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            preexec_fn=_child_setup,
        )
        self.starts += 1
        self._reader = asyncio.create_task(self._read(self._proc))
        await self.wait_ready()
        return time.monotonic() - began

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_within_s
        async with httpx.AsyncClient(timeout=2) as client:
            while True:
                if not self.running:
                    raise RuntimeError(f"{self.name} exited while starting: {self.tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(self.health_url)).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"{self.name} not ready after {self.ready_within_s}s: {self.tail()}"
                    )
                await asyncio.sleep(0.1)

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        while line := await proc.stderr.readline():
            try:
                doc = json.loads(line)
            except ValueError:
                doc = {"msg": line.decode(errors="replace").rstrip()}
            if isinstance(doc, dict):
                self.logs.append(doc)

    def tail(self, n: int = 5) -> list[dict[str, Any]]:
        return list(self.logs)[-n:]

    def rss_kib(self) -> int | None:
        return rss_kib(self.pid) if self.running and self.pid is not None else None

    async def kill(self) -> int | None:
        return await self._signal(signal.SIGKILL)

    async def terminate(self, within_s: float = 60) -> int | None:
        return await self._signal(signal.SIGTERM, within_s)

    async def _signal(self, sig: signal.Signals, within_s: float = 30) -> int | None:
        proc = self._proc
        if proc is None:
            return None
        if proc.returncode is None:
            proc.send_signal(sig)
        try:
            code = await asyncio.wait_for(proc.wait(), within_s)
        except TimeoutError:
            proc.kill()
            code = await proc.wait()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)
        return code

    async def restart(self) -> float:
        await self.kill()
        return await self.start()

    async def close(self) -> None:
        if self.running:
            await self.terminate(within_s=15)


def _child_setup() -> None:
    # A child must not outlive the runner: die with the parent (Linux) and allow core-free kills.
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
