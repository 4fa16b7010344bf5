"""Order statuses, as the shop's database, the tools' answers and the demo data name them (pure:
no database client needed to use them)."""

from __future__ import annotations

import enum

__all__ = ["OrderStatus"]


class OrderStatus(enum.StrEnum):
    PLACED = "placed"
    PACKED = "packed"
    SHIPPED = "shipped"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    RETURNED = "returned"
