"""shop.caller_verification: verify_caller attempts per conversation; the reserved guest customer

Phone calls start unverified; ``verify_caller`` records each attempt here so that failures are
counted per conversation (``session_id``) by any worker, once per call id. Calls from a number
on no account are bound to the reserved customer ``cus_guest``, which owns nothing and can never
be verified (its row exists so a transfer ticket can name it).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GUEST = "cus_guest"


def upgrade() -> None:
    op.create_table(
        "caller_verification",
        sa.Column("call_id", sa.String(length=128), nullable=False),
        sa.Column("session_id", sa.String(length=128), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "outcome IN ('verified', 'failed')",
            name=op.f("ck_caller_verification_outcome_known"),
        ),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_caller_verification")),
        schema="shop",
    )
    op.create_index(
        op.f("ix_shop_caller_verification_session_id"),
        "caller_verification",
        ["session_id"],
        unique=False,
        schema="shop",
    )
    # the guest: no phone, no postal code, no orders (nothing to match, nothing to read)
    op.execute(
        sa.text(
            "INSERT INTO shop.customer (id, name, email, phone, preferred_language, tier, "
            "street, city, region, postal_code, country) VALUES (:id, 'Unidentified caller', "
            "'guest@invalid', '', 'en', 'standard', '', '', '', '', 'US') "
            "ON CONFLICT (id) DO NOTHING"
        ).bindparams(id=GUEST)
    )


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM shop.customer WHERE id = :id").bindparams(id=GUEST))
    op.drop_index(
        op.f("ix_shop_caller_verification_session_id"),
        table_name="caller_verification",
        schema="shop",
    )
    op.drop_table("caller_verification", schema="shop")
