"""Redaction of e-mails, phone numbers and Luhn-valid card numbers (pure, no I/O)."""

from __future__ import annotations

import pytest

from switchboard.store.redaction import Redactor, luhn_valid
from tests.store.factories import conversation

ALL = Redactor(["email", "phone", "card"])


def test_luhn() -> None:
    """Known test card numbers pass the Luhn check; a changed digit fails it."""
    assert luhn_valid("4111111111111111")
    assert luhn_valid("378282246310005")
    assert not luhn_valid("4111111111111112")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail me at priya.sharma+shop@example.co.uk please", "mail me at [email] please"),
        ("my card is 4111 1111 1111 1111 ok", "my card is [card] ok"),
        ("card 4111-1111-1111-1111", "card [card]"),
        ("amex 378282246310005.", "amex [card]."),
        ("call me on (206) 555-0147", "call me on [phone]"),
        ("call +44 20 7946 0958 today", "call [phone] today"),
        ("or 2065550147", "or [phone]"),
        ("order 100001 and 100002", "order 100001 and 100002"),
        ("orders 100001 100002", "orders 100001 100002"),
        ("delivered 2026-11-01 at 10:30", "delivered 2026-11-01 at 10:30"),
        ("tracking 1Z999AA10123456784", "tracking 1Z999AA10123456784"),
    ],
)
def test_text_redaction(text: str, expected: str) -> None:
    """Personal data is replaced by a marker; order ids, dates and tracking numbers stay."""
    assert ALL.text(text) == expected


def test_a_sixteen_digit_number_failing_luhn_is_not_a_card() -> None:
    """Only Luhn-valid digit runs are taken for cards."""
    assert "[card]" not in ALL.text("ref 4111 1111 1111 1112")


def test_kinds_are_configurable_and_nul_is_always_removed() -> None:
    """Only the configured kinds are redacted; NUL characters never reach Postgres."""
    only_email = Redactor(["email"])
    assert only_email.text("a@b.io 4111111111111111\x00") == "[email] 4111111111111111"
    with pytest.raises(ValueError, match="unknown redaction kinds"):
        Redactor(["ssn"])


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
