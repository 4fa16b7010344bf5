"""Pure logic of the emulator without sockets: numbers and dates in speech, G.711 codecs, the
dialogue policy over tool definitions it has never seen, and output summaries."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pytest

from switchboard.emulator.asr import merge_digit_runs
from switchboard.emulator.audio import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from switchboard.emulator.idle import IdleTimer
from switchboard.emulator.policy import DialoguePolicy
from switchboard.emulator.replies import summarize_output
from switchboard.emulator.text import find_date, normalize
from switchboard.emulator.vad import SpeechStarted, SpeechStopped, TurnDetector

TODAY = date(2026, 11, 1)  # a Sunday


@pytest.mark.parametrize(
    ("spoken", "expected"),
    [
        ("order one zero zero zero zero one", "order 100001"),
        ("order one oh oh oh oh one", "order 100001"),
        ("1 0 0 0 0 1", "100001"),
        ("100,001", "100001"),
        ("double five six", "556"),
        ("twenty three", "23"),
        ("one hundred and five", "105"),
    ],
)
def test_spoken_numbers_become_digits(spoken: str, expected: str) -> None:
    """Spoken digit strings and cardinals are normalised to digits."""
    assert normalize(spoken) == expected


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("tomorrow", date(2026, 11, 2)),
        ("next friday", date(2026, 11, 6)),
        ("november fifth", date(2026, 11, 5)),
        ("the 3rd of january", date(2027, 1, 3)),
        ("2026-12-24", date(2026, 12, 24)),
    ],
)
def test_dates_in_speech(phrase: str, expected: date) -> None:
    """Relative and absolute dates are resolved against today (past month-days roll to next year)."""
    assert find_date(phrase, today=TODAY) == expected


def test_g711_codecs_round_trip_within_quantisation() -> None:
    """μ-law and a-law encode/decode keep samples within the codecs' quantisation error."""
    samples = (np.sin(np.arange(8000) / 7.0) * 20000).astype(np.int16)
    for encode, decode in ((ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)):
        back = decode(encode(samples)).astype(np.int32)
        assert np.max(np.abs(back - samples)) <= 1024


def test_whisper_digits_are_cross_checked() -> None:
    """A digit run whisper shortened is replaced by pocketsphinx's spelled-out run."""
    assert (
        merge_digit_runs("Where is order 1001?", "where is order one zero zero zero zero one")
        == "where is order 100001?"
    )
    assert merge_digit_runs("Hello there", "hello") == "Hello there"


def test_turn_detector_applies_padding_and_silence() -> None:
    """Speech starts at the first window over threshold minus prefix padding and stops after the silence duration."""
    detector = TurnDetector(threshold=0.5, prefix_padding_ms=64, silence_duration_ms=96)
    probs = [0.1] * 5 + [0.9] * 10 + [0.05] * 3
    events = detector.push(probs, first_window_ms=0, buffer_start_ms=0)
    assert events == [
        SpeechStarted(audio_start_ms=5 * 32 - 64),
        SpeechStopped(audio_end_ms=15 * 32),
    ]


# tools the policy has never seen: a library's, not the shop's
LIBRARY_TOOLS = [
    {
        "type": "function",
        "name": "renew_loan",
        "description": "Renew a borrowed book loan.",
        "parameters": {
            "type": "object",
            "properties": {
                "loan_id": {"type": "string"},
                "weeks": {"type": "integer", "maximum": 6},
            },
            "required": ["loan_id"],
        },
    },
    {
        "type": "function",
        "name": "find_books",
        "description": "Search the catalogue for books by an author.",
        "parameters": {
            "type": "object",
            "properties": {"author": {"type": "string", "description": "Author name"}},
            "required": ["author"],
        },
    },
    {
        "type": "function",
        "name": "book_room",
        "description": "Reserve a study room for a date.",
        "parameters": {
            "type": "object",
            "properties": {
                "day": {"type": "string", "format": "date"},
                "accessible": {"type": "boolean", "description": "Needs step-free access"},
            },
            "required": ["day", "accessible"],
        },
    },
]


def test_policy_fills_arguments_for_unseen_tools() -> None:
    """The policy maps phrasings onto tools it reads from their definitions, with digits and small numbers."""
    policy = DialoguePolicy(today=TODAY)
    reply = policy.respond(
        user_text="Please renew loan four four seven two one for two weeks", tools=LIBRARY_TOOLS
    )
    # renewing changes something: the caller confirms first
    assert reply.tool is None and reply.text
    assert "renew loan 44721" in reply.text and "weeks 2" in reply.text
    reply = policy.respond(user_text="Yes, go ahead.", tools=LIBRARY_TOOLS)
    assert reply.tool == "renew_loan"
    assert reply.arguments == {"loan_id": "44721", "weeks": 2}


