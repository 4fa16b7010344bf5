"""The voice page's pending-change cards in headless Chromium (Debian's package, driven by
Playwright). The page is served from the gateway's web directory by a stand-in that speaks to
it over the Realtime websocket and sends the display events a two-phase tool produces (built
with the contracts and the gateway's own summaries), so the page is tested on its own."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from switchboard.contracts.display import SessionInfo, ToolCompletedDisplay, ToolStartedDisplay
from switchboard.contracts.tools import (
    CANCEL_ACTION_TOOL,
    CONFIRM_ACTION_TOOL,
    PendingAction,
    ProposedChange,
    ToolCallResult,
    ToolErrorCode,
)
from switchboard.gateway.app import WEB_DIR
from switchboard.gateway.tools import completed_summary, started_summary
from tests.gateway.conftest import serve

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


class PageServer:
    """Serves the voice page; display events put in ``events`` go to the page's socket."""

    def __init__(self) -> None:
        self.events: asyncio.Queue[str] = asyncio.Queue()
        self.url = ""
        self.app = Starlette(
            routes=[
                Route("/dev/customers", self.customers),
                Route("/dev/client_secrets", self.secret, methods=["POST"]),
                WebSocketRoute("/v1/realtime", self.realtime),
                Mount("/", StaticFiles(directory=WEB_DIR, html=True)),
            ]
        )

    async def customers(self, request: Any) -> JSONResponse:
        return JSONResponse([{"customer_id": "cus_0001", "name": "Pat Doe", "orders": []}])

    async def secret(self, request: Any) -> JSONResponse:
        return JSONResponse({"value": "ek_page_test"})

    async def realtime(self, ws: WebSocket) -> None:
        await ws.accept(subprotocol="realtime")
        await ws.send_text(
            json.dumps(
                {"type": "session.created", "event_id": "e0", "session": {"type": "realtime"}}
            )
        )
        info = SessionInfo(
            session_id="sess_page", customer_id="cus_0001", upstream="emulator", model="m"
        )
        await ws.send_text(info.model_dump_json())

        async def drain() -> None:  # the microphone's chunks, until the page goes
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                while True:
                    await ws.receive_text()

        async def relay() -> None:
            while True:
                await ws.send_text(await self.events.get())

        tasks = {asyncio.create_task(drain()), asyncio.create_task(relay())}
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def tool(self, tool: str, arguments: dict[str, Any], result: ToolCallResult) -> None:
        """The display events of one tool call answered with *result*."""
        started = ToolStartedDisplay(
            call_id=result.call_id, tool=tool, summary=started_summary(tool, arguments)
        )
        done = ToolCompletedDisplay(
            call_id=result.call_id,
            tool=tool,
            ok=result.ok,
            summary=completed_summary(tool, result),
            card=result.output if result.ok else None,
            error_code=str(result.error.code) if result.error else None,
            duration_ms=12.0,
        )
        self.events.put_nowait(started.model_dump_json())
        self.events.put_nowait(done.model_dump_json())

    def propose(
        self, call_id: str, action_id: str, tool: str, *, expires_in_s: float = 300
    ) -> None:
        pending = PendingAction(
            action_id=action_id,
            tool=tool,
            read_back=f"I'll {tool.replace('_', ' ')} for you. Shall I go ahead?",
            changes=[
                ProposedChange(field="order 100003 status", before="placed", after="cancelled")
            ],
            expires_at=datetime.now(UTC) + timedelta(seconds=expires_in_s),
        )
        output = pending.model_dump(mode="json")
        self.tool(tool, {"order_id": 100003}, ok(call_id, output))

    def decide(self, call_id: str, tool: str, action_id: str, result: ToolCallResult) -> None:
        self.tool(tool, {"action_id": action_id}, result)


def ok(call_id: str, output: dict[str, Any]) -> ToolCallResult:
    return ToolCallResult(call_id=call_id, ok=True, output=output, duration_ms=1, worker="w")


def failed(call_id: str, code: ToolErrorCode, message: str) -> ToolCallResult:
    return ToolCallResult.failure(call_id, code, message, worker="w")


@pytest.fixture
async def page_server() -> AsyncIterator[PageServer]:
    server = PageServer()
    uvicorn_server, task, port = await serve(server.app)
    server.url = f"http://127.0.0.1:{port}"
    yield server
    uvicorn_server.should_exit = True
    await task


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail("Debian's chromium is not installed (make install adds it)")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        yield browser
        await browser.close()


