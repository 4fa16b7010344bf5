"""``GET /api/sessions/{id}/handoff``: the handoff summary for the human agent a call was
transferred to (analyst role; the read is recorded in the view log like any other)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from switchboard.store import queries
from switchboard.store.api import Analyst, SessionId, StoreDep
from switchboard.store.handoff import Handoff, build_handoff

__all__ = ["handoff_router"]

handoff_router = APIRouter(prefix="/api")


@handoff_router.get(
    "/sessions/{session_id}/handoff",
    response_model=Handoff,
    summary="Handoff summary for a human agent",
    responses={404: {"description": "No such session"}},
)
async def handoff(store: StoreDep, account: Analyst, session_id: SessionId) -> Handoff:
    async with store.engine.begin() as conn:
        detail = await queries.session_detail(conn, session_id)
        if detail is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such session")
        await queries.record_view(
            conn, analyst=account.name, role=account.role, action="handoff", session_id=session_id
        )
    return build_handoff(detail)