def test_policy_asks_for_missing_arguments_then_calls() -> None:
    """Missing required arguments are asked for one at a time; the answers complete the call."""
    policy = DialoguePolicy(today=TODAY)
    first = policy.respond(user_text="I want to book a room", tools=LIBRARY_TOOLS)
    assert first.tool is None and first.text and "day" in first.text
    second = policy.respond(user_text="next friday", tools=LIBRARY_TOOLS)
    assert second.tool is None and second.text and "yes or no" in second.text
    third = policy.respond(user_text="yes please", tools=LIBRARY_TOOLS)
    assert third.tool is None and third.text and third.text.startswith("Just to confirm")
    fourth = policy.respond(user_text="yes", tools=LIBRARY_TOOLS)
    assert fourth.tool == "book_room"
    assert fourth.arguments == {"day": "2026-11-06", "accessible": True}


def test_policy_never_mind_drops_the_request() -> None:
    """Saying never mind while being asked drops the pending call."""
    policy = DialoguePolicy(today=TODAY)
    policy.respond(user_text="renew my loan", tools=LIBRARY_TOOLS)
    reply = policy.respond(user_text="never mind", tools=LIBRARY_TOOLS)
    assert reply.tool is None and policy.pending is None


def test_off_topic_speech_is_not_forced_into_a_tool() -> None:
    """Words that match no tool get a spoken answer, not a function call."""
    reply = DialoguePolicy(today=TODAY).respond(
        user_text="What's the weather like today?", tools=LIBRARY_TOOLS
    )
    assert reply.tool is None and reply.text


def test_tool_choice_none_and_forced() -> None:
    """tool_choice none never calls; a named function is the only candidate."""
    assert (
        DialoguePolicy()
        .respond(user_text="renew loan 44721", tools=LIBRARY_TOOLS, tool_choice="none")
        .tool
        is None
    )
    forced = DialoguePolicy().respond(
        user_text="hello",
        tools=LIBRARY_TOOLS,
        tool_choice={"type": "function", "name": "find_books"},
    )
    assert forced.tool is None and forced.text and "author" in forced.text


def test_output_of_an_unknown_shape_is_read_in_sentences() -> None:
    """A result no template knows is read field by field in sentences (dates in words, lists counted)."""
    text = summarize_output(
        "renew_loan",
        json.dumps({"loan_id": "44721", "due": "2026-11-20", "books": [{"title": "Emma"}]}),
        today=TODAY,
    )
    assert "The loan id is 44721" in text and "November 20, 2026" in text
    assert "1 books" in text and "Emma" in text


def test_errors_are_read_as_apologies() -> None:
    """An error output is spoken as an apology with its message."""
    error = summarize_output(
        "cancel_order",
        json.dumps(
            {"error": {"code": "not_allowed", "message": "Order 100003 has already shipped."}}
        ),
    )
    assert error == "Sorry, order 100003 has already shipped."
    missing = summarize_output(
        "check_order_status",
        json.dumps({"error": {"code": "not_found", "message": "I couldn't find order 100004."}}),
    )
    assert missing == "Sorry, I couldn't find order 100004."


def test_idle_timer_fires_once_after_the_timeout_and_not_while_busy() -> None:
    """The idle timer fires once the timeout's worth of audio has come in, never while busy or unarmed."""
    timer = IdleTimer()
    assert timer.due(60_000, 5000, busy=False) is None  # not armed
    timer.arm(1000)
    assert timer.due(5999, 5000, busy=False) is None
    assert timer.due(7000, 5000, busy=True) is None
    assert timer.due(7000, None, busy=False) is None
    assert timer.due(7000, 5000, busy=False) == (1000, 7000)
    assert timer.due(20_000, 5000, busy=False) is None  # once


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("Can an agent call me on December 7th at 1 pm?", "13:00:00"),
        ("at half past two in the afternoon", "14:30:00"),
        ("Monday at 10 in the morning", "10:00:00"),
        ("say 10:30 am", "10:30:00"),
        ("at twenty to five", "16:40:00"),
        ("quarter past nine in the morning", "09:15:00"),
        ("at midday", "12:00:00"),
        ("at four", "16:00:00"),
        ("on Monday", "09:00:00"),
    ],
)
def test_callback_times_as_people_say_them(said: str, expected: str) -> None:
    """Clock times, half/quarter past and to, midday, and an hour without a period read in the
    shop's hours; a day alone is the morning's opening."""
    from switchboard.emulator.slots import _time_of_day
    from switchboard.emulator.text import normalize

    assert _time_of_day(normalize(said)) == expected
