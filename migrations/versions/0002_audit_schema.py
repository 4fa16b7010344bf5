"""audit schema: conversation events, sessions, items (full-text), tool calls, latencies, errors, view log

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 16:27:55.587099
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS audit")
    op.create_table(
        "session",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=True),
        sa.Column("gateway", sa.String(length=128), nullable=True),
        sa.Column("upstream", sa.String(length=32), nullable=True),
        sa.Column("model", sa.String(length=128), nullable=True),
        sa.Column("voice", sa.String(length=64), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=64), nullable=True),
        sa.Column("end_detail", sa.Text(), nullable=True),
        sa.Column("start_seq", sa.Integer(), nullable=True),
        sa.Column("end_seq", sa.Integer(), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("user_turns", sa.Integer(), server_default="0", nullable=False),
        sa.Column("assistant_turns", sa.Integer(), server_default="0", nullable=False),
        sa.Column("interruptions", sa.Integer(), server_default="0", nullable=False),
        sa.Column("tool_calls", sa.Integer(), server_default="0", nullable=False),
        sa.Column("tool_failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("errors", sa.Integer(), server_default="0", nullable=False),
        sa.Column("escalated", sa.Boolean(), server_default="false", nullable=False),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session")),
        schema="audit",
    )
    op.create_index(
        "ix_audit_session_customer_id_started_at",
        "session",
        ["customer_id", "started_at"],
        unique=False,
        schema="audit",
    )
    op.create_index(
        "ix_audit_session_started_at_id",
        "session",
        ["started_at", "id"],
        unique=False,
        schema="audit",
    )
    op.create_table(
        "view_log",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("analyst", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("session_id", sa.String(length=128), nullable=True),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_view_log")),
        schema="audit",
    )
    op.create_index(
        "ix_audit_view_log_analyst_at", "view_log", ["analyst", "at"], unique=False, schema="audit"
    )
    op.create_index(
        "ix_audit_view_log_session_id", "view_log", ["session_id"], unique=False, schema="audit"
    )
    op.create_table(
        "event",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=128), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "stored_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["audit.session.id"],
            name=op.f("fk_event_session_id_session"),
            ondelete="CASCADE",
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_event")),
        schema="audit",
    )
    op.create_index(
        "ix_audit_event_session_id_seq",
        "event",
        ["session_id", "seq"],
        unique=False,
        schema="audit",
    )
    op.create_table(
        "item",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(length=128), nullable=False),
        sa.Column("item_id", sa.String(length=128), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("interrupted", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("heard_text", sa.Text(), nullable=True),
        sa.Column("audio_ms", sa.Integer(), nullable=True),
        sa.Column("heard_ms", sa.Integer(), nullable=True),
        sa.Column("speech_started_ms", sa.Integer(), nullable=True),
        sa.Column("speech_ended_ms", sa.Integer(), nullable=True),
        sa.Column("response_id", sa.String(length=128), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "tsv",
            postgresql.TSVECTOR(),
            sa.Computed("to_tsvector('english'::regconfig, coalesce(text, ''))", persisted=True),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["audit.session.id"],
            name=op.f("fk_item_session_id_session"),
            ondelete="CASCADE",
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item")),
        sa.UniqueConstraint("session_id", "item_id", name=op.f("uq_item_session_id_item_id")),
        schema="audit",
    )
    op.create_index(
        "ix_audit_item_session_id_seq", "item", ["session_id", "seq"], unique=False, schema="audit"
    )
    op.create_index(
        "ix_audit_item_tsv", "item", ["tsv"], unique=False, schema="audit", postgresql_using="gin"
    )
    op.create_table(
        "session_error",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(length=128), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=128), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["audit.session.id"],
            name=op.f("fk_session_error_session_id_session"),
            ondelete="CASCADE",
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_error")),
        schema="audit",
    )
    op.create_index(
        "ix_audit_session_error_session_id_seq",
        "session_error",
        ["session_id", "seq"],
        unique=False,
        schema="audit",
    )
    op.create_table(
        "tool_call",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(length=128), nullable=False),
        sa.Column("call_id", sa.String(length=128), nullable=False),
        sa.Column("tool", sa.String(length=64), nullable=False),
        sa.Column("arguments", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("output", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("outcome", sa.String(length=64), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("worker", sa.String(length=128), nullable=True),
        sa.Column("called_seq", sa.Integer(), nullable=True),
        sa.Column("completed_seq", sa.Integer(), nullable=True),
        sa.Column("called_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["audit.session.id"],
            name=op.f("fk_tool_call_session_id_session"),
            ondelete="CASCADE",
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tool_call")),
        sa.UniqueConstraint("session_id", "call_id", name=op.f("uq_tool_call_session_id_call_id")),
        schema="audit",
    )
    op.create_index(
        "ix_audit_tool_call_tool_session_id",
        "tool_call",
        ["tool", "session_id"],
        unique=False,
        schema="audit",
    )
    op.create_table(
        "turn_latency",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(length=128), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.String(length=128), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["audit.session.id"],
            name=op.f("fk_turn_latency_session_id_session"),
            ondelete="CASCADE",
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_turn_latency")),
        schema="audit",
    )
    op.create_index(
        "ix_audit_turn_latency_session_id_seq",
        "turn_latency",
        ["session_id", "seq"],
        unique=False,
        schema="audit",
    )


def downgrade() -> None:
    op.drop_index("ix_audit_turn_latency_session_id_seq", table_name="turn_latency", schema="audit")
    op.drop_table("turn_latency", schema="audit")
    op.drop_index("ix_audit_tool_call_tool_session_id", table_name="tool_call", schema="audit")
    op.drop_table("tool_call", schema="audit")
    op.drop_index(
        "ix_audit_session_error_session_id_seq", table_name="session_error", schema="audit"
    )
    op.drop_table("session_error", schema="audit")
    op.drop_index("ix_audit_item_tsv", table_name="item", schema="audit", postgresql_using="gin")
    op.drop_index("ix_audit_item_session_id_seq", table_name="item", schema="audit")
    op.drop_table("item", schema="audit")
    op.drop_index("ix_audit_event_session_id_seq", table_name="event", schema="audit")
    op.drop_table("event", schema="audit")
    op.drop_index("ix_audit_view_log_session_id", table_name="view_log", schema="audit")
    op.drop_index("ix_audit_view_log_analyst_at", table_name="view_log", schema="audit")
    op.drop_table("view_log", schema="audit")
    op.drop_index("ix_audit_session_started_at_id", table_name="session", schema="audit")
    op.drop_index("ix_audit_session_customer_id_started_at", table_name="session", schema="audit")
    op.drop_table("session", schema="audit")
    op.execute("DROP SCHEMA IF EXISTS audit")
