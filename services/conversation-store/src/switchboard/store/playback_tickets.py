"""Playback tickets: a short-lived credential in a recording's URL, so an ``<audio>`` element (which
cannot send an ``Authorization`` header) can stream one session's recording with range requests.

A ticket is ``{account}.{expires}.{signature}``: the account's name (base64url), the expiry
(Unix seconds) and an HMAC-SHA256 (base64url) over the session id, the account and the expiry,
keyed from the account's configured password hash. Any replica with the same ``STORE_USERS``
verifies it without shared state, and changing an account's password revokes its tickets. Pure
logic, no I/O: the caller passes the time and looks accounts up.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Callable

from switchboard.store.auth import Account

__all__ = [
    "TICKET_TTL_S",
    "TicketError",
    "TicketExpired",
    "TicketInvalid",
    "issue_ticket",
    "verify_ticket",
]

#: how long a ticket lets its holder play the recording (seconds)
TICKET_TTL_S = 600
_PURPOSE = b"switchboard-store playback ticket v1"


class TicketError(Exception):
    """A ticket that does not allow playing this session's recording."""


class TicketInvalid(TicketError):
    """Malformed, of an unknown account, altered, for another session, or signed with a
    password since changed."""


class TicketExpired(TicketError):
    """A ticket past its expiry."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(account: Account, session_id: str, expires: int) -> bytes:
    key = hmac.digest(account.password_hash.encode(), _PURPOSE, "sha256")
    message = "\x00".join((session_id, account.name, str(expires))).encode()
    return hmac.digest(key, message, "sha256")


def issue_ticket(
    account: Account, session_id: str, *, now: float, ttl_s: int = TICKET_TTL_S
) -> tuple[str, int]:
    """A ticket for *account* to play *session_id*'s recording, and its expiry (Unix seconds)."""
    expires = int(now) + ttl_s
    signature = _signature(account, session_id, expires)
    return f"{_b64(account.name.encode())}.{expires}.{_b64(signature)}", expires


def verify_ticket(
    ticket: str, session_id: str, *, now: float, lookup: Callable[[str], Account | None]
) -> Account:
    """The account a valid ticket for *session_id* was issued to; raises :class:`TicketInvalid`
    or :class:`TicketExpired`. *lookup* finds a configured account by name."""
    try:
        name_b64, expires_text, signature_b64 = ticket.split(".")
        name = _unb64(name_b64).decode()
        expires = int(expires_text)
        signature = _unb64(signature_b64)
    except (ValueError, UnicodeDecodeError):
        raise TicketInvalid("malformed playback ticket") from None
    account = lookup(name)
    # an unknown account is as invalid as a wrong signature (and says no more)
    expected = _signature(account, session_id, expires) if account else b"\x00" * 32
    if account is None or not hmac.compare_digest(signature, expected):
        raise TicketInvalid(
            "playback ticket not valid for this session (altered, for another session, "
            "or the account's password changed)"
        )
    if now >= expires:
        raise TicketExpired("playback ticket expired: ask for a new one")
    return account
