"""Tool results spoken as a person would say them: one template per result shape, dates as
people say them, money in words, no field names."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

import pytest

from switchboard.emulator.replies import spoken_day, spoken_money, summarize_output

TODAY = date(2026, 11, 3)  # a Tuesday


def say(tool: str, output: dict[str, Any]) -> str:
    return summarize_output(tool, json.dumps(output), today=TODAY)


@pytest.mark.parametrize(
    ("value", "spoken"),
    [
        ("2026-11-03", "today"),
        ("2026-11-04", "tomorrow"),
        ("2026-11-02", "yesterday"),
        ("2026-11-05", "on Thursday"),
        ("2026-10-30", "last Friday"),
        ("2026-11-21", "on November 21st"),
        ("2027-01-02", "on January 2nd, 2027"),
    ],
)
def test_dates_as_people_say_them(value: str, spoken: str) -> None:
    """Near dates are relative or weekdays; others a month and an ordinal day (a year only if another)."""
    assert spoken_day(value, TODAY) == spoken


def test_money_in_words() -> None:
    """Dollar amounts are spoken as dollars and cents."""
    assert spoken_money("$79.99") == "79 dollars 99"
    assert spoken_money("$5.00") == "5 dollars"
    assert spoken_money("12.50 EUR") == "12.50 EUR"


def test_shipment_says_carrier_dates_and_tracking() -> None:
    """A shipment is told with its carrier, when it shipped and should arrive, and the tracking number."""
    text = say(
        "track_shipment",
        {
            "order_id": 101677,
            "carrier": "UPS",
            "tracking_number": "UP101677123456",
            "status": "in_transit",
            "shipped_on": "2026-11-01",
            "estimated_delivery": "2026-11-05",
            "last_location": "Denver hub",
            "history": [
                {"status": "in_transit", "location": "Denver hub", "at": "2026-11-02T10:00"}
            ],
        },
    )
    assert text.startswith(
        "Your order 101677 shipped last Sunday with UPS, and should arrive on Thursday."
    )
    assert "UP101677123456" in text and "Denver hub" in text


@pytest.mark.parametrize(
    ("status", "phrase"),
    [
        ("placed", "placed"),
        ("packed", "packed"),
        ("shipped", "shipped"),
        ("out_for_delivery", "out for delivery"),
        ("delivered", "delivered"),
        ("cancelled", "cancelled"),
    ],
)
def test_order_status_says_the_status_first(status: str, phrase: str) -> None:
    """An order's status comes first, in words, then the delivery date and the items with the total."""
    text = say(
        "check_order_status",
        {
            "order_id": 100001,
            "status": status,
            "placed_on": "2026-10-28",
            "total": "$79.99",
            "items": [{"name": "Kettle", "quantity": 1}, {"name": "Mug", "quantity": 2}],
            "estimated_delivery": "2026-11-04",
        },
    )
    first = text.split(".")[0]
    assert first.startswith("Your order 100001") and phrase in first
    assert "tomorrow" in text and "Kettle and 2 Mug" in text and "79 dollars 99" in text


def test_templates_leave_out_field_names() -> None:
    """No reply reads a field name (snake_case or its words) aloud."""
    outputs = {
        "list_recent_orders": {
            "count": 2,
            "orders": [
                {"order_id": 100001, "status": "shipped", "placed_on": "2026-10-30", "total": "$5.00", "items": []},
                {"order_id": 100002, "status": "placed", "placed_on": "2026-11-02", "total": "$9.50", "items": []},
            ],
        },
        "get_product_info": {
            "count": 1,
            "products": [
                {"name": "Wireless Earbuds", "product_id": 7, "sku": "EB-1", "price": "$49.00", "in_stock": True, "stock": 3, "returnable": True, "return_window_days": 30, "description": "x"}
            ],
        },
        "cancel_order": {"order_id": 100002, "status": "cancelled", "refund": "$9.50", "refund_to": "the original payment method, within 5 business days"},
        "process_return": {"return_id": "RET-1A2B", "order_id": 100001, "refund_estimate": "$5.00", "items": [{"name": "Mug", "quantity": 1}], "drop_off_by": "2026-11-17", "label_url": "https://x/y.pdf", "instructions": "Pack it."},
        "update_shipping_address": {"order_id": 100002, "status": "placed", "shipping_address": "5 Elm Road, Portland, OR 97201, US", "previous_address": "1 A St, Seattle, WA 98101, US"},
        "update_account_info": {"updated": "preferred_language", "value": "es", "changed": True},
        "schedule_callback": {"callback_id": "CB-1", "scheduled_for": "2026-11-04T15:00-05:00", "phone": "+1 206 555 0100", "reason": "billing"},
        "escalate_to_human": {"ticket_id": "TCK-9", "priority": "high", "status": "open", "expected_response": "within 1 hour"},
        "get_customer_info": {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+1 206 555 0100", "preferred_language": "en", "membership": "gold", "address": "1 A St, Seattle, WA 98101, US", "open_orders": 2},
    }  # fmt: skip
    expected = {
        "list_recent_orders": "You have 2 recent orders.",
        "get_product_info": "The Wireless Earbuds costs 49 dollars, and it's in stock.",
        "cancel_order": "Done: order 100002 is cancelled.",
        "process_return": "I've started return RET-1A2B for order 100001.",
        "update_shipping_address": "Done: order 100002 will now go to 5 Elm Road",
        "update_account_info": "Done: your preferred language is now es.",
        "schedule_callback": "Done: an agent will call you tomorrow at 3 PM",
        "escalate_to_human": "I've passed this to a human agent: ticket TCK-9",
        "get_customer_info": "Your account is under Ada Lovelace",
    }
    for tool, output in outputs.items():
        text = say(tool, output)
        assert text.startswith(expected[tool]), (tool, text)
        assert not re.search(r"\b[a-z]+_[a-z_]+\b", text), (tool, text)
        for field in ("order id", "placed on", "refund estimate", "tracking number is none"):
            assert field not in text.lower(), (tool, text)
