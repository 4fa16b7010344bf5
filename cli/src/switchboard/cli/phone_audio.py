"""G.711 µ-law at 8 kHz, the phone network's audio, to and from the CLI's 24 kHz PCM16
(pure numpy; the standard G.711 segment encoding, as Twilio sends and expects it)."""

from __future__ import annotations

import numpy as np

from switchboard.cli.audio import SAMPLE_RATE, resample

__all__ = ["PHONE_RATE", "SILENCE_BYTE", "mulaw_to_pcm", "pcm_to_mulaw"]

PHONE_RATE = 8000
#: µ-law of a zero sample.
SILENCE_BYTE = 0xFF
_BIAS = 0x84
_CLIP = 32635


def _encode(samples: np.ndarray) -> bytes:
    x = samples.astype(np.int32) >> 2  # 14-bit, as the G.711 reference encoder does
    sign = np.where(x < 0, 0x80, 0)
    magnitude = (np.minimum(np.abs(x), _CLIP >> 2) << 2) + _BIAS
    exponent = np.floor(np.log2(magnitude)).astype(np.int32) - 7
    exponent = np.clip(exponent, 0, 7)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


def _decode(data: bytes) -> np.ndarray:
    u = ~np.frombuffer(data, dtype=np.uint8).astype(np.int32) & 0xFF
    sign = u & 0x80
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    magnitude = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


def pcm_to_mulaw(samples: np.ndarray, rate: int = SAMPLE_RATE) -> bytes:
    """int16 mono at *rate* -> µ-law bytes at 8 kHz."""
    return _encode(resample(samples, rate, PHONE_RATE))


def mulaw_to_pcm(data: bytes, rate: int = PHONE_RATE) -> np.ndarray:
    """µ-law bytes at 8 kHz -> int16 mono at *rate*."""
    return resample(_decode(data), PHONE_RATE, rate)
