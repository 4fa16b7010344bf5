"""How a session leaves and resumes a conversation: its snapshot as the session sees it now
(with the events the broker has not confirmed yet), how each way of ending leaves the snapshot
(ended, or lost and resumable), the seq a resumed session starts from, and the events it
publishes again when the previous holder died."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from switchboard.contracts.events import SessionResumed
from switchboard.gateway.errors import CloseCode
from switchboard.gateway.recording import RecordingState
from switchboard.gateway.snapshot import (
    ServerConfig,
    Snapshot,
    SnapshotState,
    items_of,
    pending_calls,
    restore,
    unanswered,
)

if TYPE_CHECKING:
    from switchboard.gateway.session import Session

__all__ = [
    "LOST_REASONS",
    "SEQ_GAP",
    "announce_resumed",
    "build_snapshot",
    "carry_on",
    "first_seq",
    "lost_lease",
    "lost_state",
    "on_control",
    "republish",
    "resume_from",
]

log = logging.getLogger(__name__)

#: End reasons that leave the conversation resumable (for the resume window).
LOST_REASONS = frozenset({"client_lost", "handed_over"})
#: Seqs skipped when a conversation is taken from a holder that had not let go (its gateway
#: died, or its client socket is half-open): events the old holder published after its last
#: snapshot write never share a seq with the new holder's. The snapshot is written at once
#: after an audit event (at most ``GATEWAY_SNAPSHOT_INTERVAL_S`` after a control event), so
#: far fewer than this are ever in between.
#: Events the old holder had not had confirmed at its last write keep their own (lower) seqs:
#: they are in the snapshot's ``pending`` and published again (:func:`republish`).
SEQ_GAP = 1000


def build_snapshot(session: Session) -> Snapshot:
    """The conversation as the session holds it now."""
    s = session.settings
    items, cut = items_of(session.core)
    now = time.time()
    return Snapshot(
        session_id=session.id,
        customer_id=session.customer_id,
        gateway_id=session.deps.registry.gateway_id,
        state=SnapshotState.LIVE,
        verification=session.tools.verification,
        next_seq=session.next_seq,
        config=ServerConfig(
            upstream=s.upstream_kind,
            model=s.upstream_model,
            voice=s.voice,
            language=s.language,
            audio_format=s.audio_format,
        ),
        overrides=session.core.overrides,
        display=session.display,
        items=items,
        tool_outputs=dict(session.tools.outputs),
        response_cut=cut,
        recording=session.recorder.state()
        if session.recorder is not None
        else RecordingState(enabled=session.consent),
        started_at=session.started_wall,
        updated_at=now,
        pending=session.deps.publisher.pending(session.id),
    )


def resume_from(session: Session, snapshot: Snapshot) -> int:
    """Rebuild *session*'s core from *snapshot*, publish again what its holder had not had
    confirmed if it did not let go, and return the seq the session goes on from."""
    restore(session.core, snapshot)
    republish(session, snapshot)
    return first_seq(snapshot)


def carry_on(session: Session, snapshot: Snapshot) -> None:
    """Once the resumed session runs: answer the tool calls the lost holder left open, and ask
    for the answer it owed (a response cut by the loss, or a spoken turn left unanswered)."""
    respond = snapshot.response_cut or unanswered(snapshot)
    session.tools.resume(pending_calls(snapshot), respond=respond)


def republish(session: Session, snapshot: Snapshot) -> int:
    """Publish again, first and in order, the events the snapshot's holder had handed to the
    broker without a confirm, when that holder did not let go (its gateway died, or its client
    socket is half-open): same event ids, seqs and times, so the store's idempotent ingest keeps
    one of each even when the broker had in fact taken them. A holder that let go (client lost,
    drained) is alive and publishes its own. Returns how many."""
    if snapshot.state is not SnapshotState.LIVE or not snapshot.pending:
        return 0
    for event in snapshot.pending:
        session.deps.publisher.publish(event)
    log.info(
        "unconfirmed events of the previous holder published again",
        extra={"count": len(snapshot.pending), "previous_gateway": snapshot.gateway_id},
    )
    return len(snapshot.pending)


def lost_state(reason: str) -> dict[str, object]:
    """The snapshot fields a session that ended for *reason* writes last."""
    if reason in LOST_REASONS:
        return {"state": SnapshotState.LOST, "lost_at": time.time(), "lost_reason": reason}
    return {"state": SnapshotState.ENDED}


def first_seq(snapshot: Snapshot) -> int:
    """The seq a resumed session starts from: right after the snapshot's when its holder let
    go (client lost, handed over), after a gap when it was taken from a live holder."""
    if snapshot.state is SnapshotState.LOST:
        return snapshot.next_seq
    return snapshot.next_seq + SEQ_GAP


def on_control(session: Session, command: str) -> None:
    """A command from the registry: another connection took the conversation over, or an
    administrator ends it."""
    if command.startswith("takeover:") and command[9:] != session.keeper.holder:
        lost_lease(session)
    elif command == "end":
        session.request_end(
            "admin",
            CloseCode.ENDED_BY_ADMIN,
            error_code="session_ended",
            message="The conversation was ended by an administrator.",
        )


def lost_lease(session: Session) -> None:
    """Another connection resumed this conversation: let go without a word to the audit
    trail (the new holder carries it on)."""
    session.keeper.holding = False
    session.request_end(
        "taken_over",
        CloseCode.TAKEN_OVER,
        error_code="session_taken_over",
        message="This conversation was resumed on another connection.",
    )


def announce_resumed(session: Session, snapshot: Snapshot) -> None:
    """Tell the audit trail the conversation goes on here (once the client has its
    ``session.created``)."""
    gap = None
    if snapshot.lost_at is not None:
        gap = round(max(0.0, time.time() - snapshot.lost_at) * 1000, 3)
    session.emit(
        SessionResumed(
            gateway=session.deps.registry.gateway_id,
            previous_gateway=snapshot.gateway_id,
            reason=snapshot.lost_reason or "gateway_lost",
            items_replayed=len(session.core.replayed),
            gap_ms=gap,
        )
    )
    session.metrics.sessions_resumed.inc()
    log.info("session resumed", extra={"items": len(session.core.replayed), "gap_ms": gap})
