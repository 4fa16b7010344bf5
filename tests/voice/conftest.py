"""Fixtures for the voice client tests: the realtime emulator as a child process on a free port
(what ``switchboard call --upstream-direct`` talks to); the caller's voice comes from
``tests.support.voice``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from switchboard.cli.stack import Stack, free_port

EMULATOR_KEY = "voice-test-key"


@pytest.fixture(scope="session")
async def emulator_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """``ws://127.0.0.1:PORT`` of a running ``switchboard-emulator``."""
    port = free_port()
    logs: Path = tmp_path_factory.mktemp("voice-stack")
    stack = Stack(base_env={"LOG_LEVEL": "WARNING"}, log_dir=logs)
    stack.add(
        "emulator",
        "switchboard-emulator",
        env={"EMULATOR_PORT": str(port), "EMULATOR_API_KEY": EMULATOR_KEY},
        health_url=f"http://127.0.0.1:{port}/healthz",
    )
    try:
        await stack.start()
        yield f"ws://127.0.0.1:{port}"
    finally:
        stack.stop()
