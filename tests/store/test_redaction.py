"""Redaction of e-mails, phone numbers and Luhn-valid card numbers (pure, no I/O)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.store.redaction import _CARD, _PHONE, Redactor, luhn_valid
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


def test_nothing_to_redact_means_no_copy() -> None:
    """An event without personal data comes back as the same object (nothing is copied)."""
    for event in conversation(arguments={"order_id": 100001, "note": "by Friday"}):
        assert ALL.event(event) is event


_PATTERNS = (
    ("card", _CARD, Redactor._card_marker),
    ("phone", _PHONE, Redactor._phone_marker),
)


def _reference(text: str, kinds: frozenset[str]) -> str:
    """The card and phone rules applied without the eight-digit pre-check."""
    for kind, pattern, marker in _PATTERNS:
        if kind in kinds:
            text = pattern.sub(marker, text)
    return text


@settings(max_examples=500, deadline=None)
@given(
    text=st.text(alphabet="0123456789 .()+-x\u0663", max_size=40),
    kinds=st.sets(st.sampled_from(["card", "phone"])),
)
def test_the_digit_pre_check_never_changes_the_result(text: str, kinds: set[str]) -> None:
    """Skipping the card and phone patterns for text without eight joined digits changes
    nothing: whatever they would replace has at least eight."""
    assert Redactor(kinds).text(text) == _reference(text, frozenset(kinds))
