"""Return tool: start a return for a delivered order inside its return window."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from pydantic import Field
from sqlalchemy import insert, select

from switchboard.contracts.tools import ProposedChange
from switchboard.db.shop import (
    NOT_SHIPPED,
    OrderItem,
    OrderStatus,
    Product,
    ReturnRequest,
    Shipment,
)
from switchboard.worker.context import ToolContext
from switchboard.worker.errors import not_allowed
from switchboard.worker.proposals import Proposal
from switchboard.worker.registry import Tool, ToolArguments
from switchboard.worker.tools.common import OrderId, day, load_order, money

__all__ = ["PROCESS_RETURN"]

#: Days the customer has to drop the parcel off once the label is issued.
DROP_OFF_DAYS = 14


class ReturnArgs(ToolArguments):
    order_id: OrderId
    reason: str = Field(
        default="not given",
        min_length=2,
        max_length=500,
        description="Why the customer is returning the order, in their words.",
    )


async def _returnable(
    ctx: ToolContext, order_id: int, *, for_update: bool
) -> tuple[Any, list[Any], list[Any]]:
    """The caller's delivered order inside a return window, its items and the eligible ones."""
    order = await load_order(ctx, order_id, for_update=for_update)
    status = OrderStatus(order.status)
    existing = (
        await ctx.db.execute(
            select(ReturnRequest.id, ReturnRequest.status).where(ReturnRequest.order_id == order.id)
        )
    ).first()
    if status is OrderStatus.RETURNED or existing is not None:
        suffix = f" (return {existing.id}, {existing.status.replace('_', ' ')})" if existing else ""
        raise not_allowed(f"Order {order.id} has already been returned{suffix}.", field="order_id")
    if status is not OrderStatus.DELIVERED or order.delivered_at is None:
        raise not_allowed(
            f"Order {order.id} is {status.value.replace('_', ' ')}; only delivered orders can be "
            "returned."
            + (
                " You can cancel it instead while it has not shipped."
                if status in NOT_SHIPPED
                else ""
            ),
            field="order_id",
        )
    items = (
        await ctx.db.execute(
            select(
                Product.name,
                Product.returnable,
                Product.return_window_days,
                OrderItem.quantity,
                OrderItem.unit_price_cents,
            )
            .join(Product, Product.id == OrderItem.product_id)
            .where(OrderItem.order_id == order.id)
            .order_by(OrderItem.id)
        )
    ).all()
    delivered = order.delivered_at.date()
    today = ctx.now.date()
    eligible = [
        i
        for i in items
        if i.returnable and today <= delivered + timedelta(days=i.return_window_days)
    ]
    if not eligible:
        windows = [i.return_window_days for i in items if i.returnable]
        if not windows:
            raise not_allowed(
                f"The items in order {order.id} can't be returned (final sale).",
                field="order_id",
            )
        closed = delivered + timedelta(days=max(windows))
        raise not_allowed(
            f"The return window for order {order.id} closed on {closed.isoformat()} "
            f"({max(windows)} days after delivery on {delivered.isoformat()}).",
            field="order_id",
        )
    return order, list(items), eligible


async def propose_process_return(ctx: ToolContext, args: ReturnArgs) -> Proposal:
    order, items, eligible = await _returnable(ctx, args.order_id, for_update=False)
    refund = money(sum(i.quantity * i.unit_price_cents for i in eligible), order.currency)
    count = sum(i.quantity for i in eligible)
    excluded = [i.name for i in items if i not in eligible]
    but = f" ({', '.join(excluded)} can't be returned)" if excluded else ""
    return Proposal(
        read_back=(
            f"I'll start a return for order {order.id} ({count} item{'' if count == 1 else 's'}"
            f", refund estimate {refund}) and send you a prepaid label{but}. Shall I go ahead?"
        ),
        changes=[
            ProposedChange(
                field=f"order {order.id} return",
                before="none",
                after=f"return started, refund estimate {refund}",
            )
        ],
    )


async def process_return(ctx: ToolContext, args: ReturnArgs) -> dict[str, Any]:
    order, items, eligible = await _returnable(ctx, args.order_id, for_update=True)
    today = ctx.now.date()
    refund = sum(i.quantity * i.unit_price_cents for i in eligible)
    carrier = await ctx.db.scalar(select(Shipment.carrier).where(Shipment.order_id == order.id))
    return_id = f"RET-{secrets.token_hex(4).upper()}"
    drop_off_by = today + timedelta(days=DROP_OFF_DAYS)
    instructions = (
        f"Pack the items, attach the prepaid {carrier or 'UPS'} label, and drop the parcel off at "
        f"any {carrier or 'UPS'} location by {drop_off_by.isoformat()}. The refund is issued once "
        "the return is received."
    )
    label_url = f"https://shop.example/returns/{return_id}/label.pdf"
    await ctx.db.execute(
        insert(ReturnRequest).values(
            id=return_id,
            order_id=order.id,
            customer_id=ctx.customer_id,
            reason=args.reason,
            status="label_issued",
            refund_estimate_cents=refund,
            label_url=label_url,
            instructions=instructions,
            call_id=ctx.call_id,
        )
    )
    result: dict[str, Any] = {
        "return_id": return_id,
        "order_id": order.id,
        "refund_estimate": money(refund, order.currency),
        "items": [{"name": i.name, "quantity": i.quantity} for i in eligible],
        "drop_off_by": day(drop_off_by),
        "label_url": label_url,
        "instructions": instructions,
    }
    excluded = [i.name for i in items if i not in eligible]
    if excluded:
        result["not_returnable"] = excluded
    return result


PROCESS_RETURN = Tool(
    name="process_return",
    description=(
        "Start a return for one of the customer's delivered orders, inside the return window. "
        "Issues a prepaid return label and gives the return id, instructions and refund estimate. "
        "Nothing changes until the customer confirms: the answer is a read-back to say and an "
        "action_id for confirm_action."
    ),
    arguments=ReturnArgs,
    handler=process_return,
    mutating=True,
    confirmation=True,
    propose=propose_process_return,
    verification_exempt=False,
)
