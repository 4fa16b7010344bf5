"""Changes confirmed in two phases, as a real model does when the session's tools include
``confirm_action``: the data-changing tool is called at once, its pending action's read-back is
said, and the customer's next turn confirms (``confirm_action``), cancels (``cancel_action``) or
moves on; tool sets without the protocol keep the policy's own read-back. On written text, then
through the speech-free emulator's websocket with a test client playing the tools."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from switchboard.contracts.tools import (
    CANCEL_ACTION_TOOL,
    CONFIRM_ACTION_TOOL,
    PendingAction,
    ProposedChange,
    ToolCallResult,
    ToolErrorCode,
)
from switchboard.emulator.confirmation import (
    NOTHING_CHANGED,
    PROTOCOL_TOOLS,
    open_proposal,
    spoken_results,
)
from switchboard.emulator.conversation import last_call
from switchboard.emulator.policy import Call, DialoguePolicy
from tests.support.clients import EventLog
from tests.support.realtime import ORDER_TOOLS, user_says

TODAY = date(2026, 11, 1)
SHOP_TOOLS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "data" / "shop_tools.json").read_text()
)


def _protocol_tool(name: str, description: str) -> dict[str, Any]:
    return {
        "type": "function",
        "name": name,
        "description": description,
        "parameters": {
            "type": "object",
            "properties": {
                "action_id": {"type": "string", "description": "The pending action's action_id."}
            },
            "required": ["action_id"],
            "additionalProperties": False,
        },
    }


PROTOCOL_TOOL_DEFS = [
    _protocol_tool(
        CONFIRM_ACTION_TOOL,
        "Make a pending change after the customer said yes to its read-back in a later turn.",
    ),
    _protocol_tool(CANCEL_ACTION_TOOL, "Drop a pending change when the customer says no."),
]
TWO_PHASE_SHOP = SHOP_TOOLS + PROTOCOL_TOOL_DEFS
CANCEL_READ_BACK = "I'll cancel order 100002, because you ordered it twice. Shall I go ahead?"


def _pending(tool: str = "cancel_order", read_back: str = CANCEL_READ_BACK) -> PendingAction:
    return PendingAction(
        action_id="pa_test1",
        tool=tool,
        read_back=read_back,
        changes=[ProposedChange(field="order 100002 status", before="placed", after="cancelled")],
        expires_at=datetime.now(UTC) + timedelta(minutes=5),
    )


def _output(result: ToolCallResult | dict[str, Any] | PendingAction) -> str:
    """The ``function_call_output`` the gateway hands the model for a worker's answer."""
    if isinstance(result, ToolCallResult):
        return result.model_text()
    if isinstance(result, PendingAction):
        return result.model_dump_json()
    return json.dumps(result)


def _failure(code: ToolErrorCode, message: str = "Something the worker said.") -> str:
    return ToolCallResult.failure("call_x", code, message, worker="w").model_text()


def _user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def _call(call_id: str, name: str, arguments: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function_call",
            "call_id": call_id,
            "name": name,
            "arguments": json.dumps(arguments),
        }
    ]


def _answered(call_id: str, output: str) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": output}


def _said(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text}],
    }


PROPOSED = [
    _user("Please cancel order 100002, because I ordered it twice."),
    *_call("call_1", "cancel_order", {"order_id": 100002, "reason": "I ordered it twice"}),
    _answered("call_1", _output(_pending())),
    _said(CANCEL_READ_BACK),
]


# -- the policy on written text ------------------------------------------------------------------


def test_a_change_is_proposed_at_once_and_never_confirmed_in_the_same_response() -> None:
    """With confirm_action among the tools, a filled change is called at once (no read-back of
    the policy's own), and even a "yes" in the request itself proposes, never confirms."""
    policy = DialoguePolicy(today=TODAY)
    reply = policy.respond(
        user_text="Please cancel order 100002, because I ordered it twice.", tools=TWO_PHASE_SHOP
    )
    assert reply.text is None
    assert reply.calls == (
        Call("cancel_order", {"order_id": 100002, "reason": "I ordered it twice"}),
    )
    eager = DialoguePolicy(today=TODAY).respond(
        user_text="Yes, yes, cancel order 100002 please", tools=TWO_PHASE_SHOP
    )
    assert [c.tool for c in eager.calls] == ["cancel_order"]


