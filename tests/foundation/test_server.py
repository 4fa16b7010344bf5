"""The shared uvicorn server, as a real process: signals, the drain hook and the exit status."""

from __future__ import annotations

import signal

import httpx
import pytest

from tests.processes import LoggedProcess

MODULE = "tests.foundation.serving"


def _messages(proc: LoggedProcess) -> list[str]:
    return [str(doc.get("msg")) for doc in proc.logs]


async def test_sigterm_without_drain_closes_the_lifespan_and_exits_zero() -> None:
    """SIGTERM stops the server, its lifespan is closed, and the exit status is 0 (not -15)."""
    proc = await LoggedProcess(MODULE, {}, ready_msg="Application startup complete.").start()
    try:
        async with httpx.AsyncClient(base_url=proc.url) as http:
            assert (await http.get("/healthz")).json() == {"status": "ok"}
        assert await proc.terminate() == 0
        assert "lifespan closed" in _messages(proc)
        assert "drain started" not in _messages(proc)
    finally:
        await proc.close()


async def test_sigterm_runs_the_drain_hook_while_still_serving() -> None:
    """The first SIGTERM runs the drain hook while requests are still answered; the server
    stops only once the hook returns, then closes the lifespan and exits 0."""
    env = {"SERVE_DRAIN": "1"}
    proc = await LoggedProcess(MODULE, env, ready_msg="Application startup complete.").start()
    try:
        proc.send_signal(signal.SIGTERM)
        await proc.wait_log("drain started")
        with pytest.raises(TimeoutError):
            await proc.wait(within_s=0.5)  # without the hook it would be gone by now
        async with httpx.AsyncClient(base_url=proc.url) as http:
            assert (await http.get("/healthz")).status_code == 200
            assert (await http.post("/release")).status_code == 200
        assert await proc.wait(within_s=10) == 0
        await proc.wait_log("lifespan closed")
        messages = _messages(proc)
        assert messages.index("drain done") < messages.index("lifespan closed")
    finally:
        await proc.close()


async def test_a_second_signal_stops_without_waiting_for_the_drain() -> None:
    """A second SIGTERM during the drain stops the server at once; it still exits 0."""
    env = {"SERVE_DRAIN": "1"}
    proc = await LoggedProcess(MODULE, env, ready_msg="Application startup complete.").start()
    try:
        proc.send_signal(signal.SIGTERM)
        await proc.wait_log("drain started")
        assert await proc.terminate() == 0
        messages = _messages(proc)
        assert "lifespan closed" in messages
        assert "drain done" not in messages
    finally:
        await proc.close()
