"""The tool worker's settings (environment variables ``WORKER_*`` plus the shared ones; see
docs/configuration.md). Built once in ``main()`` and passed down."""

from __future__ import annotations

import os
import socket
from datetime import date, time

from pydantic import Field, model_validator

from switchboard.amqp import DEFAULT_CALL_QUEUE_TYPE, CallQueueType
from switchboard.settings import AmqpSettings, BaseServiceSettings, DatabaseSettings, RedisSettings

__all__ = ["WorkerSettings", "default_worker_id"]


def default_worker_id() -> str:
    """``host-pid``: unique among the workers of one deployment."""
    return f"{socket.gethostname()}-{os.getpid()}"


class WorkerSettings(BaseServiceSettings, DatabaseSettings, AmqpSettings, RedisSettings):
    """Identity, transport, catalog, HTTP and business-rule options of one worker process."""

    worker_id: str = Field(
        default_factory=default_worker_id,
        min_length=1,
        max_length=128,
        validation_alias="WORKER_ID",
        description="This worker's name in the catalog, results and logs.",
    )
    http_host: str = Field(default="127.0.0.1", validation_alias="WORKER_HTTP_HOST")
    http_port: int = Field(default=8090, ge=0, le=65535, validation_alias="WORKER_HTTP_PORT")
    prefetch: int = Field(
        default=32,
        ge=1,
        le=1000,
        validation_alias="WORKER_PREFETCH",
        description="Unacknowledged calls the broker hands this worker at once (its concurrency).",
    )
    read_pool_size: int = Field(
        default=10,
        ge=1,
        le=200,
        validation_alias="WORKER_READ_POOL_SIZE",
        description=(
            "asyncpg connections of the read-only tools, besides the SQLAlchemy pool of the "
            "data-changing ones (DATABASE_POOL_SIZE, plus as many again in overflow)."
        ),
    )
    call_queue_type: CallQueueType = Field(
        default=DEFAULT_CALL_QUEUE_TYPE,
        validation_alias="WORKER_CALL_QUEUE_TYPE",
        description=(
            "Kind of the tool call queues this worker declares and consumes: classic "
            "({ns}.tool.<name>.classic) or quorum ({ns}.tool.<name>); all workers of a namespace "
            "should use the same (docs/worker.md)."
        ),
    )
    reply_confirms: bool = Field(
        default=False,
        validation_alias="WORKER_REPLY_CONFIRMS",
        description=(
            "Also wait for a publisher confirm of answers to a direct reply-to before the ack "
            "(answers to named reply queues are always confirmed)."
        ),
    )
    amqp_reconnect_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        validation_alias="WORKER_AMQP_RECONNECT_S",
        description="Pause between attempts to reconnect to the broker after losing it.",
    )
    tool_timeout_s: float = Field(
        default=5.0,
        gt=0,
        le=120,
        validation_alias="WORKER_TOOL_TIMEOUT_S",
        description="Longest a tool may run before it is answered as unavailable.",
    )
    shutdown_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=300,
        validation_alias="WORKER_SHUTDOWN_TIMEOUT_S",
        description="How long a graceful shutdown waits for in-flight calls.",
    )
    catalog_ttl_s: float = Field(
        default=15.0,
        gt=0,
        le=3600,
        validation_alias="WORKER_CATALOG_TTL_S",
        description="Expiry of this worker's catalog entry in Redis.",
    )
    catalog_heartbeat_s: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        validation_alias="WORKER_CATALOG_HEARTBEAT_S",
        description="How often the catalog entry is refreshed (must be below the TTL).",
    )
    tools: str = Field(
        default="",
        validation_alias="WORKER_TOOLS",
        description="Comma-separated tool names to serve; empty = every tool.",
    )
    today: date | None = Field(
        default=None,
        validation_alias="WORKER_TODAY",
        description=(
            "Pin the shop's calendar date (YYYY-MM-DD) for data seeded as of a fixed date; "
            "the time of day still comes from the clock. Empty = the real date."
        ),
    )
    business_timezone: str = Field(default="UTC", validation_alias="WORKER_BUSINESS_TIMEZONE")
    business_open: time = Field(default=time(9, 0), validation_alias="WORKER_BUSINESS_OPEN")
    business_close: time = Field(default=time(17, 0), validation_alias="WORKER_BUSINESS_CLOSE")
    callback_horizon_days: int = Field(
        default=30, ge=1, le=365, validation_alias="WORKER_CALLBACK_HORIZON_DAYS"
    )
    verify_account_failures: int = Field(
        default=10,
        ge=1,
        le=1000,
        validation_alias="WORKER_VERIFY_ACCOUNT_FAILURES",
        description=(
            "Failed phone verifications (verify_caller) on one customer account, across all of "
            "its calls, within WORKER_VERIFY_ACCOUNT_WINDOW_S (and since its last successful "
            "one), after which verify_caller refuses for that account: calling again does not "
            "buy more guesses. Each call still has its own three attempts."
        ),
    )
    verify_account_window_s: float = Field(
        default=86400.0,
        ge=60,
        le=30 * 86400,
        validation_alias="WORKER_VERIFY_ACCOUNT_WINDOW_S",
        description="The window of WORKER_VERIFY_ACCOUNT_FAILURES, in seconds (24 h).",
    )
    confirmation_ttl_s: float = Field(
        default=300.0,
        ge=1,
        le=3600,
        validation_alias="WORKER_CONFIRMATION_TTL_S",
        description=(
            "How long a proposed data change waits for the customer's yes (confirm_action) "
            "before it expires; on the real clock."
        ),
    )

    @model_validator(mode="after")
    def _check(self) -> WorkerSettings:
        if self.is_production and self.today is not None:
            raise ValueError("WORKER_TODAY pins the shop's date; it must not be set in production")
        if self.catalog_heartbeat_s >= self.catalog_ttl_s:
            raise ValueError("WORKER_CATALOG_HEARTBEAT_S must be smaller than WORKER_CATALOG_TTL_S")
        if self.business_open >= self.business_close:
            raise ValueError("WORKER_BUSINESS_OPEN must be earlier than WORKER_BUSINESS_CLOSE")
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(self.business_timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"WORKER_BUSINESS_TIMEZONE is not a known time zone: {self.business_timezone!r}"
            ) from exc
        return self

    @property
    def tool_names(self) -> tuple[str, ...]:
        return tuple(n.strip() for n in self.tools.split(",") if n.strip())
