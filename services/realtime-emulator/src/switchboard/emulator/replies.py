"""Tool results as a person would say them: one sentence template per result shape (an order's
status, a shipment, a list of orders, products, a cancellation, a return, a changed address or
account detail, a callback, a ticket, account details), dates as people say them ("tomorrow", "on
Thursday", "on November 5th"), money in words, and no field names. A result of a shape no
template knows is read by :func:`.summary.describe_fields`. Pure logic, no I/O.

The first sentence of every template is short and carries the answer, so its audio (synthesised
sentence by sentence) leaves first.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from switchboard.emulator.summary import describe_fields, speakable_value
from switchboard.emulator.text import MONTHS, WEEKDAYS, humanize

if TYPE_CHECKING:
    from switchboard.emulator.intent import ToolSpec

__all__ = [
    "fallback",
    "greeting",
    "instructed_text",
    "spoken_day",
    "spoken_money",
    "spoken_when",
    "summarize_output",
]

_STATUS_PHRASES = {
    "placed": "has been placed and is being prepared",
    "packed": "is packed and ready to ship",
    "shipped": "has shipped",
    "in_transit": "is in transit",
    "out_for_delivery": "is out for delivery",
    "delivered": "was delivered",
    "cancelled": "was cancelled",
    "returned": "was returned",
    "label_created": "has a shipping label but has not left the warehouse yet",
}


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _as_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    match = re.match(r"(\d{4})-(\d{2})-(\d{2})", str(value or ""))
    if not match:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def spoken_day(value: Any, today: date) -> str:
    """A date as people say it, with its preposition: "today", "tomorrow", "yesterday", "on
    Thursday" (within the coming week), "last Thursday", "on November 5th" (year when another)."""
    when = _as_date(value)
    if when is None:
        return str(value)
    delta = (when - today).days
    if delta == 0:
        return "today"
    if delta == 1:
        return "tomorrow"
    if delta == -1:
        return "yesterday"
    if 2 <= delta <= 6:
        return f"on {WEEKDAYS[when.weekday()].capitalize()}"
    if -6 <= delta <= -2:
        return f"last {WEEKDAYS[when.weekday()].capitalize()}"
    year = f", {when.year}" if when.year != today.year else ""
    return f"on {MONTHS[when.month - 1].capitalize()} {_ordinal(when.day)}{year}"


