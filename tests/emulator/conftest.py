"""Fixtures for the emulator tests: the emulator itself comes from ``tests.support.emulator``;
here, clients that validate every server event against the SDK's types, and speech audio
synthesised at test time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from openai import AsyncOpenAI

from switchboard.emulator.speech import Speech
from tests.support.clients import EventLog
from tests.support.emulator import Emulator, speech_say


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
