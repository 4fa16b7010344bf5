"""The phone bridge's resume policy without sockets: which closes are resumed, which gateway
refusals are final, and how a resume tries, backs off and gives up (a fake gateway link)."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest

from switchboard.phone.gateway import GatewayError
from switchboard.phone.metrics import PhoneMetrics
from switchboard.phone.resume import Upstream, lost_code, resume_refusal
from switchboard.phone.settings import PhoneSettings


def _settings(**kw: Any) -> PhoneSettings:
    return PhoneSettings(**kw)  # type: ignore[call-arg]


def _socket(*, close_frame: int | None) -> Any:
    """A closed socket as websockets shows it (no close frame: close_rcvd is None)."""
    rcvd = None if close_frame is None else SimpleNamespace(code=close_frame)
    return SimpleNamespace(
        protocol=SimpleNamespace(close_rcvd=rcvd),
        close_code=1006 if close_frame is None else close_frame,
        closed=False,
    )


class _Link:
    """Answers each ``open`` with the next of *answers* (an exception is raised)."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.opened: list[dict[str, Any]] = []

    async def open(self, customer_id: str, **kw: Any) -> Any:
        self.opened.append({"customer_id": customer_id, **kw})
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def _upstream(link: _Link, settings: PhoneSettings, *, close_frame: int | None) -> Upstream:
    up = Upstream(
        _socket(close_frame=close_frame),
        link=link,  # type: ignore[arg-type]
        customer_id="cus_0001",
        audio_format="audio/pcmu",
        settings=settings,
        metrics=PhoneMetrics(),
    )
    up.note({"type": "session.created", "session": {"id": "sess_1"}})
    return up


def _count(up: Upstream, outcome: str) -> float:
    value = up.metrics.registry.get_sample_value(
        "switchboard_phone_resumes_total", {"outcome": outcome}
    )
    return value or 0.0


def test_only_a_lost_socket_or_a_drain_is_resumed_and_only_while_allowed() -> None:
    """1006 (no close frame) and 1012 resume; a normal close does not; no session id, resumes
    used up or resuming turned off give the reason the metric counts."""
    on = _settings()
    assert resume_refusal(1006, session_id="s", resumes=0, settings=on) is None
    assert resume_refusal(1012, session_id="s", resumes=2, settings=on) is None
    assert resume_refusal(1000, session_id="s", resumes=0, settings=on) == ""
    assert resume_refusal(4005, session_id="s", resumes=0, settings=on) == ""
    assert resume_refusal(1006, session_id=None, resumes=0, settings=on) == "no_session"
    assert resume_refusal(1006, session_id="s", resumes=3, settings=on) == "exhausted"
    off = _settings(PHONE_RESUME_ATTEMPTS=0)
    assert resume_refusal(1006, session_id="s", resumes=0, settings=off) == "off"
    assert lost_code(_socket(close_frame=None)) == 1006
    assert lost_code(_socket(close_frame=1012)) == 1012


def test_refusals_no_retry_can_change_are_permanent() -> None:
    """403, 404 and 410 (and a 409 saying the conversation ended) are final; a busy
    conversation, a gateway restarting or unreachable are tried again."""
    assert GatewayError("x", status=404).permanent
    assert GatewayError("x", status=403).permanent
    assert GatewayError("x", status=410).permanent
    assert GatewayError("x", status=409, code="session_ended").permanent
    assert not GatewayError("x", status=409, code="session_busy").permanent
    assert not GatewayError("x", status=503).permanent
    assert not GatewayError("cannot reach the gateway").permanent


async def test_a_resume_tries_again_after_a_transient_failure_with_the_same_session() -> None:
    """An unreachable gateway is tried again; the new socket names the same session and keeps
    the carrier's audio format."""
    new = object()
    link = _Link(GatewayError("cannot reach the gateway"), new)
    up = _upstream(link, _settings(), close_frame=None)
    assert await up.resume()
    assert up.ws is new and up.resumes == 1 and not up.gave_up
    assert len(link.opened) == 2
    assert all(o["resume_session_id"] == "sess_1" for o in link.opened)
    assert all(o["audio_format"] == "audio/pcmu" for o in link.opened)
    assert _count(up, "resumed") == 1


async def test_a_permanent_refusal_stops_at_the_first_try() -> None:
    """A 404 (the conversation is gone) ends the resume at once: one try, outcome refused."""
    link = _Link(GatewayError("gone", status=404, code="session_not_found"))
    up = _upstream(link, _settings(), close_frame=1012)
    assert not await up.resume()
    assert up.gave_up and len(link.opened) == 1 and _count(up, "refused") == 1


async def test_a_resume_gives_up_after_resume_within_s() -> None:
    """A gateway that stays unreachable is tried with backoff until PHONE_RESUME_WITHIN_S."""
    link = _Link(GatewayError("cannot reach the gateway"))
    up = _upstream(link, _settings(PHONE_RESUME_WITHIN_S=1.0), close_frame=None)
    began = time.monotonic()
    assert not await up.resume()
    took = time.monotonic() - began
    assert up.gave_up and _count(up, "timed_out") == 1
    assert 0.5 < took < 1.5, took
    assert 3 <= len(link.opened) <= 5  # 0.2, 0.4, 0.8 s apart


async def test_a_normal_close_is_not_resumed() -> None:
    """A close frame with 1000 (the gateway ended the conversation) ends the call as before."""
    link = _Link(object())
    up = _upstream(link, _settings(), close_frame=1000)
    assert not await up.resume()
    assert not up.gave_up and link.opened == []


@pytest.mark.parametrize("attempts", [1, 2])
async def test_a_call_resumes_at_most_resume_attempts_times(attempts: int) -> None:
    """After PHONE_RESUME_ATTEMPTS resumes the next loss ends the call (outcome exhausted)."""
    link = _Link(_socket(close_frame=None))
    up = _upstream(link, _settings(PHONE_RESUME_ATTEMPTS=attempts), close_frame=None)
    for _ in range(attempts):
        assert await up.resume()
    assert not await up.resume()
    assert up.gave_up and _count(up, "exhausted") == 1 and up.resumes == attempts
