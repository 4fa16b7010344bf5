"""Audio formats of the Realtime API: pcm16 24 kHz, G.711 μ-law and a-law (8 kHz), and resampling.

All functions are pure numpy (plus soxr for resampling) and work on mono ``int16`` arrays.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import soxr

__all__ = [
    "FORMAT_RATES",
    "AudioFormat",
    "Resampler",
    "alaw_decode",
    "alaw_encode",
    "decode",
    "encode",
    "resample",
    "ulaw_decode",
    "ulaw_encode",
]

AudioFormat = Literal["audio/pcm", "audio/pcmu", "audio/pcma"]
#: The sample rate each format travels at on the wire.
FORMAT_RATES: dict[str, int] = {"audio/pcm": 24_000, "audio/pcmu": 8_000, "audio/pcma": 8_000}

_ULAW_BIAS = 0x84
_ULAW_CLIP = 32635


def _ulaw_table() -> np.ndarray:
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = (((mantissa << 3) + _ULAW_BIAS) << exponent) - _ULAW_BIAS
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


def _alaw_table() -> np.ndarray:
    codes = np.arange(256, dtype=np.int32) ^ 0x55
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = np.where(
        exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0)
    )
    return np.where(sign != 0, magnitude, -magnitude).astype(np.int16)


_ULAW_DECODE = _ulaw_table()
_ALAW_DECODE = _alaw_table()


def ulaw_decode(data: bytes) -> np.ndarray:
    """G.711 μ-law bytes → int16 samples."""
    return _ULAW_DECODE[np.frombuffer(data, dtype=np.uint8)]


def alaw_decode(data: bytes) -> np.ndarray:
    """G.711 a-law bytes → int16 samples."""
    return _ALAW_DECODE[np.frombuffer(data, dtype=np.uint8)]


def ulaw_encode(samples: np.ndarray) -> bytes:
    """int16 samples → G.711 μ-law bytes (the ITU reference algorithm, bit-exact)."""
    value = samples.astype(np.int32) >> 2
    negative = value < 0
    magnitude = np.minimum(np.where(negative, -value, value), 8159) + 33
    segment = np.clip(np.floor(np.log2(magnitude)).astype(np.int32) - 5, 0, 8)
    overflow = segment >= 8
    segment = np.minimum(segment, 7)
    mantissa = (magnitude >> (segment + 1)) & 0x0F
    code = np.where(overflow, 0x7F, (segment << 4) | mantissa)
    mask = np.where(negative, 0x7F, 0xFF)
    return (code ^ mask).astype(np.uint8).tobytes()


def alaw_encode(samples: np.ndarray) -> bytes:
    """int16 samples → G.711 a-law bytes (the ITU reference algorithm, bit-exact)."""
    value = samples.astype(np.int32) >> 3
    negative = value < 0
    mask = np.where(negative, 0x55, 0xD5)
    magnitude = np.where(negative, -value - 1, value)
    segment = np.clip(np.floor(np.log2(np.maximum(magnitude, 1))).astype(np.int32) - 4, 0, 8)
    overflow = segment >= 8
    segment = np.minimum(segment, 7)
    mantissa = np.where(segment < 2, magnitude >> 1, magnitude >> np.maximum(segment, 1)) & 0x0F
    code = np.where(overflow, 0x7F, (segment << 4) | mantissa)
    return (code ^ mask).astype(np.uint8).tobytes()


def decode(fmt: str, data: bytes) -> np.ndarray:
    """Wire bytes in *fmt* → int16 samples at the format's rate (``FORMAT_RATES``)."""
    if fmt == "audio/pcmu":
        return ulaw_decode(data)
    if fmt == "audio/pcma":
        return alaw_decode(data)
    if len(data) % 2:
        data = data[:-1]
    return np.frombuffer(data, dtype="<i2").astype(np.int16)


def encode(fmt: str, samples_24k: np.ndarray) -> bytes:
    """int16 samples at 24 kHz → wire bytes in *fmt* (resampled to 8 kHz for G.711)."""
    if fmt == "audio/pcm":
        return samples_24k.astype("<i2").tobytes()
    narrow = resample(samples_24k, 24_000, 8_000)
    return ulaw_encode(narrow) if fmt == "audio/pcmu" else alaw_encode(narrow)


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample a whole int16 buffer (soxr, high quality)."""
    if rate_in == rate_out or samples.size == 0:
        return samples.astype(np.int16)
    out = soxr.resample(samples.astype(np.float32) / 32768.0, rate_in, rate_out)
    return np.clip(out * 32768.0, -32768, 32767).astype(np.int16)


class Resampler:
    """A streaming resampler for audio that arrives in pieces (keeps filter state between calls)."""

    def __init__(self, rate_in: int, rate_out: int) -> None:
        self.rate_in = rate_in
        self.rate_out = rate_out
        self._stream = (
            None
            if rate_in == rate_out
            else soxr.ResampleStream(rate_in, rate_out, 1, dtype="int16")
        )

    def process(self, samples: np.ndarray, *, last: bool = False) -> np.ndarray:
        if self._stream is None:
            return samples.astype(np.int16)
        return np.asarray(self._stream.resample_chunk(samples.astype(np.int16), last=last))
