"""Fixtures for the emulator tests: the emulator itself comes from ``tests.support.emulator``;
here, clients that validate every server event against the SDK's types, an emulator in the
speech-free mode, and speech audio synthesised at test time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from openai import AsyncOpenAI

from switchboard.emulator.app import create_app
from switchboard.emulator.settings import EmulatorSettings
from switchboard.emulator.speech import Speech
from tests.support.clients import EventLog
from tests.support.emulator import Emulator, speech_say

TEXT_API_KEY = "test-emulator-key"


@pytest.fixture
async def ga(emulator: Emulator) -> AsyncIterator[EventLog]:
    """A GA session through the official SDK client (``/v1/realtime``), every event validated."""
    client = AsyncOpenAI(api_key=emulator.api_key, websocket_base_url=f"{emulator.ws}/v1")
    async with client.realtime.connect(model="switchboard-test") as connection:
        log = EventLog(connection, dialect="ga")
        yield log
        log.check_all_valid()


@pytest.fixture(scope="session")
def say(speech: Speech) -> Any:
    """Synthesise a phrase as 24 kHz pcm16 with half a second of silence after it (test input)."""
    return speech_say(speech)


@pytest.fixture(scope="module")
async def text_emulator() -> AsyncIterator[str]:
    """An emulator in the speech-free mode on 127.0.0.1 (its base URL)."""
    settings = EmulatorSettings(
        EMULATOR_API_KEY=TEXT_API_KEY, EMULATOR_PORT=0, EMULATOR_SPEECH="text"
    )
    speech = Speech(settings)
    app = create_app(settings, speech=speech)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"127.0.0.1:{port}"
    server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await task
    speech.close()


@pytest.fixture
async def text_ga(text_emulator: str) -> AsyncIterator[EventLog]:
    """A GA session with the speech-free emulator, every event validated."""
    client = AsyncOpenAI(api_key=TEXT_API_KEY, websocket_base_url=f"ws://{text_emulator}/v1")
    async with client.realtime.connect(model="switchboard-load") as connection:
        log = EventLog(connection, dialect="ga")
        yield log
        log.check_all_valid()
