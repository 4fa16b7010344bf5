"""The number reader on written text: identifiers as people say them and recognisers write them,
put together against the schema that asks for them."""

from __future__ import annotations

import pytest

from switchboard.emulator.asr import merge_digit_runs
from switchboard.emulator.numbers import NumberShape, read_identifier
from switchboard.emulator.policy import DialoguePolicy
from switchboard.emulator.text import normalize

ORDER_ID = {
    "description": "The order number, a six-digit number such as 100001.",
    "exclusiveMaximum": 1000000000000,
    "minimum": 1,
    "type": "integer",
}
POSTCODE = {
    "description": "The ZIP or postal code; for the US five digits such as 98101.",
    "maxLength": 20,
    "minLength": 3,
    "type": "string",
}
ORDER_TOOL = {
    "type": "function",
    "name": "check_order_status",
    "description": "Check the status of one of the customer's orders.",
    "parameters": {
        "type": "object",
        "properties": {"order_id": ORDER_ID},
        "required": ["order_id"],
    },
}


@pytest.mark.parametrize(
    ("heard", "expected"),
    [
        ("108.975", "108975"),
        ("101 506", "101506"),
        ("1-0-3-4-5-4", "103454"),
        ("1015 977", "1015977"),  # no six-digit reading: the whole number, not its first group
        ("104, 48", "10448"),
        ("101-597", "101597"),
        ("order number 101.597?", "101597"),
        ("It is 10 15 97", "101597"),
        ("one oh one five nine seven", "101597"),
        ("one o one five nine seven", "101597"),
        ("one-oh-one-five-nine-seven", "101597"),
        ("ten oh four twenty-three", "100423"),
        ("ten oh four twenty three", "100423"),
        ("one zero one, five nine seven", "101597"),
        ("double one zero five nine seven", "110597"),
        ("a hundred and one thousand five hundred and ninety-seven", "101597"),
        ("I have 2 orders, the one I mean is 101506", "101506"),
        ("Where is my order, 100001?", "100001"),
        ("Order #101506.", "101506"),
    ],
)
def test_order_numbers_as_heard(heard: str, expected: str) -> None:
    """Groups split by spaces, dots, commas or hyphens, and spoken digits, pairs and cardinals, read as the six-digit order number."""
    assert read_identifier(heard, ORDER_ID) == expected


def test_reading_that_fits_the_schema_wins_over_the_first_group() -> None:
    """Of several readings the one with the schema's length wins, wherever it is in the text."""
    assert read_identifier("12 maple street, seattle 98101", POSTCODE) == "98101"
    assert read_identifier("101506 or 101507", ORDER_ID) == "101506"
    assert read_identifier("no number here", ORDER_ID) is None


def test_shape_from_the_schema() -> None:
    """Length comes from the description ("six-digit", "five digits"), an exact pattern or an example."""
    assert NumberShape.from_schema(ORDER_ID).expected_length == 6
    assert NumberShape.from_schema(POSTCODE).expected_length == 5
    assert NumberShape.from_schema({"pattern": r"^\d{8}$"}).expected_length == 8
    assert NumberShape.from_schema({"description": "e.g. 4471"}).expected_length == 4
    assert NumberShape.from_schema({"pattern": r"^\d{8}$"}).fits("12345678")
    assert not NumberShape.from_schema({"pattern": r"^\d{8}$"}).fits("1234567")
    assert not NumberShape.from_schema({"type": "integer", "maximum": 20}).allows("21")


def test_a_clipped_word_glued_to_the_digits_is_split() -> None:
    """ "or100001" (a recogniser's clipped "order") is "order 100001"; ids that mix letters and
    digits, and words that only start like one, stay as they are."""
    assert normalize("status of or100001?") == "status of order 100001?"
    assert normalize("number100004 please") == "number 100004 please"
    assert normalize("tck-1234 1z99991234 norway or 42") == "tck-1234 1z99991234 norway or 42"


def test_hyphenated_number_words_become_digits() -> None:
    """ "twenty-three" is a number; "well-known" stays a word."""
    assert normalize("twenty-three well-known") == "23 well-known"


@pytest.mark.parametrize(
    ("heard", "order_id"),
    [
        ("Where is my order 101 506?", 101506),
        ("what's the status of 108.975", 108975),
        ("order 1-0-3-4-5-4 please", 103454),
        # whisper once glued a clipped "order" to the digits (a full run of the suite)
        ("what is the status of or100001?", 100001),
    ],
)
def test_policy_calls_with_the_whole_order_number(heard: str, order_id: int) -> None:
    """The policy passes the assembled number to the tool, not the first group."""
    reply = DialoguePolicy().respond(user_text=heard, tools=[ORDER_TOOL])
    assert reply.tool == "check_order_status"
    assert reply.arguments == {"order_id": order_id}


def test_cross_check_compares_whole_numbers() -> None:
    """Whisper's split or shortened number is replaced by pocketsphinx's longer one, group by group."""
    assert (
        merge_digit_runs("Where is order 10 156?", "where is order one zero one five zero six")
        == "where is order 101506?"
    )
    assert (
        merge_digit_runs("order 101 506", "order one zero one five") == "order 101 506"
    )  # a shorter check never replaces
