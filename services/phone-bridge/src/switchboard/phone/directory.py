"""Customers by phone number (Postgres ``shop.customer``).

Numbers are stored as people typed them (``+1-555-123-0001``); the lookup compares digits only,
so any spelling of the same E.164 number matches. A number shared by several customers matches
nobody (caller ID cannot tell them apart): such a call is bound to the guest, like an unknown
number. The guest's own row has no number, so it never matches.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from switchboard.db.shop import Customer
from switchboard.phone.identity import CallerIdentity, CustomerRecord

__all__ = ["CustomerDirectory"]


class CustomerDirectory:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def by_number(self, e164: str) -> CustomerRecord | None:
        digits = e164.lstrip("+")
        query = (
            select(Customer.id, Customer.name)
            .where(func.regexp_replace(Customer.phone, "[^0-9]", "", "g") == digits)
            .limit(2)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        if len(rows) != 1:
            return None
        customer_id, name = rows[0]
        return CustomerRecord(customer_id=customer_id, name=name)

    async def identify(self, number: str | None) -> CallerIdentity:
        """What caller ID says (never proof: the call starts unverified)."""
        customer = await self.by_number(number) if number else None
        return CallerIdentity(number=number, customer=customer)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(select(1))
