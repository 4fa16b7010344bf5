"""audit.response_usage (token usage per upstream response, the basis of cost), its sums per
session and model (audit.session_usage, what dashboards read), the session's resumes
(audit.session.resume_seq, resumes) and a copy of its turn latencies (audit.session.latencies)

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-03 08:10:00

(The chain 0005 -> 0006 -> 0007 is fixed when branches merge; another branch adds 0006.)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("session", sa.Column("resume_seq", sa.Integer(), nullable=True), schema="audit")
    op.add_column(
        "session",
        sa.Column("resumes", sa.Integer(), server_default="0", nullable=False),
        schema="audit",
    )
    # a copy of the session's turn latencies (ms), so dashboards need not join turn_latency;
    # sessions stored before this migration get theirs from turn_latency
    op.add_column(
        "session",
        sa.Column("latencies", postgresql.ARRAY(sa.Float()), nullable=True),
        schema="audit",
    )
    op.execute(
        "UPDATE audit.session s SET latencies = t.v FROM (SELECT session_id, "
        "array_agg(latency_ms) AS v FROM audit.turn_latency GROUP BY session_id) t "
        "WHERE t.session_id = s.id"
    )
    op.create_table(
        "response_usage",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(length=128), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.String(length=128), nullable=True),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("input_text_tokens", sa.Integer(), server_default="0", nullable=False),
        sa.Column("input_audio_tokens", sa.Integer(), server_default="0", nullable=False),
        sa.Column("cached_text_tokens", sa.Integer(), server_default="0", nullable=False),
        sa.Column("cached_audio_tokens", sa.Integer(), server_default="0", nullable=False),
        sa.Column("output_text_tokens", sa.Integer(), server_default="0", nullable=False),
        sa.Column("output_audio_tokens", sa.Integer(), server_default="0", nullable=False),
        sa.Column("estimated", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["audit.session.id"],
            name=op.f("fk_response_usage_session_id_session"),
            ondelete="CASCADE",
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response_usage")),
        sa.UniqueConstraint("session_id", "seq", name=op.f("uq_response_usage_session_id_seq")),
        schema="audit",
    )
    op.create_table(
        "session_usage",
        sa.Column("session_id", sa.String(length=128), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("estimated", sa.Boolean(), nullable=False),
        sa.Column("responses", sa.Integer(), server_default="0", nullable=False),
        sa.Column("input_text_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("input_audio_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cached_text_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cached_audio_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("output_text_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("output_audio_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["audit.session.id"],
            name=op.f("fk_session_usage_session_id_session"),
            ondelete="CASCADE",
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.PrimaryKeyConstraint("session_id", "model", "estimated", name=op.f("pk_session_usage")),
        schema="audit",
    )


def downgrade() -> None:
    op.drop_table("session_usage", schema="audit")
    op.drop_table("response_usage", schema="audit")
    op.drop_column("session", "latencies", schema="audit")
    op.drop_column("session", "resumes", schema="audit")
    op.drop_column("session", "resume_seq", schema="audit")
