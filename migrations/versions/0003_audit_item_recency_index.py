"""audit.item: index on (occurred_at, id) for newest-first search of common words

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 18:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_audit_item_occurred_at_id", "item", ["occurred_at", "id"], unique=False, schema="audit"
    )


def downgrade() -> None:
    op.drop_index("ix_audit_item_occurred_at_id", table_name="item", schema="audit")
