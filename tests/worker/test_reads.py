"""The read-only tools on raw asyncpg (:mod:`switchboard.worker.reads`): the same answers as
their SQLAlchemy statements run by SQLAlchemy, and a connection that dies in use is reported as
stale so the call is retried once."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from switchboard.worker.context import BusinessRules, ToolContext
from switchboard.worker.errors import ToolFailure
from switchboard.worker.queries import PRODUCTS
from switchboard.worker.reads import (
    ReadPool,
    ReadQuery,
    Reads,
    SqlAlchemyReads,
    StaleConnection,
    asyncpg_dsn,
)
from switchboard.worker.tools import ALL_TOOLS

READ_TOOLS = {t.name: t for t in ALL_TOOLS if not t.mutating}
RULES = BusinessRules(
    timezone=ZoneInfo("UTC"), opens=time(9), closes=time(17), callback_horizon_days=30
)
PRODUCT_SEARCHES = (
    "wireless earbuds",
    "Earbud",
    "sku-001-bla",
    "prd_0010",
    "time machine",
    "xx",
    "a b c d e f g h i",
    "Blue",
    "coffee beans blue",
)

Answer = Callable[[Reads, str, str, dict[str, Any]], Awaitable[str]]


@pytest.fixture
async def read_pool(seeded_database_url: str) -> AsyncIterator[ReadPool]:
    """A read pool of two connections on the run's seeded database."""
    pool = ReadPool(seeded_database_url, size=2, timeout_s=5, application_name="test-reads")
    await pool.open()
    yield pool
    await pool.close()


async def _answer(reads: Reads, tool: str, customer_id: str, arguments: dict[str, Any]) -> str:
    """A read tool's output (or refusal) as JSON text, keys in the tool's order."""
    read_tool = READ_TOOLS[tool]
    ctx = ToolContext(
        call_id="test-reads",
        session_id="test-reads",
        customer_id=customer_id,
        now=datetime.now(UTC),
        rules=RULES,
        reader=reads,
    )
    try:
        output = await read_tool.handler(ctx, read_tool.parse(arguments))
    except ToolFailure as failure:
        return failure.to_error().model_dump_json()
    return json.dumps(output)


async def test_asyncpg_and_sqlalchemy_give_the_same_answers(
    read_pool: ReadPool, engine: AsyncEngine, seeded_database_url: str
) -> None:
    """Every read tool answers byte for byte alike on asyncpg and on SQLAlchemy, for a tenth of
    the seeded customers and orders (every tenth, the first ten, and for orders one of each
    status, with and without a shipment and a return), another customer's order, a missing one
    and product searches. (All of the seed, 8,000 calls, took over a minute: the sample covers
    the same shapes.)"""
    del seeded_database_url  # the seeded data must exist
    async with engine.connect() as conn:
        customers = list(
            (
                await conn.execute(
                    text(
                        "SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS n"
                        " FROM shop.customer) c WHERE n <= 10 OR n % 10 = 0"
                    )
                )
            ).scalars()
        )
        orders = (
            await conn.execute(
                text(
                    "SELECT id, customer_id FROM (SELECT o.id, o.customer_id,"
                    " row_number() OVER (ORDER BY o.id) AS n,"
                    " row_number() OVER (PARTITION BY o.status, s.id IS NULL, r.id IS NULL"
                    " ORDER BY o.id) AS k"
                    " FROM shop.customer_order o"
                    " LEFT JOIN shop.shipment s ON s.order_id = o.id"
                    " LEFT JOIN shop.return_request r ON r.order_id = o.id) x"
                    " WHERE n <= 10 OR n % 10 = 0 OR k = 1"
                )
            )
        ).all()
    calls: list[tuple[str, str, dict[str, Any]]] = []
    for customer in [*customers, "cus_missing"]:
        calls.append(("get_customer_info", customer, {}))
        calls += [("list_recent_orders", customer, {"limit": n}) for n in (1, 5, 20)]
    for order_id, customer in orders:
        for tool in ("check_order_status", "track_shipment"):
            calls.append((tool, customer, {"order_id": order_id}))
            calls.append(
                (tool, "cus_0002" if customer == "cus_0001" else "cus_0001", {"order_id": order_id})
            )
            calls.append((tool, customer, {"order_id": 999_999_999}))
    calls += [("get_product_info", "cus_0001", {"product_name": p}) for p in PRODUCT_SEARCHES]
    assert set(READ_TOOLS) == {tool for tool, _, _ in calls}, "a read tool is not compared"

    async with engine.connect() as conn, read_pool.connection() as fast:
        slow = SqlAlchemyReads(conn)
        for tool, customer, arguments in calls:
            expected = await _answer(slow, tool, customer, arguments)
            assert await _answer(fast, tool, customer, arguments) == expected, (tool, arguments)
    assert len(calls) > 40


def test_product_searches_compile_once_per_number_of_words() -> None:
    """The product search has a compiled statement for each number of name words it takes."""
    for words, query in enumerate(PRODUCTS):
        assert query.positions.count("text") == 1
        assert sorted(n for n in query.positions if n.startswith("w")) == [
            f"w{i}" for i in range(words)
        ]
        assert "LIMIT" in query.sql and "$" in query.sql


async def test_a_connection_that_dies_in_use_is_stale_and_the_pool_recovers(
    read_pool: ReadPool, seeded_database_url: str
) -> None:
    """A pooled connection killed by the server mid-call raises StaleConnection (the executor's
    cue for one retry), and the next connection from the same pool answers."""
    backend = ReadQuery.of(select(func.pg_backend_pid()))
    admin = await asyncpg.connect(asyncpg_dsn(seeded_database_url))
    try:
        with pytest.raises(StaleConnection):
            async with read_pool.connection() as reads:
                pid = await reads.value(backend)
                await admin.execute("SELECT pg_terminate_backend($1)", pid)
                await reads.value(backend)
    finally:
        await admin.close()
    async with read_pool.connection() as reads:
        assert await reads.value(backend) != pid
