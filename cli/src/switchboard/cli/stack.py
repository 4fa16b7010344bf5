"""Run Switchboard's services as child processes on free ports: for ``switchboard up``, tests,
benchmarks and chaos runs that need services running, with their own database and namespace.

A ``Service`` is started through its console script (or ``python -m`` a module, with arguments,
optionally under a wrapper such as valgrind) with settings in its environment, waited for on its
health endpoint, on a TCP port it listens on and/or on JSON log records it writes, and stopped
with SIGTERM (then SIGKILL after a grace period) or killed. Logs go to one file per
service so a failing test can show them, and a test can wait on a record in them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

__all__ = ["Service", "Stack", "StackError", "cpu_seconds", "free_port"]


class StackError(RuntimeError):
    """A service did not start; the message includes the end of its log."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process *pid* so far, all its threads (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _accepts(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:*port*."""
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    return True


@dataclass
class Service:
    """One service process: *command* (a console script) or, when *module* is set,
    ``python -m module``, followed by *args* and run under *wrapper* (a command line it is
    appended to, e.g. valgrind's) when given; ready once *health_url* answers 200, *ready_port*
    accepts connections and every message of *ready_logs* was logged (JSON log lines,
    ``LOG_FORMAT=json``)."""

    name: str
    command: str
    env: dict[str, str]
    health_url: str | None
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    module: str | None = None
    ready_logs: tuple[str, ...] = ()
    log_offset: int = 0  # where the current run's output starts in the log file
    args: tuple[str, ...] = ()
    wrapper: tuple[str, ...] = ()
    ready_port: int | None = None

    @property
    def argv(self) -> list[str]:
        program = [sys.executable, "-m", self.module] if self.module else [self.command]
        return [*self.wrapper, *program, *self.args]

    def spawn(self) -> None:
        """Start the process (output appended to its log file); does not wait for it."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.log_offset = log.tell()
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log_records(self) -> list[dict[str, Any]]:
        """Every log line of the current run so far, parsed (a line that is not JSON becomes
        ``{"msg": line}``)."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(self.log_offset)
                text = log.read().decode(errors="replace")
        except OSError:
            return []
        records: list[dict[str, Any]] = []
        for line in text.splitlines():
            try:
                doc = json.loads(line)
            except ValueError:
                doc = None
            records.append(doc if isinstance(doc, dict) else {"msg": line})
        return records

    async def wait_log(self, msg: str, *, within_s: float = 30.0) -> dict[str, Any]:
        """The first log record with message *msg*, already written or still to come; raises
        ``StackError`` if the process exits first or *within_s* passes."""
        deadline = time.monotonic() + within_s
        while True:
            exited = self.process is None or self.process.poll() is not None
            for doc in self.log_records():
                if doc.get("msg") == msg:
                    return doc
            if exited:
                raise StackError(f"{self.name} exited before logging {msg!r}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise StackError(f"{self.name} did not log {msg!r} in {within_s:.0f} s")
            await asyncio.sleep(0.05)

    @property
    def port(self) -> int:
        """The HTTP port the service logged (``http listening``), e.g. when started on port 0."""
        for doc in self.log_records():
            if doc.get("msg") == "http listening":
                return int(doc["port"])
        raise StackError(f"{self.name} has not logged its HTTP port")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def wait_ready(self, http: httpx.AsyncClient, timeout_s: float) -> None:
        """Wait until the health URL answers 200 and every ready log record was written;
        ``StackError`` (with the end of the log) if the process exits or *timeout_s* passes."""
        deadline = time.monotonic() + timeout_s
        assert self.process is not None
        while True:
            if self.process.poll() is not None:
                raise StackError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            if await self._answers(http):
                break
            if time.monotonic() > deadline:
                raise StackError(
                    f"{self.name} not healthy after {timeout_s:.0f} s:\n{self.log_tail()}"
                )
            await asyncio.sleep(0.2)
        for msg in self.ready_logs:
            await self.wait_log(msg, within_s=max(0.1, deadline - time.monotonic()))

    async def _answers(self, http: httpx.AsyncClient) -> bool:
        if self.ready_port is not None and not await _accepts(self.ready_port):
            return False
        if self.health_url is None:
            return True
        with contextlib.suppress(httpx.HTTPError):
            return (await http.get(self.health_url)).status_code == 200
        return False

    async def start(self, *, timeout_s: float = 60.0) -> None:
        """Spawn it and wait until it is ready (see ``wait_ready``); killed if it is not."""
        self.spawn()
        try:
            async with httpx.AsyncClient(timeout=2) as http:
                await self.wait_ready(http, timeout_s)
        except BaseException:
            await asyncio.to_thread(self.kill)
            raise

    async def stop(self, *, grace_s: float = 30.0) -> int | None:
        """``terminate`` from async code (the wait runs in a thread); the exit status."""
        return await asyncio.to_thread(self.terminate, grace_s=grace_s)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} was not started"
        return self.process.pid

    def cpu_seconds(self) -> float:
        """User + system CPU time the process has used so far."""
        return cpu_seconds(self.pid)

    def send_signal(self, sig: int) -> None:
        """Send *sig* (e.g. SIGUSR1 to a process that acts on it) without waiting."""
        assert self.process is not None, f"{self.name} was not started"
        self.process.send_signal(sig)

    def kill(self) -> int | None:
        """SIGKILL: no clean-up of any kind (a crash); returns the exit status."""
        return self._signal(signal.SIGKILL, 10.0)

    def terminate(self, *, grace_s: float = 30.0) -> int | None:
        """SIGTERM (the service's graceful drain), SIGKILL after *grace_s*; the exit status."""
        return self._signal(signal.SIGTERM, grace_s)

    def _signal(self, sig: signal.Signals, grace_s: float) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=5)

    def rss_kib(self) -> int | None:
        """Resident memory of the process in KiB (Linux), None when it is not running."""
        if not self.running:
            return None
        assert self.process is not None
        try:
            with open(f"/proc/{self.process.pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None


@dataclass
class Stack:
    """A set of services sharing one base environment (database, broker, Redis, namespace)."""

    base_env: dict[str, str]
    log_dir: Path
    services: list[Service] = field(default_factory=list)

    def add(
        self,
        name: str,
        command: str,
        *,
        env: dict[str, str],
        health_url: str | None,
        module: str | None = None,
        ready_logs: tuple[str, ...] = (),
        args: tuple[str, ...] = (),
        wrapper: tuple[str, ...] = (),
        ready_port: int | None = None,
    ) -> Service:
        """A service of this stack (not started yet): the console script *command*, or
        ``python -m module`` when *module* is given; see ``Service`` for the rest."""
        if module is None and shutil.which(command) is None:
            raise StackError(f"{command} is not installed (run make install)")
        merged = {**os.environ, **self.base_env, **env}
        if "DATABASE_URL" in merged and "RECORDING_DATABASE_URL" not in merged:
            # the gateway reads no DATABASE_URL: it records into the database the store reads
            # recordings from (the postgres recording store)
            merged["RECORDING_DATABASE_URL"] = merged["DATABASE_URL"]
        service = Service(
            name=name,
            command=command,
            env=merged,
            health_url=health_url,
            log_path=self.log_dir / f"{name}.log",
            module=module,
            ready_logs=ready_logs,
            args=args,
            wrapper=wrapper,
            ready_port=ready_port,
        )
        self.services.append(service)
        return service

    def spawn(self) -> None:
        """Start every added service that is not running yet (does not wait for it)."""
        for service in self.services:
            if service.process is None:
                service.spawn()

    async def start(self, *, timeout_s: float = 60.0) -> None:
        """Start every added service that is not running, then wait until each is healthy.
        When one fails to come up, every service is stopped before the error is raised: a caller
        whose set-up fails never reaches its own clean-up, so nothing may be left running."""
        self.spawn()
        try:
            async with httpx.AsyncClient(timeout=2) as http:
                await asyncio.gather(*(self._wait(http, s, timeout_s) for s in self.services))
        except BaseException:
            await asyncio.to_thread(self.stop)
            raise

    async def _wait(self, http: httpx.AsyncClient, service: Service, timeout_s: float) -> None:
        await service.wait_ready(http, timeout_s)

    async def restart(self, service: Service, *, timeout_s: float = 60.0) -> float:
        """Start *service* again after it stopped (or kill it first); seconds until healthy."""
        began = time.monotonic()
        if service.running:
            await asyncio.to_thread(service.kill)
        service.process = None
        self.spawn()
        async with httpx.AsyncClient(timeout=2) as http:
            await self._wait(http, service, timeout_s)
        return time.monotonic() - began

    def stop(self, *, grace_s: float = 10.0) -> None:
        """SIGTERM every service, wait up to *grace_s*, SIGKILL what is left (idempotent)."""
        running = [s for s in self.services if s.process and s.process.poll() is None]
        for service in running:
            assert service.process is not None
            with contextlib.suppress(ProcessLookupError):
                service.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for service in running:
            assert service.process is not None
            try:
                service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                service.process.kill()
                service.process.wait(timeout=5)
