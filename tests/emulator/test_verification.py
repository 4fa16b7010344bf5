"""The emulator's policy plays caller verification as the prompt asks a model to: a
verification_required answer makes it ask for the postal code, the next turn's digits (spoken
or pressed) go to verify_caller, the refused request is made again once verified, a mismatch
asks again, and the last failed attempt hands over to a person; no account data is spoken."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from switchboard.contracts.tools import CANCEL_ACTION_TOOL, CONFIRM_ACTION_TOOL, VERIFY_CALLER_TOOL
from switchboard.emulator.policy import Call, DialoguePolicy
from switchboard.emulator.verification import ASK_POSTCODE, caller_code

TODAY = date(2026, 11, 1)
SHOP_TOOLS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "data" / "shop_tools.json").read_text()
)
VERIFY_TOOL = {
    "type": "function",
    "name": VERIFY_CALLER_TOOL,
    "description": "Verify who is calling with the postal code on the account.",
    "parameters": {
        "type": "object",
        "properties": {
            "postcode": {"type": "string", "description": "The postal code."},
            "order_id": {"type": ["integer", "null"], "description": "An order number."},
        },
        "required": ["postcode"],
        "additionalProperties": False,
    },
}
#: as the workers serve them: two phases (confirm_action) and verify_caller
TOOLS = [
    *SHOP_TOOLS,
    *(
        {
            "type": "function",
            "name": name,
            "description": f"{name} a pending change.",
            "parameters": {
                "type": "object",
                "properties": {"action_id": {"type": "string", "description": "The action."}},
                "required": ["action_id"],
                "additionalProperties": False,
            },
        }
        for name in (CONFIRM_ACTION_TOOL, CANCEL_ACTION_TOOL)
    ),
    VERIFY_TOOL,
]
REQUIRED = json.dumps(
    {"error": {"code": "verification_required", "message": "Ask for the postal code."}}
)
STATUS = json.dumps({"order_id": 100001, "status": "shipped", "total": "$79.99"})


def _verify(status: str, left: int | None = None) -> str:
    doc: dict[str, Any] = {"status": status}
    if left is not None:
        doc["attempts_left"] = left
    return json.dumps(doc)


def _asked_for_the_code(policy: DialoguePolicy) -> Call:
    """The caller asks about an order; the tool refuses; the policy asks for the postal code."""
    reply = policy.respond(user_text="What is the status of order 100001?", tools=TOOLS)
    assert reply.calls == (Call("check_order_status", {"order_id": 100001}),)
    asked = policy.summarize_all([("check_order_status", REQUIRED)])
    assert asked.text == ASK_POSTCODE and not asked.calls
    return reply.calls[0]


def test_digits_in_a_turn_become_verify_caller_arguments() -> None:
    """Keypad text, spoken digits and an order number with a ZIP are all read."""
    assert caller_code("The caller pressed 9 4 1 0 7 # on the keypad.") == {"postcode": "94107"}
    assert caller_code("nine four one oh seven") == {"postcode": "94107"}
    assert caller_code("order 100001 and the zip is 94107") == {
        "postcode": "94107",
        "order_id": 100001,
    }
    assert caller_code("I don't remember it") is None


def test_a_verified_caller_gets_the_refused_request_answered() -> None:
    """Keypad digits go to verify_caller; on verified the refused call is made again and its
    answer is spoken after a thank-you."""
    policy = DialoguePolicy(today=TODAY)
    refused = _asked_for_the_code(policy)
    reply = policy.respond(user_text="The caller pressed 9 4 1 0 7 # on the keypad.", tools=TOOLS)
    assert reply.calls == (Call(VERIFY_CALLER_TOOL, {"postcode": "94107"}),)
    retry = policy.summarize_all([(VERIFY_CALLER_TOOL, _verify("verified"))])
    assert retry.calls == (refused,)
    said = policy.summarize_all(
        [(VERIFY_CALLER_TOOL, _verify("verified")), ("check_order_status", STATUS)]
    )
    assert said.text is not None and said.text.startswith("Thank you")
    assert "shipped" in said.text
    assert policy.verifying is None


def test_a_mismatch_asks_again_and_the_last_failure_transfers() -> None:
    """Two wrong codes are asked again; the third hands over to a person with
    escalate_to_human, and what is said mentions no account data."""
    policy = DialoguePolicy(today=TODAY)
    _asked_for_the_code(policy)
    for code, left in (("11111", 2), ("22222", 1)):
        reply = policy.respond(user_text=f"It is {code}", tools=TOOLS)
        assert reply.calls == (Call(VERIFY_CALLER_TOOL, {"postcode": code}),)
        again = policy.summarize_all([(VERIFY_CALLER_TOOL, _verify("failed", left))])
        assert again.text is not None and "doesn't match" in again.text
    reply = policy.respond(user_text="The caller pressed 3 3 3 3 3 # on the keypad.", tools=TOOLS)
    last = _verify("failed", 0)
    transfer = policy.summarize_all([(VERIFY_CALLER_TOOL, last)])
    assert [c.tool for c in transfer.calls] == ["escalate_to_human"]
    ticket = json.dumps({"ticket_id": "TCK-1", "priority": "normal", "status": "open"})
    said = policy.summarize_all([(VERIFY_CALLER_TOOL, last), ("escalate_to_human", ticket)])
    assert said.text is not None and "member of our team" in said.text
    assert "100001" not in said.text and "shipped" not in said.text
    assert policy.verifying is None


def test_a_refusal_is_said_and_other_requests_still_work() -> None:
    """verify_caller's refusal (no account, or no attempts left) offers a person; a turn
    without digits while the code is awaited is an ordinary request (a transfer)."""
    policy = DialoguePolicy(today=TODAY)
    _asked_for_the_code(policy)
    person = policy.respond(user_text="Can I talk to a human agent please", tools=TOOLS)
    assert [c.tool for c in person.calls] == ["escalate_to_human"]
    policy = DialoguePolicy(today=TODAY)
    _asked_for_the_code(policy)
    policy.respond(user_text="98101", tools=TOOLS)
    refusal = json.dumps({"error": {"code": "not_allowed", "message": "Not on any account."}})
    said = policy.summarize_all([(VERIFY_CALLER_TOOL, refusal)])
    assert said.text is not None and "member of our team" in said.text
    assert policy.verifying is None


def test_sessions_without_verify_caller_keep_the_old_wording() -> None:
    """Without verify_caller among the tools, verification_required is said as before and
    nothing is asked."""
    policy = DialoguePolicy(today=TODAY)
    policy.respond(user_text="What is the status of order 100001?", tools=SHOP_TOOLS)
    said = policy.summarize_all([("check_order_status", REQUIRED)])
    assert said.text != ASK_POSTCODE and policy.verifying is None
