"""What the dialogue policy decides to do next: speak, or make function calls. Plain data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Call", "Reply"]


@dataclass(frozen=True)
class Call:
    """One function call: the tool's name and its arguments."""

    tool: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Reply:
    """What the assistant does next: speak ``text``, or make the function ``calls`` (in order)."""

    text: str | None = None
    calls: tuple[Call, ...] = ()

    @property
    def tool(self) -> str | None:
        return self.calls[0].tool if self.calls else None

    @property
    def arguments(self) -> dict[str, Any] | None:
        return self.calls[0].arguments if self.calls else None
