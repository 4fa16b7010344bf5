"""The speech engines of one emulator process, loaded once in the lifespan and shared by every
session. CPU work runs off the event loop, so the loop only moves bytes: one thread for the
input path (resampling and voice activity detection of every appended chunk, each a fraction
of a millisecond) and ``EMULATOR_SPEECH_THREADS`` worker processes for recognition and
synthesis (see :mod:`.workers` for why processes, at a lower priority). Keeping the input path
apart means appended audio is always taken in while the workers are busy.

In the speech-free load mode (``EMULATOR_SPEECH=text``, :mod:`.synthetic`) only the VAD model is
loaded: no worker processes, no recogniser, no synthesiser."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

from switchboard.emulator.asr import Transcript
from switchboard.emulator.settings import EmulatorSettings
from switchboard.emulator.synthetic import NOTICE, SyntheticVoice
from switchboard.emulator.vad import SileroVad
from switchboard.emulator.workers import RemoteSynthesizer, SpeechWorkers

__all__ = ["Speech"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class Speech:
    """The VAD model and its input thread, plus the speech worker processes (none in the
    speech-free mode)."""

    def __init__(self, settings: EmulatorSettings) -> None:
        started = time.perf_counter()
        self.mode = settings.speech
        self.ingest_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest")
        self.workers: SpeechWorkers | None = None
        self.voice: SyntheticVoice | None = None
        self.synthesizer: RemoteSynthesizer | SyntheticVoice
        if settings.speech == "text":
            self.voice = self.synthesizer = SyntheticVoice()
            self.vad = SileroVad()
        else:
            # the workers load their engines while this process loads the VAD model
            self.workers = SpeechWorkers(
                settings.asr, settings.tts, processes=settings.speech_threads
            )
            self.vad = SileroVad()
            self.workers.wait_ready()
            self.synthesizer = RemoteSynthesizer(self.workers)
        log.info(
            "speech engines loaded",
            extra={
                "speech": settings.speech,
                "asr": settings.asr if self.workers else None,
                "tts": self.synthesizer.name,
                "worker_processes": settings.speech_threads if self.workers else 0,
                "load_s": round(time.perf_counter() - started, 3),
            },
        )

    @property
    def hears(self) -> bool:
        """Whether speech is recognised (False in the speech-free mode: words are typed)."""
        return self.workers is not None

    @property
    def notice(self) -> str:
        """What a session says of the mode in ``session.created`` (``instructions``)."""
        return "" if self.hears else NOTICE

    async def ingest(self, fn: Callable[[], T]) -> T:
        """Run input-path work *fn* (resampling, VAD: well under a millisecond) on the input
        thread, which never waits behind recognition or synthesis."""
        return await asyncio.get_running_loop().run_in_executor(self.ingest_executor, fn)

    async def transcribe(self, pcm16k: np.ndarray) -> Transcript:
        if self.workers is None:
            raise RuntimeError("the speech-free mode recognises no speech")
        return await self.workers.transcribe(pcm16k)

    async def synthesize(self, sentence: str, speed: float = 1.0) -> np.ndarray:
        if self.voice is not None:
            return await self.voice.speak(sentence, speed)
        assert self.workers is not None
        return await self.workers.synthesize(sentence, speed)

    def close(self) -> None:
        self.ingest_executor.shutdown(wait=False, cancel_futures=True)
        if self.workers is not None:
            self.workers.close()
