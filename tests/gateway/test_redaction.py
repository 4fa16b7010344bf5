"""Personal data is redacted at the edge: the conversation events the gateway publishes carry no
e-mail address or card number, while the tool worker still gets the real values."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchboard.db.shop import Customer
from tests.gateway.conftest import EventCollector, RunningGateway, payloads
from tests.support.realtime import user_says
from tests.support.shop import ShopFactory

CARD = "4111 1111 1111 1111"


def _digits_of_the_card(text: str) -> bool:
    return "4111111111111111" in re.sub(r"[ -]", "", text)


async def test_published_events_are_redacted_and_the_worker_gets_the_real_values(
    gateway: RunningGateway,
    events: EventCollector,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """A typed turn with an e-mail address and a card number, a proposal whose arguments and
    result carry the address, and the yes that makes the worker change it: no published event
    holds the address or the card number, and the customer's address is the real one."""
    customer = await ShopFactory(sessionmaker).customer()
    new = f"jane.doe.{customer}@example.com"
    async with gateway.sdk(customer) as log:
        await log.until("session.created")
        (session_id,) = gateway.gateway.sessions
        await user_says(log, f"Please change my email to {new}, my card is {CARD}.")
        await log.until("response.done")
        await user_says(log, "Yes, please.")
        await log.until("response.done")
    published = await events.until(session_id, "session.ended")

    called = {p.tool: p for p in payloads(published, "tool.called")}
    assert called["update_account_info"].arguments, called
    assert "[email]" in repr(called["update_account_info"].arguments)
    completed = {p.tool: p for p in payloads(published, "tool.completed")}
    assert completed["update_account_info"].ok and completed["confirm_action"].ok, completed
    assert "[email]" in repr(completed["update_account_info"].output)
    [user, *_] = payloads(published, "transcript.user")
    assert "[email]" in user.text and "[card]" in user.text, user.text
    for event in published:
        text = event.model_dump_json()
        assert new not in text and customer + "@example.com" not in text, text
        assert not _digits_of_the_card(text), text

    async with sessionmaker() as db:
        row = await db.get(Customer, customer)
    assert row is not None and row.email == new  # the worker had the real address