def test_the_read_back_is_spoken_from_the_pending_action() -> None:
    """A pending action's output is said as its read_back, nothing else."""
    policy = DialoguePolicy(today=TODAY)
    assert policy.summarize("cancel_order", None, _output(_pending())).text == CANCEL_READ_BACK


def test_yes_confirms_the_pending_action_in_the_next_turn() -> None:
    """The customer's yes after the read-back calls confirm_action with the action's id."""
    items = [*PROPOSED, _user("Yes, please.")]
    proposal = open_proposal(items)
    assert proposal is not None and proposal.action_id == "pa_test1"
    reply = DialoguePolicy(today=TODAY).respond(
        user_text="Yes, please.", tools=TWO_PHASE_SHOP, proposal=proposal
    )
    assert reply.calls == (Call(CONFIRM_ACTION_TOOL, {"action_id": "pa_test1"}),)


def test_no_cancels_the_pending_action_and_says_nothing_changed() -> None:
    """A no calls cancel_action; its result is said as "nothing changed"."""
    items = [*PROPOSED, _user("No, don't.")]
    policy = DialoguePolicy(today=TODAY)
    reply = policy.respond(
        user_text="No, don't.", tools=TWO_PHASE_SHOP, proposal=open_proposal(items)
    )
    assert reply.calls == (Call(CANCEL_ACTION_TOOL, {"action_id": "pa_test1"}),)
    cancelled = {"status": "cancelled", "action_id": "pa_test1", "tool": "cancel_order"}
    assert policy.summarize(CANCEL_ACTION_TOOL, None, _output(cancelled)).text == NOTHING_CHANGED


def test_another_request_after_the_read_back_confirms_nothing() -> None:
    """Something else after the read-back is a new request; a yes a turn later confirms nothing."""
    items = [*PROPOSED, _user("Where is my order 100001?")]
    policy = DialoguePolicy(today=TODAY)
    reply = policy.respond(
        user_text="Where is my order 100001?", tools=TWO_PHASE_SHOP, proposal=open_proposal(items)
    )
    assert reply.calls == (Call("check_order_status", {"order_id": 100001}),)
    later = [
        *items,
        *_call("call_2", "check_order_status", {"order_id": 100001}),
        _answered("call_2", _output({"order_id": 100001, "status": "shipped"})),
        _said("Your order 100001 has shipped."),
        _user("Yes."),
    ]
    assert open_proposal(later) is None
    late = policy.respond(user_text="Yes.", tools=TWO_PHASE_SHOP, proposal=open_proposal(later))
    assert all(c.tool != CONFIRM_ACTION_TOOL for c in late.calls)


def test_a_proposal_is_open_only_for_the_turn_right_after_it() -> None:
    """No proposal before the customer answered, after it was confirmed or cancelled, or when
    the conversation does not end with a user turn; a typed message and its audio are one turn."""
    assert open_proposal(PROPOSED) is None
    confirmed = {
        "status": "confirmed",
        "action_id": "pa_test1",
        "tool": "cancel_order",
        "result": {},
    }
    answered = [
        *PROPOSED,
        *_call("call_2", CONFIRM_ACTION_TOOL, {"action_id": "pa_test1"}),
        _answered("call_2", _output(confirmed)),
        _user("Yes."),
    ]
    assert open_proposal(answered) is None
    audio_turn = {"type": "message", "role": "user", "content": [{"type": "input_audio"}]}
    assert open_proposal([*PROPOSED, _user("Yes."), audio_turn]) is not None


def test_a_corrected_number_after_the_read_back_proposes_again() -> None:
    """ "No, I meant order 100003" proposes the change again with the corrected number (the
    worker supersedes the first proposal) instead of cancelling or confirming."""
    items = [*PROPOSED, _user("No, I meant order 100003")]
    reply = DialoguePolicy(today=TODAY).respond(
        user_text="No, I meant order 100003", tools=TWO_PHASE_SHOP, proposal=open_proposal(items)
    )
    assert reply.calls == (
        Call("cancel_order", {"order_id": 100003, "reason": "I ordered it twice"}),
    )


