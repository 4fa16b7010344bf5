"""The input audio buffer's bookkeeping: the uncommitted 16 kHz audio and where it sits in the
audio the session has received. Pure logic (no I/O, no clock)."""

from __future__ import annotations

import numpy as np

from switchboard.emulator.vad import SAMPLE_RATE

__all__ = ["InputBuffer", "samples_to_ms"]


def samples_to_ms(samples: int) -> int:
    """*samples* of 16 kHz audio in whole ms."""
    return samples * 1000 // SAMPLE_RATE


class InputBuffer:
    """Uncommitted input audio; positions count 16 kHz samples since the session's first audio."""

    def __init__(self) -> None:
        self._chunks: list[np.ndarray] = []
        #: samples in the buffer
        self.samples = 0
        #: samples received since the session started
        self.total_samples = 0
        #: session sample index where the buffer begins
        self.start = 0

    @property
    def duration_ms(self) -> int:
        return samples_to_ms(self.samples)

    @property
    def start_ms(self) -> int:
        return samples_to_ms(self.start)

    @property
    def received_ms(self) -> int:
        return samples_to_ms(self.total_samples)

    def add(self, pcm16k: np.ndarray) -> None:
        """Append received audio."""
        self._chunks.append(pcm16k)
        self.samples += pcm16k.size
        self.total_samples += pcm16k.size

    def drop_before(self, ms: int) -> None:
        """Discard buffered audio before *ms* (audio before the speech and its prefix padding)."""
        drop = min(self.samples, max(0, ms * SAMPLE_RATE // 1000 - self.start))
        if drop <= 0:
            return
        audio = np.concatenate(self._chunks)[drop:]
        self._chunks = [audio]
        self.samples = audio.size
        self.start += drop

    def clear(self) -> None:
        """Empty the buffer; it begins again at the audio received next."""
        self._chunks = []
        self.samples = 0
        self.start = self.total_samples

    def audio(self) -> np.ndarray:
        """The buffered audio as one array."""
        return np.concatenate(self._chunks)
