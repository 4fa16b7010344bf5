"""The shared redaction rules (``switchboard.redaction``): e-mails, phone numbers and Luhn-valid
card numbers, used by the gateway before it publishes and by the store before it writes."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.contracts.events import ToolCalled, ToolCompleted, UserTranscript
from switchboard.redaction import (
    _CARD,
    _EMAIL_FAST,
    _PHONE,
    EVERY_KIND,
    KINDS,
    RedactingLogFilter,
    Redactor,
    luhn_valid,
)

CARD_DIGITS = "4111111111111111"

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


def test_every_kind_is_all_of_them() -> None:
    """The gateway's redactor knows every kind."""
    assert EVERY_KIND.kinds == frozenset(KINDS)


def test_payload_redaction_leaves_the_original_alone() -> None:
    """A redacted payload is a copy: the tool call keeps its real arguments (the worker needs
    them) and a payload without personal data is returned as is."""
    arguments = {"order_id": 100001, "email": "jo@example.com"}
    called = ToolCalled(call_id="call_1", tool="update_email", arguments=arguments)
    redacted = EVERY_KIND.payload(called)
    assert isinstance(redacted, ToolCalled)
    assert redacted.arguments == {"order_id": 100001, "email": "[email]"}
    assert called.arguments["email"] == "jo@example.com" and arguments["email"] == "jo@example.com"
    done = ToolCompleted(
        call_id="call_1", tool="t", ok=True, output={"a": "4111111111111111"}, duration_ms=1.0
    )
    assert EVERY_KIND.payload(done).output == {"a": "[card]"}  # type: ignore[union-attr]
    plain = UserTranscript(item_id="item_1", text="where is order 100001?")
    assert EVERY_KIND.payload(plain) is plain


@settings(max_examples=1000, deadline=None)
@given(text=st.text(alphabet="ab1.-_%+@ \u00e9x.co", max_size=50))
def test_addresses_found_from_each_at_sign_are_the_patterns_matches(text: str) -> None:
    """Finding e-mail addresses from each "@" gives exactly what the pattern's own scan at every
    position gives (including addresses back to back, an "@" with nothing before it, and local
    parts that follow the end of the previous address)."""
    assert Redactor(["email"]).text(text) == _EMAIL_FAST.sub("[email]", text)


@pytest.mark.parametrize(
    "text",
    [
        "a@b.co",
        "x a@b.com.x@y.org",
        "@b.co",
        "a@b.co@c.de",
        "a.@b.c.de-f",
        "é@b.co jo@x",
        "a@@b.co",
    ],
)
def test_addresses_found_from_each_at_sign_on_edge_cases(text: str) -> None:
    """The same on hand-picked cases."""
    assert Redactor(["email"]).text(text) == _EMAIL_FAST.sub("[email]", text)


@settings(max_examples=500, deadline=None)
@given(digits=st.text(alphabet="0123456789", min_size=1, max_size=19))
def test_the_luhn_check_matches_its_definition(digits: str) -> None:
    """The byte-table Luhn check agrees with the textbook loop."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        d = int(char) * (2 if index % 2 else 1)
        total += d - 9 if d > 9 else d
    assert luhn_valid(digits) is (total % 10 == 0)


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet="0123456789 .()+-@abcxyz[]", max_size=60))
def test_redacting_twice_changes_nothing(text: str) -> None:
    """What the gateway redacted, the store's second line leaves as it is (the same object)."""
    once = EVERY_KIND.text(text)
    assert EVERY_KIND.text(once) is once


def test_a_redacted_event_passes_the_second_line_uncopied() -> None:
    """An event redacted at the edge is returned as is by the second redaction."""
    said = UserTranscript(item_id="item_1", text="jo@example.com, card 4111 1111 1111 1111")
    once = EVERY_KIND.payload(said)
    assert once is not said and once.text == "[email], card [card]"  # type: ignore[union-attr]
    assert EVERY_KIND.payload(once) is once


def test_the_log_filter_redacts_messages_extras_and_tracebacks() -> None:
    """A record that quotes an e-mail or card number (message, extras, exception) is written
    without it, as JSON and as text; a clean record is left as it is."""
    import io
    import logging

    from switchboard.observability import JsonFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("test"))
    handler.addFilter(RedactingLogFilter())
    text = io.StringIO()
    plain = logging.StreamHandler(text)
    plain.addFilter(RedactingLogFilter())
    logger = logging.getLogger("tests.redaction.filter")
    logger.addHandler(handler)
    logger.addHandler(plain)
    logger.propagate = False
    try:
        logger.warning("mail %s", "jo@example.com", extra={"args_seen": {"card": CARD_DIGITS}})
        try:
            raise ValueError(f"bad value {CARD_DIGITS}")
        except ValueError:
            logger.exception("failed for jo@example.com")
        logger.warning("session ended", extra={"reason": "client_closed"})
    finally:
        logger.removeHandler(handler)
        logger.removeHandler(plain)
    written = stream.getvalue() + text.getvalue()
    assert "jo@example.com" not in written and CARD_DIGITS not in written, written
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["msg"] == "mail [email]" and lines[0]["args_seen"] == {"card": "[card]"}
    assert "ValueError: bad value [card]" in lines[1]["exc"]
    assert "ValueError: bad value [card]" in text.getvalue()  # the text formatter's traceback
    assert lines[2]["msg"] == "session ended" and lines[2]["reason"] == "client_closed"


# -- the fast text redactor against the patterns run over the whole text -----------------------
def _whole_text(text: str) -> str:
    """What the redactor did before it looked for numbers only inside runs of number characters
    and for e-mails only where a local part starts: every pattern over the whole text (the e-mail
    pattern as it was, backtracking; the numbers' patterns behind a check for eight digits)."""
    eight_digits = re.compile(r"(?:\d[ .()+-]*){8}")
    email = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
    if "\x00" in text:
        text = text.replace("\x00", "")
    if "@" in text:
        text = email.sub(KINDS["email"], text)
    if eight_digits.search(text):
        text = _CARD.sub(Redactor._card_marker, text)
        text = _PHONE.sub(Redactor._phone_marker, text)
    return text


_PIECES = st.sampled_from(
    [
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "378282246310005",
        "(206) 555-0147",
        "+44 20 7946 0958",
        "+1 415 555 0100",
        "2065550147",
        "415-555-0100",
        "100001",
        "2026-11-01",
        "1Z999AA10123456784",
        "jane.doe@example.com",
        "a+b@x.co.uk",
        "@",
        "x",
        "a",
        " ",
        "-",
        ".",
        "(",
        ")",
        "+",
        "0",
        "7",
        "12",
        "order",
        "card",
        "\\n",
        "é",
    ]
)


@settings(max_examples=3000, deadline=None)
@given(st.lists(_PIECES, max_size=14).map("".join))
def test_the_fast_redactor_matches_the_patterns_over_the_whole_text(text: str) -> None:
    """Pieces that make card and phone numbers, e-mails, dates, order and tracking numbers,
    glued together in any order with or without separators (so runs touch, share context
    characters and straddle letters): the result is exactly what the patterns give when run
    over the whole text."""
    assert ALL.text(text) == _whole_text(text)