def test_missing_arguments_are_asked_for_before_the_proposal() -> None:
    """Slots are still filled (and corrected) across turns; the change is proposed once filled."""
    policy = DialoguePolicy(today=TODAY)
    asked = policy.respond(user_text="I want to cancel my order", tools=TWO_PHASE_SHOP)
    assert asked.calls == () and asked.text and "order" in asked.text.lower()
    proposed = policy.respond(
        user_text="It is one zero zero zero zero four, I found it cheaper elsewhere",
        tools=TWO_PHASE_SHOP,
    )
    assert proposed.calls == (
        Call("cancel_order", {"order_id": 100004, "reason": "I found it cheaper elsewhere"}),
    )


def test_the_protocol_tools_are_never_chosen_for_a_request() -> None:
    """Words about cancelling or confirming never call cancel_action / confirm_action unasked."""
    for said in ("I want to cancel", "cancel the action please", "confirm it"):
        reply = DialoguePolicy(today=TODAY).respond(user_text=said, tools=TWO_PHASE_SHOP)
        assert not {c.tool for c in reply.calls} & {CONFIRM_ACTION_TOOL, CANCEL_ACTION_TOOL}


def test_with_tool_choice_none_a_yes_confirms_nothing() -> None:
    """A response that may call no tool answers a yes in words."""
    items = [*PROPOSED, _user("Yes.")]
    reply = DialoguePolicy(today=TODAY).respond(
        user_text="Yes.", tools=TWO_PHASE_SHOP, tool_choice="none", proposal=open_proposal(items)
    )
    assert reply.calls == () and reply.text


def test_a_change_among_several_requests_ends_the_reply_with_its_read_back() -> None:
    """A question and a change in one turn are two calls; the answer comes first and the
    read-back (a yes/no question) last, whatever the order of the calls."""
    policy = DialoguePolicy(today=TODAY)
    reply = policy.respond(
        user_text="Please cancel order 100002 because I ordered it twice, and where is order 100001?",
        tools=TWO_PHASE_SHOP,
    )
    assert [c.tool for c in reply.calls] == ["cancel_order", "check_order_status"]
    said = policy.summarize_all(
        [
            ("cancel_order", _output(_pending())),
            ("check_order_status", _output({"order_id": 100001, "status": "shipped"})),
        ]
    ).text
    assert said is not None and said.endswith(CANCEL_READ_BACK)
    assert said.startswith("Your order 100001 has shipped.")
    two_changes = policy.respond(
        user_text="Cancel order 100002 because I ordered it twice, and also cancel order 100003 because it is late",
        tools=TWO_PHASE_SHOP,
    )
    assert len(two_changes.calls) <= 1  # the worker keeps one pending action per session


def test_without_confirm_action_the_policy_reads_the_change_back_itself() -> None:
    """The same request with tools that have no two-phase protocol is read back by the policy
    and called only after a yes; read-only requests are unchanged either way."""
    policy = DialoguePolicy(today=TODAY)
    asked = policy.respond(
        user_text="Please cancel order 100002, because I ordered it twice.", tools=SHOP_TOOLS
    )
    assert asked.calls == () and asked.text and asked.text.startswith("Just to confirm")
    done = policy.respond(user_text="Yes, please.", tools=SHOP_TOOLS)
    assert done.calls == (
        Call("cancel_order", {"order_id": 100002, "reason": "I ordered it twice"}),
    )
    for tools in (SHOP_TOOLS, TWO_PHASE_SHOP):
        read = DialoguePolicy(today=TODAY).respond(
            user_text="Where is my order 100001?", tools=tools
        )
        assert read.calls == (Call("check_order_status", {"order_id": 100001}),)


