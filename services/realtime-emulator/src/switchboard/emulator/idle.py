"""Server VAD's idle timeout (``turn_detection.idle_timeout_ms``), measured on the audio received
so it does not depend on how fast this machine is: armed where the playback of the assistant's
last response ends (the received-audio position when its first audio went out plus its length),
disarmed by speech, and fired once when that much audio has come in without speech. Pure logic.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["IdleTimer"]


@dataclass
class IdleTimer:
    """When to emit ``input_audio_buffer.timeout_triggered``."""

    #: audio position (ms since the session's first audio) from which silence counts; None: off
    start_ms: int | None = None

    def arm(self, at_ms: int) -> None:
        self.start_ms = at_ms

    def disarm(self) -> None:
        self.start_ms = None

    def due(self, now_ms: int, timeout_ms: int | None, *, busy: bool) -> tuple[int, int] | None:
        """The silent segment (start, end) if the timeout has passed at *now_ms*, once; None while
        *busy* (speech in progress or a response running) or when no timeout is set."""
        if timeout_ms is None or self.start_ms is None or busy:
            return None
        if now_ms - self.start_ms < timeout_ms:
            return None
        start, self.start_ms = self.start_ms, None
        return start, now_ms
