"""The pure parts of recordings: G.711 decoding, placing segments on two channels, the WAV file,
and reading HTTP range headers."""

from __future__ import annotations

import io
import wave
from array import array

import pytest

from switchboard.recording.assemble import (
    PlacedSegment,
    alaw_to_pcm16,
    assemble_wav,
    decode,
    mix_channel,
    resample,
    ulaw_to_pcm16,
)
from switchboard.store.byte_ranges import ByteRange, Unsatisfiable, parse_range


def test_ulaw_decodes_to_the_reference_values() -> None:
    """µ-law bytes decode to ITU-T G.711's values (silence, both extremes, a middle step)."""
    assert list(ulaw_to_pcm16(bytes([0xFF, 0x7F, 0x00, 0x80, 0x0F, 0x8F]))) == [
        0,
        0,
        -32124,
        32124,
        -16764,
        16764,
    ]


def test_alaw_decodes_to_the_reference_values() -> None:
    """A-law bytes decode to ITU-T G.711's values (the two smallest steps, both extremes)."""
    assert list(alaw_to_pcm16(bytes([0xD5, 0x55, 0x2A, 0xAA, 0x00]))) == [
        8,
        -8,
        -32256,
        32256,
        -5504,
    ]


def test_pcm16_is_read_little_endian_and_an_odd_byte_dropped() -> None:
    """pcm16 segments are little-endian samples; a trailing half sample is dropped."""
    assert list(decode(b"\x01\x00\xff\xff\x07", "pcm16")) == [1, -1]


def _seg(start_ms: float, index: int, values: list[int], rate: int = 1000) -> PlacedSegment:
    return PlacedSegment(start_ms, index, array("h", values), rate)


def test_segments_are_placed_at_their_start_with_silence_between() -> None:
    """At 1 kHz a segment starting at 3 ms begins at sample 3; the gap before it is silence."""
    channel = mix_channel([_seg(3, 1, [5, 6]), _seg(0, 0, [1, 2])], sample_rate=1000, length=6)
    assert list(channel) == [1, 2, 0, 5, 6, 0]


def test_overlapping_segments_the_later_one_wins() -> None:
    """Where two segments of a channel overlap, the one that starts later overwrites the other;
    what lies beyond the channel's length is cut."""
    channel = mix_channel(
        [_seg(0, 0, [1, 1, 1, 1]), _seg(2, 1, [9, 9, 9, 9])], sample_rate=1000, length=5
    )
    assert list(channel) == [1, 1, 9, 9, 9]


def test_resampling_doubles_the_samples_by_interpolation() -> None:
    """A segment at half the file's rate is stretched by linear interpolation."""
    assert list(resample(array("h", [0, 100]), 1000, 2000)) == [0, 50, 100, 100]
    same = array("h", [1, 2])
    assert resample(same, 8000, 8000) is same


def test_assembled_wav_has_two_channels_of_the_latest_end() -> None:
    """The file is 16-bit stereo at the segments' rate, caller left and assistant right, as
    long as the latest segment's end."""
    data, rate, duration_ms = assemble_wav(
        {
            "caller": [_seg(0, 0, [1, 2, 3])],
            "assistant": [_seg(2, 0, [7, 8, 9])],
        }
    )
    assert (rate, duration_ms) == (1000, 5.0)
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, 1000)
        frames = array("h", w.readframes(w.getnframes()))
    assert list(frames[0::2]) == [1, 2, 3, 0, 0]
    assert list(frames[1::2]) == [0, 0, 7, 8, 9]


def test_assembly_refuses_an_unknown_channel() -> None:
    """Only the caller and assistant channels exist."""
    with pytest.raises(ValueError, match="unknown channels"):
        assemble_wav({"third": [_seg(0, 0, [1])]})


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-99", ByteRange(0, 100, 1000)),
        ("bytes=0-", ByteRange(0, 1000, 1000)),
        ("bytes=500-", ByteRange(500, 1000, 1000)),
        ("bytes=900-5000", ByteRange(900, 1000, 1000)),
        ("bytes=-100", ByteRange(900, 1000, 1000)),
        ("bytes=-5000", ByteRange(0, 1000, 1000)),
        ("bytes=0-1,5-6", None),
        ("items=0-1", None),
        ("bytes=9-1", None),
        ("bytes=-", None),
    ],
)
def test_range_headers_are_read_against_the_size(
    header: str | None, expected: ByteRange | None
) -> None:
    """One byte range is served, clipped to the resource; several, other units and malformed
    headers are ignored (the whole resource)."""
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=2000-2100", "bytes=-0"])
def test_ranges_beyond_the_end_are_unsatisfiable(header: str) -> None:
    """A range starting at or after the end (or an empty suffix) cannot be served."""
    with pytest.raises(Unsatisfiable):
        parse_range(header, 1000)


def test_content_range_names_the_last_byte() -> None:
    """Content-Range counts the last byte inclusively."""
    assert ByteRange(0, 100, 1000).content_range == "bytes 0-99/1000"
