"""The speech engines of one emulator process, loaded once in the lifespan and shared by every
session; all CPU work runs in one thread pool so the event loop only moves bytes."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

from switchboard.emulator.asr import Recognizer, Transcript
from switchboard.emulator.settings import EmulatorSettings
from switchboard.emulator.tts import Synthesizer, load_synthesizer
from switchboard.emulator.vad import SileroVad, VadStream

__all__ = ["Speech"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class Speech:
    """VAD model, recogniser and synthesiser plus the executor that runs them."""

    def __init__(self, settings: EmulatorSettings) -> None:
        started = time.perf_counter()
        self.executor = ThreadPoolExecutor(
            max_workers=settings.speech_threads, thread_name_prefix="speech"
        )
        self.vad = SileroVad()
        self.recognizer = Recognizer(settings.asr, decoders=settings.speech_threads)
        self.synthesizer: Synthesizer = load_synthesizer(settings.tts)
        log.info(
            "speech engines loaded",
            extra={
                "asr": settings.asr,
                "tts": self.synthesizer.name,
                "threads": settings.speech_threads,
                "load_s": round(time.perf_counter() - started, 3),
            },
        )

    async def run(self, fn: Callable[[], T]) -> T:
        """Run CPU work *fn* in the speech thread pool."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn)

    async def vad_feed(self, stream: VadStream, samples_16k: np.ndarray) -> list[float]:
        return await self.run(lambda: stream.feed(samples_16k))

    async def transcribe(self, pcm16k: np.ndarray) -> Transcript:
        return await self.run(lambda: self.recognizer.transcribe(pcm16k))

    async def synthesize(self, sentence: str, speed: float = 1.0) -> np.ndarray:
        return await self.run(lambda: self.synthesizer.synthesize(sentence, speed=speed))

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
