"""Playing a recording in the analyst UI, in headless Chromium (Debian's package, driven by
Playwright): the player streams the WAV with range requests through a playback ticket, the
highlighted turn follows playback, selecting a turn seeks there, and the playback is audited; the
compressed copy is offered as a download."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from playwright.async_api import Page, Response, expect

from switchboard.contracts.events import (
    AssistantTranscript,
    ConversationEvent,
    RecordingEnded,
    RecordingMark,
    RecordingSegment,
    UserTranscript,
)
from switchboard.recording import segment_key
from switchboard.store.service import StoreService
from tests.store.conftest import ACCOUNTS, Publisher, WaitStored
from tests.store.factories import conversation, new_session_id, recording_events

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
RATE = 8000
#: (item, role, start_ms, end_ms) of the turns on the 10 min recording: four in the first 6 s,
#: then a long wait (the caller on hold: a file large enough that Chromium streams it in ranges)
TURNS = [
    ("item_u1", "user", 100, 1400),
    ("item_a1", "assistant", 1500, 3000),
    ("item_u2", "user", 3100, 4400),
    ("item_a2", "assistant", 4500, 5500),
    ("item_u3", "user", 500_000, 502_000),
]
LENGTH_MS = 600_000


def _segment(
    sid: str, channel: str, index: int, start_ms: int, ms: int, **kw: Any
) -> RecordingSegment:
    return RecordingSegment(
        channel=channel,  # type: ignore[arg-type]
        index=index,
        start_ms=start_ms,
        duration_ms=ms,
        audio_format="pcmu",
        sample_rate=RATE,
        key=segment_key(sid, channel, index),
        size=ms * RATE // 1000,
        **kw,
    )


async def _recorded_session(store: StoreService, customer: str) -> list[ConversationEvent]:
    """A recorded call of four turns in 6 s (the bot's second cut after 1 s of the 2 s it said),
    a tool call at 2 s, and a fifth turn after 500 s on hold (10 min, a 19 MB WAV); the segments
    are written to the recording store first."""
    sid = new_session_id("play")
    t0 = datetime.now(UTC) - timedelta(minutes=10)
    base = conversation(sid, customer_id=customer, interrupted=False, recording=True)
    later = [
        UserTranscript(
            item_id="item_u2",
            text="And can I change the delivery address?",
            speech_started_ms=3100,
            speech_ended_ms=4400,
        ),
        AssistantTranscript(
            item_id="item_a2",
            response_id="resp_2",
            text="Yes, tell me the new address and I will update the order.",
            interrupted=True,
            heard_text="Yes, tell me the new",
            audio_ms=2000,
            heard_ms=1000,
        ),
        UserTranscript(item_id="item_u3", text="Hello, are you still there?"),
    ]
    payloads = [e.payload for e in base[:-1]] + later + [base[-1].payload]
    events = [
        ConversationEvent(session_id=sid, seq=i, occurred_at=t0 + timedelta(seconds=i), payload=p)
        for i, p in enumerate(payloads)
    ]
    segments = [
        _segment(sid, "caller", 0, 0, 1500),
        _segment(sid, "caller", 1, 3000, 1500),
        _segment(sid, "caller", 2, 5500, LENGTH_MS - 5500),
        _segment(sid, "assistant", 0, 1500, 1500, item_id="item_a1", said_ms=1500),
        _segment(sid, "assistant", 1, 4500, 1000, item_id="item_a2", said_ms=2000),
    ]
    assert store.recordings is not None
    for i, seg in enumerate(segments):
        await store.recordings.put(seg.key, bytes([0x10 + 0x20 * i]) * seg.size)
    marks = [RecordingMark(item_id=i, role=r, start_ms=s, end_ms=e) for i, r, s, e in TURNS]  # type: ignore[arg-type]
    return events + recording_events(
        sid,
        first_seq=len(events),
        at=events[-1].occurred_at,
        segments=segments,
        marks=marks,
        ended=RecordingEnded(segments=len(segments), duration_ms=LENGTH_MS),
    )


async def _sign_in(page: Page, api_url: str) -> None:
    await page.goto(api_url + "/")
    await page.get_by_label("Name").fill("ana")
    await page.get_by_label("Password").fill(ACCOUNTS["ana"][0])
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#who")).to_have_text("ana (analyst)")


async def _current_time(page: Page) -> float:
    t: float = await page.evaluate("document.querySelector('#player').currentTime")
    return t


async def test_an_analyst_plays_a_recording_and_the_transcript_follows(
    page: Page,
    api_url: str,
    store: StoreService,
    publisher: Publisher,
    wait_stored: WaitStored,
    db: asyncpg.Pool,
) -> None:
    """The list marks the session recorded; on its page the player streams the WAV with range
    requests (206) through a ticket; playing advances time and highlights the turn under the
    playhead; selecting a later turn seeks to its start and highlights it; a far seek is a range
    request from a later offset; the playback is one play row; the compressed copy downloads
    from a link beside the player (the player keeps the WAV), audited as one more play row."""
    customer = f"cus_play_{uuid.uuid4().hex[:6]}"
    events = await _recorded_session(store, customer)
    sid = events[0].session_id
    await publisher.publish(*events)
    await wait_stored(sid, len(events))
    ready = "SELECT status FROM audit.recording WHERE session_id = $1"
    for _ in range(300):
        if await db.fetchval(ready, sid) == "ready":
            break
        await page.wait_for_timeout(100)
    assert await db.fetchval(ready, sid) == "ready"

    audio: list[Response] = []
    page.on("response", lambda r: audio.append(r) if "/recording?ticket=" in r.url else None)
    await _sign_in(page, api_url)
    await page.get_by_label("Customer").fill(customer)
    await page.get_by_role("button", name="Apply").click()
    rows = page.locator("#sessions-body tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first.locator("td.rec")).to_have_text("● recorded")
    await rows.first.get_by_role("link").click()

    player = page.get_by_label("Call recording", exact=True)
    await expect(player).to_be_visible()
    turns = page.get_by_role("list", name="Recording timeline")
    await expect(turns.locator("li.rec-turn")).to_have_count(len(TURNS))
    await expect(turns.locator("li.rec-tool")).to_contain_text("check_order_status")
    await expect(turns.locator("li.rec-tool .at")).to_have_text("0:02.0")
    cut = turns.locator("li.rec-turn").nth(3)
    await expect(cut.locator(".interrupted")).to_contain_text("heard 1.0 s of 2.0 s said")
    await expect(cut.locator(".interrupted")).to_contain_text("Heard: “Yes, tell me the new”")
    await expect(cut.locator(".said s")).to_have_text(" address and I will update the order.")

    # play from the keyboard: focus the player, Space
    await player.focus()
    await page.keyboard.press("Space")
    await page.wait_for_function(
        "document.querySelector('#player').currentTime > 1.6", timeout=15000
    )
    current = turns.locator("li[aria-current='true']")
    await expect(current).to_have_count(1)
    await expect(current).to_contain_text("Your order 100001")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "store-ui-playback.png"), full_page=True)

    # select the last turn: playback jumps to 4.5 s and the highlight follows
    await turns.locator("li.rec-turn").nth(3).get_by_role("button").click()
    await page.wait_for_function(
        "Math.abs(document.querySelector('#player').currentTime - 4.5) < 0.5", timeout=5000
    )
    await expect(current).to_contain_text("Yes, tell me the new")
    assert 4.5 <= await _current_time(page) < 5.5
    # and the highlight moves on as playback does
    await page.wait_for_function(
        "document.querySelector('#player').currentTime > 5.6 || document.querySelector('#player').ended",
        timeout=5000,
    )
    await expect(current).to_have_count(0)

    # a seek from the keyboard: Tab to the first turn, Enter
    await turns.locator("li.rec-turn").first.get_by_role("button").focus()
    await page.keyboard.press("Enter")
    await expect(current).to_contain_text("Where is my order 100001?")
    # a far seek (past what Chromium buffered of the 19 MB) is a range request from there
    await turns.locator("li.rec-turn").nth(4).get_by_role("button").click()
    await expect(current).to_contain_text("are you still there?")
    await page.wait_for_function(
        "document.querySelector('#player').currentTime > 500.2", timeout=10000
    )

    statuses = [(r.status, await r.request.header_value("range")) for r in audio]
    assert statuses[0] == (206, "bytes=0-"), statuses
    assert all(code == 206 for code, _ in statuses), statuses
    later = [int(rng.split("=")[1].split("-")[0]) for _, rng in statuses[1:] if rng]
    assert later and min(later) > 0 and max(later) > 10_000_000, statuses
    plays = await db.fetch(
        "SELECT analyst, detail FROM audit.view_log WHERE session_id = $1 AND action = 'play'", sid
    )
    assert [p["analyst"] for p in plays] == ["ana"], plays

    # the compressed copy (Ogg Opus by default) is a download beside the player, itself audited
    link = page.get_by_role("link", name="Download the compressed copy (Ogg Opus)")
    await expect(link).to_be_visible()
    await expect(page.locator("#rec-download-size")).to_have_text(re.compile(r"^[\d.]+ (KB|MB)$"))
    async with page.expect_download() as info:
        await link.click()
    download = await info.value
    assert download.suggested_filename == f"{sid}.opus"
    saved = await download.path()
    assert saved.read_bytes()[:4] == b"OggS"
    src = await page.locator("#player").get_attribute("src")
    assert src and "/recording?ticket=" in src and "format=" not in src  # the player keeps the WAV
    plays = await db.fetch(
        "SELECT analyst, detail FROM audit.view_log WHERE session_id = $1 AND action = 'play' "
        "ORDER BY id",
        sid,
    )
    assert len(plays) == 2 and '"compressed"' in plays[-1]["detail"], plays


async def test_a_session_without_recording_says_so(
    page: Page, api_url: str, publisher: Publisher, wait_stored: WaitStored
) -> None:
    """A session recorded false shows that recording was off and no player."""
    events = conversation(recording=False)
    sid = events[0].session_id
    await publisher.publish(*events)
    await wait_stored(sid, len(events))
    await _sign_in(page, api_url)
    await page.goto(f"{api_url}/#/session/{sid}")
    await expect(page.locator("#recording-status")).to_have_text(
        "No recording (recording was off for this call)."
    )
    await expect(page.locator("#player")).to_be_hidden()


async def test_a_recording_being_prepared_says_so_then_plays(
    page: Page,
    api_url: str,
    store: StoreService,
    publisher: Publisher,
    wait_stored: WaitStored,
) -> None:
    """Before recording.ended the panel says the recording is being prepared; once assembled,
    the retry (after Retry-After) shows the player without a reload."""
    customer = f"cus_prep_{uuid.uuid4().hex[:6]}"
    events = await _recorded_session(store, customer)
    sid = events[0].session_id
    *before, ended = events
    await publisher.publish(*before)
    await wait_stored(sid, len(before))
    await _sign_in(page, api_url)
    await page.goto(f"{api_url}/#/session/{sid}")
    status = page.locator("#recording-status")
    await expect(status).to_contain_text("Recording is being prepared…")
    await expect(status).to_contain_text("the call is still being recorded")
    await expect(page.locator("#player")).to_be_hidden()
    await publisher.publish(ended)
    await expect(page.get_by_label("Call recording", exact=True)).to_be_visible(timeout=20000)
    await expect(status).to_contain_text("10:00.0 · two channels: caller, assistant")