def test_a_confirmed_result_is_said_with_the_original_tools_template() -> None:
    """confirm_action's output is said as the tool it committed would be ("Done: order ... is
    cancelled"), not field by field."""
    confirmed = {
        "status": "confirmed",
        "action_id": "pa_test1",
        "tool": "cancel_order",
        "result": {
            "order_id": 100002,
            "status": "cancelled",
            "refund": "$25.00",
            "refund_to": "your card",
        },
    }
    said = spoken_results([(CONFIRM_ACTION_TOOL, _output(confirmed))], today=TODAY)
    assert said == "Done: order 100002 is cancelled. 25 dollars will be refunded to your card."
    email = {
        "status": "confirmed",
        "action_id": "pa_test2",
        "tool": "update_account_info",
        "result": {"updated": "email", "value": "jane.doe@example.com"},
    }
    said = spoken_results([(CONFIRM_ACTION_TOOL, _output(email))], today=TODAY)
    assert said == "Done: your email is now jane.doe@example.com."


@pytest.mark.parametrize(
    ("tool", "code", "words"),
    [
        (CONFIRM_ACTION_TOOL, ToolErrorCode.EXPIRED, "waited too long"),
        (CONFIRM_ACTION_TOOL, ToolErrorCode.AWAITING_CUSTOMER, "I need your answer first"),
        ("update_account_info", ToolErrorCode.VERIFICATION_REQUIRED, "confirmed who you are"),
        (CONFIRM_ACTION_TOOL, ToolErrorCode.VERIFICATION_REQUIRED, "confirmed who you are"),
        (CONFIRM_ACTION_TOOL, ToolErrorCode.NOT_FOUND, "can't find that change"),
        (CANCEL_ACTION_TOOL, ToolErrorCode.NOT_FOUND, "can't find that change"),
    ],
)
def test_the_protocols_errors_are_said_in_plain_words(
    tool: str, code: ToolErrorCode, words: str
) -> None:
    """expired, awaiting_customer, verification_required and a lost action are said in plain
    words, without codes or the tool's name."""
    said = spoken_results([(tool, _failure(code))], today=TODAY)
    assert words in said
    assert code.value not in said and "_" not in said and "action" not in said


def test_not_found_from_another_tool_keeps_its_message() -> None:
    """An ordinary tool's not_found is still read as the worker's message."""
    said = spoken_results(
        [("check_order_status", _failure(ToolErrorCode.NOT_FOUND, "I couldn't find order 1."))],
        today=TODAY,
    )
    assert said == "Sorry, I couldn't find order 1."


# -- through the emulator's websocket -------------------------------------------------------------

TWO_PHASE_ORDER_TOOLS = ORDER_TOOLS + PROTOCOL_TOOL_DEFS


async def _start(log: EventLog, tools: list[dict[str, Any]]) -> None:
    await log.until("session.created")
    await log.send(
        {
            "type": "session.update",
            "session": {"type": "realtime", "tools": tools, "output_modalities": ["text"]},
        }
    )
    await log.until("session.updated")


async def _turn(log: EventLog) -> dict[str, Any]:
    """The next response, finished."""
    done: dict[str, Any] = (await log.until("response.done"))["response"]
    assert done["status"] == "completed"
    return done


def _calls(response: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for o in response["output"] if o["type"] == "function_call"]


def _text(response: dict[str, Any]) -> str:
    return " ".join(
        c.get("text") or c.get("transcript") or ""
        for o in response["output"]
        if o["type"] == "message"
        for c in o.get("content") or []
    )


async def _answer(log: EventLog, call: dict[str, Any], output: str) -> dict[str, Any]:
    """Play the tool: send its output and ask for the response that speaks it."""
    await log.send(
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": call["call_id"], "output": output},
        }
    )
    await log.send({"type": "response.create"})
    return await _turn(log)


async def _propose(log: EventLog) -> dict[str, Any]:
    """The customer asks for a cancellation; the tool answers a pending action, read back."""
    await _start(log, TWO_PHASE_ORDER_TOOLS)
    await user_says(log, "Please cancel order one zero zero zero zero two, I ordered it twice")
    proposed = await _turn(log)
    (call,) = _calls(proposed)
    assert call["name"] == "cancel_order" and not _text(proposed)
    assert json.loads(call["arguments"]) == {"order_id": 100002, "reason": "I ordered it twice"}
    read_back = await _answer(log, call, _output(_pending()))
    assert _text(read_back) == CANCEL_READ_BACK and not _calls(read_back)
    return call


