"""audit.tool_call.user_item_id: the customer's turn a tool call came after

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "tool_call",
        sa.Column("user_item_id", sa.String(length=128), nullable=True),
        schema="audit",
    )


def downgrade() -> None:
    op.drop_column("tool_call", "user_item_id", schema="audit")
