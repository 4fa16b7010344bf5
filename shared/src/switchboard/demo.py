"""The documented demo customers: the seeded database (``switchboard seed``) always has them,
with their orders first in order-id sequence from :data:`FIRST_ORDER_ID`, and the gateway's
development voice page lists them (``GET /dev/customers``). The rest of the synthetic data is the
CLI's (``switchboard.cli.seed``)."""

from __future__ import annotations

from typing import Any

from switchboard.contracts.orders import OrderStatus

__all__ = ["DEMO_CUSTOMERS", "FIRST_ORDER_ID", "demo_customer_listing"]

#: The id of the first seeded order (the demo customers' orders come first).
FIRST_ORDER_ID = 100001

#: (id, name, orders as (status, days ago placed)).
DEMO_CUSTOMERS: tuple[tuple[str, str, tuple[tuple[OrderStatus, int], ...]], ...] = (
    (
        "cus_0001",
        "Priya Sharma",
        (
            (OrderStatus.SHIPPED, 3),
            (OrderStatus.DELIVERED, 8),
            (OrderStatus.PLACED, 0),
        ),
    ),
    (
        "cus_0002",
        "James Miller",
        (
            (OrderStatus.OUT_FOR_DELIVERY, 4),
            (OrderStatus.DELIVERED, 75),
            (OrderStatus.PACKED, 1),
        ),
    ),
    (
        "cus_0003",
        "Mei Chen",
        (
            (OrderStatus.DELIVERED, 5),
            (OrderStatus.CANCELLED, 12),
            (OrderStatus.RETURNED, 40),
        ),
    ),
    ("cus_0004", "Diego Fernandez", ((OrderStatus.PLACED, 1), (OrderStatus.SHIPPED, 2))),
    ("cus_0005", "Amara Mensah", ((OrderStatus.DELIVERED, 2),)),
)


def demo_customer_listing() -> list[dict[str, Any]]:
    """The demo customers with their orders' ids, statuses and ages, as the voice page shows
    them."""
    out = []
    order_id = FIRST_ORDER_ID
    for customer_id, name, orders in DEMO_CUSTOMERS:
        listed = []
        for status, days_ago in orders:
            listed.append(
                {"order_id": order_id, "status": str(status), "placed_days_ago": days_ago}
            )
            order_id += 1
        out.append({"customer_id": customer_id, "name": name, "orders": listed})
    return out
