"""Who is calling (pure, no I/O).

Caller ID is spoofable, so a number alone never proves who calls: every call starts
**unverified**, bound to the customer whose number matches the caller ID (or, for a number on
no account, to the reserved guest, ``GUEST_CUSTOMER_ID``, which owns nothing). The bridge mints
an ``unverified`` client secret for that customer; the workers refuse account tools until the
caller proves it with ``verify_caller`` (the postal code on file, spoken or typed on the keypad),
and the gateway then raises the conversation's level (docs/phone.md#who-is-calling). The call is
bound to its customer through a short-lived signed :func:`binding_token` carried in the
stream's custom parameters (Twilio) or the signed :class:`CallContext` (ACS).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass

from switchboard.contracts.tools import GUEST_CUSTOMER_ID

__all__ = [
    "BindingError",
    "CallContext",
    "CallerIdentity",
    "CustomerRecord",
    "binding_token",
    "check_binding",
    "normalise_e164",
    "open_call_context",
    "seal_call_context",
]

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


def normalise_e164(raw: str, *, default_country_code: str = "1") -> str | None:
    """*raw* as E.164 (``+15551230001``), or None when it cannot be a phone number.
    ``+1-555-123-0001``, ``(555) 123-0001`` and ``0015551230001`` all give the same."""
    raw = raw.strip()
    if not raw:
        return None
    digits = re.sub(r"[^0-9]", "", raw)
    if raw.startswith("+"):
        candidate = f"+{digits}"
    elif digits.startswith("00"):
        candidate = f"+{digits[2:]}"
    elif default_country_code == "1" and len(digits) == 11 and digits.startswith("1"):
        candidate = f"+{digits}"
    else:
        candidate = f"+{default_country_code}{digits.lstrip('0')}"
    return candidate if _E164.match(candidate) else None


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    customer_id: str
    name: str


@dataclass(frozen=True, slots=True)
class CallerIdentity:
    """What caller ID says: the number and the one customer it matches, if any."""

    number: str | None
    customer: CustomerRecord | None

    @property
    def known(self) -> bool:
        return self.customer is not None

    @property
    def customer_id(self) -> str:
        """The customer the call is bound to, unverified: the match, else the guest."""
        return self.customer.customer_id if self.customer is not None else GUEST_CUSTOMER_ID


class BindingError(ValueError):
    """A stream's binding is missing, forged, expired or for another call."""


def _mac(key: bytes, message: str) -> str:
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def binding_token(key: bytes, *, call_id: str, customer_id: str, expires_at: int) -> str:
    """A token saying "call *call_id* is bound to *customer_id* (unverified) until
    *expires_at*"."""
    body = f"v1|{call_id}|{customer_id}|{expires_at}"
    return f"{customer_id}|{expires_at}|{_mac(key, body)}"


def check_binding(key: bytes, token: str, *, call_id: str, now: float) -> str:
    """The customer id a valid *token* binds *call_id* to; raises :class:`BindingError`."""
    try:
        customer_id, expires, mac = token.split("|")
        expires_at = int(expires)
    except ValueError:
        raise BindingError("malformed binding") from None
    expected = _mac(key, f"v1|{call_id}|{customer_id}|{expires_at}")
    if not hmac.compare_digest(mac, expected):
        raise BindingError("binding signature does not match this call")
    if now > expires_at:
        raise BindingError("binding expired")
    return customer_id


@dataclass(frozen=True, slots=True)
class CallContext:
    """What the bridge learnt of a call at its first webhook, carried in the URLs it gives the
    carrier (ACS callback and media URLs) so any replica can go on with the call."""

    correlation_id: str
    caller: str
    customer_id: str
    expires_at: int


def seal_call_context(key: bytes, context: CallContext) -> str:
    body = json.dumps(
        [context.correlation_id, context.caller, context.customer_id, context.expires_at],
        separators=(",", ":"),
    )
    encoded = base64.urlsafe_b64encode(body.encode()).decode("ascii").rstrip("=")
    return f"{encoded}.{_mac(key, 'ctx1|' + encoded)}"


def open_call_context(key: bytes, token: str) -> CallContext:
    """The context a token made by :func:`seal_call_context` holds; raises
    :class:`BindingError` when it is malformed or forged (expiry is the caller's to judge)."""
    encoded, _, mac = token.partition(".")
    if not hmac.compare_digest(mac, _mac(key, "ctx1|" + encoded)):
        raise BindingError("call context signature does not match")
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        correlation_id, caller, customer_id, expires_at = json.loads(raw)
        return CallContext(str(correlation_id), str(caller), str(customer_id), int(expires_at))
    except (ValueError, TypeError):
        raise BindingError("malformed call context") from None
