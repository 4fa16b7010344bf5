"""The price table: defaults, overrides (inline JSON or a file), refusal of malformed tables at
start-up, and Decimal cost with cached tokens counted within the inputs."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from switchboard.store.pricing import PriceTableError, TokenUsage, load_price_table
from switchboard.store.settings import StoreSettings

PRICE = {
    "text_in": "1",
    "cached_text_in": "0.1",
    "audio_in": "10",
    "cached_audio_in": "0.5",
    "text_out": "2",
    "audio_out": "20",
}


def test_the_default_table_prices_gpt_realtime_only() -> None:
    """gpt-realtime has its GA prices; any other model has none."""
    table = load_price_table("")
    price = table.price("gpt-realtime")
    assert price is not None
    assert (price.text_in, price.cached_text_in, price.text_out) == (
        Decimal("4.00"),
        Decimal("0.40"),
        Decimal("16.00"),
    )
    assert (price.audio_in, price.cached_audio_in, price.audio_out) == (
        Decimal("32.00"),
        Decimal("0.40"),
        Decimal("64.00"),
    )
    assert table.cost("gpt-realtime-mini", TokenUsage(input_text=1)) is None


def test_cost_counts_cached_tokens_within_the_inputs() -> None:
    """Uncached inputs at the full price, cached ones at the cached price, outputs by kind."""
    table = load_price_table(json.dumps({"m": PRICE}))
    usage = TokenUsage(
        input_text=1000,
        cached_text=400,
        input_audio=300,
        cached_audio=100,
        output_text=7,
        output_audio=11,
    )
    expected = (
        600 * Decimal(1)
        + 400 * Decimal("0.1")
        + 200 * Decimal(10)
        + 100 * Decimal("0.5")
        + 7 * Decimal(2)
        + 11 * Decimal(20)
    ) / Decimal(1_000_000)
    assert table.cost("m", usage) == expected
    assert table.price("gpt-realtime") is not None  # the defaults stay


def test_a_file_overrides_and_null_removes(tmp_path: Path) -> None:
    """A JSON file adds a deployment's prices; null takes a default model's price away."""
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"my-azure-deployment": PRICE, "gpt-realtime": None}))
    table = load_price_table(str(path))
    assert table.price("gpt-realtime") is None
    assert table.cost("my-azure-deployment", TokenUsage(output_audio=1_000_000)) == Decimal(20)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("{not json", "is not JSON"),
        ('{"m": {"text_in": 1}}', "m.cached_text_in: Field required"),
        ('{"m": {**}}', "is not JSON"),
        (json.dumps({"m": {**PRICE, "text_in": "-1"}}), "m.text_in"),
        (json.dumps({"m": {**PRICE, "video_in": "1"}}), "m.video_in"),
        ("/nonexistent/prices.json", "cannot read"),
    ],
)
def test_a_malformed_table_is_refused_with_a_clear_error(setting: str, message: str) -> None:
    """What cannot be read or validated is refused, saying where."""
    with pytest.raises(PriceTableError, match=message.replace("*", r"\*")):
        load_price_table(setting)


def test_the_store_refuses_to_start_with_a_malformed_table() -> None:
    """The settings validate STORE_PRICE_TABLE, so a bad table stops the store at start-up."""
    with pytest.raises(ValidationError, match="STORE_PRICE_TABLE"):
        StoreSettings(STORE_PRICE_TABLE='{"m": {"text_in": "x"}}')
