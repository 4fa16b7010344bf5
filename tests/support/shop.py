"""Rows the worker and gateway tests need in known states: a fresh customer with orders of chosen
status, so tests that change data never touch the seeded demo customers other tests rely on."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchboard.db.shop import (
    Customer,
    Order,
    OrderItem,
    OrderStatus,
    Product,
    Shipment,
    ShipmentEvent,
)
from tests.conftest import SEED_AS_OF

__all__ = ["EARBUDS", "FINAL_SALE", "ShopFactory"]

#: Seeded products: Wireless Earbuds (Black), 30-day window; Hair Dryer (Black), final sale.
EARBUDS = "prd_0010"
FINAL_SALE = "prd_0240"

_order_ids = itertools.count(900_000_001)
_SHIPPED = (
    OrderStatus.SHIPPED,
    OrderStatus.OUT_FOR_DELIVERY,
    OrderStatus.DELIVERED,
    OrderStatus.RETURNED,
)


def _as_of(days_ago: float) -> datetime:
    return datetime.combine(SEED_AS_OF, time(12, 0), tzinfo=UTC) - timedelta(days=days_ago)


@dataclass
class ShopFactory:
    """Creates customers and orders relative to the seed date (``SEED_AS_OF``)."""

    sessionmaker: async_sessionmaker[AsyncSession]

    async def customer(self, *, email: str | None = None) -> str:
        cid = f"cus_t{uuid.uuid4().hex[:12]}"
        async with self.sessionmaker.begin() as session:
            await session.execute(
                insert(Customer).values(
                    id=cid,
                    name="Test Customer",
                    email=email or f"{cid}@example.com",
                    phone="+15550001111",
                    preferred_language="en",
                    tier="standard",
                    street="1 Test Street",
                    city="Seattle",
                    region="WA",
                    postal_code="98101",
                    country="US",
                )
            )
        return cid

    async def order(
        self,
        customer_id: str,
        status: OrderStatus,
        *,
        placed_days_ago: float = 1,
        delivered_days_ago: float | None = None,
        products: tuple[tuple[str, int], ...] = ((EARBUDS, 1),),
    ) -> int:
        order_id = next(_order_ids)
        placed = _as_of(placed_days_ago)
        delivered = None
        if status in (OrderStatus.DELIVERED, OrderStatus.RETURNED):
            delivered = _as_of(
                delivered_days_ago if delivered_days_ago is not None else placed_days_ago - 1
            )
        async with self.sessionmaker.begin() as session:
            prices = dict(
                (
                    await session.execute(
                        select(Product.id, Product.price_cents).where(
                            Product.id.in_([p for p, _ in products])
                        )
                    )
                ).all()
            )
            total = sum(prices[p] * q for p, q in products)
            await session.execute(
                insert(Order).values(
                    id=order_id,
                    customer_id=customer_id,
                    status=status,
                    placed_at=placed,
                    total_cents=total,
                    currency="USD",
                    ship_name="Test Customer",
                    ship_street="1 Test Street",
                    ship_city="Seattle",
                    ship_region="WA",
                    ship_postal_code="98101",
                    ship_country="US",
                    estimated_delivery=(placed + timedelta(days=4)).date(),
                    delivered_at=delivered,
                    cancelled_at=placed + timedelta(hours=2)
                    if status is OrderStatus.CANCELLED
                    else None,
                    returned_at=delivered + timedelta(days=1)
                    if status is OrderStatus.RETURNED and delivered
                    else None,
                )
            )
            await session.execute(
                insert(OrderItem),
                [
                    {
                        "order_id": order_id,
                        "product_id": p,
                        "quantity": q,
                        "unit_price_cents": prices[p],
                    }
                    for p, q in products
                ],
            )
            if status in _SHIPPED:
                shipped = placed + timedelta(hours=20)
                shipment_id = await session.scalar(
                    insert(Shipment)
                    .values(
                        order_id=order_id,
                        carrier="UPS",
                        tracking_number=f"1Z{order_id}",
                        status="delivered" if delivered else "in_transit",
                        shipped_at=shipped,
                        estimated_delivery=(placed + timedelta(days=4)).date(),
                        delivered_at=delivered,
                    )
                    .returning(Shipment.id)
                )
                events = [("label_created", "ShopMe warehouse", shipped)]
                if delivered:
                    events.append(("delivered", "Seattle", delivered))
                await session.execute(
                    insert(ShipmentEvent),
                    [
                        {
                            "shipment_id": shipment_id,
                            "status": s,
                            "location": loc,
                            "description": s.replace("_", " "),
                            "occurred_at": at,
                        }
                        for s, loc, at in events
                    ],
                )
        return order_id
