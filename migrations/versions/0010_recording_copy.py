"""The compressed copy of an assembled recording (Ogg Opus or FLAC beside the WAV): its key in the
recording store, size and content type on audit.recording, null when none was made

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 01:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "recording", sa.Column("copy_key", sa.String(length=512), nullable=True), schema="audit"
    )
    op.add_column(
        "recording", sa.Column("copy_size", sa.BigInteger(), nullable=True), schema="audit"
    )
    op.add_column(
        "recording", sa.Column("copy_type", sa.String(length=64), nullable=True), schema="audit"
    )


def downgrade() -> None:
    op.drop_column("recording", "copy_type", schema="audit")
    op.drop_column("recording", "copy_size", schema="audit")
    op.drop_column("recording", "copy_key", schema="audit")