def spoken_when(value: Any, today: date) -> str:
    """A date and time: "tomorrow at 3 PM", "on Thursday at 10:30 AM"."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return spoken_day(value, today)
    hour = moment.hour % 12 or 12
    minutes = f":{moment.minute:02d}" if moment.minute else ""
    return f"{spoken_day(moment.date(), today)} at {hour}{minutes} {'AM' if moment.hour < 12 else 'PM'}"


def spoken_money(value: Any) -> str:
    """ "$79.99" → "79 dollars 99"; "$5.00" → "5 dollars"; other currencies as given."""
    match = re.fullmatch(r"\$([\d,]+)\.(\d{2})", str(value).strip())
    if not match:
        return str(value)
    dollars, cents = match.group(1).replace(",", ""), int(match.group(2))
    unit = "dollar" if dollars == "1" else "dollars"
    return f"{dollars} {unit}" + (f" {cents}" if cents else "")


def _items(items: Any) -> str:
    if not isinstance(items, list) or not items:
        return ""
    names = []
    for item in items[:4]:
        if isinstance(item, dict):
            name = str(item.get("name") or item.get("product") or "an item")
            quantity = item.get("quantity")
            names.append(
                f"{quantity} {name}" if isinstance(quantity, int) and quantity > 1 else name
            )
        else:
            names.append(str(item))
    if len(items) > 4:
        names.append(f"{len(items) - 4} more")
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _status(value: Any) -> str:
    text = str(value or "")
    return _STATUS_PHRASES.get(text, f"is {text.replace('_', ' ')}")


def _order_status(doc: dict[str, Any], today: date) -> list[str]:
    status = str(doc.get("status") or "")
    first = f"Your order {doc['order_id']} {_status(status)}"
    for key in ("delivered_on", "cancelled_on", "returned_on"):
        if key in doc and key.split("_")[0] in _status(status):
            first += f" {spoken_day(doc[key], today)}"
    out = [first + "."]
    if doc.get("estimated_delivery"):
        out.append(f"It should arrive {spoken_day(doc['estimated_delivery'], today)}.")
    items = _items(doc.get("items"))
    if items:
        out.append(
            f"It has {items}"
            + (f", for {spoken_money(doc['total'])}." if doc.get("total") else ".")
        )
    if doc.get("return_id"):
        out.append(f"Its return is {speakable_value(doc.get('return_status') or 'open')}.")
    return out


def _shipment(doc: dict[str, Any], today: date) -> list[str]:
    order = doc.get("order_id")
    carrier = doc.get("carrier") or "the carrier"
    head = f"Your order {order}" if order else "Your parcel"
    if doc.get("shipped_on"):
        first = f"{head} shipped {spoken_day(doc['shipped_on'], today)} with {carrier}"
    else:
        first = f"{head} is with {carrier}"
    if doc.get("delivered_on"):
        first += f", and was delivered {spoken_day(doc['delivered_on'], today)}"
    elif doc.get("estimated_delivery"):
        first += f", and should arrive {spoken_day(doc['estimated_delivery'], today)}"
    out = [first + "."]
    if doc.get("tracking_number"):
        out.append(f"The tracking number is {doc['tracking_number']}.")
    status = str(doc.get("status") or "")
    if status and status != "delivered":
        where = f", last seen at {doc['last_location']}" if doc.get("last_location") else ""
        out.append(f"It {_status(status)}{where}.")
    return out


def _order_list(doc: dict[str, Any], today: date) -> list[str]:
    orders = [o for o in doc.get("orders") or [] if isinstance(o, dict)]
    if not orders:
        return ["I don't see any orders on your account."]
    count = len(orders)
    out = [f"You have {count} recent order{'s' if count != 1 else ''}."]
    for order in orders[:3]:
        placed = (
            f", placed {spoken_day(order['placed_on'], today)}," if order.get("placed_on") else ""
        )
        items = _items(order.get("items"))
        what = f" with {items}" if items else ""
        out.append(f"Order {order.get('order_id')}{placed} {_status(order.get('status'))}{what}.")
    if count > 3:
        out.append(f"And {count - 3} more.")
    return out


def _products(doc: dict[str, Any], today: date) -> list[str]:
    products = [p for p in doc.get("products") or [] if isinstance(p, dict)]
    if not products:
        return ["I couldn't find a product by that name."]
    out = []
    for product in products[:3]:
        stock = "in stock" if product.get("in_stock") else "out of stock"
        out.append(
            f"The {product.get('name')} costs {spoken_money(product.get('price'))}, and it's {stock}."
        )
        if product.get("returnable") and product.get("return_window_days"):
            out.append(f"It can be returned within {product['return_window_days']} days.")
        elif product.get("returnable") is False:
            out.append("It can't be returned.")
    if len(products) > 3:
        out.append(f"I found {len(products) - 3} more.")
    return out


def _cancellation(doc: dict[str, Any], today: date) -> list[str]:
    out = [f"Done: order {doc.get('order_id')} is cancelled."]
    if doc.get("refund"):
        to = f" to {doc['refund_to']}" if doc.get("refund_to") else ""
        out.append(f"{spoken_money(doc['refund'])} will be refunded{to}.")
    return out


def _return(doc: dict[str, Any], today: date) -> list[str]:
    out = [f"I've started return {doc['return_id']} for order {doc.get('order_id')}."]
    if doc.get("refund_estimate"):
        out.append(f"Your refund should be about {spoken_money(doc['refund_estimate'])}.")
    if doc.get("drop_off_by"):
        out.append(
            f"Please drop the parcel off by {spoken_day(doc['drop_off_by'], today).removeprefix('on ')}; "
            "the prepaid label is on its way by email."
        )
    if doc.get("not_returnable"):
        out.append(f"{_items(doc['not_returnable'])} can't be returned.")
    return out


def _address(doc: dict[str, Any], today: date) -> list[str]:
    return [f"Done: order {doc.get('order_id')} will now go to {doc['shipping_address']}."]


def _account_change(doc: dict[str, Any], today: date) -> list[str]:
    what = humanize(str(doc.get("updated")))
    if doc.get("changed") is False:
        return [f"Your {what} was already {doc.get('value')}, so nothing changed."]
    return [f"Done: your {what} is now {doc.get('value')}."]


def _callback(doc: dict[str, Any], today: date) -> list[str]:
    phone = f" on {doc['phone']}" if doc.get("phone") else ""
    return [f"Done: an agent will call you {spoken_when(doc['scheduled_for'], today)}{phone}."]


def _ticket(doc: dict[str, Any], today: date) -> list[str]:
    priority = f", with {doc['priority']} priority" if doc.get("priority") else ""
    out = [f"I've passed this to a human agent: ticket {doc['ticket_id']}{priority}."]
    if doc.get("expected_response"):
        out.append(f"Someone will get back to you {doc['expected_response']}.")
    return out


def _account(doc: dict[str, Any], today: date) -> list[str]:
    out = [f"Your account is under {doc.get('name')}, with the email {doc.get('email')}."]
    if doc.get("phone"):
        out.append(f"Your phone number is {doc['phone']}.")
    if doc.get("address"):
        out.append(f"Your address is {doc['address']}.")
    if doc.get("membership"):
        out.append(f"You're a {speakable_value(doc['membership'])} member.")
    if isinstance(doc.get("open_orders"), int):
        count = doc["open_orders"]
        out.append(f"You have {count} open order{'s' if count != 1 else ''}.")
    return out


#: (keys that identify the shape, template), most specific first
_TEMPLATES = (
    (("return_id", "refund_estimate"), _return),
    (("carrier",), _shipment),
    (("tracking_number",), _shipment),
    (("orders",), _order_list),
    (("products",), _products),
    (("order_id", "refund"), _cancellation),
    (("order_id", "shipping_address"), _address),
    (("updated", "value"), _account_change),
    (("scheduled_for",), _callback),
    (("ticket_id",), _ticket),
    (("name", "email"), _account),
    (("order_id", "status"), _order_status),
)


def summarize_output(tool_name: str, output: str, *, today: date | None = None) -> str:
    """What to say about *output* returned by *tool_name*."""
    today = today or date.today()
    try:
        doc = json.loads(output)
    except (json.JSONDecodeError, TypeError):
        text = (output or "").strip()
        return text[:400] if text else f"The {humanize(tool_name)} request returned nothing."
    if isinstance(doc, dict):
        if doc.get("error"):
            return _apology(tool_name, doc)
        if doc.get("ok") is True and isinstance(doc.get("result"), dict | list):
            doc = doc["result"]
    if isinstance(doc, dict):
        for keys, template in _TEMPLATES:
            if all(k in doc for k in keys):
                try:
                    return " ".join(template(doc, today))
                except (KeyError, TypeError, ValueError):
                    break
    return describe_fields(tool_name, doc)


def _apology(tool_name: str, doc: dict[str, Any]) -> str:
    error = doc["error"]
    message = doc.get("message") or (error.get("message") if isinstance(error, dict) else error)
    text = str(message or "").strip()
    if not text:
        return f"Sorry, I couldn't complete the {humanize(tool_name)} request."
    if not text.startswith(("I ", "I'")):
        text = text[0].lower() + text[1:] if text[:2] != text[:2].upper() else text
    return f"Sorry, {text}" + ("" if text.endswith((".", "!", "?")) else ".")


def greeting(specs: list[ToolSpec]) -> str:
    """The first words of a response that has nothing else to say."""
    if specs:
        return "Hello, thanks for calling. How can I help you today?"
    return "Hello, how can I help you today?"


def fallback(user_text: str, specs: list[ToolSpec]) -> str:
    """A reply to something no tool matched: thanks, a greeting, or what the bot can do."""
    if re.search(r"\b(thanks|thank you|bye|goodbye|that's all|that is all)\b", user_text.lower()):
        return "You're welcome. Is there anything else I can help you with?"
    if re.fullmatch(r"\W*(hi|hello|hey|good (morning|afternoon|evening))\W*", user_text.lower()):
        return "Hello! How can I help you today?"
    if not specs:
        return (
            f"I heard: {user_text.strip().rstrip('.!?')}. I can't look anything up in this session."
        )
    offers = ", ".join(s.spoken_name() for s in specs[:4])
    return f"Sorry, I'm not sure I can help with that. I can help with things like: {offers}."


def instructed_text(instructions: str) -> str | None:
    """Quoted text after say/tell/greet in the instructions (e.g. ``Say "One moment please."``)."""
    match = re.search(
        r"\b(?:say|tell|greet|respond with|reply with)\b[^\"'“]*[\"'“]([^\"'”]{1,400})[\"'”]",
        instructions,
        re.I,
    )
    return match.group(1).strip() if match else None
