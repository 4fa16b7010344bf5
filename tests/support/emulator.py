"""The realtime emulator for the tests that talk to it (the emulator's and the gateway's): one
emulator (speech models loaded once) served in-process on 127.0.0.1 port 0, and speech audio
synthesised by its engines."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pytest
import uvicorn

from switchboard.emulator.app import create_app
from switchboard.emulator.settings import EmulatorSettings
from switchboard.emulator.speech import Speech

__all__ = [
    "API_KEY",
    "Emulator",
    "emulator",
    "emulator_settings",
    "pcm_b64",
    "speech",
    "speech_say",
]

API_KEY = "test-emulator-key"


@dataclass
class Emulator:
    host: str
    port: int
    api_key: str
    speech: Speech

    @property
    def http(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://{self.host}:{self.port}"


@pytest.fixture(scope="session")
def emulator_settings() -> EmulatorSettings:
    """Settings of the test emulator (its own key, port 0)."""
    return EmulatorSettings(EMULATOR_API_KEY=API_KEY, EMULATOR_PORT=0, EMULATOR_HOST="127.0.0.1")


@pytest.fixture(scope="session")
def speech(emulator_settings: EmulatorSettings) -> Iterator[Speech]:
    """The speech engines, loaded once for the whole test run."""
    engines = Speech(emulator_settings)
    yield engines
    engines.close()


@pytest.fixture(scope="session")
async def emulator(emulator_settings: EmulatorSettings, speech: Speech) -> AsyncIterator[Emulator]:
    """A running emulator on 127.0.0.1 with a free port."""
    app = create_app(emulator_settings, speech=speech)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_config=None, lifespan="on", ws_max_size=16 * 1024 * 1024
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield Emulator("127.0.0.1", port, API_KEY, speech)
    server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await task


def pcm_b64(samples: np.ndarray) -> str:
    return base64.b64encode(samples.astype("<i2").tobytes()).decode()


def speech_say(speech: Speech) -> Callable[..., np.ndarray]:
    """``say(text, pad_ms=900)``: the phrase as 24 kHz pcm16 from the emulator's own
    synthesiser, with silence before and after it (test input), cached per text."""
    cache: dict[str, np.ndarray] = {}

    def _say(text: str, *, pad_ms: int = 900) -> np.ndarray:
        if text not in cache:
            voice = speech.synthesizer.synthesize(text)
            silence = np.zeros(24 * pad_ms, dtype=np.int16)
            cache[text] = np.concatenate([np.zeros(24 * 200, dtype=np.int16), voice, silence])
        return cache[text]

    return _say
