"""Analyst credentials and roles (HTTP Basic).

Accounts come from ``STORE_USERS``: comma-separated ``name:role:hash`` entries, where role is
``analyst`` (reads) or ``admin`` (reads, ends live sessions, deletes sessions) and hash is made
by ``switchboard-store hash-password`` (scrypt, a random salt per password). Pure logic, no I/O;
a verified password is remembered (by a keyed digest, never in clear) so scrypt runs once per
credential and process, not once per request.
"""

from __future__ import annotations

import base64
import enum
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass

__all__ = ["Account", "Accounts", "Role", "hash_password", "verify_password"]

_N, _R, _P = 2**14, 8, 1


class Role(enum.StrEnum):
    ANALYST = "analyst"
    ADMIN = "admin"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt.N.r.p.SALT.HASH`` (base64url): safe in an environment variable, no ``:`` or ``,``."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt.{_N}.{_R}.{_P}.{_b64(salt)}.{_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = encoded.split(".")
        if scheme != "scrypt":
            return False
        expected = _unb64(digest)
        actual = hashlib.scrypt(
            password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def _dummy_hash() -> str:
    return hash_password("not a password", salt=b"0" * 16)


@dataclass(frozen=True)
class Account:
    name: str
    role: Role
    password_hash: str

    def may(self, role: Role) -> bool:
        """True when this account has *role* (an admin is also an analyst)."""
        return self.role is Role.ADMIN or self.role is role


class Accounts:
    """The configured accounts, with a per-process cache of verified credentials."""

    def __init__(self, accounts: list[Account]) -> None:
        self._by_name = {a.name: a for a in accounts}
        self._key = secrets.token_bytes(32)
        self._verified: set[bytes] = set()

    @classmethod
    def parse(cls, spec: str) -> Accounts:
        """Accounts from ``name:role:hash[,name:role:hash...]``; raises ValueError if malformed."""
        accounts = []
        for entry in (e.strip() for e in spec.split(",")):
            if not entry:
                continue
            parts = entry.split(":")
            if len(parts) != 3 or not parts[0]:
                raise ValueError(
                    "STORE_USERS entries are name:role:hash (from switchboard-store hash-password)"
                )
            name, role, password_hash = parts
            try:
                parsed_role = Role(role)
            except ValueError:
                raise ValueError(f"STORE_USERS: unknown role {role!r} for {name!r}") from None
            if not password_hash.startswith("scrypt."):
                raise ValueError(f"STORE_USERS: {name!r} has no scrypt hash")
            accounts.append(Account(name, parsed_role, password_hash))
        return cls(accounts)

    def __len__(self) -> int:
        return len(self._by_name)

    def get(self, name: str) -> Account | None:
        """The configured account named *name* (no password check)."""
        return self._by_name.get(name)

    def authenticate(self, name: str, password: str) -> Account | None:
        """The account when *password* is right, else None."""
        account = self._by_name.get(name)
        if account is None:
            # same work as a real check, so a wrong name is not faster than a wrong password
            verify_password(password, _dummy_hash())
            return None
        token = hmac.digest(self._key, f"{name}\x00{password}".encode(), "sha256")
        if token in self._verified:
            return account
        if not verify_password(password, account.password_hash):
            return None
        if len(self._verified) > 10000:
            self._verified.clear()
        self._verified.add(token)
        return account
