"""The hostile-event generator is deterministic and each frame is what its category claims."""

import json
from collections import Counter

import pytest
from pydantic import ValidationError

from chaos.hostile import CATEGORIES, HostileFrame, generate
from switchboard.contracts.realtime import validate_client_event

#: Categories whose frames are well-formed GA client events that the gateway's policy refuses.
POLICY = {"instruction_override", "response_override", "item_injection"}


def test_the_same_seed_gives_the_same_frames() -> None:
    assert list(generate(300, seed=7)) == list(generate(300, seed=7))
    assert list(generate(300, seed=7)) != list(generate(300, seed=8))


def test_ten_thousand_frames_cover_every_category() -> None:
    frames = list(generate(10_000, seed=1, max_message_bytes=4096))
    counts = Counter(frame.category for frame in frames)
    assert set(counts) == set(CATEGORIES)
    assert counts["huge_frame"] == 20
    assert all(frame.expect == "close" for frame in frames if frame.category == "huge_frame")


def _check(frame: HostileFrame) -> None:
    if frame.category == "huge_frame":
        assert frame.size > 4096
        return
    if isinstance(frame.data, bytes):
        assert frame.category == "binary_frame"
        return
    try:
        doc = json.loads(frame.data)
    except ValueError:
        assert frame.category == "bad_json"
        return
    if frame.category in POLICY:
        validate_client_event(doc)  # valid protocol, refused by the gateway's policy
        return
    if frame.category in {"bad_base64", "bad_values"}:
        validate_client_event(doc)  # well-typed; the values are what is wrong
        return
    with pytest.raises((ValidationError, ValueError, TypeError)):
        validate_client_event(doc)


def test_each_frame_is_malformed_or_a_policy_violation() -> None:
    for frame in generate(2_000, seed=3, max_message_bytes=4096):
        _check(frame)
