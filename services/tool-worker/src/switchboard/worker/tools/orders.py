"""Order tools: list recent orders, check one order's status, track its shipment, cancel it
before shipment (changing its shipping address is in :mod:`.addresses`)."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from sqlalchemy import bindparam, func, insert, select, update

from switchboard.contracts.tools import ProposedChange
from switchboard.db.shop import (
    NOT_SHIPPED,
    Cancellation,
    Order,
    OrderItem,
    OrderStatus,
)
from switchboard.worker.context import ToolContext
from switchboard.worker.errors import not_allowed, not_found
from switchboard.worker.proposals import Proposal
from switchboard.worker.queries import ORDER, ORDER_STATUS, RECENT_ORDERS, SHIPMENT, SHIPMENT_EVENTS
from switchboard.worker.registry import Tool, ToolArguments
from switchboard.worker.tools.common import (
    OrderId,
    day,
    drop_none,
    load_order,
    money,
    order_not_found,
)

__all__ = [
    "CANCEL_ORDER",
    "CHECK_ORDER_STATUS",
    "LIST_RECENT_ORDERS",
    "TRACK_SHIPMENT",
]


# -- list_recent_orders ------------------------------------------------------------------------
class RecentOrdersArgs(ToolArguments):
    limit: int = Field(
        default=5, ge=1, le=20, description="How many of the latest orders to list (1-20)."
    )


async def list_recent_orders(ctx: ToolContext, args: RecentOrdersArgs) -> dict[str, Any]:
    rows = await ctx.reads.rows(RECENT_ORDERS, customer_id=ctx.customer_id, limit=args.limit)
    return {
        "count": len(rows),
        "orders": [
            {
                "order_id": row["id"],
                "status": str(row["status"]),
                "placed_on": day(row["placed_at"]),
                "total": money(row["total_cents"], row["currency"]),
                "items": row["items"],
            }
            for row in rows
        ],
    }


LIST_RECENT_ORDERS = Tool(
    name="list_recent_orders",
    description=(
        "List the customer's most recent orders, newest first, with order number, status, date, "
        "total and items. Use it when the customer does not know their order number."
    ),
    arguments=RecentOrdersArgs,
    handler=list_recent_orders,
    verification_exempt=False,
)


# -- check_order_status ------------------------------------------------------------------------
class OrderArgs(ToolArguments):
    order_id: OrderId


async def check_order_status(ctx: ToolContext, args: OrderArgs) -> dict[str, Any]:
    row = await ctx.reads.row(ORDER_STATUS, order_id=args.order_id, customer_id=ctx.customer_id)
    if row is None:
        raise order_not_found(args.order_id)
    status = OrderStatus(row["status"])
    return drop_none(
        {
            "order_id": row["id"],
            "status": str(status),
            "placed_on": day(row["placed_at"]),
            "total": money(row["total_cents"], row["currency"]),
            "items": row["items"],
            "estimated_delivery": None
            if status in (OrderStatus.DELIVERED, OrderStatus.CANCELLED, OrderStatus.RETURNED)
            else day(row["estimated_delivery"]),
            "delivered_on": day(row["delivered_at"]),
            "cancelled_on": day(row["cancelled_at"]),
            "returned_on": day(row["returned_at"]),
            "return_id": row["return_id"],
            "return_status": row["return_status"],
        }
    )


CHECK_ORDER_STATUS = Tool(
    name="check_order_status",
    description=(
        "Check the status of one of the customer's orders (placed, packed, shipped, out for "
        "delivery, delivered or cancelled) with its items, total and delivery date."
    ),
    arguments=OrderArgs,
    handler=check_order_status,
    verification_exempt=False,
)


# -- track_shipment ----------------------------------------------------------------------------
async def track_shipment(ctx: ToolContext, args: OrderArgs) -> dict[str, Any]:
    order = await ctx.reads.row(ORDER, order_id=args.order_id, customer_id=ctx.customer_id)
    if order is None:
        raise order_not_found(args.order_id)
    order_id = order["id"]
    shipment = await ctx.reads.row(SHIPMENT, order_id=order_id)
    if shipment is None:
        if order["status"] == OrderStatus.CANCELLED:
            raise not_found(
                f"Order {order_id} was cancelled, so there is no shipment to track.",
                field="order_id",
            )
        raise not_found(
            f"Order {order_id} has not shipped yet, so there is no tracking number yet. "
            f"It is expected by {day(order['estimated_delivery'])}.",
            field="order_id",
        )
    events = await ctx.reads.rows(SHIPMENT_EVENTS, shipment_id=shipment["id"])
    latest = events[0] if events else None
    return drop_none(
        {
            "order_id": order_id,
            "carrier": shipment["carrier"],
            "tracking_number": shipment["tracking_number"],
            "status": shipment["status"],
            "shipped_on": day(shipment["shipped_at"]),
            "estimated_delivery": None
            if shipment["delivered_at"]
            else day(shipment["estimated_delivery"]),
            "delivered_on": day(shipment["delivered_at"]),
            "last_location": latest["location"] if latest else None,
            "history": [
                {
                    "status": e["status"],
                    "location": e["location"],
                    "at": e["occurred_at"].isoformat(timespec="minutes"),
                }
                for e in events
            ],
        }
    )


TRACK_SHIPMENT = Tool(
    name="track_shipment",
    description=(
        "Track the shipment of one of the customer's orders: carrier, tracking number, where the "
        "package is now and when it should arrive."
    ),
    arguments=OrderArgs,
    handler=track_shipment,
    verification_exempt=False,
)


# -- cancel_order ------------------------------------------------------------------------------
class CancelArgs(ToolArguments):
    order_id: OrderId
    reason: str = Field(
        default="not given",
        min_length=1,
        max_length=500,
        description="Why the customer wants to cancel, in their words.",
    )


async def _cancellable(ctx: ToolContext, order_id: int, *, for_update: bool) -> Any:
    """The caller's order *order_id* if it can still be cancelled (not shipped yet)."""
    order = await load_order(ctx, order_id, for_update=for_update)
    status = OrderStatus(order.status)
    if status is OrderStatus.CANCELLED:
        raise not_allowed(f"Order {order.id} is already cancelled.", field="order_id")
    if status not in NOT_SHIPPED:
        raise not_allowed(
            f"Order {order.id} has already {'shipped' if status is OrderStatus.SHIPPED else 'left our warehouse'} "
            f"(status: {status.value.replace('_', ' ')}), so it can't be cancelled. "
            "It can be returned once it is delivered.",
            field="order_id",
        )
    return order


