"""The gateway as a real process: SIGTERM drains (new conversations refused, running ones given
until the deadline, then handed over with close 1012) and the process exits 0."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from switchboard.cli.stack import Service, free_port
from switchboard.gateway.app import HANDOVER_REASON
from tests.gateway.conftest import SERVER_KEY
from tests.infra import InfraUrls
from tests.processes import start_service
from tests.support.clients import EventLog
from tests.support.emulator import Emulator


@pytest.fixture
async def gateway_process(
    infra: InfraUrls, gw_namespace: str, emulator: Emulator, gw_cleanup: None, tmp_path: Path
) -> AsyncIterator[Service]:
    """``python -m switchboard.gateway.main`` on a free port, ready once serving and connected
    to the broker (killed after the test)."""
    port = free_port()
    process = await start_service(
        "switchboard.gateway.main",
        {
            "AMQP_URL": infra.amqp_url,
            "REDIS_URL": infra.redis_url,
            "SWITCHBOARD_NAMESPACE": gw_namespace,
            "SWITCHBOARD_ENV": "test",
            "GATEWAY_SERVER_KEY": SERVER_KEY,
            "GATEWAY_PORT": str(port),
            "GATEWAY_ID": "process-test",
            "UPSTREAM_URL": emulator.ws,
            "UPSTREAM_API_KEY": emulator.api_key,
            "GATEWAY_DRAIN_TIMEOUT_S": "1.5",
        },
        name="gateway",
        ready_logs=("Application startup complete.",),
        ready_msg="broker connected",
        log_dir=tmp_path,
    )
    yield process
    await asyncio.to_thread(process.kill)


async def test_sigterm_drains_then_exits_zero(gateway_process: Service) -> None:
    """After SIGTERM readiness fails and new conversations get 503, the running one continues
    until the drain deadline, then is handed over (close 1012, a reason saying to resume);
    exit status 0."""
    gw = gateway_process
    port = int(gw.env["GATEWAY_PORT"])
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {SERVER_KEY}"}
    ) as http:
        secrets = [
            (
                await http.post("/v1/realtime/client_secrets", json={"customer_id": "cus_0002"})
            ).json()["value"]
            for _ in range(2)
        ]
        url = f"ws://127.0.0.1:{port}/v1/realtime?model=m"
        async with websockets.connect(
            url, additional_headers={"Authorization": f"Bearer {secrets[0]}"}
        ) as ws:
            log = EventLog(ws)
            await log.until("session.created")
            assert gw.process is not None
            gw.process.send_signal(signal.SIGTERM)
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
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await log.recv()
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1012, HANDOVER_REASON)
    assert await asyncio.to_thread(gw.process.wait, 30) == 0
