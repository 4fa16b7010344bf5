"""Recordings in the analyst API (analyst role):

- ``GET|HEAD /api/sessions/{id}/recording``: the two-channel WAV (channel 1 the caller,
  channel 2 the assistant as heard), streamed from the recording store with range requests
  (``Accept-Ranges: bytes``; ``206`` with ``Content-Range`` for one range, ``416`` for a range
  beyond the end). ``404`` when the session has no recording (or it has no audio), ``409`` while
  it is still being recorded or assembled (with ``Retry-After``). With ``?format=compressed``
  the same for the recording's compressed copy (Ogg Opus or FLAC, offered as a download), ``404``
  when none was made.
- ``POST /api/sessions/{id}/recording/ticket``: a playback ticket (:mod:`~switchboard.store.
  playback_tickets`): the recording's URL with ``?ticket=...``, which an ``<audio>`` element
  streams without an ``Authorization`` header, for that session only, for ten minutes.
- ``GET /api/sessions/{id}/recording/timeline``: the recording's status and the turns and tool
  calls on its timeline (:class:`~switchboard.store.recording_schemas.RecordingTimeline`).

Auditing: each playback (or download of the copy) is one ``play`` row in the view log (of the
ticket's account when played with a ticket; ``detail.format`` names the copy), written for a GET
without a range or with a range from byte 0 (how a player starts); the range requests of seeking and buffering
within a playback (from later offsets) and HEAD requests are not rows of their own. Reading the
timeline is a ``recording`` row.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from switchboard.recording import RecordingStore, RecordingStoreError
from switchboard.store import queries
from switchboard.store import recording_queries as rq
from switchboard.store.api import Analyst, BasicCredentials, SessionId, StoreDep, current_account
from switchboard.store.auth import Account, Role
from switchboard.store.byte_ranges import ByteRange, Unsatisfiable, parse_range
from switchboard.store.playback_tickets import (
    TicketExpired,
    TicketInvalid,
    issue_ticket,
    verify_ticket,
)
from switchboard.store.recording_copy import COPY_FORMATS
from switchboard.store.recording_schemas import PlaybackTicket, RecordingTimeline

__all__ = ["CHUNK_BYTES", "recording_router"]

log = logging.getLogger(__name__)

#: bytes read from the recording store per chunk of a streamed response
CHUNK_BYTES = 256 * 1024
_RETRY_AFTER_S = "5"
#: the file a playback asks for: the WAV, or the compressed copy beside it
FileFormat = Literal["wav", "compressed"]

recording_router = APIRouter(
    prefix="/api",
    responses={
        401: {"description": "No or wrong credentials"},
        403: {"description": "The account's role does not allow this"},
    },
)


def _recordings(store: Any) -> RecordingStore:
    recordings: RecordingStore | None = store.recordings
    if recordings is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the store is starting")
    return recordings


async def _player(
    request: Request,
    store: StoreDep,
    session_id: SessionId,
    credentials: BasicCredentials,
    ticket: Annotated[
        str | None,
        Query(max_length=512, description="A playback ticket of this session, instead of Basic"),
    ] = None,
) -> Account:
    """Who plays: the account of a valid ticket for this session, else an analyst by Basic."""
    if ticket is None:
        account = await current_account(request, store, credentials)
        if not account.may(Role.ANALYST):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"needs the {Role.ANALYST} role")
        return account
    try:
        return verify_ticket(ticket, session_id, now=time.time(), lookup=store.accounts.get)
    except TicketExpired as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc)) from None
    except TicketInvalid as exc:
        log.info("playback ticket refused", extra={"session_id": session_id, "error": str(exc)})
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None


Player = Annotated[Account, Depends(_player)]

_AUDIO: dict[str, Any] = {"audio/wav": {}, "audio/ogg": {}, "audio/flac": {}}
_PLAY_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The whole file", "content": _AUDIO},
    206: {"description": "One range of the file", "content": _AUDIO},
    401: {"description": "No or wrong credentials, or an expired ticket"},
    403: {"description": "A ticket not valid for this session, or a role that may not play"},
    404: {"description": "No such session, or it has no recording (or no compressed copy)"},
    409: {"description": "The recording is still being recorded or assembled"},
    416: {"description": "The range lies beyond the file"},
    503: {"description": "The recording store is unavailable"},
}


@recording_router.head(
    "/sessions/{session_id}/recording",
    response_class=StreamingResponse,
    summary="The headers of a session's recording (size, ranges), without the audio",
    responses=_PLAY_RESPONSES,
)
@recording_router.get(
    "/sessions/{session_id}/recording",
    response_class=StreamingResponse,
    summary="Play a session's recording: a two-channel WAV (caller, assistant), range requests",
    responses=_PLAY_RESPONSES,
)
async def play_recording(
    request: Request,
    store: StoreDep,
    account: Player,
    session_id: SessionId,
    range_header: Annotated[str | None, Header(alias="range", max_length=200)] = None,
    file_format: Annotated[
        FileFormat,
        Query(
            alias="format",
            description="wav (the default: the two-channel WAV) or compressed (its Ogg Opus or "
            "FLAC copy, when one was made)",
        ),
    ] = "wav",
) -> Response:
    recordings = _recordings(store)
    async with store.engine.connect() as conn:
        row = await rq.playback_of(conn, session_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such session")
    if row.status is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this session has no recording")
    if row.status == "empty":
        raise HTTPException(status.HTTP_404_NOT_FOUND, "the recording has no audio")
    if row.status != "ready" or row.file_key is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"the recording is still being {'recorded' if row.status == 'recording' else 'assembled'}"
            f" (status {row.status}); try again shortly",
            headers={"Retry-After": _RETRY_AFTER_S},
        )
    if file_format == "compressed":
        if row.copy_key is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "this recording has no compressed copy")
        key, size, media_type = row.copy_key, int(row.copy_size), row.copy_type
        disposition = f'attachment; filename="{session_id}.{_extension(media_type)}"'
    else:
        key, size, media_type = row.file_key, int(row.file_size), row.file_type or "audio/wav"
        disposition = f'inline; filename="{session_id}.wav"'
    headers = {
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, no-store",
        "Content-Disposition": disposition,
    }
    try:
        byte_range = parse_range(range_header, size)
    except Unsatisfiable:
        return Response(
            status_code=status.HTTP_416_RANGE_NOT_SATISFIABLE,
            headers={**headers, "Content-Range": f"bytes */{size}"},
        )
    whole = byte_range is None
    part = byte_range or ByteRange(0, size, size)
    headers["Content-Length"] = str(part.length)
    if not whole:
        headers["Content-Range"] = part.content_range
    code = status.HTTP_200_OK if whole else status.HTTP_206_PARTIAL_CONTENT
    if request.method == "HEAD":
        return Response(status_code=code, headers=headers, media_type=media_type)
    # fail before the status line when the store is down (the first chunk is read here)
    first_end = min(part.end, part.start + CHUNK_BYTES)
    try:
        first = await recordings.get(key, start=part.start, end=first_end)
    except RecordingStoreError as exc:
        log.error("recording unreadable", extra={"session_id": session_id, "error": str(exc)})
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "the recording store is unavailable"
        ) from exc
    if part.start == 0:
        detail: dict[str, str] = {}
        if range_header:
            detail["range"] = range_header
        if file_format != "wav":
            detail["format"] = file_format
        async with store.engine.begin() as conn:
            await queries.record_view(
                conn,
                analyst=account.name,
                role=account.role,
                action="play",
                session_id=session_id,
                detail=detail or None,
            )
    return StreamingResponse(
        _chunks(recordings, key, first, first_end, part.end, session_id),
        status_code=code,
        headers=headers,
        media_type=media_type,
    )


def _extension(content_type: str) -> str:
    """The file name extension of a copy's media type (``opus`` for Ogg Opus)."""
    for fmt in COPY_FORMATS.values():
        if fmt.content_type == content_type:
            return fmt.extension
    return "bin"


