"""The policy's understanding of everyday phrasing beyond the evaluation set's, on written text:
paraphrases written for each kind of gap the fresh3 split showed (vocabulary by meaning, question
forms, negation, hedges and rambling, British usage, numbers, dates, times, languages and
product names), none of them a sentence of the set, and words that must not become a call."""

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
#: the shop's tools with the two-phase protocol: a change is called (proposed) at once, so a
#: wrong reading shows as a call
TWO_PHASE_SHOP = [
    *SHOP_TOOLS,
    *(
        {
            "type": "function",
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {"action_id": {"type": "string"}},
                "required": ["action_id"],
            },
        }
        for name, description in (
            ("confirm_action", "Make a pending change the customer said yes to."),
            ("cancel_action", "Drop a pending change the customer said no to."),
        )
    ),
]


@pytest.mark.parametrize(
    ("said", "tool"),
    [
        # an order's stage said as a state, or news asked for in other words
        ("Has order 123456 been dispatched yet?", "check_order_status"),
        ("Is order 123456 still being processed?", "check_order_status"),
        ("Er, what's the latest on order 123456?", "check_order_status"),
        ("Any movement on order 234567?", "check_order_status"),
        ("Just wanted to know how far along order 123456 is.", "check_order_status"),
        ("What's the situation with order 123456?", "check_order_status"),
        ("Has order 234567 left the warehouse?", "check_order_status"),
        ("Order 234567 - where are we with it?", "check_order_status"),
        ("Can you check on 345-678 for me?", "check_order_status"),
        # who carries it, where it is, when it comes
        ("Which delivery firm has got order 123456?", "track_shipment"),
        ("What's the ETA on order 123456?", "track_shipment"),
        ("Which postal company is bringing order 123456?", "track_shipment"),
        ("Can you tell me what town order 123456 is in at the moment?", "track_shipment"),
        ("Who's carrying order 123456?", "track_shipment"),
        # the orders one has had
        ("What did I get from you last month?", "list_recent_orders"),
        ("Tell me about my recent purchases.", "list_recent_orders"),
        ("Run me through everything I've bought over the last few weeks.", "list_recent_orders"),
        # the caller's own details in everyday words
        ("What name have you got me down as?", "get_customer_info"),
        ("Which mobile have you got for me on your system?", "get_customer_info"),
        ("What do you have as my home address?", "get_customer_info"),
        ("What's my loyalty status?", "get_customer_info"),
        ("What's the email you've got for me?", "get_customer_info"),
        # a product's price or stock, British and American
        ("What's the damage on the smart watch?", "get_product_info"),
        ("How pricey is the ergonomic chair?", "get_product_info"),
        ("What would I pay for the coffee maker?", "get_product_info"),
        ("Can I still buy the hair dryer from you?", "get_product_info"),
        ("Have you got robot vacuums in at the moment?", "get_product_info"),
        ("Is the pruning shears set in stock?", "get_product_info"),
        # money back, sending back, collection
        ("Order 123456 is faulty, can someone collect it and give me a refund?", "process_return"),
        ("I'd like my money refunded for order 123456, it arrived damaged.", "process_return"),
        ("Could you arrange a collection for order 123456? It's defective.", "process_return"),
        ("Order 123456 was the wrong colour, I'd like to swap it back.", "process_return"),
        # stopping an order before it leaves
        ("Can you halt order 123456?", "cancel_order"),
        ("I've changed my plans, can you kill order 123456?", "cancel_order"),
        (
            "Order 123456 is no longer needed, please get rid of it before it's sent.",
            "cancel_order",
        ),
        ("I ordered 234567 by accident, can you call it off?", "cancel_order"),
        ("Can you stop order 123456 from being dispatched?", "cancel_order"),
        # another destination
        ("Could you forward order 123456 to my new address?", "update_shipping_address"),
        ("I've moved house, order 123456 is going to my old flat.", "update_shipping_address"),
        ("Order 123456 has the wrong address on it, can you fix it?", "update_shipping_address"),
        # the account's language
        ("Please communicate with me in German.", "update_account_info"),
        ("I'd prefer English on my account rather than Spanish.", "update_account_info"),
        # telephony verbs for a callback
        ("Could someone give me a bell on Thursday at 2 pm?", "schedule_callback"),
        ("Have someone buzz me on Thursday around 4.", "schedule_callback"),
        ("Can one of your team dial me on Wednesday at 3 pm?", "schedule_callback"),
        # a person, said many ways
        ("A human, please.", "escalate_to_human"),
        ("Please pass me over to someone with more authority.", "escalate_to_human"),
        ("Let me talk to a team leader about order 123456.", "escalate_to_human"),
        ("Can you hand this over to a colleague?", "escalate_to_human"),
        ("Connect me with an agent about order 234567.", "escalate_to_human"),
        ("Is there a person I could speak to?", "escalate_to_human"),
        (
            "I'm fed up with this automated system, I need a person to sort out order 123456.",
            "escalate_to_human",
        ),
    ],
)
def test_everyday_paraphrases_beyond_the_set(said: str, tool: str) -> None:
    """Phrasings written for the kinds of gap fresh3 showed, not taken from it, pick the tool."""
    choice = choose_tool(said, SPECS)
    assert choice.tool is not None and choice.tool.name == tool


