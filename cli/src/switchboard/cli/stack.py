"""Run Switchboard's services as child processes on free ports: for end-to-end tests and
benchmarks that need the whole product running, with their own database and namespace.

Each service is started through its console script with settings in its environment, waited
for on its health endpoint, and stopped with SIGTERM (then SIGKILL after a grace period). Logs
go to one file per service so a failing test can show them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

__all__ = ["Service", "Stack", "StackError", "free_port"]


class StackError(RuntimeError):
    """A service did not start; the message includes the end of its log."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Service:
    name: str
    command: str
    env: dict[str, str]
    health_url: str | None
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

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
        self, name: str, command: str, *, env: dict[str, str], health_url: str | None
    ) -> Service:
        if shutil.which(command) is None:
            raise StackError(f"{command} is not installed (run make install)")
        service = Service(
            name=name,
            command=command,
            env={**os.environ, **self.base_env, **env},
            health_url=health_url,
            log_path=self.log_dir / f"{name}.log",
        )
        self.services.append(service)
        return service

    def spawn(self) -> None:
        """Start every added service that is not running yet (does not wait for it)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for service in self.services:
            if service.process is None:
                with service.log_path.open("ab") as log:
                    service.process = subprocess.Popen(
                        [service.command],
                        env=service.env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )

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
        deadline = time.monotonic() + timeout_s
        assert service.process is not None
        while True:
            if service.process.poll() is not None:
                raise StackError(
                    f"{service.name} exited with {service.process.returncode}:\n{service.log_tail()}"
                )
            if service.health_url is None:
                return
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(service.health_url)).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise StackError(
                    f"{service.name} not healthy after {timeout_s:.0f} s:\n{service.log_tail()}"
                )
            await asyncio.sleep(0.2)

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
