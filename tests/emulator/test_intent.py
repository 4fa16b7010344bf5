"""The intent scorer and the conversation on written text, over the shop's eleven tools (a frozen
copy of their definitions in data/shop_tools.json) and a library's tools the policy never saw."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from switchboard.emulator.intent import ToolSpec, choose_tool
from switchboard.emulator.policy import Call, DialoguePolicy

TODAY = date(2026, 11, 1)  # a Sunday
SHOP_TOOLS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "data" / "shop_tools.json").read_text()
)
SPECS = [ToolSpec.from_tool(t) for t in SHOP_TOOLS]


@pytest.mark.parametrize(
    ("said", "tool"),
    [
        # news about an order is a status question, not a change of address
        ("Any news about order 101677? I'd like an update", "check_order_status"),
        ("Can I get an update on order 101677?", "check_order_status"),
        ("Is there any update for 101677?", "check_order_status"),
        ("Where is my order 100001?", "check_order_status"),
        ("Has order 101677 shipped?", "check_order_status"),
        ("When will order 101677 arrive?", "check_order_status"),
        # which orders → the list, not a question for an order number
        ("Which orders have I made?", "list_recent_orders"),
        ("What did I order recently?", "list_recent_orders"),
        ("What have I bought from you?", "list_recent_orders"),
        ("Show me my recent orders", "list_recent_orders"),
        # who delivers, tracking, carrier → tracking
        ("Who is delivering my parcel for order 101677?", "track_shipment"),
        ("Who delivers order 101677?", "track_shipment"),
        ("What's the tracking number for order 101677?", "track_shipment"),
        ("Which courier has order 101677?", "track_shipment"),
        ("Where is my package for order 101677?", "track_shipment"),
        ("How much are the wireless earbuds?", "get_product_info"),
        ("Are the wireless earbuds in stock?", "get_product_info"),
        ("What email do you have on file for me?", "get_customer_info"),
        ("What are my account details?", "get_customer_info"),
        ("I want to return order 101677, it's broken", "process_return"),
        ("I want my money back for order 101677", "process_return"),
        ("My order 101677 arrived damaged, I want to send it back", "process_return"),
        ("Please cancel order 100002, because I ordered it twice.", "cancel_order"),
        ("I moved, please change the address for order 101677", "update_shipping_address"),
        (
            "Send order 101677 to my new address, 5 Elm Road, Portland, Oregon 97201",
            "update_shipping_address",
        ),
        ("Change my email to bob at example dot com", "update_account_info"),
        ("Please set my preferred language to Spanish", "update_account_info"),
        ("Can someone call me back tomorrow at 3 pm?", "schedule_callback"),
        ("Can you ring me on Monday at 10 am?", "schedule_callback"),
        ("I want to speak to a human", "escalate_to_human"),
        ("I need to talk to a manager", "escalate_to_human"),
    ],
)
def test_intent_from_the_whole_utterance(said: str, tool: str) -> None:
    """Every tool is scored against the whole utterance; the one meant wins."""
    choice = choose_tool(said, SPECS)
    assert choice.tool is not None and choice.tool.name == tool


@pytest.mark.parametrize(
    ("said", "tool"),
    [
        # "what's going on with X" asks for X's status
        ("What's going on with order 101677?", "check_order_status"),
        ("What is new with my order 101677?", "check_order_status"),
        # "what ... have you got on me" asks for the caller's own details
        ("What email have you got on me?", "get_customer_info"),
        ("Which phone number do you keep for me?", "get_customer_info"),
        # a light verb before the action's noun asks for the action
        ("I need to make a return for order 101677.", "process_return"),
        ("Can I file a cancellation for order 100002?", "cancel_order"),
        # an -ing form after a noun describes a product; after a pronoun it is the act
        ("How much are the noise cancelling earbuds?", "get_product_info"),
        ("I'm cancelling order 100002, it is late.", "cancel_order"),
        ("I'm thinking about cancelling order 100002.", "cancel_order"),
    ],
)
def test_idioms_light_verbs_and_modifiers(said: str, tool: str) -> None:
    """Tuning cases (written text): idiomatic status and account questions, an action asked for
    with a light verb and its noun, and an -ing adjective that names no act."""
    choice = choose_tool(said, SPECS)
    assert choice.tool is not None and choice.tool.name == tool


@pytest.mark.parametrize(
    "said",
    [
        "What's the weather like today?",
        "What are your opening hours?",
        "Hello, could you tell me what time you open tomorrow and on Sunday?",
        "Tell me a joke",
        "What is the capital of France?",
        "Who are you?",
        "Stop please.",
        "Thank you, goodbye.",
        "Can you help me?",
    ],
)
def test_off_topic_and_general_questions_call_nothing(said: str) -> None:
    """Off-topic and general questions never become a tool call."""
    reply = DialoguePolicy(today=TODAY).respond(user_text=said, tools=SHOP_TOOLS)
    assert reply.calls == () and reply.text


def test_close_tools_get_a_clarifying_question_and_the_answer_picks() -> None:
    """When two tools score alike the caller is asked which they mean; the answer decides and
    the order number from the first turn is kept."""
    tools = [
        {
            "type": "function",
            "name": "check_order",
            "description": "Check an order's status.",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "integer"}},
                "required": ["order_id"],
            },
        },
        {
            "type": "function",
            "name": "view_order",
            "description": "View an order's items.",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "integer"}},
                "required": ["order_id"],
            },
        },
    ]
    policy = DialoguePolicy(today=TODAY)
    asked = policy.respond(user_text="Can you check or view order 101677?", tools=tools)
    assert asked.calls == () and asked.text == "Would you like me to check order, or to view order?"
    picked = policy.respond(user_text="View it please", tools=tools)
    assert picked.calls == (Call("view_order", {"order_id": 101677}),)


def test_slots_are_filled_across_turns() -> None:
    """A request without its order number is asked for; the answer (spoken digits) completes it."""
    policy = DialoguePolicy(today=TODAY)
    asked = policy.respond(user_text="Who is delivering my parcel?", tools=SHOP_TOOLS)
    assert asked.calls == () and asked.text and "order" in asked.text.lower()
    answered = policy.respond(user_text="It's one oh one six seven seven", tools=SHOP_TOOLS)
    assert answered.calls == (Call("track_shipment", {"order_id": 101677}),)


def test_a_correction_repeats_the_call_with_the_number_corrected() -> None:
    """ "No, I said one oh one five nine seven" repeats the last call with the corrected number."""
    policy = DialoguePolicy(today=TODAY)
    first = policy.respond(user_text="Where is my order 101 577?", tools=SHOP_TOOLS)
    assert first.calls == (Call("check_order_status", {"order_id": 101577}),)
    again = policy.respond(user_text="No, I said one oh one five nine seven", tools=SHOP_TOOLS)
    assert again.calls == (Call("check_order_status", {"order_id": 101597}),)


def test_changes_are_confirmed_and_a_no_calls_nothing() -> None:
    """A change is read back and made only after a yes; a no drops it; a correction is read back again."""
    policy = DialoguePolicy(today=TODAY)
    confirm = policy.respond(
        user_text="Please cancel order 100002, because I ordered it twice.", tools=SHOP_TOOLS
    )
    assert confirm.calls == () and confirm.text
    assert "cancel order 100002" in confirm.text and "ordered it twice" in confirm.text
    corrected = policy.respond(user_text="No, I meant order 100003", tools=SHOP_TOOLS)
    assert corrected.calls == () and corrected.text and "cancel order 100003" in corrected.text
    done = policy.respond(user_text="Yes, please.", tools=SHOP_TOOLS)
    assert done.calls == (
        Call("cancel_order", {"order_id": 100003, "reason": "I ordered it twice"}),
    )
    policy.respond(user_text="Cancel order 100004 please", tools=SHOP_TOOLS)
    refused = policy.respond(user_text="No, don't.", tools=SHOP_TOOLS)
    assert refused.calls == () and refused.text and "won't" in refused.text
    assert policy.pending is None


def test_several_requests_in_one_turn_are_several_calls() -> None:
    """Two questions in one turn, or one question about two orders, make one call each, in order."""
    policy = DialoguePolicy(today=TODAY)
    two = policy.respond(
        user_text="Where is my order 100001, and who is delivering order 100004?",
        tools=SHOP_TOOLS,
    )
    assert two.calls == (
        Call("check_order_status", {"order_id": 100001}),
        Call("track_shipment", {"order_id": 100004}),
    )
    both = policy.respond(
        user_text="What's the status of orders 100001 and 100004?", tools=SHOP_TOOLS
    )
    assert both.calls == (
        Call("check_order_status", {"order_id": 100001}),
        Call("check_order_status", {"order_id": 100004}),
    )


@pytest.mark.parametrize(
    ("said", "product"),
    [
        ("How much are the wireless earbuds?", "wireless earbuds"),
        ("Are the wireless earbuds in stock?", "wireless earbuds"),
        ("What's the price of the yoga mat?", "yoga mat"),
        ("Do you have the trail running shoes?", "trail running shoes"),
        ("Tell me about the desk lamp.", "desk lamp"),
    ],
)
def test_the_thing_asked_about_is_the_name_argument(said: str, product: str) -> None:
    """A product question passes the thing asked about, without the question's words."""
    reply = DialoguePolicy(today=TODAY).respond(user_text=said, tools=SHOP_TOOLS)
    assert reply.calls == (Call("get_product_info", {"product_name": product}),)