@pytest.fixture
async def page(browser: Browser, page_server: PageServer) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 390, "height": 844})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(page_server.url + "/")
    await page.select_option("#customer", "cus_0001")
    await page.click("#talk")
    await expect(page.locator("#status")).to_have_attribute("data-state", "live", timeout=20_000)
    yield page
    await context.close()
    assert not errors, errors


def card(page: Page, action_id: str) -> Any:
    return page.locator(f'.card.pending[data-action-id="{action_id}"]')


async def test_a_pending_change_waits_for_the_yes_then_shows_it_confirmed(
    page: Page, page_server: PageServer
) -> None:
    """A proposal shows what changes (before → after) waiting for the yes with its expiry; a
    confirmation refused because the customer had not answered says so and keeps waiting; the
    confirmation then turns the card into the original tool's result."""
    page_server.propose("c1", "pa_one", "cancel_order")
    pending = card(page, "pa_one")
    await expect(pending).to_have_attribute("data-state", "waiting")
    await expect(pending).to_contain_text("waiting for your yes")
    await expect(pending).to_contain_text("expires at")
    await expect(pending.locator(".before")).to_have_text("placed")
    await expect(pending.locator(".after")).to_have_text("cancelled")
    await expect(pending.locator(".read-back")).to_contain_text("Shall I go ahead?")

    page_server.decide(
        "c2",
        CONFIRM_ACTION_TOOL,
        "pa_one",
        failed("c2", ToolErrorCode.AWAITING_CUSTOMER, "The customer has not answered yet."),
    )
    await expect(pending.locator(".notice")).to_be_visible()
    await expect(pending.locator(".notice")).to_contain_text("before you answered")
    await expect(pending).to_have_attribute("data-state", "waiting")

    confirmed = {
        "status": "confirmed",
        "action_id": "pa_one",
        "tool": "cancel_order",
        "result": {"order_id": 100003, "status": "cancelled"},
    }
    page_server.decide("c3", CONFIRM_ACTION_TOOL, "pa_one", ok("c3", confirmed))
    await expect(pending).to_have_attribute("data-state", "confirmed")
    await expect(pending.locator("h3")).to_have_text("Order cancelled")
    await expect(pending.locator(".result")).to_contain_text("#100003")
    await expect(pending.locator(".notice")).to_be_hidden()
    assert await page.locator(".card").count() == 1  # the decisions have no cards of their own
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "voice-page-pending-change.png"), full_page=True)


async def test_no_expiry_and_refusals_settle_the_card_without_a_change(
    page: Page, page_server: PageServer
) -> None:
    """A no cancels the card; a newer proposal replaces a waiting one; an expired confirmation,
    the page's own clock and a refusal for an unverified caller each say nothing changed."""
    page_server.propose("c1", "pa_no", "update_account_info")
    page_server.decide(
        "c2",
        CANCEL_ACTION_TOOL,
        "pa_no",
        ok("c2", {"status": "cancelled", "action_id": "pa_no", "tool": "update_account_info"}),
    )
    await expect(card(page, "pa_no")).to_have_attribute("data-state", "cancelled")

    page_server.propose("c3", "pa_old", "process_return")
    page_server.propose("c4", "pa_new", "process_return")
    await expect(card(page, "pa_old")).to_have_attribute("data-state", "superseded")
    await expect(card(page, "pa_new")).to_have_attribute("data-state", "waiting")
    page_server.decide(
        "c5",
        CONFIRM_ACTION_TOOL,
        "pa_new",
        failed("c5", ToolErrorCode.EXPIRED, "That change expired; nothing was changed."),
    )
    await expect(card(page, "pa_new")).to_have_attribute("data-state", "expired")
    await expect(card(page, "pa_new").locator(".notice")).to_contain_text("expired")

    page_server.propose("c6", "pa_clock", "schedule_callback", expires_in_s=1)
    await expect(card(page, "pa_clock")).to_have_attribute("data-state", "expired", timeout=10_000)

    page_server.propose("c7", "pa_phone", "update_account_info")
    page_server.decide(
        "c8",
        CONFIRM_ACTION_TOOL,
        "pa_phone",
        failed("c8", ToolErrorCode.VERIFICATION_REQUIRED, "This change needs a verified caller."),
    )
    await expect(card(page, "pa_phone")).to_have_attribute("data-state", "refused")
    await expect(card(page, "pa_phone")).to_contain_text("nothing was changed")
