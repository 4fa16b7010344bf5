"""The silence gate in front of the VAD model: silence and low noise never reach the model, and
speech starts and stops where it does without the gate (the emulator's own synthesised phrases,
at full level, 30 dB down, and through 8 kHz G.711 μ-law)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from switchboard.emulator.audio import (
    FORMAT_RATES,
    Resampler,
    alaw_decode,
    resample,
    ulaw_decode,
    ulaw_encode,
)
from switchboard.emulator.tts import PiperSynthesizer
from switchboard.emulator.vad import (
    DEFAULT_GATE,
    SAMPLE_RATE,
    WINDOW_MS,
    SileroVad,
    SpeechStarted,
    TurnDetector,
)

PHRASES = [
    "What is the status of order one oh one six seven seven?",
    "Hello, could you tell me what time you open tomorrow?",
    "Yes please.",
    "Cancel my order, it's one zero four four eight.",
]
#: 40 ms chunks, as callers stream them
CHUNK_MS = 40


@pytest.fixture(scope="module")
def vad() -> SileroVad:
    return SileroVad()


@pytest.fixture(scope="module")
def voice() -> Iterator[Any]:
    """The emulator's synthesiser (piper), in this process: each phrase as 24 kHz pcm16, the
    same samples every run (piper's sampling noise off: these tests compare VAD timings, which
    a slightly different rendering of a sentence can move by a window or two)."""
    piper = PiperSynthesizer(variation=False)
    cache: dict[str, np.ndarray] = {}

    def _voice(text: str) -> np.ndarray:
        if text not in cache:
            cache[text] = piper.synthesize(text)
        return cache[text]

    yield _voice


class _Counting:
    """Counts the model's runs (wraps ``SileroVad._run``)."""

    def __init__(self, vad: SileroVad, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        run = vad._run

        def counted(window: np.ndarray, state: np.ndarray) -> tuple[float, np.ndarray]:
            self.calls += 1
            return run(window, state)

        monkeypatch.setattr(vad, "_run", counted)


def _silence(ms: int, rate: int = 24_000) -> np.ndarray:
    return np.zeros(rate * ms // 1000, dtype=np.int16)


def _turns(
    vad: SileroVad, audio: np.ndarray, *, rate: int = 24_000, gated: bool
) -> tuple[list[tuple[str, int]], int]:
    """Server-VAD turn events (default settings) for *audio* streamed in 40 ms chunks through
    the input path (resampler, VAD stream, turn detector), and the windows the model scored."""
    resampler = Resampler(rate, SAMPLE_RATE)
    stream = vad.stream(gated=gated)
    detector = TurnDetector(threshold=0.5, prefix_padding_ms=300, silence_duration_ms=500)
    events: list[tuple[str, int]] = []
    windows = 0
    step = rate * CHUNK_MS // 1000
    for start in range(0, audio.size, step):
        probs = stream.feed(resampler.process(audio[start : start + step]))
        for event in detector.push(probs, first_window_ms=windows * WINDOW_MS, buffer_start_ms=0):
            if isinstance(event, SpeechStarted):
                events.append(("started", event.audio_start_ms))
            else:
                events.append(("stopped", event.audio_end_ms))
        windows += len(probs)
    return events, stream.model_windows


def _ulaw_8k(audio_24k: np.ndarray) -> np.ndarray:
    """*audio_24k* as a telephone sends it: 8 kHz μ-law, decoded to pcm."""
    return ulaw_decode(ulaw_encode(resample(audio_24k, 24_000, 8_000)))


def test_the_emulator_gates_its_vad_by_default(vad: SileroVad) -> None:
    """The VAD model every session uses has the silence gate unless told otherwise."""
    assert vad.gate == DEFAULT_GATE
    assert SileroVad(gate=None).stream()._gate is None


@pytest.mark.parametrize(
    ("name", "rate", "make"),
    [
        ("digital silence", 24_000, lambda n, rng: np.zeros(n, np.int16)),
        ("white noise at -80 dBFS", 24_000, lambda n, rng: rng.normal(0, 3.3, n).astype(np.int16)),
        ("white noise at -74 dBFS", 24_000, lambda n, rng: rng.normal(0, 6.5, n).astype(np.int16)),
        ("a DC offset of 200", 24_000, lambda n, rng: np.full(n, 200, np.int16)),
        ("μ-law idle line", 8_000, lambda n, rng: ulaw_decode(b"\xff" * n)),
        (
            "μ-law idle line flickering",
            8_000,
            lambda n, rng: ulaw_decode(rng.choice([0xFF, 0x7F, 0xFE, 0x7E], n).astype(np.uint8)),
        ),
        ("a-law idle line", 8_000, lambda n, rng: alaw_decode(b"\xd5" * n)),
    ],
)
def test_silence_and_low_noise_never_reach_the_model(
    vad: SileroVad, monkeypatch: pytest.MonkeyPatch, name: str, rate: int, make: Any
) -> None:
    """A minute of silence or low noise, streamed in 40 ms chunks, runs the model not once."""
    counting = _Counting(vad, monkeypatch)
    audio = make(rate * 60, np.random.default_rng(7))
    assert rate in FORMAT_RATES.values()
    resampler = Resampler(rate, SAMPLE_RATE)
    stream = vad.stream()
    probs: list[float] = []
    step = rate * CHUNK_MS // 1000
    for start in range(0, audio.size, step):
        probs += stream.feed(resampler.process(audio[start : start + step]))
    assert len(probs) >= 60_000 // WINDOW_MS - 4  # less the resampler's delay
    assert set(probs) == {0.0}, name
    assert counting.calls == 0, name
    assert stream.model_windows == 0 and stream.skipped_windows == len(probs)


def test_the_gate_settles_after_speech_and_skips_the_silence_after_it(
    vad: SileroVad, voice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a sentence the model runs on a short hang-over of silence, then no more."""
    audio = np.concatenate([_silence(200), voice(PHRASES[0]), _silence(30_000)])
    counting = _Counting(vad, monkeypatch)
    events, model_windows = _turns(vad, audio, gated=True)
    assert [kind for kind, _ in events] == ["started", "stopped"]
    speech_windows = voice(PHRASES[0]).size * 1000 // 24_000 // WINDOW_MS
    # the sentence, its pre-roll and hang-over, and the model settling: not the 30 s after it
    assert model_windows == counting.calls < speech_windows + 60
    calls_after = counting.calls
    more_silence, _ = _turns(vad, _silence(10_000), gated=True)
    assert more_silence == [] and counting.calls == calls_after


@pytest.mark.parametrize("phrase", PHRASES)
@pytest.mark.parametrize("line", ["pcm 24 kHz", "μ-law 8 kHz"])
def test_speech_starts_and_stops_at_the_same_windows_with_the_gate(
    vad: SileroVad, voice: Any, phrase: str, line: str
) -> None:
    """A caller's sentence after silence: speech_started and speech_stopped each at the same
    ms with and without the gate, or one window (32 ms, inside the prefix padding and the
    silence duration) away, and far fewer windows scored by the model. (The "silence" the
    resampler hands on holds ±1 of 32768; the gate gives the model the state of digital silence
    instead, which for some sentences tips a window over or under the threshold one window
    sooner: with piper's sampling noise off, "Yes please." over μ-law stops 32 ms earlier.)"""
    audio = np.concatenate([_silence(1_000), voice(phrase), _silence(3_000)])
    rate = 24_000
    if line.startswith("μ-law"):
        audio, rate = _ulaw_8k(audio), 8_000
    ungated, ungated_windows = _turns(vad, audio, rate=rate, gated=False)
    gated, gated_windows = _turns(vad, audio, rate=rate, gated=True)
    assert [kind for kind, _ in ungated] == [kind for kind, _ in gated] == ["started", "stopped"]
    (_, start), (_, stop) = gated
    (_, ungated_start), (_, ungated_stop) = ungated
    assert abs(stop - ungated_stop) <= WINDOW_MS
    assert start in (ungated_start, ungated_start - WINDOW_MS)
    assert gated_windows < ungated_windows * 0.6


@pytest.mark.parametrize("level_db", [0, -30])
def test_turns_later_in_a_call_keep_their_timing_within_a_window(
    vad: SileroVad, voice: Any, level_db: int
) -> None:
    """Three sentences with silences of 3 s and 0.6 s between them: the same turns with and
    without the gate, each start and stop within 64 ms (the model is recurrent; without the
    gate it too times the same sentence differently later in a call)."""
    scale = 10 ** (level_db / 20)
    parts = [
        _silence(1_000),
        voice(PHRASES[0]),
        _silence(3_000),
        voice(PHRASES[1]),
        _silence(600),
        voice(PHRASES[2]),
        _silence(2_000),
    ]
    audio = (np.concatenate(parts) * scale).astype(np.int16)
    ungated, _ = _turns(vad, audio, gated=False)
    gated, _ = _turns(vad, audio, gated=True)
    assert (
        [kind for kind, _ in gated] == [kind for kind, _ in ungated] == ["started", "stopped"] * 3
    )
    assert all(abs(a - b) <= 2 * WINDOW_MS for (_, a), (_, b) in zip(gated, ungated, strict=True))


@pytest.mark.parametrize("line", ["pcm 24 kHz", "μ-law 8 kHz"])
@pytest.mark.parametrize("noise_rms", [0, 3])
@pytest.mark.parametrize("phrase", PHRASES[:3])
def test_quiet_speech_still_starts_a_turn(
    vad: SileroVad, voice: Any, phrase: str, noise_rms: int, line: str
) -> None:
    """A sentence 30 dB down (a quiet voice, a phone held away), alone or over noise at -81 dBFS,
    is one turn as it is without the gate: it stops within 64 ms, and starts at most 64 ms later
    or 256 ms earlier (the gate gives the model the state of digital silence where without the
    gate it has heard faint noise; the noise alone moves the start that much without the gate)."""
    rng = np.random.default_rng(3)
    quiet = voice(phrase) * 10 ** (-30 / 20)
    audio = np.concatenate([_silence(1_000), quiet, _silence(2_000)])
    audio = (audio + rng.normal(0, noise_rms, audio.size)).astype(np.int16)
    rate = 24_000
    if line.startswith("μ-law"):
        audio, rate = _ulaw_8k(audio), 8_000
    ungated, _ = _turns(vad, audio, rate=rate, gated=False)
    gated, _ = _turns(vad, audio, rate=rate, gated=True)
    assert [kind for kind, _ in gated] == [kind for kind, _ in ungated] == ["started", "stopped"]
    (_, start), (_, stop) = gated
    (_, ungated_start), (_, ungated_stop) = ungated
    assert -8 * WINDOW_MS <= start - ungated_start <= 2 * WINDOW_MS
    assert abs(stop - ungated_stop) <= 2 * WINDOW_MS
