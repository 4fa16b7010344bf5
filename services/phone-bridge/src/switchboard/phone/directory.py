"""Customers by phone number (Postgres ``shop.customer``), and the interim keypad verifier.

Numbers are stored as people typed them (``+1-555-123-0001``); the lookup compares digits only,
so any spelling of the same E.164 number matches. A number shared by several customers matches
nobody (caller ID cannot tell them apart).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from switchboard.db.shop import Customer
from switchboard.phone.identity import (
    CallerIdentity,
    CustomerRecord,
    Verification,
    postal_code_matches,
)

__all__ = ["CustomerDirectory", "KeypadPostalCodeVerifier"]


class CustomerDirectory:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def by_number(self, e164: str) -> CustomerRecord | None:
        digits = e164.lstrip("+")
        query = (
            select(Customer.id, Customer.name, Customer.postal_code)
            .where(func.regexp_replace(Customer.phone, "[^0-9]", "", "g") == digits)
            .limit(2)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        if len(rows) != 1:
            return None
        customer_id, name, postal_code = rows[0]
        return CustomerRecord(customer_id=customer_id, name=name, postal_code=postal_code)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(select(1))


class KeypadPostalCodeVerifier:
    """Interim :class:`~switchboard.phone.identity.Verifier`: the postal code on file, typed on
    the keypad before the conversation starts."""

    def __init__(self, directory: CustomerDirectory) -> None:
        self.directory = directory

    async def identify(self, number: str | None) -> CallerIdentity:
        customer = await self.directory.by_number(number) if number else None
        level = Verification.UNVERIFIED if customer else Verification.UNKNOWN
        return CallerIdentity(number=number, customer=customer, level=level)

    def check(self, identity: CallerIdentity, entered: str) -> CallerIdentity:
        if identity.customer is None:
            return identity
        if postal_code_matches(entered, identity.customer.postal_code):
            return CallerIdentity(identity.number, identity.customer, Verification.VERIFIED)
        return identity
