"""Keypad digits batched into one message for the conversation (pure, no I/O): digits collect
until ``#`` or a pause, then become one sentence the model can use."""

from __future__ import annotations

import json

__all__ = ["Keypad", "keypad_item", "keypad_text"]


def keypad_text(digits: str) -> str:
    """``"1234#"`` -> ``"The caller pressed 1 2 3 4 # on the keypad."``"""
    return f"The caller pressed {' '.join(digits)} on the keypad."


def keypad_item(digits: str) -> str:
    """The ``conversation.item.create`` (a user message) that tells the conversation *digits*."""
    return json.dumps(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": keypad_text(digits)}],
            },
        }
    )


class Keypad:
    """Digits pressed since the last batch, and when the batch is due."""

    def __init__(self, *, pause_s: float, max_digits: int = 32) -> None:
        self.pause_s = pause_s
        self.max_digits = max_digits
        self._digits: list[str] = []
        self._last_at = 0.0

    def press(self, digit: str, now: float) -> str | None:
        """Add a digit; answers the batch when it is complete (``#`` or full)."""
        self._digits.append(digit)
        self._last_at = now
        if digit == "#" or len(self._digits) >= self.max_digits:
            return self.take()
        return None

    def due(self, now: float) -> str | None:
        """The batch when the caller has paused long enough, else None."""
        if self._digits and now - self._last_at >= self.pause_s:
            return self.take()
        return None

    @property
    def deadline(self) -> float | None:
        """When the current batch is due (None when there is none)."""
        return self._last_at + self.pause_s if self._digits else None

    def take(self) -> str | None:
        if not self._digits:
            return None
        digits = "".join(self._digits)
        self._digits.clear()
        return digits
