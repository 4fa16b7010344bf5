"""The shared uvicorn server, as a real process: signals, the drain hook and the exit status."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from switchboard.cli.stack import Service
from tests.processes import start_service

MODULE = "tests.foundation.serving"
READY = "Application startup complete."


def _messages(proc: Service) -> list[str]:
    return [str(doc.get("msg")) for doc in proc.log_records()]


async def _exit_status(proc: Service, within_s: float) -> int:
    assert proc.process is not None
    return await asyncio.to_thread(proc.process.wait, within_s)


async def test_sigterm_without_drain_closes_the_lifespan_and_exits_zero(tmp_path: Path) -> None:
    """SIGTERM stops the server, its lifespan is closed, and the exit status is 0 (not -15)."""
    proc = await start_service(MODULE, {}, name="serving", ready_msg=READY, log_dir=tmp_path)
    try:
        async with httpx.AsyncClient(base_url=proc.url) as http:
            assert (await http.get("/healthz")).json() == {"status": "ok"}
        assert await asyncio.to_thread(proc.terminate) == 0
        assert "lifespan closed" in _messages(proc)
        assert "drain started" not in _messages(proc)
    finally:
        proc.kill()


async def test_startup_objects_are_frozen_once_the_app_has_started(tmp_path: Path) -> None:
    """After the lifespan's startup the process's objects are out of the collector's reach
    (gc.freeze): a full collection no longer walks the imported modules' objects."""
    proc = await start_service(MODULE, {}, name="serving", ready_msg=READY, log_dir=tmp_path)
    try:
        async with httpx.AsyncClient(base_url=proc.url) as http:
            frozen = (await http.get("/gc")).json()["frozen"]
        [logged] = [d for d in proc.log_records() if d.get("msg") == "startup objects frozen"]
        # frozen objects that lose their last reference are still freed: a few go by the request
        assert logged["objects"] > 10_000 and 0.9 * logged["objects"] < frozen <= logged["objects"]
    finally:
        proc.kill()


async def test_sigterm_runs_the_drain_hook_while_still_serving(tmp_path: Path) -> None:
    """The first SIGTERM runs the drain hook while requests are still answered; the server
    stops only once the hook returns, then closes the lifespan and exits 0."""
    env = {"SERVE_DRAIN": "1"}
    proc = await start_service(MODULE, env, name="serving", ready_msg=READY, log_dir=tmp_path)
    try:
        assert proc.process is not None
        proc.process.send_signal(signal.SIGTERM)
        await proc.wait_log("drain started")
        with pytest.raises(subprocess.TimeoutExpired):
            await _exit_status(proc, 0.5)  # without the hook it would be gone by now
        async with httpx.AsyncClient(base_url=proc.url) as http:
            assert (await http.get("/healthz")).status_code == 200
            assert (await http.post("/release")).status_code == 200
        assert await _exit_status(proc, 10) == 0
        await proc.wait_log("lifespan closed")
        messages = _messages(proc)
        assert messages.index("drain done") < messages.index("lifespan closed")
    finally:
        proc.kill()


async def test_a_second_signal_stops_without_waiting_for_the_drain(tmp_path: Path) -> None:
    """A second SIGTERM during the drain stops the server at once; it still exits 0."""
    env = {"SERVE_DRAIN": "1"}
    proc = await start_service(MODULE, env, name="serving", ready_msg=READY, log_dir=tmp_path)
    try:
        assert proc.process is not None
        proc.process.send_signal(signal.SIGTERM)
        await proc.wait_log("drain started")
        assert await asyncio.to_thread(proc.terminate) == 0
        messages = _messages(proc)
        assert "lifespan closed" in messages
        assert "drain done" not in messages
    finally:
        proc.kill()
