"""The speech engines of one emulator process, loaded once in the lifespan and shared by every
session. CPU work runs off the event loop, so the loop only moves bytes: one thread for the
input path (resampling and voice activity detection of every appended chunk, each a fraction of
a millisecond), ``EMULATOR_SPEECH_THREADS`` threads for synthesis and as many worker processes
for recognition (pocketsphinx holds the GIL while it decodes; see :mod:`.asr`). Keeping the input path apart means appended audio is always taken in while
every speech thread is busy: behind a recognition backlog, appends would wait, the websocket's
incoming queue would fill and stop the connection reading, and the peer's keepalive pings would
go unanswered until it dropped the connection."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

from switchboard.emulator.asr import RecognizerPool, Transcript
from switchboard.emulator.settings import EmulatorSettings
from switchboard.emulator.tts import Synthesizer, load_synthesizer
from switchboard.emulator.vad import SileroVad, VadStream

__all__ = ["Speech"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class Speech:
    """VAD model, recogniser worker processes and synthesiser, plus the threads that run them."""

    def __init__(self, settings: EmulatorSettings) -> None:
        started = time.perf_counter()
        self.executor = ThreadPoolExecutor(
            max_workers=settings.speech_threads, thread_name_prefix="speech"
        )
        self.ingest_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest")
        # the recognition workers load their engines while this process loads the others
        self.recognizer = RecognizerPool(settings.asr, processes=settings.speech_threads)
        self.vad = SileroVad()
        self.synthesizer: Synthesizer = load_synthesizer(settings.tts)
        self.recognizer.wait_ready()
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
        """Run slow CPU work *fn* (recognition, synthesis) in the speech thread pool."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn)

    async def ingest(self, fn: Callable[[], T]) -> T:
        """Run input-path work *fn* (resampling, VAD: well under a millisecond) on the ingest
        thread, which never waits behind recognition or synthesis."""
        return await asyncio.get_running_loop().run_in_executor(self.ingest_executor, fn)

    async def vad_feed(self, stream: VadStream, samples_16k: np.ndarray) -> list[float]:
        return await self.ingest(lambda: stream.feed(samples_16k))

    async def transcribe(self, pcm16k: np.ndarray) -> Transcript:
        return await self.recognizer.transcribe(pcm16k)

    async def synthesize(self, sentence: str, speed: float = 1.0) -> np.ndarray:
        return await self.run(lambda: self.synthesizer.synthesize(sentence, speed=speed))

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.ingest_executor.shutdown(wait=False, cancel_futures=True)
        self.recognizer.close()
