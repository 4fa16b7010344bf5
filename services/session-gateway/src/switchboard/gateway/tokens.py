"""Ephemeral client secrets: minted for a customer by the shop's backend, stored in Redis by
their SHA-256 with a TTL, redeemed once. Redemption is atomic (a Lua script): the record is
replaced by a ``used`` marker that keeps the remaining TTL, so a replay is told apart from an
unknown secret."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass

import redis.asyncio as aioredis
from pydantic import BaseModel, Field

from switchboard.contracts.tools import Verification
from switchboard.keys import RedisKeys

__all__ = [
    "ClientSecretRequest",
    "ClientSecrets",
    "DevClientSecretRequest",
    "ExpiresAfter",
    "Grant",
    "SecretRefused",
]

_CUSTOMER_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_PREFIX = "ek_"
_USED = "used"
# GET the record; if it is live, overwrite it with the marker keeping its TTL; return the record.
_REDEEM = """
local v = redis.call('GET', KEYS[1])
if v and v ~= ARGV[1] then redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL') end
return v
"""


class SecretRefused(Exception):
    """The presented secret cannot open a session; ``status`` is the HTTP status to answer."""

    def __init__(self, code: str, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class Grant:
    """What a redeemed secret grants: a session for this customer, at the verification level
    the minting backend vouched for (None: the backend authenticated the customer itself)."""

    customer_id: str
    expires_at: int
    verification: Verification | None = None
    #: the conversation this secret resumes (None: a new one)
    resume_session_id: str | None = None
    #: False: the shop's backend said not to record this conversation (no consent)
    recording: bool = True


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class ClientSecrets:
    def __init__(self, redis: aioredis.Redis, keys: RedisKeys) -> None:
        self._redis = redis
        self._keys = keys
        self._redeem = redis.register_script(_REDEEM)

    async def mint(
        self,
        customer_id: str,
        ttl_s: int,
        *,
        verification: Verification | None = None,
        resume_session_id: str | None = None,
        recording: bool = True,
    ) -> tuple[str, int]:
        """A new secret for *customer_id*, valid for *ttl_s*, carrying the caller's
        *verification* level (channels that have levels) and the conversation it resumes, if
        any, and whether it may be recorded; returns (value, expires_at)."""
        value = _PREFIX + secrets.token_urlsafe(32)
        expires_at = int(time.time()) + ttl_s
        fields: dict[str, object] = {"customer_id": customer_id, "expires_at": expires_at}
        if verification is not None:
            fields["verification"] = verification.value
        if resume_session_id is not None:
            fields["resume_session_id"] = resume_session_id
        if not recording:
            fields["recording"] = False
        record = json.dumps(fields)
        await self._redis.set(self._keys.client_secret(hash_secret(value)), record, ex=ttl_s)
        return value, expires_at

    async def redeem(self, value: str | None) -> Grant:
        """Spend *value* (once); raises :class:`SecretRefused` when missing, unknown, expired
        or already used."""
        if not value:
            raise SecretRefused(
                "missing_client_secret",
                "Authenticate with a client secret: 'Authorization: Bearer SECRET' or the "
                "subprotocol 'openai-insecure-api-key.SECRET'.",
            )
        if not value.startswith(_PREFIX) or len(value) > 200:
            raise SecretRefused("invalid_client_secret", "Unknown or expired client secret.")
        raw = await self._redeem(keys=[self._keys.client_secret(hash_secret(value))], args=[_USED])
        if raw is None:
            raise SecretRefused("invalid_client_secret", "Unknown or expired client secret.")
        if isinstance(raw, bytes):
            raw = raw.decode()
        if raw == _USED:
            raise SecretRefused(
                "client_secret_used", "This client secret was already used.", status=403
            )
        record = json.loads(raw)
        if int(record["expires_at"]) <= time.time():
            raise SecretRefused("invalid_client_secret", "Unknown or expired client secret.")
        level = record.get("verification")
        return Grant(
            customer_id=str(record["customer_id"]),
            expires_at=int(record["expires_at"]),
            verification=Verification(level) if level is not None else None,
            resume_session_id=record.get("resume_session_id"),
            recording=record.get("recording", True) is not False,
        )


# -- what the shop's backend sends to mint one ----------------------------------------------------
class ExpiresAfter(BaseModel):
    anchor: str = "created_at"
    seconds: int = Field(ge=10, le=7200)


class ClientSecretRequest(BaseModel):
    customer_id: str = Field(pattern=_CUSTOMER_RE.pattern)
    expires_after: ExpiresAfter | None = None
    verification: Verification | None = Field(
        default=None,
        description=(
            "How sure the minting channel is of the caller, where it has levels (the phone "
            "bridge): passed to every tool call; sensitive changes need 'verified'."
        ),
    )
    resume_session_id: str | None = Field(
        default=None,
        max_length=128,
        description=(
            "A Switchboard session id (session.created's session.id) to resume: refused for "
            "another customer, an ended or unknown session, and after GATEWAY_RESUME_WINDOW_S."
        ),
    )
    recording: bool = Field(
        default=True,
        description=(
            "false: do not record this conversation (the customer did not consent). A resumed "
            "conversation keeps what its first secret said."
        ),
    )


class DevClientSecretRequest(BaseModel):
    customer_id: str = Field(pattern=_CUSTOMER_RE.pattern)
    verification: Verification | None = None
    resume_session_id: str | None = Field(default=None, max_length=128)
    recording: bool = True