def test_list_question_lists_instead_of_asking_for_a_number() -> None:
    """ "Which orders have I made?" lists the orders; "my last three orders" sets the limit."""
    reply = DialoguePolicy(today=TODAY).respond(
        user_text="Which orders have I made?", tools=SHOP_TOOLS
    )
    assert reply.calls == (Call("list_recent_orders", {}),)
    three = DialoguePolicy(today=TODAY).respond(
        user_text="Can you list my last three orders?", tools=SHOP_TOOLS
    )
    assert three.calls == (Call("list_recent_orders", {"limit": 3}),)


def test_a_follow_up_repeats_the_conversations_last_call_for_another_order() -> None:
    """ "And order 100003?" asks the previous question about another order, also in a session
    that only saw the earlier call replayed (the last function call of the conversation)."""
    replayed = DialoguePolicy(today=TODAY).respond(
        user_text="And order 100003?",
        tools=SHOP_TOOLS,
        previous_call=("track_shipment", {"order_id": 100001}),
    )
    assert replayed.calls == (Call("track_shipment", {"order_id": 100003}),)
    fresh = DialoguePolicy(today=TODAY).respond(user_text="And order 100003?", tools=SHOP_TOOLS)
    assert fresh.calls == ()


def test_an_idiom_is_not_a_request() -> None:
    """ "Because I changed my mind" does not make a cancellation look like an update."""
    choice = choose_tool("Please cancel order 100002 because I changed my mind", SPECS)
    assert choice.tool is not None and choice.tool.name == "cancel_order"


