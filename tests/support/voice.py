"""The caller's synthesised voice (piper), for every test that speaks to the product."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from switchboard.cli.synth import Voice

__all__ = ["say", "voice"]


@pytest.fixture(scope="session")
def voice() -> Voice:
    """The caller's voice (piper, loaded once)."""
    return Voice()


@pytest.fixture(scope="session")
def say(voice: Voice) -> Iterator[object]:
    """``say(text)``: the text spoken by the caller's voice (cached per text)."""
    cache: dict[str, np.ndarray] = {}

    def _say(text: str) -> np.ndarray:
        if text not in cache:
            cache[text] = voice.say(text)
        return cache[text]

    yield _say