@pytest.mark.parametrize(
    ("said", "tool"),
    [
        ("I don't want to cancel order 345678, I just want to know where it is.", "check_order_status"),
        ("I'm not after a refund, I just want to know who's delivering order 345678.", "track_shipment"),
        ("Don't cancel order 345678, just send it to my new address instead.", "update_shipping_address"),
        (
            "I was just wondering if maybe you could possibly tell me the status of order 345678?",
            "check_order_status",
        ),
        (
            "Right, so, basically, long story short, the thing I bought, order 345678, it broke "
            "after a day and I want my money back.",
            "process_return",
        ),
    ],
)  # fmt: skip
def test_negation_hedges_and_rambling(said: str, tool: str) -> None:
    """A negated act is not asked for; hedges and a long story around the request change
    nothing."""
    choice = choose_tool(said, SPECS)
    assert choice.tool is not None and choice.tool.name == tool


@pytest.mark.parametrize(
    "said",
    [
        "Do you speak German?",
        "Are you a robot?",
        "Are you a real person?",
        "I don't want to cancel anything, thanks.",
        "No, I don't need a callback.",
        "I'm not asking for a refund.",
        "Sorry, wrong number.",
        "Who won the game last night?",
        "The weather has been awful this past week.",
        "I spoke to my sister about her order last week.",
        "Is this call being recorded?",
        "Hold on, someone's at the door.",
        "Do you have a store in London?",
        "My credit card was declined at another shop.",
        "The postal service here is terrible.",
        "My boss is calling me, hold on a second.",
        "I no longer need help, thanks.",
        "Someone senior at my work told me about you.",
        "I had my cash stolen last week.",
        "How expensive is it to live in London?",
        "What does ETA stand for?",
    ],
)
def test_everyday_words_in_other_senses_call_nothing(said: str) -> None:
    """The new vocabulary in another sense (a question about the bot, a time like "last week",
    a negated request, small talk) makes no call, even where a change would be proposed at
    once."""
    reply = DialoguePolicy(today=TODAY).respond(user_text=said, tools=TWO_PHASE_SHOP)
    assert reply.calls == ()


def test_a_state_asked_about_is_not_a_change() -> None:
    """ "What language is my account set to?" reads the account; "can it be set to Italian"
    asks for the change."""
    asked = choose_tool("So, um, what language is my account currently set to?", SPECS)
    assert asked.tool is not None and asked.tool.name == "get_customer_info"
    change = choose_tool("Can my account be set to Italian?", SPECS)
    assert change.tool is not None and change.tool.name == "update_account_info"


def test_an_order_number_is_not_a_question_for_the_list() -> None:
    """An order number said with list-like words ("last week", "the things I got") is a
    question about that order."""
    for said, tool in (
        ("I paid for order 104984 last week. Has anything happened with it?", "check_order_status"),
        ("The things I got in order 100367 are too big, I'd like my money back.", "process_return"),
    ):
        choice = choose_tool(said, SPECS)
        assert choice.tool is not None and choice.tool.name == tool


