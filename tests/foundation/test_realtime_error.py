"""The one Realtime error type: its ``error`` object on the wire and the refused event's id."""

from __future__ import annotations

import json

from switchboard.contracts.errors import RealtimeError


def test_error_object_keeps_the_clouds_key_order() -> None:
    """``type``, ``code``, ``message``, then ``param`` and ``event_id`` only when known."""
    bare = RealtimeError("Missing 'type'.")
    assert json.dumps(bare.as_error()) == (
        '{"type": "invalid_request_error", "code": "invalid_value", "message": "Missing \'type\'."}'
    )
    full = RealtimeError("Bad voice.", code="unknown_parameter", param="session.voice")
    assert list(full.as_error("evt_1")) == ["type", "code", "message", "param", "event_id"]
    assert full.as_error("evt_1")["event_id"] == "evt_1"


def test_the_refused_events_id_is_carried_or_given() -> None:
    """``with_event_id`` keeps everything else; an id given to ``as_error`` wins over it."""
    base = RealtimeError("Nope.", code="policy_violation", param="instructions", type="x_error")
    named = base.with_event_id("evt_9")
    assert (named.message, named.code, named.param, named.type) == (
        "Nope.",
        "policy_violation",
        "instructions",
        "x_error",
    )
    assert base.event_id is None and named.event_id == "evt_9"
    assert named.as_error()["event_id"] == "evt_9"
    assert named.as_error("evt_other")["event_id"] == "evt_other"
    assert "event_id" not in base.as_error()
