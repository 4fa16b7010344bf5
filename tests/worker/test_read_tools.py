"""Read-only tools over RabbitMQ against the seeded demo data (as of 2026-11-01)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from switchboard.contracts.tools import ToolCallResult, ToolErrorCode
from switchboard.worker.service import WorkerService

Call = Callable[..., Awaitable[ToolCallResult]]


async def test_get_customer_info_answers_for_the_calling_customer(call: Call) -> None:
    """get_customer_info returns the envelope's customer, with contact details and open orders."""
    result = await call("get_customer_info", customer_id="cus_0001")
    assert result.ok, result.error
    out = result.output or {}
    assert out["name"] == "Priya Sharma"
    assert out["email"].endswith("@example.com")
    assert out["open_orders"] == 2  # one shipped, one placed
    assert result.worker == "test-worker-shared"


async def test_list_recent_orders_newest_first(call: Call) -> None:
    """list_recent_orders lists the caller's orders newest first with items and totals."""
    result = await call("list_recent_orders", {"limit": 5}, customer_id="cus_0001")
    assert result.ok, result.error
    out = result.output or {}
    assert out["count"] == 3
    assert [o["order_id"] for o in out["orders"]] == [100003, 100001, 100002]
    assert [o["status"] for o in out["orders"]] == ["placed", "shipped", "delivered"]
    first = out["orders"][0]
    assert first["total"].startswith("$") and first["items"][0]["quantity"] >= 1


async def test_list_recent_orders_respects_the_limit(call: Call) -> None:
    """The default limit applies without arguments and an explicit limit caps the list."""
    result = await call("list_recent_orders", {"limit": 1}, customer_id="cus_0001")
    assert result.ok and (result.output or {})["count"] == 1


async def test_check_order_status_of_a_shipped_order(call: Call) -> None:
    """check_order_status reports status, items and the expected delivery of a shipped order."""
    result = await call("check_order_status", {"order_id": 100001}, customer_id="cus_0001")
    assert result.ok, result.error
    out = result.output or {}
    assert out["order_id"] == 100001 and out["status"] == "shipped"
    assert out["estimated_delivery"] >= "2026-11-02"
    assert out["items"] and "delivered_on" not in out


async def test_check_order_status_accepts_a_spoken_order_number(call: Call) -> None:
    """An order number given as text ("#100 002") is read as the integer 100002."""
    result = await call("check_order_status", {"order_id": "#100 002"}, customer_id="cus_0001")
    assert result.ok, result.error
    assert (result.output or {})["status"] == "delivered"
    assert (result.output or {})["delivered_on"] == "2026-10-26"


async def test_track_shipment_gives_carrier_and_history(call: Call) -> None:
    """track_shipment returns carrier, tracking number, latest location and the event history."""
    result = await call("track_shipment", {"order_id": 100004}, customer_id="cus_0002")
    assert result.ok, result.error
    out = result.output or {}
    assert out["status"] == "out_for_delivery"
    assert out["carrier"] and out["tracking_number"]
    assert out["history"][0]["status"] == "out_for_delivery"
    assert out["last_location"] == out["history"][0]["location"]


async def test_track_shipment_of_an_unshipped_order_is_refused(call: Call) -> None:
    """An order that has not shipped has nothing to track, and the answer says so."""
    result = await call("track_shipment", {"order_id": 100003}, customer_id="cus_0001")
    assert not result.ok and result.error is not None
    assert result.error.code is ToolErrorCode.NOT_FOUND
    assert "not shipped yet" in result.error.message


async def test_get_product_info_finds_products_by_name(call: Call) -> None:
    """get_product_info matches words of the name and gives price, stock and return policy."""
    result = await call(
        "get_product_info", {"product_name": "wireless earbuds"}, customer_id="cus_0001"
    )
    assert result.ok, result.error
    out = result.output or {}
    assert out["count"] == 3
    assert all("Wireless Earbuds" in p["name"] for p in out["products"])
    assert out["products"][0]["price"] == "$79.99"
    assert out["products"][0]["return_window_days"] == 30


