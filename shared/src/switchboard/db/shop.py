"""The order database: customers, products, orders, shipments and the effects of tools.

Tables live in the ``shop`` schema. Every row a mutating tool writes carries the ``call_id`` of the
tool call that made it, and :class:`ToolEffect` records each mutating call's result in the same
transaction, so a redelivered call returns the original result and changes nothing twice.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from switchboard.contracts.orders import OrderStatus
from switchboard.db.base import SHOP_SCHEMA, Base

__all__ = [
    "NOT_SHIPPED",
    "AccountChange",
    "AddressChange",
    "Callback",
    "CallerVerification",
    "Cancellation",
    "Customer",
    "Order",
    "OrderItem",
    "OrderStatus",
    "PendingAction",
    "PendingActionStatus",
    "Product",
    "ReturnRequest",
    "Shipment",
    "ShipmentEvent",
    "SupportTicket",
    "TicketPriority",
    "ToolEffect",
]

_S = {"schema": SHOP_SCHEMA}


def _fk(target: str) -> ForeignKey:
    return ForeignKey(f"{SHOP_SCHEMA}.{target}", ondelete="CASCADE")


def _created() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


#: Statuses in which an order has not left the warehouse (cancel / change address allowed).
NOT_SHIPPED = (OrderStatus.PLACED, OrderStatus.PACKED)


class PendingActionStatus(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    #: another change was proposed in the same conversation before this one was confirmed
    SUPERSEDED = "superseded"


class TicketPriority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(
        cls,
        name=name,
        schema=SHOP_SCHEMA,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class Customer(Base):
    __tablename__ = "customer"
    __table_args__ = _S

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    phone: Mapped[str] = mapped_column(String(32))
    preferred_language: Mapped[str] = mapped_column(String(16), default="en")
    tier: Mapped[str] = mapped_column(String(16), default="standard")
    street: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    region: Mapped[str] = mapped_column(String(100))
    postal_code: Mapped[str] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(2))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()

    orders: Mapped[list[Order]] = relationship(back_populates="customer")


class Product(Base):
    __tablename__ = "product"
    __table_args__ = (CheckConstraint("price_cents >= 0", name="price_non_negative"), _S)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(64), index=True)
    price_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    stock: Mapped[int] = mapped_column(Integer, default=0)
    return_window_days: Mapped[int] = mapped_column(Integer, default=30)
    returnable: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = _created()


class Order(Base):
    __tablename__ = "customer_order"
    __table_args__ = (CheckConstraint("total_cents >= 0", name="total_non_negative"), _S)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    customer_id: Mapped[str] = mapped_column(_fk("customer.id"), index=True)
    status: Mapped[OrderStatus] = mapped_column(_enum(OrderStatus, "order_status"), index=True)
    placed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    total_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    ship_name: Mapped[str] = mapped_column(String(200))
    ship_street: Mapped[str] = mapped_column(String(200))
    ship_city: Mapped[str] = mapped_column(String(100))
    ship_region: Mapped[str] = mapped_column(String(100))
    ship_postal_code: Mapped[str] = mapped_column(String(20))
    ship_country: Mapped[str] = mapped_column(String(2))
    estimated_delivery: Mapped[date | None] = mapped_column(Date)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    returned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = _created()

    customer: Mapped[Customer] = relationship(back_populates="orders")
    items: Mapped[list[OrderItem]] = relationship(back_populates="order", order_by="OrderItem.id")
    shipment: Mapped[Shipment | None] = relationship(back_populates="order", uselist=False)


class OrderItem(Base):
    __tablename__ = "order_item"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"), _S)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(_fk("customer_order.id"), index=True)
    product_id: Mapped[str] = mapped_column(ForeignKey(f"{SHOP_SCHEMA}.product.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_cents: Mapped[int] = mapped_column(Integer)

    order: Mapped[Order] = relationship(back_populates="items")
    product: Mapped[Product] = relationship()


class Shipment(Base):
    __tablename__ = "shipment"
    __table_args__ = _S

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(_fk("customer_order.id"), unique=True)
    carrier: Mapped[str] = mapped_column(String(32))
    tracking_number: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(32))
    shipped_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    estimated_delivery: Mapped[date | None] = mapped_column(Date)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    order: Mapped[Order] = relationship(back_populates="shipment")
    events: Mapped[list[ShipmentEvent]] = relationship(
        back_populates="shipment", order_by="ShipmentEvent.occurred_at"
    )


class ShipmentEvent(Base):
    """The status history of a shipment, as a carrier would report it."""

    __tablename__ = "shipment_event"
    __table_args__ = _S

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    shipment_id: Mapped[int] = mapped_column(_fk("shipment.id"), index=True)
    status: Mapped[str] = mapped_column(String(32))
    location: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(String(300))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    shipment: Mapped[Shipment] = relationship(back_populates="events")


class ReturnRequest(Base):
    __tablename__ = "return_request"
    __table_args__ = _S

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    order_id: Mapped[int] = mapped_column(_fk("customer_order.id"), unique=True)
    customer_id: Mapped[str] = mapped_column(_fk("customer.id"), index=True)
    reason: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(32), default="label_issued")
    refund_estimate_cents: Mapped[int] = mapped_column(Integer)
    label_url: Mapped[str] = mapped_column(String(500))
    instructions: Mapped[str] = mapped_column(Text)
    call_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = _created()


class Cancellation(Base):
    __tablename__ = "cancellation"
    __table_args__ = _S

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(_fk("customer_order.id"), unique=True)
    customer_id: Mapped[str] = mapped_column(_fk("customer.id"), index=True)
    reason: Mapped[str] = mapped_column(String(500))
    refund_cents: Mapped[int] = mapped_column(Integer)
    call_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = _created()


class AddressChange(Base):
    """A change of an order's shipping address (only before shipment)."""

    __tablename__ = "address_change"
    __table_args__ = _S

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(_fk("customer_order.id"), index=True)
    customer_id: Mapped[str] = mapped_column(_fk("customer.id"), index=True)
    old_address: Mapped[dict[str, Any]] = mapped_column(JSONB)
    new_address: Mapped[dict[str, Any]] = mapped_column(JSONB)
    call_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = _created()


