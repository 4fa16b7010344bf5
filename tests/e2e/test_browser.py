"""The voice page in headless Chromium (Debian's package, driven by Playwright) with a fake
microphone playing a spoken question: the transcript and the order-status card appear."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from switchboard.cli.audio import silence, write_wav
from tests.support.product import Product, artifact_path, order_status

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
async def browser_for(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    """Launches Chromium with a fake microphone that plays the given audio once."""
    if shutil.which(CHROMIUM) is None:
        pytest.fail("Debian's chromium is not installed (make install adds it)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browsers = []

        async def launch(audio: np.ndarray) -> Any:
            wav: Path = tmp_path_factory.mktemp("mic") / "mic.wav"
            write_wav(wav, audio)
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    "--use-fake-ui-for-media-stream",
                    "--use-fake-device-for-media-stream",
                    f"--use-file-for-fake-audio-capture={wav}%noloop",
                    "--autoplay-policy=no-user-gesture-required",
                ],
            )
            browsers.append(browser)
            return browser

        yield launch
        for browser in browsers:
            await browser.close()


async def test_page_shows_transcript_and_order_card(
    product: Product, say: Any, browser_for: Any
) -> None:
    """Asking aloud on the page (phone-sized) shows what was heard, the order-status card with
    the order's real status, and the bot's spoken answer as text; a screenshot is kept."""
    status = await order_status(product.database_url, 100001)
    audio = np.concatenate([silence(1500), say("Where is my order 100001?"), silence(3000)])
    browser = await browser_for(audio)
    page = await browser.new_page(viewport={"width": 390, "height": 844})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        await page.goto(product.gateway + "/")
        await page.select_option("#customer", "cus_0001")
        await page.click("#talk")
        card = page.locator('.card.done[data-tool="check_order_status"]')
        await card.wait_for(timeout=60_000)
        bot = page.locator(".msg.bot:not(.pending)")
        await bot.first.wait_for(timeout=60_000)
        assert "#100001" in await card.inner_text()
        assert (await card.locator(".badge").inner_text()) == status.replace("_", " ")
        assert "100001" in await page.locator(".msg.you").first.inner_text()
        assert status.replace("_", " ") in (await bot.first.inner_text()).lower()
        assert await page.locator("#status").get_attribute("data-state") == "live"
        assert await page.locator("#error").is_hidden()
    finally:
        await page.screenshot(path=str(artifact_path("voice-page.png")), full_page=True)
    await page.click("#talk")  # hang up
    assert await page.locator("#status").inner_text() == "Call ended"
    assert errors == []


# Replaces getUserMedia with a stream the test feeds: window.__mic.say(base64 pcm16 24 kHz)
# plays into the latest stream getUserMedia gave.
# Everything after getUserMedia (worklet, encoding, protocol, playback, barge-in) is the page's.
INJECTED_MICROPHONE = """
(() => {
  const ctx = new AudioContext({ sampleRate: 24000 });
  // each getUserMedia gets a stream of its own, as from a real device (the page stops the old
  // one's tracks when it hangs up or reconnects)
  let dest = ctx.createMediaStreamDestination();
  window.__mic = {
    say(b64) {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const pcm = new Int16Array(bytes.buffer);
      const buffer = ctx.createBuffer(1, pcm.length, 24000);
      const data = buffer.getChannelData(0);
      for (let i = 0; i < pcm.length; i++) data[i] = pcm[i] / 32768;
      const source = ctx.createBufferSource();
      source.buffer = buffer;
      source.connect(dest);
      source.start();
    },
  };
  navigator.mediaDevices.getUserMedia = async () => {
    await ctx.resume();
    dest = ctx.createMediaStreamDestination();
    return dest.stream;
  };
})();
"""


async def test_page_barge_in_stops_playback_and_is_stored(
    product: Product, say: Any, browser_for: Any
) -> None:
    """Speaking while the bot's answer plays stops playback at once, marks the answer
    interrupted on the page, and the store records the interruption with what was heard."""
    from switchboard.cli.audio import pcm_to_b64

    browser = await browser_for(silence(500))  # the fake device is unused here
    page = await browser.new_page()
    await page.add_init_script(INJECTED_MICROPHONE)
    await page.goto(product.gateway + "/")
    await page.select_option("#customer", "cus_0002")
    await page.click("#talk")
    await page.wait_for_selector('#status[data-state="live"]', timeout=30_000)
    await page.evaluate(
        "b64 => window.__mic.say(b64)", pcm_to_b64(say("Where is my order 100004?"))
    )
    # wait until the answer is audible with seconds of it still queued, then talk over it
    await page.wait_for_function(
        """() => { const p = window.switchboardVoice.call.player;
                   return p && p.playing && p.nextTime - p.context.currentTime > 3; }""",
        timeout=60_000,
    )
    await page.evaluate("b64 => window.__mic.say(b64)", pcm_to_b64(say("Stop please.")))
    cut = page.locator('.msg.bot[data-interrupted="true"]')
    await cut.wait_for(timeout=30_000)
    assert not await page.evaluate("window.switchboardVoice.call.player.playing")
    reference = await page.locator("#session-id").inner_text()
    session_id = reference.removeprefix("Reference: ").strip()
    stored = await product.stored_session(
        session_id,
        until=lambda d: any(
            e["kind"] == "assistant" and e.get("interrupted") for e in d["timeline"]
        ),
    )
    [item] = [e for e in stored["timeline"] if e["kind"] == "assistant" and e["interrupted"]]
    assert item["heard_ms"] > 0
    await page.screenshot(path=str(artifact_path("voice-page-barge-in.png")), full_page=True)
    await page.click("#talk")


async def test_page_resumes_the_same_conversation_after_its_connection_drops(
    product: Product, say: Any, browser_for: Any
) -> None:
    """The page's connection is cut (every socket through a proxy aborted, new ones refused for
    a while): it shows "Reconnecting…", retries until the network is back, resumes the same
    conversation (same reference, one session in the store with a resume) and answers the next
    question."""
    from urllib.parse import urlsplit

    from switchboard.cli.audio import pcm_to_b64
    from switchboard.cli.faultproxy import TcpProxy

    gateway = urlsplit(product.gateway)
    proxy = TcpProxy(gateway.hostname or "127.0.0.1", gateway.port or 80)
    await proxy.up()
    browser = await browser_for(silence(500))
    page = await browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.add_init_script(INJECTED_MICROPHONE)
    try:
        await page.goto(f"http://127.0.0.1:{proxy.port}/")
        await page.select_option("#customer", "cus_0001")
        await page.click("#talk")
        await page.wait_for_selector('#status[data-state="live"]', timeout=30_000)
        session_id = await page.evaluate("window.switchboardVoice.call.sessionId")
        assert session_id

        await proxy.down()  # the network goes away: sockets cut, connections refused
        await page.wait_for_selector('#status[data-state="reconnecting"]', timeout=15_000)
        # the page keeps trying while the network is down (its secret requests fail)
        await page.wait_for_function(
            "() => window.switchboardVoice.call.state === 'reconnecting'", timeout=5_000
        )
        await proxy.up()
        await page.wait_for_selector('#status[data-state="live"]', timeout=30_000)
        assert await page.evaluate("window.switchboardVoice.call.sessionId") == session_id
        assert await page.evaluate("window.switchboardVoice.call.resumes") == 1

        await page.evaluate(
            "b64 => window.__mic.say(b64)", pcm_to_b64(say("Where is my order 100001?"))
        )
        card = page.locator('.card.done[data-tool="check_order_status"]')
        await card.wait_for(timeout=60_000)
        assert "#100001" in await card.inner_text()
        assert await page.locator("#error").is_hidden()
    finally:
        await page.screenshot(path=str(artifact_path("voice-page-resumed.png")), full_page=True)
        await proxy.down()
    stored = await product.stored_session(
        session_id,
        until=lambda d: (
            d["session"]["resumes"] >= 1 and any(e["kind"] == "tool" for e in d["timeline"])
        ),
    )
    assert stored["session"]["resumes"] == 1
    assert [e["kind"] for e in stored["timeline"]].count("session.started") == 1
    assert errors == []
