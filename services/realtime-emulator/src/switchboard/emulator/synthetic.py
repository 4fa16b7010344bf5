"""The speech-free load mode (``EMULATOR_SPEECH=text``): what it says in place of speech, and
the words it hears in place of recognition. No speech engine is loaded in this mode.

- **Replies** are synthetic audio of the length the packaged voice would take for the sentence
  (about 13 characters of text a second at speed 1.0, as measured on piper's joe voice), a quiet
  voice-like buzz (a 140 Hz harmonic tone with a 4 Hz syllable envelope) so that whatever plays or
  encodes it handles real samples, not silence. Each sentence is ready after about a tenth of its
  length, the time piper takes on one core, so the first audio leaves as it would with synthesis.
- **The caller's words** come from typed input: a committed audio turn is heard as the text of
  the typed user message (``conversation.item.create`` with ``input_text``) directly before it.
  The audio itself still goes through the VAD, which finds the turns.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from switchboard.emulator.tts import OUTPUT_RATE

__all__ = [
    "CHARS_PER_SECOND",
    "NOTICE",
    "SYNTHESIS_RTF",
    "SyntheticVoice",
    "typed_words_before",
]

#: Characters of text spoken per second at speed 1.0 (piper's joe voice reads 11-17).
CHARS_PER_SECOND = 13.0
#: Seconds a sentence takes to be "synthesised" per second of its audio (piper on one core).
SYNTHESIS_RTF = 0.1
#: What ``session.created`` says in ``instructions`` (and ``GET /`` in ``speech``) in this mode.
NOTICE = (
    "Switchboard realtime emulator in its speech-free load mode (EMULATOR_SPEECH=text): it "
    "does not recognise speech (voice activity detection only; each audio turn is heard as the "
    "typed user message before it) and its replies are synthetic audio of speech length, not "
    "speech. For load tests only."
)

_LOOP_S = 4  # the buzz repeats every 4 s (a whole number of envelope and tone periods)


def _buzz() -> np.ndarray:
    t = np.arange(OUTPUT_RATE * _LOOP_S) / OUTPUT_RATE
    tone = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in (1, 2, 3, 4))
    envelope = 0.5 * (1 - np.cos(2 * np.pi * 4 * t))  # four "syllables" a second
    return (tone * envelope * 2500).astype(np.int16)


class SyntheticVoice:
    """The :class:`~switchboard.emulator.tts.Synthesizer` interface without synthesis."""

    name = "synthetic"

    def __init__(self) -> None:
        self._buzz = _buzz()

    @staticmethod
    def duration_s(sentence: str, speed: float = 1.0) -> float:
        """How long the packaged voice would take to say *sentence* at *speed*."""
        return len(sentence.strip()) / CHARS_PER_SECOND / max(0.25, min(speed, 4.0))

    def synthesize(self, sentence: str, *, speed: float = 1.0) -> np.ndarray:
        """24 kHz int16 samples as long as *sentence* would take to say."""
        samples = round(self.duration_s(sentence, speed) * OUTPUT_RATE)
        repeats = -(-samples // self._buzz.size)
        return np.tile(self._buzz, max(1, repeats))[:samples]

    async def speak(self, sentence: str, speed: float = 1.0) -> np.ndarray:
        """:meth:`synthesize`, ready after the time synthesis would take."""
        await asyncio.sleep(self.duration_s(sentence, speed) * SYNTHESIS_RTF)
        return self.synthesize(sentence, speed=speed)


def typed_words_before(items: list[dict[str, Any]], item: dict[str, Any]) -> str:
    """The text of the typed user message directly before *item* in *items* ("" if the item
    before it is anything else): what the caller said in the speech-free mode."""
    index = next((i for i, existing in enumerate(items) if existing is item), 0)
    if index == 0:
        return ""
    before = items[index - 1]
    if before.get("type") != "message" or before.get("role") != "user":
        return ""
    return " ".join(
        str(c.get("text") or "")
        for c in before.get("content") or []
        if c.get("type") == "input_text" and c.get("text")
    )
