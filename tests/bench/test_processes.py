"""How the benchmarks run their processes: ``Service`` with arguments, a wrapper command, readiness
on a TCP port or a printed JSON line, signals and CPU time."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from switchboard.cli.stack import Service, Stack, cpu_seconds, free_port

_SIGNALLED = """
import json, signal, time
signal.signal(signal.SIGUSR1, lambda *_: print(json.dumps({"msg": "usr1"}), flush=True))
print(json.dumps({"msg": "up"}), flush=True)
while True:
    time.sleep(1)
"""


async def test_a_module_with_arguments_under_a_wrapper_is_ready_once_its_port_accepts(
    tmp_path: Path,
) -> None:
    """``python -m module args`` runs under the wrapper and is ready once it listens."""
    port = free_port()
    stack = Stack(base_env={}, log_dir=tmp_path)
    server = stack.add(
        "http",
        "http.server",
        module="http.server",
        args=(str(port), "--bind", "127.0.0.1"),
        wrapper=("env", "BENCH_WRAPPED=1"),
        env={},
        health_url=None,
        ready_port=port,
    )
    try:
        await stack.start(timeout_s=30)
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()
        environ = await asyncio.to_thread(Path(f"/proc/{server.pid}/environ").read_bytes)
        assert b"BENCH_WRAPPED=1" in environ.split(b"\0")  # env exec'd python in this process
        assert 0 <= server.cpu_seconds() <= cpu_seconds(server.pid)
        assert await server.stop(grace_s=10) == -signal.SIGTERM
        assert not server.running
    finally:
        stack.stop()


async def test_a_service_is_ready_on_a_printed_line_and_takes_signals(tmp_path: Path) -> None:
    """``start`` waits for the ready line; ``send_signal`` reaches the process."""
    service = Service(
        name="signalled",
        command=sys.executable,
        args=("-c", _SIGNALLED),
        env=dict(os.environ),
        health_url=None,
        log_path=tmp_path / "signalled.log",
        ready_logs=("up",),
    )
    try:
        await service.start(timeout_s=30)
        service.send_signal(signal.SIGUSR1)
        assert (await service.wait_log("usr1", within_s=10)) == {"msg": "usr1"}
    finally:
        await service.stop(grace_s=5)
    assert not service.running
