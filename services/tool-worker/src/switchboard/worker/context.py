"""What a tool gets besides its arguments: who is calling (from the envelope), a database
connection and the shop's clock and business rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection

from switchboard.worker.settings import WorkerSettings

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
    """Opening hours for callbacks (Monday to Friday in one time zone)."""

    timezone: ZoneInfo
    opens: time
    closes: time
    callback_horizon_days: int

    @classmethod
    def from_settings(cls, settings: WorkerSettings) -> BusinessRules:
        return cls(
            timezone=ZoneInfo(settings.business_timezone),
            opens=settings.business_open,
            closes=settings.business_close,
            callback_horizon_days=settings.callback_horizon_days,
        )


@dataclass(frozen=True, slots=True)
class ToolContext:
    """One call's identity and resources. ``customer_id`` comes from the authenticated session,
    never from the model's arguments."""

    call_id: str
    session_id: str
    customer_id: str
    db: AsyncConnection
    now: datetime
    rules: BusinessRules
