"""Migrations and seed data against a real Postgres."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from switchboard.cli.db import downgrade, migrate, run_seed
from switchboard.cli.seed import build_dataset
from switchboard.db import create_engine, create_sessionmaker
from switchboard.db.shop import Customer, Order, OrderStatus, Shipment
from switchboard.demo import DEMO_CUSTOMERS
from tests.conftest import create_database, drop_database
from tests.infra import InfraUrls


async def _tables(url: str) -> set[str]:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT table_schema || '.' || table_name FROM information_schema.tables "
                    "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
                )
            )
            return {r[0] for r in rows}
    finally:
        await engine.dispose()


async def test_migrations_go_up_and_down_cleanly(infra: InfraUrls) -> None:
    """An empty database migrates to head, back to base leaving nothing, and up again."""
    name = f"sbmig_{uuid.uuid4().hex[:8]}"
    url = await create_database(infra.database_url, name)
    try:
        await migrate(url)
        tables = await _tables(url)
        assert {
            "shop.customer",
            "shop.customer_order",
            "shop.shipment",
            "shop.tool_effect",
            "audit.session",
            "audit.event",
            "audit.item",
            "audit.tool_call",
            "audit.view_log",
        } <= tables
        await downgrade(url, "base")
        assert await _tables(url) == {"public.alembic_version"}
        await migrate(url)
        assert "shop.customer_order" in await _tables(url)
    finally:
        await drop_database(infra.database_url, name)


def test_seed_dataset_is_deterministic() -> None:
    """The same reference date and seed give identical rows."""
    a = build_dataset(as_of=date(2026, 11, 1), customers=50, orders=300)
    b = build_dataset(as_of=date(2026, 11, 1), customers=50, orders=300)
    assert a.orders == b.orders and a.items == b.items and a.shipments == b.shipments
    c = build_dataset(as_of=date(2026, 11, 1), customers=50, orders=300, rng_seed=8)
    assert c.orders != a.orders


def test_seed_dates_are_consistent_with_statuses() -> None:
    """Delivered orders have delivery times, cancelled ones no shipment, shipped ones a future ETA."""
    as_of = date(2026, 11, 1)
    data = build_dataset(as_of=as_of, customers=100, orders=2000)
    shipped_orders = {s["order_id"]: s for s in data.shipments}
    for order in data.orders:
        status = order["status"]
        assert order["placed_at"].date() <= as_of
        if status in (OrderStatus.DELIVERED, OrderStatus.RETURNED):
            assert order["delivered_at"] is not None
            assert order["delivered_at"] >= order["placed_at"]
            assert shipped_orders[order["id"]]["delivered_at"] == order["delivered_at"]
        if status is OrderStatus.RETURNED:
            assert order["returned_at"] > order["delivered_at"]
        if status in (OrderStatus.CANCELLED, OrderStatus.PLACED, OrderStatus.PACKED):
            assert order["id"] not in shipped_orders
            assert order["delivered_at"] is None
        if status in (OrderStatus.SHIPPED, OrderStatus.OUT_FOR_DELIVERY):
            assert order["estimated_delivery"] >= as_of
    assert {o["status"] for o in data.orders} == set(OrderStatus)


@pytest.mark.slow
async def test_seed_fills_an_empty_database_once(seeded_database_url: str) -> None:
    """Seeding gives ≥1,000 customers and ≥10,000 orders in every status; a second run is a no-op."""
    engine = create_engine(seeded_database_url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session:
            customers = await session.scalar(select(func.count()).select_from(Customer))
            orders = await session.scalar(select(func.count()).select_from(Order))
            statuses = set(await session.scalars(select(Order.status).distinct()))
            tracking = await session.scalar(
                select(func.count(func.distinct(Shipment.tracking_number)))
            )
            shipments = await session.scalar(select(func.count()).select_from(Shipment))
            demo = await session.get(Customer, DEMO_CUSTOMERS[0][0])
        assert customers is not None and customers >= 1000
        assert orders is not None and orders >= 10000
        assert statuses == set(OrderStatus)
        assert tracking == shipments
        assert demo is not None and demo.name == DEMO_CUSTOMERS[0][1]
        report = await run_seed(seeded_database_url)
        assert report.seeded is False
        async with create_sessionmaker(engine)() as session:
            assert await session.scalar(select(func.count()).select_from(Order)) == orders
    finally:
        await engine.dispose()


async def test_demo_customers_have_their_documented_orders(seeded_database_url: str) -> None:
    """The first demo customer has a shipped, a returnable delivered and a cancellable order."""
    from tests.conftest import SEED_AS_OF

    engine = create_engine(seeded_database_url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session:
            rows = (
                await session.scalars(
                    select(Order).where(Order.customer_id == "cus_0001").order_by(Order.id)
                )
            ).all()
    finally:
        await engine.dispose()
    by_status = {o.status: o for o in rows}
    assert set(by_status) >= {OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.PLACED}
    delivered = by_status[OrderStatus.DELIVERED]
    as_of = datetime.combine(SEED_AS_OF, datetime.min.time(), tzinfo=UTC)
    assert delivered.delivered_at is not None
    assert as_of - delivered.delivered_at < timedelta(days=30)
