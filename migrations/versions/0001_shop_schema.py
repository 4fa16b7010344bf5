"""shop schema: customers, products, orders, shipments, tool effects

Revision ID: 0001
Revises:
Create Date: 2026-11-24 18:37:48.489319
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS shop")
    op.create_table(
        "customer",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("preferred_language", sa.String(length=16), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("street", sa.String(length=200), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.Column("postal_code", sa.String(length=20), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer")),
        sa.UniqueConstraint("email", name=op.f("uq_customer_email")),
        schema="shop",
    )
    op.create_table(
        "product",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("return_window_days", sa.Integer(), nullable=False),
        sa.Column("returnable", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("price_cents >= 0", name=op.f("ck_product_price_non_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product")),
        sa.UniqueConstraint("sku", name=op.f("uq_product_sku")),
        schema="shop",
    )
    op.create_index(
        op.f("ix_shop_product_category"), "product", ["category"], unique=False, schema="shop"
    )
    op.create_table(
        "tool_effect",
        sa.Column("call_id", sa.String(length=128), nullable=False),
        sa.Column("tool", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("session_id", sa.String(length=128), nullable=True),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_tool_effect")),
        schema="shop",
    )
    op.create_index(
        op.f("ix_shop_tool_effect_customer_id"),
        "tool_effect",
        ["customer_id"],
        unique=False,
        schema="shop",
    )
    op.create_table(
        "account_change",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("old_value", sa.String(length=320), nullable=False),
        sa.Column("new_value", sa.String(length=320), nullable=False),
        sa.Column("call_id", sa.String(length=128), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["shop.customer.id"],
            name=op.f("fk_account_change_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_change")),
        schema="shop",
    )
    op.create_index(
        op.f("ix_shop_account_change_call_id"),
        "account_change",
        ["call_id"],
        unique=False,
        schema="shop",
    )
    op.create_index(
        op.f("ix_shop_account_change_customer_id"),
        "account_change",
        ["customer_id"],
        unique=False,
        schema="shop",
    )
    op.create_table(
        "callback",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("topic", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("call_id", sa.String(length=128), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["shop.customer.id"],
            name=op.f("fk_callback_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback")),
        sa.UniqueConstraint("call_id", name=op.f("uq_callback_call_id")),
        schema="shop",
    )
    op.create_index(
        op.f("ix_shop_callback_customer_id"),
        "callback",
        ["customer_id"],
        unique=False,
        schema="shop",
    )
    op.create_table(
        "customer_order",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "placed",
                "packed",
                "shipped",
                "out_for_delivery",
                "delivered",
                "cancelled",
                "returned",
                name="order_status",
                schema="shop",
            ),
            nullable=False,
        ),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("total_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("ship_name", sa.String(length=200), nullable=False),
        sa.Column("ship_street", sa.String(length=200), nullable=False),
        sa.Column("ship_city", sa.String(length=100), nullable=False),
        sa.Column("ship_region", sa.String(length=100), nullable=False),
        sa.Column("ship_postal_code", sa.String(length=20), nullable=False),
        sa.Column("ship_country", sa.String(length=2), nullable=False),
        sa.Column("estimated_delivery", sa.Date(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("total_cents >= 0", name=op.f("ck_customer_order_total_non_negative")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["shop.customer.id"],
            name=op.f("fk_customer_order_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_order")),
        schema="shop",
    )
    op.create_index(
        op.f("ix_shop_customer_order_customer_id"),
        "customer_order",
        ["customer_id"],
        unique=False,
        schema="shop",
    )
    op.create_index(
        op.f("ix_shop_customer_order_placed_at"),
        "customer_order",
        ["placed_at"],
        unique=False,
        schema="shop",
    )
    op.create_index(
        op.f("ix_shop_customer_order_status"),
        "customer_order",
        ["status"],
        unique=False,
        schema="shop",
    )
    op.create_table(
        "address_change",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("old_address", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("new_address", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("call_id", sa.String(length=128), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["shop.customer.id"],
            name=op.f("fk_address_change_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["shop.customer_order.id"],
            name=op.f("fk_address_change_order_id_customer_order"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_address_change")),
        sa.UniqueConstraint("call_id", name=op.f("uq_address_change_call_id")),
        schema="shop",
    )
    op.create_index(
        op.f("ix_shop_address_change_customer_id"),
        "address_change",
        ["customer_id"],
        unique=False,
        schema="shop",
    )
    op.create_index(
        op.f("ix_shop_address_change_order_id"),
        "address_change",
        ["order_id"],
        unique=False,
        schema="shop",
    )
    op.create_table(
        "cancellation",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("refund_cents", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=128), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["shop.customer.id"],
            name=op.f("fk_cancellation_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["shop.customer_order.id"],
            name=op.f("fk_cancellation_order_id_customer_order"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cancellation")),
        sa.UniqueConstraint("call_id", name=op.f("uq_cancellation_call_id")),
        sa.UniqueConstraint("order_id", name=op.f("uq_cancellation_order_id")),
        schema="shop",
    )
    op.create_index(
        op.f("ix_shop_cancellation_customer_id"),
        "cancellation",
        ["customer_id"],
        unique=False,
        schema="shop",
    )
    op.create_table(
        "order_item",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("product_id", sa.String(length=32), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price_cents", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_order_item_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["shop.customer_order.id"],
            name=op.f("fk_order_item_order_id_customer_order"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["shop.product.id"], name=op.f("fk_order_item_product_id_product")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_item")),
        schema="shop",
    )
    op.create_index(
        op.f("ix_shop_order_item_order_id"), "order_item", ["order_id"], unique=False, schema="shop"
    )
    op.create_index(
        op.f("ix_shop_order_item_product_id"),
        "order_item",
        ["product_id"],
        unique=False,
        schema="shop",
    )
    op.create_table(
        "return_request",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("refund_estimate_cents", sa.Integer(), nullable=False),
        sa.Column("label_url", sa.String(length=500), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("call_id", sa.String(length=128), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["shop.customer.id"],
            name=op.f("fk_return_request_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["shop.customer_order.id"],
            name=op.f("fk_return_request_order_id_customer_order"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_return_request")),
        sa.UniqueConstraint("call_id", name=op.f("uq_return_request_call_id")),
        sa.UniqueConstraint("order_id", name=op.f("uq_return_request_order_id")),
        schema="shop",
    )
    op.create_index(
        op.f("ix_shop_return_request_customer_id"),
        "return_request",
        ["customer_id"],
        unique=False,
        schema="shop",
    )
    op.create_table(
        "shipment",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("carrier", sa.String(length=32), nullable=False),
        sa.Column("tracking_number", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("estimated_delivery", sa.Date(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["shop.customer_order.id"],
            name=op.f("fk_shipment_order_id_customer_order"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipment")),
        sa.UniqueConstraint("order_id", name=op.f("uq_shipment_order_id")),
        sa.UniqueConstraint("tracking_number", name=op.f("uq_shipment_tracking_number")),
        schema="shop",
    )
    op.create_table(
        "support_ticket",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=True),
        sa.Column("session_id", sa.String(length=128), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column(
            "priority",
            sa.Enum("low", "normal", "high", "urgent", name="ticket_priority", schema="shop"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("call_id", sa.String(length=128), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["shop.customer.id"],
            name=op.f("fk_support_ticket_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["shop.customer_order.id"],
            name=op.f("fk_support_ticket_order_id_customer_order"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_ticket")),
        sa.UniqueConstraint("call_id", name=op.f("uq_support_ticket_call_id")),
        schema="shop",
    )
    op.create_index(
        op.f("ix_shop_support_ticket_customer_id"),
        "support_ticket",
        ["customer_id"],
        unique=False,
        schema="shop",
    )
    op.create_index(
        op.f("ix_shop_support_ticket_session_id"),
        "support_ticket",
        ["session_id"],
        unique=False,
        schema="shop",
    )
    op.create_table(
        "shipment_event",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("shipment_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("location", sa.String(length=120), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shop.shipment.id"],
            name=op.f("fk_shipment_event_shipment_id_shipment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipment_event")),
        schema="shop",
    )
    op.create_index(
        op.f("ix_shop_shipment_event_shipment_id"),
        "shipment_event",
        ["shipment_id"],
        unique=False,
        schema="shop",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_shop_shipment_event_shipment_id"), table_name="shipment_event", schema="shop"
    )
    op.drop_table("shipment_event", schema="shop")
    op.drop_index(
        op.f("ix_shop_support_ticket_session_id"), table_name="support_ticket", schema="shop"
    )
    op.drop_index(
        op.f("ix_shop_support_ticket_customer_id"), table_name="support_ticket", schema="shop"
    )
    op.drop_table("support_ticket", schema="shop")
    op.drop_table("shipment", schema="shop")
    op.drop_index(
        op.f("ix_shop_return_request_customer_id"), table_name="return_request", schema="shop"
    )
    op.drop_table("return_request", schema="shop")
    op.drop_index(op.f("ix_shop_order_item_product_id"), table_name="order_item", schema="shop")
    op.drop_index(op.f("ix_shop_order_item_order_id"), table_name="order_item", schema="shop")
    op.drop_table("order_item", schema="shop")
    op.drop_index(
        op.f("ix_shop_cancellation_customer_id"), table_name="cancellation", schema="shop"
    )
    op.drop_table("cancellation", schema="shop")
    op.drop_index(
        op.f("ix_shop_address_change_order_id"), table_name="address_change", schema="shop"
    )
    op.drop_index(
        op.f("ix_shop_address_change_customer_id"), table_name="address_change", schema="shop"
    )
    op.drop_table("address_change", schema="shop")
    op.drop_index(op.f("ix_shop_customer_order_status"), table_name="customer_order", schema="shop")
    op.drop_index(
        op.f("ix_shop_customer_order_placed_at"), table_name="customer_order", schema="shop"
    )
    op.drop_index(
        op.f("ix_shop_customer_order_customer_id"), table_name="customer_order", schema="shop"
    )
    op.drop_table("customer_order", schema="shop")
    op.drop_index(op.f("ix_shop_callback_customer_id"), table_name="callback", schema="shop")
    op.drop_table("callback", schema="shop")
    op.drop_index(
        op.f("ix_shop_account_change_customer_id"), table_name="account_change", schema="shop"
    )
    op.drop_index(
        op.f("ix_shop_account_change_call_id"), table_name="account_change", schema="shop"
    )
    op.drop_table("account_change", schema="shop")
    op.drop_index(op.f("ix_shop_tool_effect_customer_id"), table_name="tool_effect", schema="shop")
    op.drop_table("tool_effect", schema="shop")
    op.drop_index(op.f("ix_shop_product_category"), table_name="product", schema="shop")
    op.drop_table("product", schema="shop")
    op.drop_table("customer", schema="shop")
    op.execute("DROP TYPE IF EXISTS shop.order_status")
    op.execute("DROP TYPE IF EXISTS shop.ticket_priority")
    op.execute("DROP SCHEMA IF EXISTS shop")
