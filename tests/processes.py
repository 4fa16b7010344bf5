"""Service subprocesses for the tests that need a real process (SIGKILL, SIGTERM, HTTP): the
cli's ``Service`` running ``python -m <module>`` with a given environment and
``LOG_FORMAT=json``, ready once it has logged its HTTP port and its own ready message. A
test awaits a log record with ``wait_log``, reads them with ``log_records()``, and signals the
process with ``kill``/``terminate`` (blocking calls: run them through ``asyncio.to_thread``)."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from switchboard.cli.stack import Service

__all__ = ["start_service"]


async def start_service(
    module: str,
    env: dict[str, str],
    *,
    name: str,
    ready_msg: str,
    log_dir: Path,
    ready_logs: tuple[str, ...] = ("http listening",),
    timeout_s: float = 60.0,
) -> Service:
    """``python -m module`` started and ready (every message of *ready_logs*, by default its
    HTTP port, then *ready_msg* logged); its output goes to ``log_dir/<name>.log``."""
    service = Service(
        name=name,
        command=module,
        env={**os.environ, **env, "LOG_FORMAT": "json"},
        health_url=None,
        log_path=log_dir / f"{name}.log",
        module=module,
        ready_logs=(*ready_logs, ready_msg),
    )
    service.spawn()
    try:
        async with httpx.AsyncClient(timeout=2) as http:
            await service.wait_ready(http, timeout_s)
    except BaseException:
        service.kill()
        raise
    return service