async def _chunks(
    recordings: RecordingStore, key: str, first: bytes, at: int, end: int, session_id: str
) -> AsyncIterator[bytes]:
    yield first
    while at < end:
        upto = min(end, at + CHUNK_BYTES)
        try:
            chunk = await recordings.get(key, start=at, end=upto)
        except RecordingStoreError as exc:
            # the status line is sent: the client sees a short body and may retry the range
            log.error("recording stream cut", extra={"session_id": session_id, "error": str(exc)})
            return
        if not chunk:
            return
        yield chunk
        at = upto


@recording_router.post(
    "/sessions/{session_id}/recording/ticket",
    response_model=PlaybackTicket,
    summary="A short-lived URL that plays the recording without credentials (for <audio>)",
    responses={404: {"description": "No such session, or it has no recording"}},
)
async def playback_ticket(
    request: Request, store: StoreDep, account: Analyst, session_id: SessionId
) -> PlaybackTicket:
    async with store.engine.connect() as conn:
        row = await rq.playback_of(conn, session_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such session")
    if row.status is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this session has no recording")
    ticket, expires = issue_ticket(account, session_id, now=time.time())
    root = request.scope.get("root_path", "")
    url = f"{root}/api/sessions/{quote(session_id, safe='')}/recording?ticket={quote(ticket)}"
    return PlaybackTicket(
        url=url,
        compressed_url=f"{url}&format=compressed" if row.copy_key is not None else None,
        expires_at=datetime.fromtimestamp(expires, UTC),
    )


@recording_router.get(
    "/sessions/{session_id}/recording/timeline",
    response_model=RecordingTimeline,
    summary="A recording's status, turns (heard vs said) and tool calls on its timeline",
    responses={404: {"description": "No such session, or it has no recording"}},
)
async def recording_timeline(
    store: StoreDep, account: Analyst, session_id: SessionId
) -> RecordingTimeline:
    async with store.engine.begin() as conn:
        timeline = await rq.recording_timeline(conn, session_id)
        if timeline is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "this session has no recording")
        await queries.record_view(
            conn,
            analyst=account.name,
            role=account.role,
            action="recording",
            session_id=session_id,
        )
    return timeline
