"""shop.pending_action: data-changing tool calls wait for the customer's confirmation

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 19:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_action",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("session_id", sa.String(length=128), nullable=False),
        sa.Column("tool", sa.String(length=64), nullable=False),
        sa.Column("arguments", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("changes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("read_back", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("verification", sa.String(length=16), nullable=True),
        sa.Column("proposed_call_id", sa.String(length=128), nullable=False),
        sa.Column("proposed_user_item_id", sa.String(length=128), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_call_id", sa.String(length=128), nullable=True),
        sa.Column("decided_user_item_id", sa.String(length=128), nullable=True),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'confirmed', 'cancelled', 'superseded')",
            name=op.f("ck_pending_action_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["shop.customer.id"],
            name=op.f("fk_pending_action_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_action")),
        sa.UniqueConstraint("proposed_call_id", name=op.f("uq_pending_action_proposed_call_id")),
        schema="shop",
    )
    op.create_index(
        op.f("ix_shop_pending_action_customer_id"),
        "pending_action",
        ["customer_id"],
        unique=False,
        schema="shop",
    )
    op.create_index(
        op.f("ix_shop_pending_action_session_id"),
        "pending_action",
        ["session_id"],
        unique=False,
        schema="shop",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_shop_pending_action_session_id"), table_name="pending_action", schema="shop"
    )
    op.drop_index(
        op.f("ix_shop_pending_action_customer_id"), table_name="pending_action", schema="shop"
    )
    op.drop_table("pending_action", schema="shop")
