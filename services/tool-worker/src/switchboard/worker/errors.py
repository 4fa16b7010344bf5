"""Expected tool failures: raised by tools, turned into :class:`ToolError` answers at one place."""

from __future__ import annotations

from switchboard.contracts.tools import ToolError, ToolErrorCode

__all__ = ["ToolFailure", "not_allowed", "not_found"]


class ToolFailure(Exception):
    """A call that cannot produce an output, with a message the voice model can read aloud."""

    def __init__(self, code: ToolErrorCode, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def to_error(self) -> ToolError:
        return ToolError(code=self.code, message=self.message, field=self.field)


def not_found(message: str, *, field: str | None = None) -> ToolFailure:
    return ToolFailure(ToolErrorCode.NOT_FOUND, message, field=field)


def not_allowed(message: str, *, field: str | None = None) -> ToolFailure:
    return ToolFailure(ToolErrorCode.NOT_ALLOWED, message, field=field)