def test_a_phone_number_is_not_an_order_number() -> None:
    """A new phone number is the value of the account's phone, not an order number read from
    its first groups (which would count against the account tool, which has no order); an
    order number said beside a phone still is one."""
    for said in (
        "Update my phone number to 206 555 0199",
        "Please change the phone number on my account to +1 (206) 555-0199.",
        "My phone number has changed, it's 206-555-0199 now, can you update it?",
    ):
        choice = choose_tool(said, SPECS)
        assert choice.tool is not None and choice.tool.name == "update_account_info", said
    for said in (
        "Update my phone number to 206 555 0199",
        "Please change the phone number on my account to +1 (206) 555-0199.",
        "Please change the mobile number on my account to +1 (206) 555-0199.",  # mobile: phone
    ):  # without the two-phase tools the policy reads the change back itself, then asks
        reply = DialoguePolicy(today=TODAY).respond(user_text=said, tools=SHOP_TOOLS)
        assert reply.text is not None and "field phone" in reply.text, (said, reply)
    reply = DialoguePolicy(today=TODAY).respond(
        user_text="Where is my order 100001? My phone is 206 555 0199.", tools=SHOP_TOOLS
    )
    assert (reply.tool, reply.arguments) == ("check_order_status", {"order_id": 100001})


def test_digits_in_an_email_address_are_not_an_order_number() -> None:
    """An address with six digits in it ("kim.new.9fb196306a@...") changes the e-mail: its
    digits are not an order number counting against the account tool."""
    for address in ("kim.new.9fb196306a@example.net", "j.100234@example.org"):
        choice = choose_tool(f"Please change my email to {address}", SPECS)
        assert choice.tool is not None and choice.tool.name == "update_account_info", address


def test_two_close_readings_still_ask() -> None:
    """Taking something back before it goes out could be a cancellation or a return: the caller
    is asked which."""
    reply = DialoguePolicy(today=TODAY).respond(
        user_text="I want to take back order 123456 before it goes out, I ordered it by mistake.",
        tools=SHOP_TOOLS,
    )
    assert reply.calls == () and reply.text and "cancel order" in reply.text


@pytest.mark.parametrize(
    ("said", "product"),
    [
        ("What would the smart watch set me back?", "smart watch"),
        ("Is the wool sweater sold out?", "wool sweater"),
        ("The desk lamp: what's it cost?", "desk lamp"),
        ("So, the blender, what's it going for these days?", "blender"),
        ("What's the return policy on the air purifier?", "air purifier"),
        ("I'm looking at the rain jacket. Tell me a bit about it?", "rain jacket"),
        ("My son keeps on about the remote control car for his birthday, how much is it?", "remote control car"),
        ("I'd like some details about the air purifier, what it retails for and whether it's in stock.", "air purifier"),
        ("Do you happen to have any of the field guide to birds left?", "field guide to birds"),
        ("Is the building blocks set back in stock yet?", "building blocks set"),
        ("Have you got robot vacuums in at the moment?", "robot vacuums"),
    ],
)  # fmt: skip
def test_the_thing_asked_about_ends_where_the_sentence_goes_on(said: str, product: str) -> None:
    """The product's name is cut where the sentence goes on: a verb with its object ("set me
    back"), a preposition before another phrase ("for his birthday"), a conjunction, a time."""
    reply = DialoguePolicy(today=TODAY).respond(user_text=said, tools=SHOP_TOOLS)
    assert reply.calls == (Call("get_product_info", {"product_name": product}),)