class AccountChange(Base):
    """A change of a customer's account field (email, phone, preferred language)."""

    __tablename__ = "account_change"
    __table_args__ = _S

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(_fk("customer.id"), index=True)
    field: Mapped[str] = mapped_column(String(32))
    old_value: Mapped[str] = mapped_column(String(320))
    new_value: Mapped[str] = mapped_column(String(320))
    call_id: Mapped[str | None] = mapped_column(String(128), index=True)
    created_at: Mapped[datetime] = _created()


class Callback(Base):
    __tablename__ = "callback"
    __table_args__ = _S

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(_fk("customer.id"), index=True)
    scheduled_for: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    phone: Mapped[str] = mapped_column(String(32))
    topic: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(32), default="scheduled")
    call_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = _created()


class SupportTicket(Base):
    __tablename__ = "support_ticket"
    __table_args__ = _S

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    customer_id: Mapped[str] = mapped_column(_fk("customer.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(_fk("customer_order.id"))
    session_id: Mapped[str | None] = mapped_column(String(128), index=True)
    summary: Mapped[str] = mapped_column(Text)
    priority: Mapped[TicketPriority] = mapped_column(_enum(TicketPriority, "ticket_priority"))
    status: Mapped[str] = mapped_column(String(32), default="open")
    call_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = _created()


class ToolEffect(Base):
    """The recorded result of one mutating tool call, written in the same transaction as its
    effect; a repeated call with the same id returns ``result`` and does nothing."""

    __tablename__ = "tool_effect"
    __table_args__ = _S

    call_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    tool: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(String(32), index=True)
    session_id: Mapped[str | None] = mapped_column(String(128))
    result: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _created()


class PendingAction(Base):
    """A data-changing tool call's first phase: validated, nothing changed, waiting for the
    customer's yes in a later turn (``confirm_action``). The row is the audit of the decision:
    which call proposed it in which user turn, and which call and user turn confirmed it."""

    __tablename__ = "pending_action"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'confirmed', 'cancelled', 'superseded')",
            name="status_known",
        ),
        _S,
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(_fk("customer.id"), index=True)
    session_id: Mapped[str] = mapped_column(String(128), index=True)
    tool: Mapped[str] = mapped_column(String(64))
    arguments: Mapped[dict[str, Any]] = mapped_column(JSONB)
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    read_back: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=PendingActionStatus.PENDING.value)
    verification: Mapped[str | None] = mapped_column(String(16))
    proposed_call_id: Mapped[str] = mapped_column(String(128), unique=True)
    proposed_user_item_id: Mapped[str | None] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _created()
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_call_id: Mapped[str | None] = mapped_column(String(128))
    decided_user_item_id: Mapped[str | None] = mapped_column(String(128))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class CallerVerification(Base):
    """One ``verify_caller`` attempt of a conversation (``session_id``): failures are counted
    per conversation and per customer over a window, once per call id (a redelivered call
    replays its recorded answer)."""

    __tablename__ = "caller_verification"
    __table_args__ = (
        CheckConstraint("outcome IN ('verified', 'failed')", name="outcome_known"),
        Index("ix_shop_caller_verification_customer_id_created_at", "customer_id", "created_at"),
        _S,
    )

    call_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(128), index=True)
    customer_id: Mapped[str] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = _created()
