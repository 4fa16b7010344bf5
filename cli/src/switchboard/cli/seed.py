"""Deterministic, realistic synthetic data for the order database (``switchboard seed``).

``seed(session, as_of=...)`` fills an *empty* database and does nothing when customers already
exist, so running it twice changes nothing. The same ``as_of`` date and ``rng_seed`` always give
the same rows. Dates are relative to ``as_of`` so demo orders stay plausible (a delivered order
inside its return window, one out for delivery, one that can still be cancelled).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.contracts.tools import GUEST_CUSTOMER_ID
from switchboard.db.shop import (
    Customer,
    Order,
    OrderItem,
    OrderStatus,
    Product,
    Shipment,
    ShipmentEvent,
)
from switchboard.demo import DEMO_CUSTOMERS, FIRST_ORDER_ID

__all__ = ["SeedReport", "build_dataset", "seed"]

FIRST_NAMES = [
    "Aarav",
    "Priya",
    "Rohan",
    "Ananya",
    "James",
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Sophia",
    "Mateo",
    "Lucia",
    "Chen",
    "Mei",
    "Yuki",
    "Hana",
    "Omar",
    "Layla",
    "Kwame",
    "Amara",
    "Lars",
    "Ingrid",
    "Diego",
    "Valentina",
    "Arjun",
    "Kavya",
    "Ethan",
    "Ava",
    "Lucas",
    "Mia",
    "Ravi",
    "Sara",
]
LAST_NAMES = [
    "Sharma",
    "Patel",
    "Iyer",
    "Gupta",
    "Miller",
    "Johnson",
    "Garcia",
    "Rodriguez",
    "Chen",
    "Wang",
    "Tanaka",
    "Sato",
    "Haddad",
    "Mensah",
    "Larsen",
    "Nilsen",
    "Fernandez",
    "Lopez",
    "Singh",
    "Kumar",
    "Brown",
    "Davis",
    "Wilson",
    "Moore",
    "Taylor",
    "Anderson",
    "Thomas",
]
CITIES = (
    ("Seattle", "WA", "98101"),
    ("Austin", "TX", "73301"),
    ("Denver", "CO", "80202"),
    ("Boston", "MA", "02108"),
    ("Chicago", "IL", "60601"),
    ("Portland", "OR", "97201"),
    ("Atlanta", "GA", "30303"),
    ("Phoenix", "AZ", "85001"),
    ("Miami", "FL", "33101"),
    ("Columbus", "OH", "43004"),
)
STREETS = [
    "Maple",
    "Oak",
    "Pine",
    "Cedar",
    "Elm",
    "Lake",
    "Hill",
    "Park",
    "River",
    "Sunset",
    "Meadow",
    "Willow",
]
CARRIERS = ("UPS", "FedEx", "USPS", "DHL")
LANGUAGES = ("en", "en", "en", "en", "es", "hi", "fr")
CATALOG: tuple[tuple[str, str, int, int], ...] = (
    # (category, product name, price in cents, return window days)
    ("audio", "Wireless Earbuds", 7999, 30),
    ("audio", "Noise Cancelling Headphones", 19999, 30),
    ("audio", "Bluetooth Speaker", 4999, 30),
    ("wearables", "Smart Watch", 24999, 30),
    ("wearables", "Fitness Band", 5999, 30),
    ("home", "Coffee Maker", 8999, 30),
    ("home", "Air Purifier", 14999, 30),
    ("home", "Robot Vacuum", 29999, 30),
    ("kitchen", "Chef's Knife", 6999, 60),
    ("kitchen", "Cast Iron Skillet", 3999, 60),
    ("kitchen", "Blender", 9999, 30),
    ("apparel", "Running Shoes", 11999, 45),
    ("apparel", "Rain Jacket", 8999, 45),
    ("apparel", "Wool Sweater", 6999, 45),
    ("books", "Cookbook: Weeknight Dinners", 2499, 14),
    ("books", "Field Guide to Birds", 1999, 14),
    ("toys", "Building Blocks Set", 4999, 30),
    ("toys", "Remote Control Car", 3999, 30),
    ("office", "Ergonomic Chair", 34999, 30),
    ("office", "Mechanical Keyboard", 12999, 30),
    ("office", "Desk Lamp", 3499, 30),
    ("garden", "Garden Hose", 2999, 30),
    ("garden", "Pruning Shears", 2499, 30),
    ("beauty", "Hair Dryer", 5999, 0),
    ("grocery", "Organic Coffee Beans", 1799, 0),
)
COLOURS = ("Black", "White", "Blue", "Red", "Green", "Grey")

_STATUS_MIX = (
    (OrderStatus.DELIVERED, 45),
    (OrderStatus.SHIPPED, 10),
    (OrderStatus.OUT_FOR_DELIVERY, 5),
    (OrderStatus.PACKED, 7),
    (OrderStatus.PLACED, 10),
    (OrderStatus.CANCELLED, 12),
    (OrderStatus.RETURNED, 11),
)


@dataclass
class SeedReport:
    """What a seed run did."""

    seeded: bool
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class _Dataset:
    customers: list[dict[str, Any]] = field(default_factory=list)
    products: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    shipments: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


def _at(day: date, rng: random.Random) -> datetime:
    return datetime.combine(day, time(rng.randint(8, 20), rng.randint(0, 59)), tzinfo=UTC)


def _status_for_age(rng: random.Random, days_ago: int) -> OrderStatus:
    """A status consistent with how long ago the order was placed."""
    if days_ago <= 1:
        return rng.choice((OrderStatus.PLACED, OrderStatus.PACKED, OrderStatus.CANCELLED))
    if days_ago <= 3:
        return rng.choice(
            (OrderStatus.PACKED, OrderStatus.SHIPPED, OrderStatus.SHIPPED, OrderStatus.CANCELLED)
        )
    if days_ago <= 6:
        return rng.choice(
            (OrderStatus.SHIPPED, OrderStatus.OUT_FOR_DELIVERY, OrderStatus.DELIVERED)
        )
    statuses, weights = zip(*((s, w) for s, w in _STATUS_MIX if s in _SETTLED), strict=True)
    return rng.choices(statuses, weights)[0]


_SETTLED = {OrderStatus.DELIVERED, OrderStatus.CANCELLED, OrderStatus.RETURNED}


def build_dataset(
    *, as_of: date, customers: int = 1000, orders: int = 10000, rng_seed: int = 7
) -> _Dataset:
    """Build every row in memory, deterministically from ``as_of`` and ``rng_seed``."""
    rng = random.Random(rng_seed)
    data = _Dataset()

    for index, (category, name, price, window) in enumerate(CATALOG, start=1):
        for colour_index, colour in enumerate(COLOURS[:3]):
            pid = f"prd_{index:03d}{colour_index}"
            data.products.append(
                {
                    "id": pid,
                    "sku": f"SKU-{index:03d}-{colour[:3].upper()}",
                    "name": f"{name} ({colour})",
                    "description": f"{colour} {name.lower()} from the ShopMe {category} range.",
                    "category": category,
                    "price_cents": price,
                    "currency": "USD",
                    "stock": rng.randint(0, 500),
                    "return_window_days": window,
                    "returnable": window > 0,
                }
            )
    product_by_id = {p["id"]: p for p in data.products}
    product_ids = list(product_by_id)

    demo = {cid: (name, plan) for cid, name, plan in DEMO_CUSTOMERS}
    for n in range(1, customers + 1):
        cid = f"cus_{n:04d}"
        if cid in demo:
            full_name = demo[cid][0]
        else:
            full_name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        city, region, postal = rng.choice(CITIES)
        handle = full_name.lower().replace(" ", ".").replace("'", "")
        data.customers.append(
            {
                "id": cid,
                "name": full_name,
                "email": f"{handle}.{n}@example.com",
                "phone": f"+1-555-{rng.randint(100, 999):03d}-{n:04d}",
                "preferred_language": "en" if cid in demo else rng.choice(LANGUAGES),
                "tier": rng.choice(("standard", "standard", "standard", "plus", "premium")),
                "street": f"{rng.randint(1, 9999)} {rng.choice(STREETS)} Street",
                "city": city,
                "region": region,
                "postal_code": postal,
                "country": "US",
            }
        )
    customer_by_id = {c["id"]: c for c in data.customers}

    plan: list[tuple[str, OrderStatus | None, int]] = []
    for cid, (_name, orders_plan) in demo.items():
        if cid in customer_by_id:
            plan.extend((cid, status, days) for status, days in orders_plan)
    others = [c["id"] for c in data.customers if c["id"] not in demo] or [
        c["id"] for c in data.customers
    ]
    while len(plan) < orders:
        plan.append((rng.choice(others), None, min(365, int(rng.expovariate(1 / 60)))))

    tracking_seen: set[str] = set()
    for offset, (cid, fixed_status, days_ago) in enumerate(plan[:orders]):
        order_id = FIRST_ORDER_ID + offset
        customer = customer_by_id[cid]
        status = fixed_status or _status_for_age(rng, days_ago)
        placed_day = as_of - timedelta(days=days_ago)
        placed_at = _at(placed_day, rng)
        lines = []
        for pid in rng.sample(product_ids, rng.choice((1, 1, 1, 2, 2, 3))):
            quantity = rng.choice((1, 1, 1, 2))
            lines.append((pid, quantity, product_by_id[pid]["price_cents"]))
        total = sum(q * p for _, q, p in lines)
        transit_days = rng.randint(3, 6)
        eta = placed_day + timedelta(days=transit_days)
        delivered_at = None
        cancelled_at = None
        returned_at = None
        if status in (OrderStatus.DELIVERED, OrderStatus.RETURNED):
            delivered_day = min(placed_day + timedelta(days=transit_days), as_of)
            if fixed_status is not None and days_ago > 2:
                delivered_day = placed_day + timedelta(days=2)
            delivered_at = _at(delivered_day, rng)
            if status is OrderStatus.RETURNED:
                returned_at = delivered_at + timedelta(days=rng.randint(1, 10))
        elif status is OrderStatus.CANCELLED:
            cancelled_at = placed_at + timedelta(hours=rng.randint(1, 20))
        elif status in (OrderStatus.SHIPPED, OrderStatus.OUT_FOR_DELIVERY):
            eta = max(
                eta, as_of + timedelta(days=0 if status is OrderStatus.OUT_FOR_DELIVERY else 1)
            )
        data.orders.append(
            {
                "id": order_id,
                "customer_id": cid,
                "status": status,
                "placed_at": placed_at,
                "total_cents": total,
                "currency": "USD",
                "ship_name": customer["name"],
                "ship_street": customer["street"],
                "ship_city": customer["city"],
                "ship_region": customer["region"],
                "ship_postal_code": customer["postal_code"],
                "ship_country": customer["country"],
                "estimated_delivery": None if status is OrderStatus.CANCELLED else eta,
                "delivered_at": delivered_at,
                "cancelled_at": cancelled_at,
                "returned_at": returned_at,
            }
        )
        for pid, quantity, price in lines:
            data.items.append(
                {
                    "order_id": order_id,
                    "product_id": pid,
                    "quantity": quantity,
                    "unit_price_cents": price,
                }
            )
        if status in (
            OrderStatus.SHIPPED,
            OrderStatus.OUT_FOR_DELIVERY,
            OrderStatus.DELIVERED,
            OrderStatus.RETURNED,
        ):
            carrier = rng.choice(CARRIERS)
            tracking = f"{carrier[:2].upper()}{order_id}{rng.randint(100000, 999999)}"
            while tracking in tracking_seen:
                tracking = f"{carrier[:2].upper()}{order_id}{rng.randint(100000, 999999)}"
            tracking_seen.add(tracking)
            shipped_at = placed_at + timedelta(days=1, hours=rng.randint(0, 6))
            if delivered_at is not None and shipped_at > delivered_at:
                shipped_at = delivered_at - timedelta(hours=12)
            shipment_status = (
                "delivered"
                if delivered_at is not None
                else status.value.replace("shipped", "in_transit")
            )
            shipment_id = len(data.shipments) + 1
            data.shipments.append(
                {
                    "id": shipment_id,
                    "order_id": order_id,
                    "carrier": carrier,
                    "tracking_number": tracking,
                    "status": shipment_status,
                    "shipped_at": shipped_at,
                    "estimated_delivery": eta,
                    "delivered_at": delivered_at,
                }
            )
            hub = rng.choice(CITIES)[0]
            history = [
                ("label_created", "ShopMe warehouse", "Shipping label created", shipped_at),
                (
                    "in_transit",
                    f"{hub} hub",
                    "Package arrived at carrier facility",
                    shipped_at + timedelta(hours=10),
                ),
            ]
            if status is OrderStatus.OUT_FOR_DELIVERY or delivered_at is not None:
                out_at = (delivered_at - timedelta(hours=5)) if delivered_at else _at(as_of, rng)
                history.append(("out_for_delivery", customer["city"], "Out for delivery", out_at))
            if delivered_at is not None:
                history.append(
                    ("delivered", customer["city"], "Delivered to front door", delivered_at)
                )
            for event_status, location, description, occurred in history:
                data.events.append(
                    {
                        "shipment_id": shipment_id,
                        "status": event_status,
                        "location": location,
                        "description": description,
                        "occurred_at": occurred,
                    }
                )
    return data


async def seed(
    session: AsyncSession,
    *,
    as_of: date | None = None,
    customers: int = 1000,
    orders: int = 10000,
    rng_seed: int = 7,
) -> SeedReport:
    """Fill an empty order database; do nothing if any customer (but the guest) exists."""
    # the reserved guest (migration 0006) is not demo data
    existing = await session.scalar(
        select(func.count()).select_from(Customer).where(Customer.id != GUEST_CUSTOMER_ID)
    )
    if existing:
        return SeedReport(seeded=False, counts={"customers": int(existing)})
    data = build_dataset(
        as_of=as_of or datetime.now(UTC).date(),
        customers=customers,
        orders=orders,
        rng_seed=rng_seed,
    )
    for model, rows in (
        (Customer, data.customers),
        (Product, data.products),
        (Order, data.orders),
        (OrderItem, data.items),
        (Shipment, data.shipments),
        (ShipmentEvent, data.events),
    ):
        for start in range(0, len(rows), 2000):
            await session.execute(insert(model), rows[start : start + 2000])
    await session.execute(
        text(
            "SELECT setval(pg_get_serial_sequence('shop.shipment', 'id'), "
            "(SELECT coalesce(max(id), 0) + 1 FROM shop.shipment), false)"
        )
    )
    await session.commit()
    return SeedReport(
        seeded=True,
        counts={
            "customers": len(data.customers),
            "products": len(data.products),
            "orders": len(data.orders),
            "order_items": len(data.items),
            "shipments": len(data.shipments),
            "shipment_events": len(data.events),
        },
    )
