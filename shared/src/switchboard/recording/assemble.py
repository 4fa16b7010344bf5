"""Assembling a recording: raw segments of two channels into one two-channel WAV. Pure, no I/O.

Each segment is mono raw audio (``pcm16`` little-endian, or G.711 ``pcmu``/``pcma``) placed on
the recording's timeline at its ``start_ms``. The file is 16-bit PCM, channel 1 the caller and
channel 2 the assistant, at the highest sample rate among the segments (a segment at another rate
is resampled by linear interpolation; the gateway records both channels at one rate, so this is
the exception). Silence fills the gaps; the file lasts until the latest segment ends.

Overlaps within one channel: **the later segment wins** (segments are laid down in
``(start_ms, index)`` order, each overwriting what lies under it). Segments of one channel do not
overlap in a well-formed recording (the caller's audio is one stream; the assistant's is one item
after another, cut where the caller interrupted), so an overlap means a clock step, and keeping
the newer audio whole is clearer to a listener than a mix of both.

Only the standard library: :class:`array.array` does the sample work in C.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "CHANNELS",
    "AudioFormat",
    "PlacedSegment",
    "alaw_to_pcm16",
    "assemble_wav",
    "decode",
    "mix_channel",
    "resample",
    "ulaw_to_pcm16",
    "wav_header",
]

AudioFormat = Literal["pcm16", "pcmu", "pcma"]
#: The file's channels, in order.
CHANNELS: tuple[str, str] = ("caller", "assistant")
_BIG_ENDIAN = sys.byteorder == "big"


def _ulaw(byte: int) -> int:
    """G.711 µ-law to a linear 16-bit sample (ITU-T G.711, as in the reference decoder)."""
    u = ~byte & 0xFF
    t = ((u & 0x0F) << 3) + 0x84
    t <<= (u & 0x70) >> 4
    return (0x84 - t) if u & 0x80 else (t - 0x84)


def _alaw(byte: int) -> int:
    """G.711 A-law to a linear 16-bit sample."""
    a = byte ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    if seg == 0:
        t += 8
    elif seg == 1:
        t += 0x108
    else:
        t = (t + 0x108) << (seg - 1)
    return t if a & 0x80 else -t


def _table(decode: object) -> tuple[bytes, ...]:
    assert callable(decode)
    return tuple(struct.pack("<h", decode(b)) for b in range(256))


_ULAW = _table(_ulaw)
_ALAW = _table(_alaw)


def _samples(pcm16le: bytes) -> array[int]:
    samples = array("h")
    samples.frombytes(pcm16le[: len(pcm16le) - len(pcm16le) % 2])
    if _BIG_ENDIAN:  # pragma: no cover - little-endian hosts only in practice
        samples.byteswap()
    return samples


def ulaw_to_pcm16(data: bytes) -> array[int]:
    """µ-law bytes as 16-bit samples."""
    return _samples(b"".join(map(_ULAW.__getitem__, data)))


def alaw_to_pcm16(data: bytes) -> array[int]:
    """A-law bytes as 16-bit samples."""
    return _samples(b"".join(map(_ALAW.__getitem__, data)))


def decode(data: bytes, audio_format: AudioFormat) -> array[int]:
    """A segment's raw bytes as 16-bit samples (an odd trailing pcm16 byte is dropped)."""
    if audio_format == "pcm16":
        return _samples(data)
    if audio_format == "pcmu":
        return ulaw_to_pcm16(data)
    if audio_format == "pcma":
        return alaw_to_pcm16(data)
    raise ValueError(f"unknown audio format {audio_format!r}")


def resample(samples: array[int], from_rate: int, to_rate: int) -> array[int]:
    """*samples* at *to_rate* (linear interpolation; the same array when the rates agree)."""
    if from_rate == to_rate or not samples:
        return samples
    n = max(1, round(len(samples) * to_rate / from_rate))
    step = from_rate / to_rate
    last = len(samples) - 1
    out = array("h", bytes(2 * n))
    for i in range(n):
        x = i * step
        j = int(x)
        if j >= last:
            out[i] = samples[last]
            continue
        f = x - j
        out[i] = round(samples[j] * (1 - f) + samples[j + 1] * f)
    return out


@dataclass(frozen=True)
class PlacedSegment:
    """One segment's samples and where they start on the timeline."""

    start_ms: float
    index: int
    samples: array[int]
    sample_rate: int


def mix_channel(segments: Iterable[PlacedSegment], *, sample_rate: int, length: int) -> array[int]:
    """One channel of *length* samples at *sample_rate*: silence, with each segment laid at its
    start in ``(start_ms, index)`` order, a later one overwriting what it overlaps; what lies
    beyond *length* is cut."""
    channel = array("h", bytes(2 * length))
    for seg in sorted(segments, key=lambda s: (s.start_ms, s.index)):
        samples = resample(seg.samples, seg.sample_rate, sample_rate)
        at = round(seg.start_ms * sample_rate / 1000)
        if at >= length or not samples:
            continue
        end = min(length, at + len(samples))
        channel[at:end] = samples[: end - at]
    return channel


def wav_header(*, frames: int, sample_rate: int, channels: int = 2) -> bytes:
    """The 44-byte RIFF/WAVE header of 16-bit PCM with *frames* frames."""
    block = 2 * channels
    data = frames * block
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, channels, sample_rate, sample_rate * block, block, 16)
        + b"data"
        + struct.pack("<I", data)
    )


def assemble_wav(
    channels: dict[str, Sequence[PlacedSegment]], *, sample_rate: int | None = None
) -> tuple[bytes, int, float]:
    """The two-channel WAV of the caller's and the assistant's segments: ``(file, sample_rate,
    duration_ms)``. The rate is *sample_rate*, else the highest among the segments (8000 when
    there are none); the length reaches the latest segment's end."""
    unknown = set(channels) - set(CHANNELS)
    if unknown:
        raise ValueError(f"unknown channels {sorted(unknown)}")
    every = [s for c in CHANNELS for s in channels.get(c, ())]
    rate = sample_rate or max((s.sample_rate for s in every), default=8000)
    length = max(
        (
            round(s.start_ms * rate / 1000) + round(len(s.samples) * rate / s.sample_rate)
            for s in every
        ),
        default=0,
    )
    left, right = (
        mix_channel(channels.get(c, ()), sample_rate=rate, length=length) for c in CHANNELS
    )
    frames = array("h", bytes(4 * length))
    frames[0::2] = left
    frames[1::2] = right
    if _BIG_ENDIAN:  # pragma: no cover
        frames.byteswap()
    return (
        wav_header(frames=length, sample_rate=rate) + frames.tobytes(),
        rate,
        length * 1000 / rate,
    )
