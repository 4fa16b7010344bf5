"""Voice activity detection: silero-vad's ONNX model run with onnxruntime (no torch), and the
server-VAD turn detector (threshold, prefix padding, silence duration) as a pure state machine."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

__all__ = [
    "SAMPLE_RATE",
    "WINDOW",
    "SileroVad",
    "SpeechStarted",
    "SpeechStopped",
    "TurnDetector",
    "VadStream",
    "silero_model_path",
]

SAMPLE_RATE = 16_000
#: Silero v5 consumes 512-sample (32 ms) windows at 16 kHz, with 64 samples of context.
WINDOW = 512
_CONTEXT = 64
WINDOW_MS = WINDOW * 1000 // SAMPLE_RATE


def silero_model_path() -> Path:
    """The ONNX model inside the installed ``silero-vad`` wheel (found without importing it,
    because its ``__init__`` imports torch)."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the silero-vad package is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad.onnx"
    if not path.is_file():
        raise RuntimeError(f"silero-vad ships no ONNX model at {path}")
    return path


class SileroVad:
    """The loaded model; one instance serves every session (onnxruntime ``run`` is thread-safe)."""

    def __init__(self, path: Path | None = None) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(path or silero_model_path()),
            sess_options=options,
            providers=["CPUExecutionProvider"],
        )
        self._sr = np.array(SAMPLE_RATE, dtype=np.int64)

    def stream(self) -> VadStream:
        """A per-session stream with its own recurrent state."""
        return VadStream(self)

    def _run(self, window: np.ndarray, state: np.ndarray) -> tuple[float, np.ndarray]:
        prob, new_state = self._session.run(
            None, {"input": window[np.newaxis, :], "state": state, "sr": self._sr}
        )
        return float(prob[0][0]), new_state


class VadStream:
    """Feeds 16 kHz int16 audio in any chunk size; returns one speech probability per window."""

    def __init__(self, model: SileroVad) -> None:
        self._model = model
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros(_CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)

    def feed(self, samples_16k: np.ndarray) -> list[float]:
        """Probabilities for every complete 32 ms window now available (CPU work: call off-loop)."""
        audio = np.concatenate([self._pending, samples_16k.astype(np.float32) / 32768.0])
        probs: list[float] = []
        usable = audio.size - audio.size % WINDOW
        for start in range(0, usable, WINDOW):
            window = audio[start : start + WINDOW]
            prob, self._state = self._model._run(
                np.concatenate([self._context, window]), self._state
            )
            self._context = window[-_CONTEXT:]
            probs.append(prob)
        self._pending = audio[usable:]
        return probs

    def reset(self) -> None:
        self._state[:] = 0
        self._context[:] = 0
        self._pending = np.zeros(0, dtype=np.float32)


@dataclass(frozen=True)
class SpeechStarted:
    audio_start_ms: int


@dataclass(frozen=True)
class SpeechStopped:
    audio_end_ms: int


class TurnDetector:
    """Server VAD: speech starts when a window's probability reaches ``threshold``; it stops after
    ``silence_duration_ms`` below ``threshold - 0.15``. ``audio_start_ms`` includes the prefix
    padding (clamped to the start of the buffer). Times are in ms of input audio since session start.
    """

    def __init__(
        self, *, threshold: float, prefix_padding_ms: int, silence_duration_ms: int
    ) -> None:
        self.threshold = threshold
        self.prefix_padding_ms = prefix_padding_ms
        self.silence_duration_ms = silence_duration_ms
        self.in_speech = False
        self._silence_ms = 0
        self._last_speech_end_ms = 0

    def push(
        self, probs: list[float], *, first_window_ms: int, buffer_start_ms: int
    ) -> list[SpeechStarted | SpeechStopped]:
        """Advance over windows starting at ``first_window_ms``; return the turn events."""
        events: list[SpeechStarted | SpeechStopped] = []
        release = max(0.0, self.threshold - 0.15)
        for i, prob in enumerate(probs):
            start_ms = first_window_ms + i * WINDOW_MS
            end_ms = start_ms + WINDOW_MS
            if not self.in_speech:
                if prob >= self.threshold:
                    self.in_speech = True
                    self._silence_ms = 0
                    self._last_speech_end_ms = end_ms
                    onset = max(buffer_start_ms, start_ms - self.prefix_padding_ms)
                    events.append(SpeechStarted(audio_start_ms=onset))
            elif prob >= release:
                self._silence_ms = 0
                self._last_speech_end_ms = end_ms
            else:
                self._silence_ms += WINDOW_MS
                if self._silence_ms >= self.silence_duration_ms:
                    self.in_speech = False
                    self._silence_ms = 0
                    events.append(SpeechStopped(audio_end_ms=self._last_speech_end_ms))
        return events

    def reset(self) -> None:
        self.in_speech = False
        self._silence_ms = 0
