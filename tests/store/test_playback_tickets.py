"""Playback tickets (pure): issued for one account and session, verified without state,
refused when expired, altered, for another session, or signed with a since changed password."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from switchboard.store.auth import Account, Role, hash_password
from switchboard.store.playback_tickets import (
    TICKET_TTL_S,
    TicketExpired,
    TicketInvalid,
    issue_ticket,
    verify_ticket,
)

ANA = Account("ana.b", Role.ANALYST, hash_password("pw", salt=b"1" * 16))
NOW = 1_800_000_000.0


def _lookup(*accounts: Account) -> Callable[[str], Account | None]:
    by_name = {a.name: a for a in accounts}
    return by_name.get


def test_a_ticket_verifies_for_its_session_until_it_expires() -> None:
    """A fresh ticket names its account (dots in the name too) and lasts TICKET_TTL_S."""
    ticket, expires = issue_ticket(ANA, "sess_1", now=NOW)
    assert expires == int(NOW) + TICKET_TTL_S
    assert verify_ticket(ticket, "sess_1", now=NOW + TICKET_TTL_S - 1, lookup=_lookup(ANA)) == ANA
    with pytest.raises(TicketExpired, match="expired"):
        verify_ticket(ticket, "sess_1", now=NOW + TICKET_TTL_S, lookup=_lookup(ANA))


def test_a_ticket_is_for_one_session_only() -> None:
    """The same ticket on another session's recording is refused."""
    ticket, _ = issue_ticket(ANA, "sess_1", now=NOW)
    with pytest.raises(TicketInvalid, match="not valid for this session"):
        verify_ticket(ticket, "sess_2", now=NOW, lookup=_lookup(ANA))


def test_an_altered_ticket_is_refused() -> None:
    """A later expiry, another account's name or a flipped signature fail the HMAC."""
    ticket, _ = issue_ticket(ANA, "sess_1", now=NOW)
    name, expires, signature = ticket.split(".")
    other = Account("bob", Role.ADMIN, hash_password("pw2", salt=b"2" * 16))
    bob_name = issue_ticket(other, "sess_1", now=NOW)[0].split(".")[0]
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    for forged in (
        f"{name}.{int(expires) + 3600}.{signature}",
        f"{bob_name}.{expires}.{signature}",
        f"{name}.{expires}.{flipped}",
    ):
        with pytest.raises(TicketInvalid):
            verify_ticket(forged, "sess_1", now=NOW, lookup=_lookup(ANA, other))


def test_malformed_tickets_and_unknown_accounts_are_refused() -> None:
    """Garbage, missing parts and a ticket of an account no longer configured are invalid."""
    ticket, _ = issue_ticket(ANA, "sess_1", now=NOW)
    for bad in ("", "abc", "a.b", "a.notanumber.c", "%%%.1.2", "a.b.c.d"):
        with pytest.raises(TicketInvalid):
            verify_ticket(bad, "sess_1", now=NOW, lookup=_lookup(ANA))
    with pytest.raises(TicketInvalid):
        verify_ticket(ticket, "sess_1", now=NOW, lookup=_lookup())


def test_changing_the_password_revokes_tickets() -> None:
    """The key comes from the password hash: a new hash (new password) refuses old tickets."""
    ticket, _ = issue_ticket(ANA, "sess_1", now=NOW)
    renewed = Account(ANA.name, ANA.role, hash_password("new", salt=b"3" * 16))
    with pytest.raises(TicketInvalid):
        verify_ticket(ticket, "sess_1", now=NOW, lookup=_lookup(renewed))
