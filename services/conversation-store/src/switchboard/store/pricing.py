"""The price table: USD per 1M tokens, per model and token kind, and the cost of token usage
under it. Pure: no I/O but reading the table's file once at start-up.

Usage counts cached tokens *within* the input tokens (``response.done``'s ``usage``), so the
cost of an input kind is ``(input - cached) * price + cached * cached_price``. Arithmetic is in
:class:`~decimal.Decimal`, so a cost is exactly the table applied to the stored tokens. A model
the table does not name has no price: its cost is ``None`` (shown as "no price"), never 0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

__all__ = [
    "DEFAULT_PRICES",
    "PRICES_AS_OF",
    "ModelPrice",
    "PriceTable",
    "PriceTableError",
    "TokenUsage",
    "load_price_table",
]

#: When and where the default prices were read (docs/store.md, "Cost").
PRICES_AS_OF = "2025-08-28, OpenAI's published prices for gpt-realtime at its general availability"
_MILLION = Decimal(1_000_000)

Price = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=6)]


class ModelPrice(BaseModel):
    """USD per 1M tokens of each kind, for one model (or deployment)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text_in: Price
    cached_text_in: Price
    audio_in: Price
    cached_audio_in: Price
    text_out: Price
    audio_out: Price


#: The defaults; models not named here have no price unless ``STORE_PRICE_TABLE`` adds them.
DEFAULT_PRICES: dict[str, ModelPrice] = {
    "gpt-realtime": ModelPrice(
        text_in=Decimal("4.00"),
        cached_text_in=Decimal("0.40"),
        audio_in=Decimal("32.00"),
        cached_audio_in=Decimal("0.40"),
        text_out=Decimal("16.00"),
        audio_out=Decimal("64.00"),
    ),
}

#: What ``STORE_PRICE_TABLE`` holds: model -> prices, or null to remove a default.
_TableAdapter = TypeAdapter(
    dict[Annotated[str, Field(min_length=1, max_length=128)], ModelPrice | None]
)


class PriceTableError(ValueError):
    """``STORE_PRICE_TABLE`` is unreadable or malformed (refused at start-up)."""


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Token counts of one or more responses of one model (cached counts are of the inputs)."""

    input_text: int = 0
    input_audio: int = 0
    cached_text: int = 0
    cached_audio: int = 0
    output_text: int = 0
    output_audio: int = 0


@dataclass(frozen=True)
class PriceTable:
    prices: dict[str, ModelPrice]

    def price(self, model: str) -> ModelPrice | None:
        return self.prices.get(model)

    def cost(self, model: str, usage: TokenUsage) -> Decimal | None:
        """USD for *usage* of *model*; None when the table has no price for it."""
        p = self.prices.get(model)
        if p is None:
            return None
        total = (
            (usage.input_text - usage.cached_text) * p.text_in
            + usage.cached_text * p.cached_text_in
            + (usage.input_audio - usage.cached_audio) * p.audio_in
            + usage.cached_audio * p.cached_audio_in
            + usage.output_text * p.text_out
            + usage.output_audio * p.audio_out
        )
        return total / _MILLION


def load_price_table(setting: str) -> PriceTable:
    """The defaults, overridden model by model by *setting*: empty, JSON (starting with ``{``)
    or the path of a JSON file. A model set to null is removed (it then has no price)."""
    prices = dict(DEFAULT_PRICES)
    raw = setting.strip()
    if not raw:
        return PriceTable(prices)
    if not raw.startswith("{"):
        try:
            raw = Path(raw).read_text(encoding="utf-8")
        except OSError as exc:
            raise PriceTableError(f"STORE_PRICE_TABLE: cannot read {setting!r}: {exc}") from exc
    try:
        table = _TableAdapter.validate_python(json.loads(raw, parse_float=Decimal))
    except json.JSONDecodeError as exc:
        raise PriceTableError(f"STORE_PRICE_TABLE is not JSON: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "table"
        raise PriceTableError(f"STORE_PRICE_TABLE: {where}: {first['msg']}") from exc
    for model, price in table.items():
        if price is None:
            prices.pop(model, None)
        else:
            prices[model] = price
    return PriceTable(prices)
