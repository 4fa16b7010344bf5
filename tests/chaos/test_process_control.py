"""The process controls the chaos runner relies on: SIGKILL, restart, graceful stop, memory."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from switchboard.cli.stack import Stack, StackError, free_port
from tests.infra import InfraUrls


async def test_a_killed_service_restarts_healthy(
    infra: InfraUrls, seeded_database_url: str, namespace: str, tmp_path: Path
) -> None:
    port = free_port()
    stack = Stack(
        base_env={
            "DATABASE_URL": seeded_database_url,
            "AMQP_URL": infra.amqp_url,
            "REDIS_URL": infra.redis_url,
            "SWITCHBOARD_NAMESPACE": namespace,
        },
        log_dir=tmp_path,
    )
    worker = stack.add(
        "worker",
        "switchboard-worker",
        env={"WORKER_HTTP_PORT": str(port), "WORKER_ID": f"{namespace}-w"},
        health_url=f"http://127.0.0.1:{port}/healthz",
    )
    try:
        await stack.start()
        assert worker.running
        rss = worker.rss_kib()
        assert rss is not None and rss > 10_000  # a Python service holds more than 10 MiB
        first_pid = worker.process.pid if worker.process else None

        assert worker.kill() == -signal.SIGKILL
        assert not worker.running
        assert worker.rss_kib() is None

        took = await stack.restart(worker)
        assert took > 0
        assert worker.running and worker.process is not None
        assert worker.process.pid != first_pid
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200

        assert worker.terminate() == 0  # a graceful drain exits cleanly
    finally:
        stack.stop()


async def test_a_failed_start_leaves_no_service_running(
    infra: InfraUrls, seeded_database_url: str, namespace: str, tmp_path: Path
) -> None:
    """When one service never becomes healthy, start() stops the others before raising."""
    stack = Stack(
        base_env={
            "DATABASE_URL": seeded_database_url,
            "AMQP_URL": infra.amqp_url,
            "REDIS_URL": infra.redis_url,
            "SWITCHBOARD_NAMESPACE": namespace,
        },
        log_dir=tmp_path,
    )
    port, silent = free_port(), free_port()
    started = stack.add(
        "worker",
        "switchboard-worker",
        env={"WORKER_HTTP_PORT": str(port), "WORKER_ID": f"{namespace}-ok"},
        health_url=None,  # counted as up as soon as it runs
    )
    never_healthy = stack.add(
        "unhealthy",
        "switchboard-worker",
        env={"WORKER_HTTP_PORT": str(free_port()), "WORKER_ID": f"{namespace}-unhealthy"},
        health_url=f"http://127.0.0.1:{silent}/healthz",  # nothing ever listens there
    )
    try:
        with pytest.raises(StackError, match="unhealthy not healthy"):
            await stack.start(timeout_s=1.0)
        assert not started.running
        assert not never_healthy.running
    finally:
        stack.stop()
