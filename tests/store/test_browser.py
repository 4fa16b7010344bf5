"""The analyst web UI in headless Chromium (Debian's package, driven by Playwright): sign in,
filter the session list, open a timeline, search, stats; a screenshot goes to artifacts/."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.store.conftest import ACCOUNTS, Publisher, WaitStored
from tests.store.factories import conversation, usage

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


async def _sign_in(page: Page, api_url: str, name: str, password: str) -> None:
    await page.goto(api_url + "/")
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def test_wrong_password_is_refused(page: Page, api_url: str) -> None:
    """A wrong password shows an error and no data."""
    await _sign_in(page, api_url, "ana", "nope")
    await expect(page.get_by_role("alert")).to_have_text("Wrong name or password.")
    await expect(page.locator("#view-sessions")).to_be_hidden()


async def test_an_analyst_finds_a_session_and_reads_its_timeline(
    page: Page, api_url: str, publisher: Publisher, wait_stored: WaitStored
) -> None:
    """Filter by customer, open the session: user and bot bubbles, the interruption with what
    was heard, the tool card with arguments and result, the latency; then search and stats."""
    customer = f"cus_ui_{uuid.uuid4().hex[:6]}"
    events = conversation(
        customer_id=customer,
        user_text="My toaster arrived scorched, can I return it?",
        tool="start_return",
        arguments={"order_id": 100042, "reason": "arrived scorched"},
        output={"return_id": "ret_77", "label_url": "https://labels.example/ret_77"},
        reply="I have started a return for your toaster; the label is on its way.",
    )
    await publisher.publish(*events)
    await wait_stored(events[0].session_id, len(events))

    await _sign_in(page, api_url, "ana", ACCOUNTS["ana"][0])
    await expect(page.locator("#who")).to_have_text("ana (analyst)")
    await page.get_by_label("Customer").fill(customer)
    await page.get_by_role("button", name="Apply").click()
    rows = page.locator("#sessions-body tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text(customer)
    await rows.first.get_by_role("link").click()

    timeline = page.get_by_role("list", name="Conversation timeline")
    await expect(timeline.locator("li.user .bubble")).to_contain_text("toaster arrived scorched")
    bot = timeline.locator("li.assistant .bubble")
    await expect(bot).to_contain_text("started a return")
    await expect(bot.locator(".interrupted")).to_contain_text("Interrupted after 1.5 s")
    card = timeline.locator("li.tool")
    await expect(card).to_contain_text("start_return")
    await expect(card.locator(".after-turn")).to_contain_text(
        "After the customer's turn: “My toaster arrived scorched"
    )
    await expect(card.locator("pre").first).to_contain_text('"order_id": 100042')
    await expect(card.locator("pre").nth(1)).to_contain_text("ret_77")
    await expect(timeline.locator("li.latency")).to_contain_text("420 ms")
    await expect(page.locator("#delete-session")).to_be_hidden()  # analysts cannot delete
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "store-ui-timeline.png"), full_page=True)

    await page.get_by_role("link", name="Search").click()
    await page.get_by_label('Words or "a phrase"').fill("scorched toaster")
    await page.get_by_role("button", name="Search", exact=True).click()
    hit = page.locator("#hits li").filter(has_text=customer)
    await expect(hit.locator("mark").first).to_have_text("toaster")

    await page.get_by_role("link", name="Stats").click()
    await expect(page.locator("#stat-cards")).to_contain_text("Escalation rate")
    await expect(page.locator("#tools-body")).to_contain_text("start_return")
    await page.screenshot(path=str(ARTIFACTS / "store-ui-stats.png"), full_page=True)


async def test_every_form_control_has_a_label(page: Page, api_url: str) -> None:
    """Inputs and selects are labelled (accessibility)."""
    await _sign_in(page, api_url, "ana", ACCOUNTS["ana"][0])
    await expect(page.locator("#who")).to_have_text("ana (analyst)")
    unlabelled = await page.evaluate(
        """() => [...document.querySelectorAll('input, select')]
              .filter((el) => !el.labels || el.labels.length === 0).map((el) => el.id)"""
    )
    assert unlabelled == []


async def test_the_dashboard_draws_charts_with_axes_and_filters_change_them(
    page: Page, api_url: str, publisher: Publisher, wait_stored: WaitStored
) -> None:
    """Stats: a chosen range shows five SVG charts with titles and axis labels and the totals;
    a language filter changes the numbers and the bars."""
    base = datetime(2021, 4, 5, 9, tzinfo=UTC)
    batches = [
        conversation(
            started_at=base + timedelta(hours=3 * i),
            language="de" if i < 2 else "en",
            usages=[usage(text_in=1000, audio_out=500, estimated=True)],
        )
        for i in range(5)
    ] + [conversation(started_at=base + timedelta(days=1), tool="escalate_to_human")]
    for events in batches:
        await publisher.publish(*events)
    for events in batches:
        await wait_stored(events[0].session_id, len(events))

    await _sign_in(page, api_url, "ana", ACCOUNTS["ana"][0])
    await expect(page.locator("#who")).to_have_text("ana (analyst)")
    await page.get_by_role("link", name="Stats").click()
    form = page.locator("#dash-filters")
    await form.get_by_label("From").fill("2021-04-04")
    await form.get_by_label("Until (inclusive)").fill("2021-04-07")
    await form.get_by_role("button", name="Show").click()
    charts = page.locator("#charts figure svg")
    await expect(charts).to_have_count(5)
    await expect(page.locator("#dash-cards")).to_contain_text("Calls6")
    # 5 calls * (1,000 text in * $4 + 500 audio out * $64) / 1M = $0.18, from emulator estimates
    await expect(page.locator("#dash-cards")).to_contain_text("Cost$0.1800 (estimate)")
    await expect(page.locator('#charts figure[data-chart="cost"] svg title').first).to_have_text(
        "Cost (USD) (estimated)"
    )
    calls = page.locator('#charts figure[data-chart="calls"] svg')
    await expect(calls.locator("text.axis-label")).to_have_text(
        ["session start (day, UTC)", "calls"]
    )
    await expect(calls.locator("text.tick").filter(has_text="05 Apr")).to_have_count(1)
    await expect(calls.locator('rect[data-series="escalated"]')).to_have_count(1)
    await expect(page.locator('#charts figure[data-chart="latency"] svg title').first).to_have_text(
        "Turn latency p50 / p95"
    )
    await expect(
        page.get_by_role("img", name="Calls: resolved without a human vs escalated")
    ).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "store-ui-dashboard.png"), full_page=True)

    await form.get_by_label("Language").fill("de")
    await form.get_by_role("button", name="Show").click()
    await expect(page.locator("#dash-cards")).to_contain_text("Calls2")
    await expect(calls.locator('rect[data-series="escalated"]')).to_have_count(0)
    await expect(calls.locator('rect[data-series="resolved"]')).to_have_attribute("data-value", "2")

    # one day: hourly buckets
    await form.get_by_label("Language").fill("")
    await form.get_by_label("Until (inclusive)").fill("2021-04-05")
    await form.get_by_label("From").fill("2021-04-05")
    await form.get_by_role("button", name="Show").click()
    await expect(calls.locator("text.axis-label").first).to_have_text("session start (hour, UTC)")
    await expect(calls.locator('rect[data-series="resolved"]')).to_have_count(5)
