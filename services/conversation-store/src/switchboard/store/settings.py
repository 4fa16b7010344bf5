"""The conversation store's settings (environment variables ``STORE_*`` plus the shared ones;
see docs/configuration.md). Built once in ``main()`` and passed down."""

from __future__ import annotations

import os
import socket

from pydantic import Field, field_validator, model_validator

from switchboard.recording import RecordingStoreSettings
from switchboard.settings import (
    AmqpSettings,
    BaseServiceSettings,
    DatabaseSettings,
    RedisSettings,
    normalise_database_url,
)
from switchboard.store.auth import Account, Accounts, Role, hash_password
from switchboard.store.pricing import PriceTable, load_price_table
from switchboard.store.recording_copy import CopyCodec
from switchboard.store.redaction import KINDS

__all__ = ["StoreSettings"]


def _default_instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


class StoreSettings(
    BaseServiceSettings, DatabaseSettings, AmqpSettings, RedisSettings, RecordingStoreSettings
):
    """Ingest, HTTP, privacy, analyst-access and recording options of one store process (the
    recording store's own settings, ``RECORDING_*``, are shared with the gateway)."""

    # the store's copy of RECORDING_DATABASE_URL: empty means the store's own DATABASE_URL (the
    # postgres backend keeps recordings in the audit database unless told otherwise)
    recording_database_url: str = Field(
        default="",
        validation_alias="RECORDING_DATABASE_URL",
        description="The postgres backend's database; empty = DATABASE_URL.",
    )
    recording_assembly: bool = Field(
        default=True,
        validation_alias="STORE_RECORDING_ASSEMBLY",
        description=(
            "Consume {ns}.store.recordings and assemble finished recordings into two-channel "
            "WAV files in this process (off: a separate `switchboard-store assemble` does)."
        ),
    )
    assembly_concurrency: int = Field(
        default=2,
        ge=1,
        le=64,
        validation_alias="STORE_ASSEMBLY_CONCURRENCY",
        description="Recordings one process assembles at once (the job queue's prefetch).",
    )
    assembly_wait_s: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        validation_alias="STORE_ASSEMBLY_WAIT_S",
        description=(
            "How long an assembler waits for a finished recording's segments to be stored "
            "before it assembles what it has (and records how many were missing)."
        ),
    )
    recording_idle_s: float = Field(
        default=600.0,
        ge=0,
        le=86400,
        validation_alias="STORE_RECORDING_IDLE_S",
        description=(
            "A recording still open with no event of its session for this long (its gateway "
            "died and the call was not resumed) is assembled from what was stored; 0 = never."
        ),
    )

    recording_compressed: CopyCodec = Field(
        default="opus",
        validation_alias="STORE_RECORDING_COMPRESSED",
        description=(
            "A compressed copy the assembler makes beside each recording's WAV: opus (Ogg Opus "
            "at STORE_RECORDING_OPUS_KBPS), flac (lossless) or none (the WAV only)."
        ),
    )
    recording_opus_kbps: int = Field(
        default=16,
        ge=6,
        le=256,
        validation_alias="STORE_RECORDING_OPUS_KBPS",
        description="Target bitrate of the Opus copy, kbit/s per channel (the file has two).",
    )

    instance_id: str = Field(
        default_factory=_default_instance_id,
        min_length=1,
        max_length=128,
        validation_alias="STORE_INSTANCE_ID",
        description="This process's name in logs and its broker connection name.",
    )
    http_host: str = Field(default="127.0.0.1", validation_alias="STORE_HTTP_HOST")
    http_port: int = Field(default=8081, ge=0, le=65535, validation_alias="STORE_HTTP_PORT")
    prefetch: int = Field(
        default=2000,
        ge=1,
        le=65535,
        validation_alias="STORE_PREFETCH",
        description=(
            "Unacknowledged messages (each one event, or several of one type) the broker "
            "hands this process at once."
        ),
    )
    batch_size: int = Field(
        default=500,
        ge=1,
        le=10000,
        validation_alias="STORE_BATCH_SIZE",
        description="Most messages taken, and most events written in one transaction.",
    )
    batch_wait_s: float = Field(
        default=0.05,
        ge=0,
        le=10,
        validation_alias="STORE_BATCH_WAIT_S",
        description="Longest a received event waits for its batch to fill before it is written.",
    )
    amqp_reconnect_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        validation_alias="STORE_AMQP_RECONNECT_S",
        description="First pause before reconnecting to RabbitMQ (doubles up to 5 s).",
    )
    amqp_timeout_s: float = Field(
        default=15.0,
        gt=0,
        le=300,
        validation_alias="STORE_AMQP_TIMEOUT_S",
        description="Bound on connecting, declaring the queue and registering the consumer.",
    )
    write_retry_max_s: float = Field(
        default=5.0,
        gt=0,
        le=300,
        validation_alias="STORE_WRITE_RETRY_MAX_S",
        description="Longest pause between attempts to write a batch while Postgres is down.",
    )
    shutdown_timeout_s: float = Field(
        default=10.0, gt=0, le=300, validation_alias="STORE_SHUTDOWN_TIMEOUT_S"
    )
    redact: str = Field(
        default="email,phone,card",
        validation_alias="STORE_REDACT",
        description="Comma-separated kinds of personal data to redact: email, phone, card.",
    )
    escalation_tools: str = Field(
        default="escalate_to_human",
        validation_alias="STORE_ESCALATION_TOOLS",
        description="Tools whose successful call marks a session as escalated.",
    )
    price_table: str = Field(
        default="",
        validation_alias="STORE_PRICE_TABLE",
        description=(
            "Prices per model (USD per 1M tokens of each kind), over the defaults: JSON, or the "
            "path of a JSON file; a model set to null has no price. Empty = the defaults."
        ),
    )

    users: str = Field(
        default="",
        validation_alias="STORE_USERS",
        description=(
            "Analyst accounts: comma-separated name:role:hash (role analyst or admin; hash from "
            "`switchboard-store hash-password`). Empty outside production = development accounts."
        ),
    )

    @field_validator("recording_compressed", mode="before")
    @classmethod
    def _codec(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check(self) -> StoreSettings:
        if self.is_production and not self.users.strip():
            raise ValueError("STORE_USERS must name the analyst accounts in production")
        Accounts.parse(self.users)  # refuse a malformed entry at start-up
        unknown = set(_csv(self.redact.lower())) - KINDS.keys()
        if unknown:
            raise ValueError(
                f"STORE_REDACT has unknown kinds {sorted(unknown)}; known: {sorted(KINDS)}"
            )
        load_price_table(self.price_table)  # refuse a malformed table at start-up
        if self.batch_size > self.prefetch:
            raise ValueError("STORE_BATCH_SIZE must not exceed STORE_PREFETCH")
        if self.recording_database_url.strip():
            self.recording_database_url = normalise_database_url(self.recording_database_url)
        else:
            self.recording_database_url = self.database_url
        return self

    def accounts(self) -> Accounts:
        """The configured accounts; without any (development only), ``analyst``/``analyst``
        and ``admin``/``admin``."""
        if self.users.strip():
            return Accounts.parse(self.users)
        return Accounts(
            [
                Account("analyst", Role.ANALYST, hash_password("analyst")),
                Account("admin", Role.ADMIN, hash_password("admin")),
            ]
        )

    def prices(self) -> PriceTable:
        return load_price_table(self.price_table)

    @property
    def redact_kinds(self) -> tuple[str, ...]:
        return _csv(self.redact.lower())

    @property
    def escalation_tool_names(self) -> frozenset[str]:
        return frozenset(_csv(self.escalation_tools))
