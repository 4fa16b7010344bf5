"""Voice activity detection: silero-vad's ONNX model run with onnxruntime (no torch), a silence
gate in front of it, and the server-VAD turn detector (threshold, prefix padding, silence duration)
as a pure state machine.

The silence gate: callers stream continuously and are mostly silent, and the model costs about
0.1 ms of CPU per 32 ms window. A window whose level is clearly below speech (see
:class:`SilenceGate`) is scored 0 without running the model, but only once the model itself has
settled on silence; everything near or above the level goes to the model as before."""

from __future__ import annotations

import importlib.util
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

__all__ = [
    "DEFAULT_GATE",
    "SAMPLE_RATE",
    "WINDOW",
    "WINDOW_MS",
    "SilenceGate",
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
_ONES = np.ones(WINDOW, dtype=np.float32)


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


@dataclass(frozen=True)
class SilenceGate:
    """When a window may skip the model.

    A window is *quiet* when its level (RMS with the DC offset removed, so a-law's idle +8 or a
    microphone's offset is not taken for sound) is below ``open_dbfs``. Quiet windows skip the
    model (probability 0) once ``hangover_windows`` quiet windows in a row have gone to the model
    and it scored the last of them below ``settled_prob``. One window at or above the level opens
    the gate again. The model is recurrent, so before it scores that window it hears what it
    missed: the skipped windows again, up to ``preroll_windows`` of them; a longer skipped stretch
    first puts it in the state long digital silence leaves it in (from a fresh start, the state
    that many windows of digital silence give it: what the model would have had).

    The default level, -70 dBFS, is 20 dB below the windows of quiet turns (speech 30 dB under
    the synthesiser's level reaches -50 dBFS within each syllable), low enough that speech 50 dB
    under it, at the edge of what silero detects at all, still opens the gate, and above idle
    telephone lines (G.711 μ-law silence decodes to 0 or ±8 of 32768, -72 dBFS at most). Silero
    scores white noise at that level below 0.02."""

    open_dbfs: float = -70.0
    hangover_windows: int = 8
    settled_prob: float = 0.05
    preroll_windows: int = 16

    @property
    def open_level(self) -> float:
        """``open_dbfs`` as a linear RMS of float samples in [-1, 1)."""
        return float(10 ** (self.open_dbfs / 20))


DEFAULT_GATE = SilenceGate()
#: How many windows of digital silence the model's state is followed through (8 s: it has
#: settled by then).
_SILENCE_TRAJECTORY = 256


class SileroVad:
    """The loaded model; one instance serves every session (onnxruntime ``run`` is thread-safe).

    ``gate``: the silence gate of every stream (None: every window goes to the model)."""

    def __init__(
        self, path: Path | None = None, *, gate: SilenceGate | None = DEFAULT_GATE
    ) -> None:
        self.gate = gate
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(path or silero_model_path()),
            sess_options=options,
            providers=["CPUExecutionProvider"],
        )
        self._sr = np.array(SAMPLE_RATE, dtype=np.int64)
        #: the model's state after 0, 1, 2 ... windows of digital silence from a fresh start
        self.silence_states = self._silence_trajectory() if gate is not None else None

    def _silence_trajectory(self) -> np.ndarray:
        silence = np.zeros(_CONTEXT + WINDOW, dtype=np.float32)
        states = [np.zeros((2, 1, 128), dtype=np.float32)]
        for _ in range(_SILENCE_TRAJECTORY):
            states.append(self._run(silence, states[-1])[1])
        return np.stack(states)

    def stream(self, *, gated: bool = True) -> VadStream:
        """A per-session stream with its own recurrent state (``gated=False``: without the silence
        gate even when the model has one, for comparisons)."""
        return VadStream(self, self.gate if gated else None)

    def _run(self, window: np.ndarray, state: np.ndarray) -> tuple[float, np.ndarray]:
        prob, new_state = self._session.run(
            None, {"input": window[np.newaxis, :], "state": state, "sr": self._sr}
        )
        return float(prob[0][0]), new_state


class VadStream:
    """Feeds 16 kHz int16 audio in any chunk size; returns one speech probability per window."""

    def __init__(self, model: SileroVad, gate: SilenceGate | None = None) -> None:
        self._model = model
        self._gate = gate
        # a window's energy (sum of squares, DC removed) at the gate's level
        self._open_energy = gate.open_level**2 * WINDOW if gate else 0.0
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros(_CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        #: windows scored by the model (pre-roll included), and windows the gate scored 0
        self.model_windows = 0
        self.skipped_windows = 0
        self._reset_gate()

    def _reset_gate(self) -> None:
        gate = self._gate
        self._quiet_run = gate.hangover_windows if gate else 0  # starts closed
        self._last_prob = 0.0
        self._ran = False  # whether the model has run since the start (or reset)
        self._skipped_run = 0
        # the latest skipped windows, each with the context before it, for the pre-roll
        self._skipped: deque[tuple[np.ndarray, np.ndarray]] = deque(
            maxlen=gate.preroll_windows if gate else 0
        )

    def feed(self, samples_16k: np.ndarray) -> list[float]:
        """Probabilities for every complete 32 ms window now available (CPU work: call off-loop)."""
        audio = np.concatenate([self._pending, samples_16k.astype(np.float32) / 32768.0])
        probs: list[float] = []
        usable = audio.size - audio.size % WINDOW
        gate = self._gate
        for start in range(0, usable, WINDOW):
            window = audio[start : start + WINDOW]
            context, self._context = self._context, window[-_CONTEXT:]
            if gate is not None and self._skip(window, gate):
                self._skipped.append((context, window))
                self._skipped_run += 1
                self.skipped_windows += 1
                probs.append(0.0)
                continue
            if self._skipped_run:
                self._catch_up()
            prob, self._state = self._model._run(np.concatenate([context, window]), self._state)
            self.model_windows += 1
            self._ran = True
            self._last_prob = prob
            probs.append(prob)
        self._pending = audio[usable:]
        return probs

    def _skip(self, window: np.ndarray, gate: SilenceGate) -> bool:
        """Whether *window* skips the model: quiet, after enough quiet windows the model called
        silence."""
        # energy less the DC offset, in two dot products (numpy's mean and var cost more here)
        total = float(np.dot(window, _ONES))
        if float(np.dot(window, window)) - total * total / WINDOW >= self._open_energy:
            self._quiet_run = 0
            return False
        self._quiet_run += 1
        return self._quiet_run > gate.hangover_windows and self._last_prob < gate.settled_prob

    def _catch_up(self) -> None:
        """Bring the model's state to where the skipped windows would have left it: beyond the
        pre-roll, the state digital silence leads to; then the pre-roll itself."""
        trajectory = self._model.silence_states
        unheard = self._skipped_run - len(self._skipped)
        if unheard > 0 and trajectory is not None:
            # from a fresh start that many windows of silence; after speech, long silence
            self._state = trajectory[-1 if self._ran else min(unheard, len(trajectory) - 1)].copy()
        while self._skipped:
            context, window = self._skipped.popleft()
            _, self._state = self._model._run(np.concatenate([context, window]), self._state)
            self.model_windows += 1
        self._skipped_run = 0

    def reset(self) -> None:
        self._state[:] = 0
        self._context = np.zeros(_CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self._reset_gate()


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
