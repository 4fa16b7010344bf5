"""What a session tells its client and the audit trail when it refuses an event, ignores
server-owned fields, or closes the connection."""

from __future__ import annotations

import contextlib
import json
import logging
from typing import TYPE_CHECKING, Any

from switchboard.contracts.display import SessionInfo
from switchboard.contracts.events import ErrorOccurred
from switchboard.gateway import handover
from switchboard.gateway.actions import Refuse, SessionState
from switchboard.gateway.client import client_event_id
from switchboard.gateway.errors import CloseCode, SessionEnd, error_event
from switchboard.gateway.policy import client_view_of_session

if TYPE_CHECKING:
    from switchboard.gateway.session import Session

__all__ = ["close_client", "ignored", "refuse", "session_created", "too_many_sessions"]

log = logging.getLogger(__name__)


async def session_created(session: Session, upstream_session: dict[str, Any]) -> None:
    """``session.created`` for the client (the upstream's session as the client may see it,
    under the Switchboard session id, what a resume secret names); a resumed conversation's
    resume for the audit trail; and, for display clients, the session's details."""
    await session.send_client(
        json.dumps(
            {
                "type": "session.created",
                "event_id": client_event_id(),
                "session": {**client_view_of_session(upstream_session), "id": session.id},
            }
        )
    )
    if session.resume is not None:
        handover.announce_resumed(session, session.resume)
    if session.display:
        info = SessionInfo(
            session_id=session.id,
            customer_id=session.customer_id,
            upstream=session.settings.upstream_kind,
            model=session.settings.upstream_model,
        )
        await session.send_client(info.model_dump_json())


async def close_client(session: Session, end: SessionEnd) -> None:
    """Close the client's socket with the end's code, after an ``error`` event that says why
    (nothing when the client already left)."""
    if end.reason in ("client_closed", "client_lost"):
        return
    if end.error_code is not None:
        kind = (
            "invalid_request_error"
            if int(end.code) >= 4000 or end.code == CloseCode.MESSAGE_TOO_BIG
            else "server_error"
        )
        with contextlib.suppress(Exception):
            await session.send_client(
                json.dumps(
                    error_event(client_event_id(), end.message, code=end.error_code, kind=kind)
                )
            )
    with contextlib.suppress(Exception):
        await session.client.close(int(end.code), end.close_reason[:120])


async def refuse(session: Session, refusal: Refuse) -> None:
    """A client event the rules refused: an ``error`` event to the client; the session goes on."""
    error = refusal.error
    session.metrics.errors.labels("client", error.code).inc()
    session.emit(ErrorOccurred(code=error.code, message=error.message[:500], source="client"))
    await session.send_client(
        json.dumps(
            error_event(
                client_event_id(),
                error.message,
                code=error.code,
                param=error.param,
                client_event_id=refusal.client_event_id,
                kind=error.type,
            )
        )
    )


def ignored(session: Session, fields: tuple[str, ...]) -> None:
    """Server-owned session fields a client tried to set: counted, logged and audited."""
    for name in fields:
        session.metrics.fields_ignored.labels(name).inc()
    log.info("server-owned session fields ignored", extra={"fields": list(fields)})
    session.emit(
        ErrorOccurred(
            code="server_fields_ignored",
            message=("Ignored server-owned session fields: " + ", ".join(fields))[:500],
            source="client",
        )
    )


async def too_many_sessions(session: Session) -> None:
    """Refuse a conversation of a customer who has the most open already (close 4003)."""
    most = session.settings.max_sessions_per_customer
    session.metrics.refused.labels("too_many_sessions").inc()
    session.core.become(SessionState.ENDING)
    await close_client(
        session,
        SessionEnd(
            "too_many_sessions",
            CloseCode.TOO_MANY_SESSIONS,
            error_code="too_many_sessions",
            message=f"This customer already has {most} conversations open; close one first.",
        ),
    )
    session.core.become(SessionState.ENDED)