async def test_get_product_info_finds_by_sku(call: Call) -> None:
    """A SKU finds exactly that product."""
    result = await call("get_product_info", {"product_name": "sku-001-bla"}, customer_id="cus_0001")
    assert result.ok, result.error
    assert [p["product_id"] for p in (result.output or {})["products"]] == ["prd_0010"]


async def test_get_product_info_unknown_product(call: Call) -> None:
    """A product that does not exist is a not_found answer naming the argument."""
    result = await call(
        "get_product_info", {"product_name": "time machine"}, customer_id="cus_0001"
    )
    assert not result.ok and result.error is not None
    assert result.error.code is ToolErrorCode.NOT_FOUND and result.error.field == "product_name"


async def test_another_customers_order_looks_exactly_like_a_missing_one(call: Call) -> None:
    """cus_0002 asking for cus_0001's order gets the same answer as for an order that does
    not exist (only the number differs), in every order tool."""
    for tool in ("check_order_status", "track_shipment"):
        other = await call(tool, {"order_id": 100001}, customer_id="cus_0002")
        missing = await call(tool, {"order_id": 999999}, customer_id="cus_0002")
        assert not other.ok and not missing.ok
        assert other.error is not None and missing.error is not None
        shown = other.error.model_dump()
        absent = missing.error.model_dump()
        absent["message"] = absent["message"].replace("999999", "100001")
        assert shown == absent
        assert other.error.code is ToolErrorCode.NOT_FOUND


async def test_unknown_customer_is_not_found(call: Call) -> None:
    """A session for a customer that does not exist gets not_found, not a crash."""
    result = await call("get_customer_info", customer_id="cus_nobody")
    assert not result.ok and result.error is not None
    assert result.error.code is ToolErrorCode.NOT_FOUND


async def test_invalid_arguments_name_the_field(call: Call) -> None:
    """A non-numeric order number is invalid_arguments naming order_id and what is expected."""
    result = await call("check_order_status", {"order_id": "tomorrow"}, customer_id="cus_0001")
    assert not result.ok and result.error is not None
    assert result.error.code is ToolErrorCode.INVALID_ARGUMENTS
    assert result.error.field == "order_id"
    assert "100001" in result.error.message


async def test_missing_argument_is_named(call: Call) -> None:
    """A required argument left out is invalid_arguments naming it."""
    result = await call("check_order_status", {}, customer_id="cus_0001")
    assert result.error is not None and result.error.field == "order_id"
    assert "missing" in result.error.message


async def test_a_customer_id_argument_from_the_model_is_refused(call: Call) -> None:
    """A model trying to pass customer_id is refused rather than obeyed."""
    result = await call("get_customer_info", {"customer_id": "cus_0002"}, customer_id="cus_0001")
    assert not result.ok and result.error is not None
    assert result.error.code is ToolErrorCode.INVALID_ARGUMENTS
    assert result.error.field == "customer_id"


async def test_an_unroutable_tool_is_unknown(call: Call) -> None:
    """A tool no worker serves comes back unroutable and is answered unknown_tool."""
    result = await call("teleport_parcel", customer_id="cus_0001")
    assert not result.ok and result.error is not None
    assert result.error.code is ToolErrorCode.UNKNOWN_TOOL


def _schema_props(entry: Any) -> set[str]:
    return set(entry.parameters.get("properties", {}))


async def test_the_read_pool_has_its_own_size(make_settings: Any) -> None:
    """WORKER_READ_POOL_SIZE sizes the read-only tools' asyncpg pool, apart from the
    SQLAlchemy pool of DATABASE_POOL_SIZE."""
    service = WorkerService(make_settings(WORKER_READ_POOL_SIZE=3, DATABASE_POOL_SIZE=7))
    try:
        pool = await service.reads.open()
        assert pool.get_max_size() == 3
        assert service.engine.pool.size() == 7
    finally:
        await service.reads.close()
        await service.engine.dispose()
        await service.redis.aclose()
