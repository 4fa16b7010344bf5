"""The store's second line of redaction: the shared rules applied to whole events."""

from __future__ import annotations

import switchboard.redaction
from switchboard.store.redaction import Redactor
from tests.store.factories import conversation

ALL = Redactor(["email", "phone", "card"])


def test_the_store_uses_the_shared_rules() -> None:
    """The store redacts with the one shared implementation the gateway uses."""
    assert Redactor is switchboard.redaction.Redactor


def test_event_redaction_reaches_tool_arguments_and_results() -> None:
    """Transcripts, heard text, nested tool arguments (keys too) and results are redacted."""
    events = conversation(
        user_text="I'm jo@example.com, card 4111111111111111",
        arguments={
            "contact": {"email": "jo@example.com", "phones": ["206-555-0147"]},
            "n": 2065550147,
        },
        output={"callback_phone": "+1 206 555 0147", "order_id": 100001},
        reply="I emailed jo@example.com",
    )
    redacted = [ALL.event(e).payload.model_dump() for e in events]
    text = repr(redacted)
    assert "jo@example.com" not in text and "4111111111111111" not in text
    assert "555-0147" not in text and "555 0147" not in text and "2065550147" not in text
    called = next(p for p in redacted if p["type"] == "tool.called")
    assert called["arguments"] == {
        "contact": {"email": "[email]", "phones": ["[phone]"]},
        "n": "[phone]",
    }
    completed = next(p for p in redacted if p["type"] == "tool.completed")
    assert completed["output"] == {"callback_phone": "[phone]", "order_id": 100001}


def test_nothing_to_redact_means_no_copy() -> None:
    """An event without personal data comes back as the same object (nothing is copied)."""
    for event in conversation(arguments={"order_id": 100001, "note": "by Friday"}):
        assert ALL.event(event) is event