@pytest.mark.parametrize(
    ("said", "when"),
    [
        ("Could someone ring me next Tuesday at three o'clock?", "2026-11-03T15:00:00"),
        ("Please call me back on Thursday at 3:15 in the afternoon.", "2026-11-05T15:15:00"),
        ("Can an agent phone me Friday at 15:00?", "2026-11-06T15:00:00"),
        ("I'd like a callback on the 9th at 2 pm.", "2026-11-09T14:00:00"),
        ("Could someone call me on November 10th, around half ten in the morning?", "2026-11-10T10:30:00"),
        ("Ring me Monday at three thirty pm, please.", "2026-11-02T15:30:00"),
        ("Can someone buzz me Wednesday at four forty five?", "2026-11-04T16:45:00"),
        ("I'm out all of today, so call me Tuesday, maybe ten past one in the afternoon.", "2026-11-03T13:10:00"),
    ],
)  # fmt: skip
def test_callback_days_and_times_said_other_ways(said: str, when: str) -> None:
    """A callback's day and time as people say them: o'clock, 24-hour, "the 9th", the British
    "half ten", minutes without a colon, and the day said nearest the time (not "today" said
    about something else); the change is read back before anything is booked."""
    policy = DialoguePolicy(today=TODAY)
    reply = policy.respond(user_text=said, tools=SHOP_TOOLS)
    assert reply.calls == () and reply.text and reply.text.startswith("Just to confirm")
    done = policy.respond(user_text="Yes, please.", tools=SHOP_TOOLS)
    assert len(done.calls) == 1 and done.calls[0].tool == "schedule_callback"
    assert done.calls[0].arguments["callback_time"] == when


@pytest.mark.parametrize(
    ("said", "language"),
    [
        ("Can the letters you send me be in German rather than English?", "german"),
        ("Could the emails be in Italian from now on?", "italian"),
        ("I'd like my account in Japanese, please.", "japanese"),
    ],
)
def test_a_named_language_sets_the_language_not_the_email(said: str, language: str) -> None:
    """A language named with "emails" or "letters" sets the preferred language, never the email
    address; it is proposed in two phases, not changed at once."""
    reply = DialoguePolicy(today=TODAY).respond(user_text=said, tools=TWO_PHASE_SHOP)
    assert reply.calls == (
        Call("update_account_info", {"field": "preferred_language", "value": language}),
    )


def test_a_change_said_in_new_words_is_still_read_back_first() -> None:
    """Vocabulary that asks for a change ("halt", "new destination") only leads to a read-back;
    nothing is called before the caller's yes."""
    policy = DialoguePolicy(today=TODAY)
    reply = policy.respond(user_text="Can you halt order 100002?", tools=SHOP_TOOLS)
    assert reply.calls == () and reply.text and reply.text.startswith("Just to confirm")
    done = policy.respond(user_text="Yes, please.", tools=SHOP_TOOLS)
    assert [c.tool for c in done.calls] == ["cancel_order"]


@pytest.mark.parametrize(
    "said",
    [
        "Is order 456789 stuck somewhere?",
        "What's happened to order 456789? It's been ages.",
        "Hiya, any idea when order 456789 will be with me?",
        "I placed order four five six seven eight nine on Monday, is it on the move yet?",
    ],
)
def test_a_plain_question_about_an_order_asks_its_status(said: str) -> None:
    """A question about an order number whose words name no tool is answered by the order's
    status (the read-only tool named for its status that takes just the number)."""
    reply = DialoguePolicy(today=TODAY).respond(user_text=said, tools=TWO_PHASE_SHOP)
    assert reply.calls == (Call("check_order_status", {"order_id": 456789}),)


def test_no_status_by_default_without_a_question_a_number_or_a_status_tool() -> None:
    """A statement about an order, a question without a number, and a tool set without a
    status tool get no default call; "and order N?" still repeats the last question."""
    for said in (
        "I called yesterday about order 345678 and it's all sorted now, thank you.",
        "Is it stuck somewhere?",
    ):
        assert DialoguePolicy(today=TODAY).respond(user_text=said, tools=SHOP_TOOLS).calls == ()
    others = [t for t in SHOP_TOOLS if t["name"] != "check_order_status"]
    reply = DialoguePolicy(today=TODAY).respond(
        user_text="Is order 456789 stuck somewhere?", tools=others
    )
    assert reply.calls == ()
    again = DialoguePolicy(today=TODAY).respond(
        user_text="And order 100003?",
        tools=SHOP_TOOLS,
        previous_call=("track_shipment", {"order_id": 100001}),
    )
    assert again.calls == (Call("track_shipment", {"order_id": 100003}),)
