"""The emulator's evaluation set: spoken questions over all eleven shop tools, generated from the
seeded data (the same deterministic generator ``switchboard seed`` uses), each with the tool and
arguments a good assistant would call, the voice and speed it is spoken with, and the noise added.

Questions alternate between a **tuning** half and a **held-out** half per tool, and each half has
phrasings of its own: the policy may be tuned on the tuning half; the benchmark reports the
held-out half. Pure data, no I/O; ``python -m bench.evalset`` prints the set.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

from switchboard.cli.seed import build_dataset

__all__ = ["VOICES", "Question", "build_questions"]

Split = Literal["tuning", "heldout"]
#: (engine, speed): the packaged piper voice at three speeds, and espeak-ng's.
VOICES: tuple[tuple[str, float], ...] = (
    ("piper", 1.0),
    ("piper", 1.25),
    ("piper", 0.85),
    ("espeak", 1.0),
)
#: None: clean; a number: white noise at that SNR in dB; "phone": 8 kHz G.711 plus 25 dB noise.
NOISES: tuple[float | str | None, ...] = (None, 20.0, None, "phone", 15.0)
YES = "Yes, please."
PER_TOOL = 20

_NOT_SHIPPED = ("placed", "packed")
_SHIPPED = ("shipped", "out_for_delivery", "delivered", "returned")

#: phrasings per tool: (tuning phrasings, held-out phrasings); {o} order, {p} product
_PHRASINGS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "check_order_status": (
        (
            "Where is my order {o}?",
            "Any news about order {o}? I'd like an update.",
            "What's going on with order {o}?",
        ),
        ("What's happening with order {o}?", "Has my order {o} shipped yet?"),
    ),
    "track_shipment": (
        ("Who is delivering order {o}?", "What's the tracking number for order {o}?"),
        ("Which courier is bringing order {o}?", "Can I get the tracking for order {o} please?"),
    ),
    "list_recent_orders": (
        ("Which orders have I made?", "What did I order recently?"),
        ("Can you tell me what orders I have?", "What have I bought lately?"),
    ),
    "get_customer_info": (
        (
            "What email do you have on file for me?",
            "What are my account details?",
            "What email have you got on me?",
        ),
        ("Which phone number is on my account?", "What address do you have for me?"),
    ),
    "get_product_info": (
        ("How much are the {p}?", "Are the {p} in stock?"),
        ("What's the price of the {p}?", "Do you have the {p} in stock?"),
    ),
    "process_return": (
        (
            "I want to return order {o}, it doesn't fit.",
            "I'd like my money back for order {o}.",
            "I need to make a return for order {o}.",
        ),
        ("Can I send back order {o}? It arrived damaged.", "Please start a return for order {o}."),
    ),
    "cancel_order": (
        ("Please cancel order {o}.", "I don't need order {o} any more, cancel it please."),
        ("Can you cancel my order {o}?", "I want to cancel order {o}, I ordered it twice."),
    ),
    "update_shipping_address": (
        ("I moved, please change the address for order {o}.",),
        ("Please update the shipping address on order {o}.",),
    ),
    "update_account_info": (
        ("Please change my preferred language to Spanish.",),
        ("Could you set my preferred language to French?",),
    ),
    "schedule_callback": (
        ("Can someone call me back on {day} at 3 pm?",),
        ("Please have an agent ring me on {day} at 11 am.",),
    ),
    "escalate_to_human": (
        ("I want to speak to a person about order {o}.",),
        ("Can I talk to a human agent please? My order {o} never arrived.",),
    ),
}
#: answers to the questions the bot asks, in order (the address tool asks for each part)
_ANSWERS: dict[str, tuple[str, ...]] = {
    "update_shipping_address": ("12 Maple Street", "Seattle", "WA", "98101", YES),
}


@dataclass(frozen=True)
class Question:
    """One spoken question, what should be called, and how it is spoken."""

    qid: str
    split: Split
    customer_id: str
    text: str
    tool: str
    #: arguments the call must carry (strings: the call's value must contain this, any case)
    arguments: dict[str, Any]
    voice: str
    speed: float
    noise: float | str | None
    #: what the caller says to the bot's follow-up questions and read-backs, in order
    answers: tuple[str, ...] = field(default=())

    @property
    def order_id(self) -> int | None:
        value = self.arguments.get("order_id")
        return value if isinstance(value, int) else None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _weekday_after(today: date, days: int) -> date:
    day = today + timedelta(days=days)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def build_questions(*, as_of: date, per_tool: int = PER_TOOL) -> list[Question]:
    """The whole set (both halves), deterministic for *as_of*: 20 questions per tool by default,
    each customer and order used once, so changes never collide."""
    data = build_dataset(as_of=as_of, customers=1000, orders=10000)
    orders_by_status: dict[str, list[dict[str, Any]]] = {}
    for order in data.orders:
        orders_by_status.setdefault(str(order["status"]), []).append(order)
    used_customers: set[str] = set()
    used_orders: set[int] = set()
    # the longest return window among each order's items (0: nothing in it can be returned)
    windows = {p["id"]: int(p["return_window_days"]) for p in data.products}
    return_window: dict[int, int] = {}
    for line in data.items:
        oid = int(line["order_id"])
        return_window[oid] = max(return_window.get(oid, 0), windows[line["product_id"]])

    def order_with(statuses: tuple[str, ...], *, within_days: int | None = None) -> dict[str, Any]:
        for status in statuses:
            for order in orders_by_status.get(status, []):
                if order["id"] in used_orders or order["customer_id"] in used_customers:
                    continue
                delivered = order.get("delivered_at")
                if within_days is not None and (
                    delivered is None
                    or (age := (as_of - delivered.date()).days) > within_days
                    # a return question is about an order with something still returnable:
                    # a final-sale order's right answer is a refusal, not a return
                    or age > return_window.get(order["id"], 0)
                ):
                    continue
                used_orders.add(order["id"])
                used_customers.add(order["customer_id"])
                return order
        raise LookupError(f"no unused order in {statuses}")

    def customer() -> str:
        for row in data.customers:
            if row["id"] not in used_customers and row["id"] != "cus_0001":
                used_customers.add(row["id"])
                return str(row["id"])
        raise LookupError("no unused customer")

    products = sorted({str(p["name"]).split(" (")[0] for p in data.products})
    products = [p for p in products if ":" not in p and "'" not in p]
    questions: list[Question] = []
    counter = 0
    for tool, (tuning, heldout) in _PHRASINGS.items():
        for index in range(per_tool):
            split: Split = "tuning" if index % 2 == 0 else "heldout"
            phrasings = tuning if split == "tuning" else heldout
            template = phrasings[(index // 2) % len(phrasings)]
            voice, speed = VOICES[(counter // 2) % len(VOICES)]
            noise = NOISES[counter % len(NOISES)]
            counter += 1
            args: dict[str, Any] = {}
            answers: tuple[str, ...] = ()
            fields: dict[str, Any] = {}
            if tool in ("check_order_status", "escalate_to_human"):
                order = order_with(("shipped", "delivered", "packed", "out_for_delivery"))
            elif tool == "track_shipment":
                order = order_with(_SHIPPED)
            elif tool == "process_return":
                order = order_with(("delivered",), within_days=10)
            elif tool in ("cancel_order", "update_shipping_address"):
                order = order_with(_NOT_SHIPPED)
            else:
                order = {"id": None, "customer_id": customer()}
            if order["id"] is not None:
                fields["o"] = order["id"]
                args["order_id"] = order["id"]
            if tool == "get_product_info":
                product = products[index % len(products)]
                fields["p"] = product.lower()
                args["product_name"] = product.lower()
            if tool == "update_account_info":
                language = "Spanish" if "Spanish" in template else "French"
                args = {"field": "preferred_language", "value": language.lower()}
            if tool == "schedule_callback":
                day = _weekday_after(as_of, 2 + index % 3)
                fields["day"] = day.strftime("%A")
                hour = "15" if "3 pm" in template else "11"
                args = {"callback_time": f"{day.isoformat()}T{hour}:00"}
            if tool in ("process_return", "cancel_order", "schedule_callback", "escalate_to_human"):
                answers = (YES,)
            if tool == "update_account_info":
                answers = (YES,)
            answers = _ANSWERS.get(tool, answers)
            questions.append(
                Question(
                    qid=f"{tool}-{index:02d}",
                    split=split,
                    customer_id=str(order["customer_id"]),
                    text=template.format(**fields),
                    tool=tool,
                    arguments=args,
                    voice=voice,
                    speed=speed,
                    noise=noise,
                    answers=answers,
                )
            )
    return questions


if __name__ == "__main__":  # pragma: no cover - a listing for people
    for question in build_questions(as_of=date.today()):
        print(json.dumps(question.as_dict(), default=str))
