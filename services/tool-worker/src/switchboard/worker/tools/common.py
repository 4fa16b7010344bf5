"""Pieces every tool shares: the order-number argument, lookups scoped to the calling customer,
and formatting that reads well aloud (money, dates, addresses)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from sqlalchemy import Row

from switchboard.worker.context import ToolContext
from switchboard.worker.errors import ToolFailure, not_found
from switchboard.worker.queries import ORDER

__all__ = [
    "ORDER_ID_DESCRIPTION",
    "OrderId",
    "address_text",
    "day",
    "drop_none",
    "load_order",
    "money",
    "order_not_found",
]

ORDER_ID_DESCRIPTION = "The order number, a six-digit number such as 100001."


def _digits(value: Any) -> Any:
    """Accept "100001", "#100001" or "order 100 001" as well as 100001."""
    if isinstance(value, str):
        digits = re.sub(r"[\s#,-]|^order", "", value.strip().lower())
        return digits or value
    return value


OrderId = Annotated[
    int,
    Field(ge=1, lt=10**12, description=ORDER_ID_DESCRIPTION),
    BeforeValidator(_digits),
]


def money(cents: int, currency: str = "USD") -> str:
    """``$79.99`` (USD) or ``79.99 EUR``."""
    amount = f"{cents / 100:,.2f}"
    return f"${amount}" if currency == "USD" else f"{amount} {currency}"


def day(value: date | datetime | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.date()
    return value.isoformat()


def address_text(street: str, city: str, region: str, postal_code: str, country: str) -> str:
    return f"{street}, {city}, {region} {postal_code}, {country}"


def drop_none(doc: dict[str, Any]) -> dict[str, Any]:
    """Leave out empty fields, so the model does not read "none" aloud."""
    return {k: v for k, v in doc.items() if v is not None}


def order_not_found(order_id: int) -> ToolFailure:
    """The answer for a missing order, and for another customer's order alike."""
    return not_found(f"I couldn't find order {order_id} on your account.", field="order_id")


_ORDER = ORDER.statement
_ORDER_FOR_UPDATE = _ORDER.with_for_update()


async def load_order(ctx: ToolContext, order_id: int, *, for_update: bool = False) -> Row[Any]:
    """The calling customer's order *order_id* for a data-changing tool (SQLAlchemy, in its
    transaction); another customer's order is answered exactly like a missing one."""
    query = _ORDER_FOR_UPDATE if for_update else _ORDER
    params = {"order_id": order_id, "customer_id": ctx.customer_id}
    row = (await ctx.db.execute(query, params)).first()
    if row is None:
        raise order_not_found(order_id)
    return row
