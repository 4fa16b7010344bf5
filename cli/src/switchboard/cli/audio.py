"""Audio for the voice client: WAV in and out, resampling to the Realtime API's 24 kHz PCM16 mono,
base64 framing, and where speech ends in a clip. Pure numpy (plus soxr); no I/O but files."""

from __future__ import annotations

import base64
import wave
from pathlib import Path

import numpy as np

__all__ = [
    "SAMPLE_RATE",
    "b64_to_pcm",
    "duration_ms",
    "pcm_to_b64",
    "read_wav",
    "resample",
    "silence",
    "speech_end_ms",
    "write_wav",
]

#: The Realtime API's ``audio/pcm`` rate: 16-bit little-endian mono at 24 kHz.
SAMPLE_RATE = 24_000


def resample(samples: np.ndarray, rate_in: int, rate_out: int = SAMPLE_RATE) -> np.ndarray:
    """*samples* (int16 mono) from *rate_in* to *rate_out* with soxr's high-quality filter."""
    if rate_in == rate_out or samples.size == 0:
        return samples.astype(np.int16, copy=False)
    import soxr

    out = soxr.resample(samples.astype(np.float32) / 32768.0, rate_in, rate_out, quality="HQ")
    return np.clip(np.round(out * 32768.0), -32768, 32767).astype(np.int16)


def read_wav(path: str | Path) -> np.ndarray:
    """A PCM WAV file (8/16/24/32-bit, any rate, mono or stereo) as 24 kHz int16 mono."""
    with wave.open(str(path), "rb") as wav:
        channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
        raw = wav.readframes(wav.getnframes())
    if width == 1:
        data = (np.frombuffer(raw, dtype=np.uint8).astype(np.int32) - 128) << 8
    elif width == 2:
        data = np.frombuffer(raw, dtype="<i2").astype(np.int32)
    elif width == 3:
        bytes3 = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        data = (bytes3[:, 0] | (bytes3[:, 1] << 8) | (bytes3[:, 2] << 16)) << 8 >> 16
    elif width == 4:
        data = np.frombuffer(raw, dtype="<i4").astype(np.int64) >> 16
    else:
        raise ValueError(f"{path}: unsupported sample width {width * 8} bits")
    if channels > 1:
        data = data.reshape(-1, channels).mean(axis=1)
    mono = np.clip(data, -32768, 32767).astype(np.int16)
    return resample(mono, rate)


def write_wav(path: str | Path, samples: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    """Write int16 mono *samples* as a 16-bit PCM WAV file."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.astype("<i2").tobytes())


def silence(ms: int) -> np.ndarray:
    return np.zeros(SAMPLE_RATE * ms // 1000, dtype=np.int16)


def duration_ms(samples: np.ndarray | int) -> int:
    count = samples if isinstance(samples, int) else samples.size
    return count * 1000 // SAMPLE_RATE


def pcm_to_b64(samples: np.ndarray) -> str:
    return base64.b64encode(samples.astype("<i2").tobytes()).decode("ascii")


def b64_to_pcm(data: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(data), dtype="<i2").astype(np.int16)


def speech_end_ms(samples: np.ndarray, *, threshold_dbfs: float = -40.0, frame_ms: int = 10) -> int:
    """Where the last audible sound of *samples* ends (ms from the start; 0 if all silent).

    A frame counts as sound when its RMS level is above *threshold_dbfs*; this is the client's
    own idea of "the caller stopped talking", used for reply latency."""
    frame = SAMPLE_RATE * frame_ms // 1000
    usable = samples.size - samples.size % frame
    if usable == 0:
        return 0
    frames = samples[:usable].astype(np.float64).reshape(-1, frame) / 32768.0
    rms = np.sqrt(np.mean(frames**2, axis=1))
    loud = np.nonzero(rms > 10 ** (threshold_dbfs / 20))[0]
    return 0 if loud.size == 0 else int(loud[-1] + 1) * frame_ms
