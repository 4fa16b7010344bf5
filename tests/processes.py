"""Service subprocesses for the tests that need a real process (SIGKILL, SIGTERM, HTTP): one
``python -m <module>`` with a given environment, its JSON log lines collected so a test can await
one (``http listening``, ``store serving``...)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from typing import Any, Self

__all__ = ["LoggedProcess"]


class LoggedProcess:
    """A service process started with ``LOG_FORMAT=json``; ``start()`` returns once it has
    logged ``http listening`` and *ready_msg*."""

    def __init__(self, module: str, env: dict[str, str], *, ready_msg: str) -> None:
        self.module = module
        self.ready_msg = ready_msg
        self.env = {**os.environ, **env, "LOG_FORMAT": "json"}
        self.port: int | None = None
        self.logs: list[dict[str, Any]] = []
        self._waiters: list[tuple[str, asyncio.Future[dict[str, Any]]]] = []
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> Self:
        """Start the process and wait until its HTTP port is known and it is ready."""
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            self.module,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        self._reader = asyncio.create_task(self._read())
        listening = await self.wait_log("http listening")
        self.port = int(listening["port"])
        await self.wait_log(self.ready_msg)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _read(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        while line := await self._proc.stderr.readline():
            try:
                doc = json.loads(line)
            except ValueError:
                doc = {"msg": line.decode(errors="replace").rstrip()}
            self.logs.append(doc)
            for msg, future in list(self._waiters):
                if doc.get("msg") == msg and not future.done():
                    future.set_result(doc)
        for _, future in self._waiters:
            if not future.done():
                future.set_exception(
                    RuntimeError(f"{self.module} exited; last logs: {self.logs[-5:]}")
                )

    async def wait_log(self, msg: str, within_s: float = 30) -> dict[str, Any]:
        """The first log record with message *msg* (already seen or still to come)."""
        for doc in self.logs:
            if doc.get("msg") == msg:
                return doc
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters.append((msg, future))
        return await asyncio.wait_for(future, within_s)

    async def kill(self) -> int:
        """SIGKILL: no clean-up of any kind."""
        return await self._signal(signal.SIGKILL)

    async def terminate(self) -> int:
        """SIGTERM: graceful shutdown; returns the exit code."""
        return await self._signal(signal.SIGTERM)

    def send_signal(self, sig: signal.Signals) -> None:
        """Send *sig* without waiting for the process to exit."""
        assert self._proc is not None
        self._proc.send_signal(sig)

    async def wait(self, within_s: float = 30) -> int:
        """The exit code, once the process has exited (TimeoutError after *within_s*)."""
        assert self._proc is not None
        return await asyncio.wait_for(self._proc.wait(), within_s)

    async def _signal(self, sig: signal.Signals) -> int:
        assert self._proc is not None
        if self._proc.returncode is None:
            self._proc.send_signal(sig)
        code = await asyncio.wait_for(self._proc.wait(), 30)
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)
        return code

    async def close(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            await self.kill()
