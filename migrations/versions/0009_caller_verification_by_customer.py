"""shop.caller_verification by customer and time: verify_caller counts an account's failures
across its calls within a window (WORKER_VERIFY_ACCOUNT_FAILURES, WORKER_VERIFY_ACCOUNT_WINDOW_S)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 22:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_shop_caller_verification_customer_id_created_at",
        "caller_verification",
        ["customer_id", "created_at"],
        unique=False,
        schema="shop",
    )


def downgrade() -> None:
    op.drop_index(
        "ix_shop_caller_verification_customer_id_created_at",
        table_name="caller_verification",
        schema="shop",
    )
