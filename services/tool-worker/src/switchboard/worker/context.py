"""What a tool gets besides its arguments: who is calling (from the envelope), its database
access and the shop's clock and business rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection

from switchboard.contracts.tools import Verification
from switchboard.worker.reads import Reads
from switchboard.worker.settings import WorkerSettings

if TYPE_CHECKING:
    from switchboard.worker.registry import Tool

__all__ = ["BusinessRules", "Clock", "ToolContext"]


@dataclass(frozen=True, slots=True)
class Clock:
    """The shop's notion of now: the real clock, optionally on a pinned calendar date."""

    today: date | None = None

    def now(self) -> datetime:
        real = datetime.now(UTC)
        if self.today is None:
            return real
        return datetime.combine(self.today, real.timetz())


@dataclass(frozen=True, slots=True)
class BusinessRules:
    """Opening hours for callbacks (Monday to Friday in one time zone), and how many failed
    phone verifications an account takes across its calls (``verify_caller``)."""

    timezone: ZoneInfo
    opens: time
    closes: time
    callback_horizon_days: int
    verify_account_failures: int = 10
    verify_account_window: timedelta = timedelta(hours=24)

    @classmethod
    def from_settings(cls, settings: WorkerSettings) -> BusinessRules:
        return cls(
            timezone=ZoneInfo(settings.business_timezone),
            opens=settings.business_open,
            closes=settings.business_close,
            callback_horizon_days=settings.callback_horizon_days,
            verify_account_failures=settings.verify_account_failures,
            verify_account_window=timedelta(seconds=settings.verify_account_window_s),
        )


@dataclass(frozen=True, slots=True)
class ToolContext:
    """One call's identity and resources. ``customer_id`` comes from the authenticated session,
    never from the model's arguments; ``user_item_id`` and ``verification`` from the gateway's
    envelope. ``tools`` (every tool of the package) and ``confirmation_ttl`` serve the two
    phases of data-changing tools (:mod:`switchboard.worker.confirmations`).

    A data-changing tool gets ``db``, a SQLAlchemy connection in the call's transaction; a
    read-only tool gets ``reads`` (raw asyncpg, :mod:`switchboard.worker.reads`). Each is set
    for its kind of tool only."""

    call_id: str
    session_id: str
    customer_id: str
    now: datetime
    rules: BusinessRules
    connection: AsyncConnection | None = None
    reader: Reads | None = None
    user_item_id: str | None = None
    verification: Verification | None = None
    confirmation_ttl: timedelta = timedelta(seconds=300)
    tools: Mapping[str, Tool] = field(default_factory=dict)

    @property
    def db(self) -> AsyncConnection:
        """The SQLAlchemy connection of a data-changing tool's call."""
        if self.connection is None:
            raise RuntimeError("a read-only tool reads through ctx.reads, not ctx.db")
        return self.connection

    @property
    def reads(self) -> Reads:
        """The asyncpg reads of a read-only tool's call."""
        if self.reader is None:
            raise RuntimeError("a data-changing tool runs on ctx.db, not ctx.reads")
        return self.reader
