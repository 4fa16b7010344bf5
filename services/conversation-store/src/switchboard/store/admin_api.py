"""The admin actions of the analyst API: delete a session (with its recording) and end a live
conversation. Both are recorded in the view log."""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, status

from switchboard.recording import RecordingStoreError
from switchboard.store import deletion, queries
from switchboard.store.api import Admin, SessionId, StoreDep
from switchboard.store.schemas import EndResult

__all__ = ["admin_router"]

log = logging.getLogger(__name__)

admin_router = APIRouter(
    prefix="/api",
    responses={
        401: {"description": "No or wrong credentials"},
        403: {"description": "The account's role does not allow this"},
    },
)


@admin_router.delete(
    "/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a session and everything recorded about it, its recording too (admin)",
    responses={
        404: {"description": "No such session"},
        503: {"description": "The recording store failed: nothing was deleted (retry)"},
    },
)
async def delete_session(store: StoreDep, account: Admin, session_id: SessionId) -> None:
    recordings = store.recordings
    if recordings is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the store is starting")
    async with store.engine.connect() as conn:
        if not await deletion.session_exists(conn, session_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such session")
    try:
        objects = await deletion.delete_recording(recordings, session_id)
    except RecordingStoreError as exc:
        log.error(
            "recording store failed; session not deleted",
            extra={"session_id": session_id, "error": str(exc)},
        )
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "the recording store is unavailable; nothing was deleted, try again",
        ) from exc
    async with store.engine.begin() as conn:
        if not await deletion.delete_session_rows(conn, session_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such session")
        await queries.record_view(
            conn,
            analyst=account.name,
            role=account.role,
            action="delete",
            session_id=session_id,
            detail={"recording_objects": objects} if objects else None,
        )
    await deletion.delete_after(recordings, session_id)
    log.info("session deleted", extra={"session_id": session_id, "analyst": account.name})


@admin_router.post(
    "/live/{session_id}/end",
    response_model=EndResult,
    summary="Ask the gateway holding a live session to end it (admin)",
)
async def end_live(store: StoreDep, account: Admin, session_id: SessionId) -> EndResult:
    receivers = await store.redis.publish(store.keys.session_control(session_id), "end")
    async with store.engine.begin() as conn:
        await queries.record_view(
            conn,
            analyst=account.name,
            role=account.role,
            action="end",
            session_id=session_id,
            detail={"gateways": receivers},
        )
    log.info("end requested", extra={"session_id": session_id, "analyst": account.name})
    return EndResult(session_id=session_id, requested=True, gateways=int(receivers))