_ITEM_COUNT = select(func.coalesce(func.sum(OrderItem.quantity), 0)).where(
    OrderItem.order_id == bindparam("order_id")
)


def _items_text(count: int) -> str:
    return f"{count} item{'' if count == 1 else 's'}"


async def propose_cancel_order(ctx: ToolContext, args: CancelArgs) -> Proposal:
    order = await _cancellable(ctx, args.order_id, for_update=False)
    items = int(await ctx.db.scalar(_ITEM_COUNT, {"order_id": order.id}) or 0)
    refund = money(order.total_cents, order.currency)
    return Proposal(
        read_back=(
            f"I'll cancel order {order.id} ({_items_text(items)}, refund {refund}). "
            "Shall I go ahead?"
        ),
        changes=[
            ProposedChange(
                field=f"order {order.id} status",
                before=OrderStatus(order.status).value.replace("_", " "),
                after="cancelled",
            ),
            ProposedChange(field="refund", after=refund),
        ],
    )


async def cancel_order(ctx: ToolContext, args: CancelArgs) -> dict[str, Any]:
    order = await _cancellable(ctx, args.order_id, for_update=True)
    await ctx.db.execute(
        insert(Cancellation).values(
            order_id=order.id,
            customer_id=ctx.customer_id,
            reason=args.reason,
            refund_cents=order.total_cents,
            call_id=ctx.call_id,
        )
    )
    await ctx.db.execute(
        update(Order)
        .where(Order.id == order.id)
        .values(
            status=OrderStatus.CANCELLED,
            cancelled_at=ctx.now,
            estimated_delivery=None,
            updated_at=ctx.now,
        )
    )
    return {
        "order_id": order.id,
        "status": str(OrderStatus.CANCELLED),
        "refund": money(order.total_cents, order.currency),
        "refund_to": "the original payment method, within 5 business days",
    }


CANCEL_ORDER = Tool(
    name="cancel_order",
    description=(
        "Cancel one of the customer's orders. Only possible before it ships (status placed or "
        "packed); the full amount is refunded. Nothing changes until the customer confirms: "
        "the answer is a read-back to say and an action_id for confirm_action."
    ),
    arguments=CancelArgs,
    handler=cancel_order,
    mutating=True,
    confirmation=True,
    propose=propose_cancel_order,
    verification_exempt=False,
)