async def test_yes_over_the_wire_confirms_in_a_later_response(text_ga: EventLog) -> None:
    """Proposal at once, read-back said, then the customer's yes → confirm_action with the
    pending action's id in a new response, and the committed result said as a cancellation."""
    await _propose(text_ga)
    await user_says(text_ga, "Yes, please.")
    confirmed = await _turn(text_ga)
    (confirm,) = _calls(confirmed)
    assert confirm["name"] == CONFIRM_ACTION_TOOL
    assert json.loads(confirm["arguments"]) == {"action_id": "pa_test1"}
    result = {"order_id": 100002, "status": "cancelled", "refund": "$25.00"}
    output = {
        "status": "confirmed",
        "action_id": "pa_test1",
        "tool": "cancel_order",
        "result": result,
    }
    said = await _answer(text_ga, confirm, _output(output))
    assert _text(said) == "Done: order 100002 is cancelled. 25 dollars will be refunded."


async def test_no_over_the_wire_cancels(text_ga: EventLog) -> None:
    """The customer's no → cancel_action with the id, then "I haven't changed anything"."""
    await _propose(text_ga)
    await user_says(text_ga, "No, thanks.")
    (cancel,) = _calls(await _turn(text_ga))
    assert cancel["name"] == CANCEL_ACTION_TOOL
    assert json.loads(cancel["arguments"]) == {"action_id": "pa_test1"}
    cancelled = {"status": "cancelled", "action_id": "pa_test1", "tool": "cancel_order"}
    assert _text(await _answer(text_ga, cancel, _output(cancelled))) == NOTHING_CHANGED


async def test_another_request_over_the_wire_confirms_nothing(text_ga: EventLog) -> None:
    """A new request after the read-back is answered as one; a yes after that confirms nothing."""
    await _propose(text_ga)
    await user_says(text_ga, "Actually, what is the status of order one zero zero zero zero one?")
    (lookup,) = _calls(await _turn(text_ga))
    assert lookup["name"] == "check_order_status"
    await _answer(text_ga, lookup, _output({"order_id": 100001, "status": "shipped"}))
    await user_says(text_ga, "Yes.")
    assert not _calls(await _turn(text_ga))


async def test_without_the_protocol_the_wire_flow_is_unchanged(text_ga: EventLog) -> None:
    """Tools without confirm_action: the policy reads the change back and calls the tool itself
    only after the yes."""
    await _start(text_ga, ORDER_TOOLS)
    await user_says(text_ga, "Please cancel order one zero zero zero zero two, I ordered it twice")
    asked = await _turn(text_ga)
    assert not _calls(asked) and "yes or no" in _text(asked)
    await user_says(text_ga, "Yes, please.")
    (call,) = _calls(await _turn(text_ga))
    assert call["name"] == "cancel_order"
    assert json.loads(call["arguments"]) == {"order_id": 100002, "reason": "I ordered it twice"}


def test_a_replayed_conversation_repeats_the_change_not_the_confirmation() -> None:
    """In a new session replaying a confirmed change, "and order 100003?" proposes the same
    change for that order (the protocol's calls are not the conversation's last request)."""
    confirmed = {"status": "confirmed", "action_id": "pa_test1", "tool": "cancel_order"}
    items = [
        *PROPOSED,
        _user("Yes."),
        *_call("call_2", CONFIRM_ACTION_TOOL, {"action_id": "pa_test1"}),
        _answered("call_2", _output({**confirmed, "result": {}})),
    ]
    previous = last_call(items, skip=PROTOCOL_TOOLS)
    assert previous == ("cancel_order", {"order_id": 100002, "reason": "I ordered it twice"})
    reply = DialoguePolicy(today=TODAY).respond(
        user_text="And order 100003?", tools=TWO_PHASE_SHOP, previous_call=previous
    )
    assert reply.calls == (
        Call("cancel_order", {"order_id": 100003, "reason": "I ordered it twice"}),
    )
