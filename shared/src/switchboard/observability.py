"""Structured logging with session/call ids, and Prometheus helpers shared by all services."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

__all__ = [
    "CONTENT_TYPE_LATEST",
    "JsonFormatter",
    "bind_log_context",
    "configure_logging",
    "log_context",
    "metrics_payload",
]

_context: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "switchboard_log_context", default=MappingProxyType({})
)

_RESERVED = set(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's ANSI-coloured duplicate of msg
}


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Attach fields (e.g. ``session_id``, ``call_id``) to every log record in this context."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def bind_log_context(**fields: Any) -> None:
    """Attach fields for the rest of the current task (e.g. at the start of a session task)."""
    _context.set({**_context.get(), **fields})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context ids and extras."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        doc.update(_context.get())
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                doc[key] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str, ensure_ascii=False)


class _ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        ctx = " ".join(f"{k}={v}" for k, v in _context.get().items())
        return f"{base} {ctx}".rstrip()


def configure_logging(service: str, *, level: str = "INFO", fmt: str = "json") -> None:
    """Route all logging to stderr, as JSON lines (``json``) or readable text (``console``).

    Every record passes :class:`switchboard.redaction.RedactingLogFilter` on its way out: log
    calls carry no conversation data, and an exception or a library's record that quotes an
    e-mail address, a phone or a card number is redacted (docs/gateway.md, "Personal data")."""
    from switchboard.redaction import RedactingLogFilter

    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingLogFilter())
    if fmt == "console":
        handler.setFormatter(_ConsoleFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiormq", "aio_pika", "asyncio", "websockets", "httpx", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def metrics_payload(registry: CollectorRegistry | None = None) -> bytes:
    """The Prometheus exposition text of *registry* (the default registry when None)."""
    if registry is None:
        from prometheus_client import REGISTRY

        registry = REGISTRY
    return generate_latest(registry)
