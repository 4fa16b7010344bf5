"""The compressed copy of an assembled recording: the two-channel WAV encoded as Ogg Opus or FLAC.
Pure (bytes in, bytes out, no I/O beyond memory); the assembler runs it in a worker thread.

Encoding is libsndfile's, through ``soundfile`` (its wheels bundle libsndfile with FLAC, Vorbis
and Opus). Opus takes only 8, 12, 16, 24 and 48 kHz (the gateway records at 8 or 24 kHz);
a WAV at another rate cannot be copied as Opus, and :class:`CopyFailed` says so. libsndfile sets
Opus's bitrate through its "compression level": ``bitrate = ((1 - level) * 250000 + 6000) *
channels`` bits/s (ogg_opus.c), so a bitrate per channel in kbit/s maps to one level; the encoder
runs libopus's default variable bitrate around that target (silence costs little).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Literal

import soundfile

__all__ = [
    "COPY_FORMATS",
    "OPUS_RATES",
    "CopyCodec",
    "CopyFailed",
    "CopyFormat",
    "encode_copy",
    "opus_compression_level",
]

#: what the assembler makes beside the WAV: nothing, Ogg Opus or FLAC
CopyCodec = Literal["none", "opus", "flac"]
#: the sample rates Opus encodes
OPUS_RATES = frozenset({8000, 12000, 16000, 24000, 48000})
#: libsndfile's range of Opus bitrates per channel (bits/s)
_OPUS_MIN_BPS, _OPUS_SPAN_BPS = 6000, 250000
#: frames read and encoded at a time (about 2.7 s at 24 kHz): memory stays bounded
_BLOCK_FRAMES = 65536


@dataclass(frozen=True)
class CopyFormat:
    """One kind of copy: its libsndfile format and subtype, file name extension, media type."""

    codec: Literal["opus", "flac"]
    extension: str
    content_type: str
    sf_format: str
    sf_subtype: str


COPY_FORMATS: dict[str, CopyFormat] = {
    "opus": CopyFormat("opus", "opus", "audio/ogg", "OGG", "OPUS"),
    "flac": CopyFormat("flac", "flac", "audio/flac", "FLAC", "PCM_16"),
}


class CopyFailed(Exception):
    """The copy could not be made (unreadable WAV, a rate the codec does not take, the codec
    refused); the WAV itself is unaffected."""


def opus_compression_level(kbps_per_channel: float) -> float:
    """libsndfile's compression level (0 = 256 kbit/s, 1 = 6 kbit/s per channel) for a target
    bitrate per channel."""
    bps = min(max(kbps_per_channel * 1000, _OPUS_MIN_BPS), _OPUS_MIN_BPS + _OPUS_SPAN_BPS)
    return 1.0 - (bps - _OPUS_MIN_BPS) / _OPUS_SPAN_BPS


def encode_copy(wav: bytes, codec: Literal["opus", "flac"], *, opus_kbps: float = 16) -> bytes:
    """The WAV *wav* (any channels, 16-bit) encoded as *codec*: the same channels, rate and
    length (Opus decodes to the same number of frames: libsndfile trims its padding). Raises
    :class:`CopyFailed`."""
    fmt = COPY_FORMATS[codec]
    out = io.BytesIO()
    try:
        with soundfile.SoundFile(io.BytesIO(wav)) as src:
            level = opus_compression_level(opus_kbps) if codec == "opus" else None
            with soundfile.SoundFile(
                out,
                "w",
                samplerate=src.samplerate,
                channels=src.channels,
                format=fmt.sf_format,
                subtype=fmt.sf_subtype,
                compression_level=level,
            ) as dst:
                for block in src.blocks(blocksize=_BLOCK_FRAMES, dtype="int16"):
                    dst.write(block)
    except (soundfile.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
        raise CopyFailed(f"{codec}: {exc}") from exc
    return out.getvalue()
