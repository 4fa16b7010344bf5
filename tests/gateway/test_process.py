"""The gateway as a real process: SIGTERM drains (new conversations refused, running ones given
until the deadline, then ended with a reason) and the process exits 0."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from switchboard.cli.stack import free_port
from tests.emulator.clients import EventLog
from tests.emulator.conftest import Emulator
from tests.gateway.conftest import SERVER_KEY
from tests.gateway.test_limits import ended_with
from tests.infra import InfraUrls


class GatewayProcess:
    """``python -m switchboard.gateway.main``; its JSON log lines are kept and can be awaited."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = {**os.environ, **env, "LOG_FORMAT": "json"}
        self.port = int(env["GATEWAY_PORT"])
        self.logs: list[dict[str, Any]] = []
        self._new_line = asyncio.Event()
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "switchboard.gateway.main",
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        self._reader = asyncio.create_task(self._read())
        await self.wait_log("Application startup complete.")
        await self.wait_log("broker connected")

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            try:
                self.logs.append(json.loads(line))
            except ValueError:
                self.logs.append({"msg": line.decode(errors="replace").rstrip()})
            self._new_line.set()
        self._new_line.set()

    async def wait_log(self, msg: str, within_s: float = 30) -> dict[str, Any]:
        async with asyncio.timeout(within_s):
            while True:
                for doc in self.logs:
                    if doc.get("msg") == msg:
                        return doc
                assert self._reader is not None
                if self._reader.done():
                    raise RuntimeError(f"gateway exited; last logs: {self.logs[-5:]}")
                self._new_line.clear()
                await self._new_line.wait()

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def close(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)


@pytest.fixture
async def gateway_process(
    infra: InfraUrls, gw_namespace: str, emulator: Emulator, gw_cleanup: None
) -> AsyncIterator[GatewayProcess]:
    process = GatewayProcess(
        {
            "AMQP_URL": infra.amqp_url,
            "REDIS_URL": infra.redis_url,
            "SWITCHBOARD_NAMESPACE": gw_namespace,
            "SWITCHBOARD_ENV": "test",
            "GATEWAY_SERVER_KEY": SERVER_KEY,
            "GATEWAY_PORT": str(free_port()),
            "GATEWAY_ID": "process-test",
            "UPSTREAM_URL": emulator.ws,
            "UPSTREAM_API_KEY": emulator.api_key,
            "GATEWAY_DRAIN_TIMEOUT_S": "1.5",
        }
    )
    await process.start()
    yield process
    await process.close()


async def test_sigterm_drains_then_exits_zero(gateway_process: GatewayProcess) -> None:
    """After SIGTERM readiness fails and new conversations get 503, the running one continues
    until the drain deadline, then gets server_shutting_down and close 1001; exit status 0."""
    gw = gateway_process
    async with httpx.AsyncClient(
        base_url=gw.http, headers={"Authorization": f"Bearer {SERVER_KEY}"}
    ) as http:
        secrets = [
            (
                await http.post("/v1/realtime/client_secrets", json={"customer_id": "cus_0002"})
            ).json()["value"]
            for _ in range(2)
        ]
        url = f"ws://127.0.0.1:{gw.port}/v1/realtime?model=m"
        async with websockets.connect(
            url, additional_headers={"Authorization": f"Bearer {secrets[0]}"}
        ) as ws:
            log = EventLog(ws)
            await log.until("session.created")
            assert gw.proc is not None
            gw.proc.send_signal(signal.SIGTERM)
            await gw.wait_log("draining")
            assert (await http.get("/readyz")).status_code == 503
            with pytest.raises(InvalidStatus) as refused:
                async with websockets.connect(
                    url, additional_headers={"Authorization": f"Bearer {secrets[1]}"}
                ):
                    pass
            assert refused.value.response.status_code == 503
            await log.send({"type": "input_audio_buffer.clear"})  # still served while draining
            await log.until("input_audio_buffer.cleared")
            error, code = await ended_with(log)
    assert error["code"] == "server_shutting_down" and code == 1001
    assert await asyncio.wait_for(gw.proc.wait(), 30) == 0