def test_an_address_is_asked_for_part_by_part_and_the_order_number_kept() -> None:
    """The order number is not taken for the postcode; each part is asked for, the read-back
    waits for a yes, and a postcode answer is never taken for a corrected order number."""
    policy = DialoguePolicy(today=TODAY)
    reply = policy.respond(
        user_text="I moved, please change the address for order 101851.", tools=SHOP_TOOLS
    )
    for answer in ("12 Maple Street", "Seattle", "WA"):
        assert reply.calls == () and reply.text
        reply = policy.respond(user_text=answer, tools=SHOP_TOOLS)
    assert reply.text and "postcode" in reply.text
    reply = policy.respond(user_text="98101", tools=SHOP_TOOLS)
    assert reply.text and reply.text.startswith("Just to confirm")
    done = policy.respond(user_text="Yes, please.", tools=SHOP_TOOLS)
    assert done.calls == (
        Call(
            "update_shipping_address",
            {
                "order_id": 101851,
                "street": "12 Maple Street",
                "city": "Seattle",
                "region": "WA",
                "postcode": "98101",
            },
        ),
    )


@pytest.mark.parametrize(
    ("said", "tool"),
    [
        # everyday ways of asking (lexicon.CUES_MORE), none of them the tool's own verb
        ("Please call off order 100002.", "cancel_order"),
        ("I no longer need order 100002, can you stop it going out?", "cancel_order"),
        ("How do I post order 101677 back to you?", "process_return"),
        ("Can order 100002 be redirected to my office?", "update_shipping_address"),
        ("From now on please write to me in French.", "update_account_info"),
        ("Could someone from your team phone me on Monday at 3 pm?", "schedule_callback"),
        ("Put me through to a staff member about order 101677.", "escalate_to_human"),
        ("I want to complain about order 101677.", "escalate_to_human"),
        ("Which courier has order 101677?", "track_shipment"),
        ("Has order 101677 been scanned anywhere?", "track_shipment"),
        ("How is my order 101677 coming along?", "check_order_status"),
        ("Can I get my order history?", "list_recent_orders"),
        ("What does the desk lamp cost?", "get_product_info"),
        ("What membership level am I?", "get_customer_info"),
    ],
)
def test_everyday_phrasings(said: str, tool: str) -> None:
    """Tuning cases written for the everyday vocabulary of support calls."""
    choice = choose_tool(said, SPECS)
    assert choice.tool is not None and choice.tool.name == tool


@pytest.mark.parametrize(
    "said",
    ["Do you speak French?", "Is anyone there?", "What's your return address for letters?"],
)
def test_everyday_words_alone_change_nothing(said: str) -> None:
    """A language named, or a word of the everyday vocabulary, without a request for a change
    to the account, changes nothing."""
    reply = DialoguePolicy(today=TODAY).respond(user_text=said, tools=SHOP_TOOLS)
    assert not any(c.name in {"update_account_info", "cancel_order"} for c in reply.calls)
