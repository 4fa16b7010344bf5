"""Every statement of the read-only tools, in one place: SQLAlchemy ``Select``s built once with
bound parameters (building one per call costs more CPU than running it), each compiled once to
the SQL asyncpg runs (:class:`~switchboard.worker.reads.ReadQuery`). Data-changing tools build
their own statements beside them and run on SQLAlchemy."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ScalarSelect, and_, bindparam, func, literal_column, or_, select
from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by

from switchboard.db.shop import (
    Customer,
    Order,
    OrderItem,
    OrderStatus,
    Product,
    ReturnRequest,
    Shipment,
    ShipmentEvent,
)
from switchboard.worker.reads import ReadQuery

__all__ = [
    "CUSTOMER",
    "MAX_PRODUCT_MATCHES",
    "MAX_PRODUCT_WORDS",
    "OPEN_ORDERS",
    "OPEN_STATUSES",
    "ORDER",
    "ORDER_STATUS",
    "PRODUCTS",
    "RECENT_ORDERS",
    "SHIPMENT",
    "SHIPMENT_EVENTS",
]


def _items_of(order_id_column: Any) -> ScalarSelect[Any]:
    """The items of an order as a JSON list of ``{name, quantity}`` (one correlated subquery)."""
    item = func.jsonb_build_object(
        literal_column("'name'"), Product.name, literal_column("'quantity'"), OrderItem.quantity
    )
    return (
        select(
            func.coalesce(
                func.jsonb_agg(aggregate_order_by(item, OrderItem.id)),
                literal_column("'[]'::jsonb"),
            ).cast(JSONB)
        )
        .select_from(OrderItem)
        .join(Product, Product.id == OrderItem.product_id)
        .where(OrderItem.order_id == order_id_column)
        .scalar_subquery()
    )


# -- customers ---------------------------------------------------------------------------------
#: Orders that count as open in a customer's profile.
OPEN_STATUSES = (
    OrderStatus.PLACED,
    OrderStatus.PACKED,
    OrderStatus.SHIPPED,
    OrderStatus.OUT_FOR_DELIVERY,
)

CUSTOMER = ReadQuery.of(
    select(Customer.__table__).where(Customer.id == bindparam("customer_id")), "customer_id"
)
OPEN_ORDERS = ReadQuery.of(
    select(func.count())
    .select_from(Order)
    .where(Order.customer_id == bindparam("customer_id"), Order.status.in_(OPEN_STATUSES)),
    "customer_id",
)

# -- orders ------------------------------------------------------------------------------------
#: One order of one customer: another customer's order is not found, like a missing one.
ORDER = ReadQuery.of(
    select(Order.__table__).where(
        Order.id == bindparam("order_id"), Order.customer_id == bindparam("customer_id")
    ),
    "order_id",
    "customer_id",
)

RECENT_ORDERS = ReadQuery.of(
    select(
        Order.id,
        Order.status,
        Order.placed_at,
        Order.total_cents,
        Order.currency,
        _items_of(Order.id).label("items"),
    )
    .where(Order.customer_id == bindparam("customer_id"))
    .order_by(Order.placed_at.desc(), Order.id.desc())
    .limit(bindparam("limit")),
    "customer_id",
    "limit",
)

ORDER_STATUS = ReadQuery.of(
    select(
        Order.id,
        Order.status,
        Order.placed_at,
        Order.total_cents,
        Order.currency,
        Order.estimated_delivery,
        Order.delivered_at,
        Order.cancelled_at,
        Order.returned_at,
        _items_of(Order.id).label("items"),
        ReturnRequest.id.label("return_id"),
        ReturnRequest.status.label("return_status"),
    )
    .outerjoin(ReturnRequest, ReturnRequest.order_id == Order.id)
    .where(Order.id == bindparam("order_id"), Order.customer_id == bindparam("customer_id")),
    "order_id",
    "customer_id",
)

# -- shipments ---------------------------------------------------------------------------------
SHIPMENT = ReadQuery.of(
    select(Shipment.__table__).where(Shipment.order_id == bindparam("order_id")), "order_id"
)
SHIPMENT_EVENTS = ReadQuery.of(
    select(ShipmentEvent.status, ShipmentEvent.location, ShipmentEvent.occurred_at)
    .where(ShipmentEvent.shipment_id == bindparam("shipment_id"))
    .order_by(ShipmentEvent.occurred_at.desc(), ShipmentEvent.id.desc()),
    "shipment_id",
)

# -- products ----------------------------------------------------------------------------------
MAX_PRODUCT_MATCHES = 5
#: Words of a product search that count (more are ignored).
MAX_PRODUCT_WORDS = 6


def _product_search(words: int) -> ReadQuery:
    """Products whose id is ``text`` or SKU is ``sku``, or whose name contains every pattern
    ``w0`` ... (``ILIKE``); one statement per number of words."""
    exact = or_(Product.id == bindparam("text"), Product.sku == bindparam("sku"))
    by_name = [Product.name.ilike(bindparam(f"w{i}")) for i in range(words)]
    condition = or_(exact, and_(*by_name)) if by_name else exact
    names = [f"w{i}" for i in range(words)]
    return ReadQuery.of(
        select(Product.__table__).where(condition).order_by(Product.id).limit(MAX_PRODUCT_MATCHES),
        "text",
        "sku",
        *names,
    )


#: ``PRODUCTS[n]`` searches with *n* name words.
PRODUCTS: tuple[ReadQuery, ...] = tuple(_product_search(n) for n in range(MAX_PRODUCT_WORDS + 1))
