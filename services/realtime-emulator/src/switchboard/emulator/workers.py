"""The speech worker processes: recognition and synthesis, off the server process.

Each worker loads the recogniser and the synthesiser once and serves jobs from the server. They
are processes, not threads, for two reasons seen under load:

- pocketsphinx holds the GIL for a whole decode (seconds for a long utterance); in a thread it
  froze the server's event loop for as long, and peers dropped their connections on a keepalive
  ping timeout;
- synthesis in threads competed with the event loop for the GIL, so the loop fell behind on
  reading its connections.

Workers run at a lower CPU priority (nice 10): on a machine with more callers than it can serve
in real time, the event loop (and whatever else runs there: the gateway, the store) comes
first; replies come later, connections stay up. A worker notices when the server was killed
(its parent process changes) and exits by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Literal, TypeVar

import numpy as np

from switchboard.emulator.asr import AsrMode, Recognizer, Transcript

__all__ = ["NICENESS", "SpeechWorkers"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: How much lower the workers' CPU priority is than the server's.
NICENESS = 10

_recognizer: Recognizer | None = None
_synthesizer: Any = None


def _load(asr: AsrMode, tts: Literal["piper", "espeak"]) -> None:
    """Worker initialiser: lower priority, watch the parent, load the engines once."""
    global _recognizer, _synthesizer
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    threading.Thread(
        target=_exit_with_parent, args=(os.getppid(),), name="parent-watch", daemon=True
    ).start()
    from switchboard.emulator.tts import load_synthesizer

    _recognizer = Recognizer(asr, decoders=1)
    _synthesizer = load_synthesizer(tts)


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _recognize(pcm16k: np.ndarray) -> Transcript:
    assert _recognizer is not None, "worker process was not initialised"
    return _recognizer.transcribe(pcm16k)


def _synthesize(sentence: str, speed: float) -> np.ndarray:
    assert _synthesizer is not None, "worker process was not initialised"
    return np.asarray(_synthesizer.synthesize(sentence, speed=speed), dtype=np.int16)


def _synthesizer_name() -> str:
    return str(_synthesizer.name)


def _worker_pid() -> int:
    return os.getpid()


def _niceness() -> int:
    return os.nice(0)


class SpeechWorkers:
    """*processes* speech worker processes. They start (and load their engines) in the
    background from the constructor on; :meth:`wait_ready` waits for them. A worker that dies
    (killed, out of memory) fails the jobs it had; the pool is then started afresh."""

    def __init__(
        self, asr: AsrMode, tts: Literal["piper", "espeak"], *, processes: int = 2
    ) -> None:
        self.asr = asr
        self.tts = tts
        self.processes = processes
        self._lock = threading.Lock()
        self.executor, self._warming = self._start()

    def _start(self) -> tuple[ProcessPoolExecutor, list[Future[Transcript]]]:
        pool = ProcessPoolExecutor(
            max_workers=self.processes,
            # not fork: the server process has threads (onnxruntime, the input thread) by now
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_load,
            initargs=(self.asr, self.tts),
        )
        # one job per worker makes the pool start them all now; each loads its engines first
        warm = [pool.submit(_recognize, np.zeros(0, np.int16)) for _ in range(self.processes)]
        return pool, warm

    def wait_ready(self, timeout_s: float = 300.0) -> None:
        """Block until every worker has loaded its engines (raises if one failed to)."""
        for future in self._warming:
            future.result(timeout=timeout_s)

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        pool = self.executor
        try:
            return await asyncio.wrap_future(pool.submit(fn, *args))
        except BrokenProcessPool:
            log.error("a speech worker process died; starting the workers again")
            await asyncio.to_thread(self._replace, pool)
            raise

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self.executor is broken:  # not already replaced by another caller
                broken.shutdown(wait=False, cancel_futures=True)
                self.executor, self._warming = self._start()
                self.wait_ready()

    async def transcribe(self, pcm16k: np.ndarray) -> Transcript:
        """Transcribe one 16 kHz int16 utterance."""
        return await self._call(_recognize, pcm16k)

    async def synthesize(self, sentence: str, speed: float = 1.0) -> np.ndarray:
        """24 kHz int16 samples for one sentence."""
        return await self._call(_synthesize, sentence, speed)

    def synthesize_blocking(self, sentence: str, speed: float = 1.0) -> np.ndarray:
        """:meth:`synthesize`, waiting in the calling thread."""
        return self.executor.submit(_synthesize, sentence, speed).result()

    def synthesizer_name(self) -> str:
        return self.executor.submit(_synthesizer_name).result()

    def worker_pids(self) -> set[int]:
        """Process ids of the workers (for tests and diagnostics)."""
        futures = [self.executor.submit(_worker_pid) for _ in range(self.processes * 4)]
        return {f.result() for f in futures}

    def niceness(self) -> int:
        """The nice value the workers run at."""
        return self.executor.submit(_niceness).result()

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


class RemoteSynthesizer:
    """The :class:`~switchboard.emulator.tts.Synthesizer` interface over the workers (blocking;
    for code that synthesises outside a session, e.g. tests)."""

    def __init__(self, workers: SpeechWorkers) -> None:
        self._workers = workers
        self.name = workers.synthesizer_name()

    def synthesize(self, sentence: str, *, speed: float = 1.0) -> np.ndarray:
        return self._workers.synthesize_blocking(sentence, speed)
