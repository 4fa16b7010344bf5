"""The emulator's evaluation set is what the benchmark says it is: at least 200 spoken questions
over all eleven tools, from the seeded data, two halves with phrasings of their own, and every
voice and noise in the held-out half."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

from bench.evalset import VOICES, build_questions
from switchboard.cli.seed import build_dataset

AS_OF = date(2026, 11, 1)
SHOP_TOOLS = json.loads((Path(__file__).parent / "data" / "shop_tools.json").read_text())


def test_set_covers_every_tool_in_two_halves_with_their_own_phrasings() -> None:
    """220 questions, 20 per tool, half held out; no held-out phrasing is a tuning phrasing."""
    questions = build_questions(as_of=AS_OF)
    assert len(questions) >= 200
    assert Counter(q.tool for q in questions) == {t["name"]: 20 for t in SHOP_TOOLS}
    halves = Counter(q.split for q in questions)
    assert halves["tuning"] == halves["heldout"] == len(questions) // 2

    def shape(text: str) -> str:
        return "".join(c for c in text if not c.isdigit())

    tuning = {shape(q.text) for q in questions if q.split == "tuning"}
    heldout = [q for q in questions if q.split == "heldout"]
    assert not tuning & {shape(q.text) for q in heldout}
    assert {(q.voice, q.speed) for q in heldout} == set(VOICES)
    assert {None, "phone"} <= {q.noise for q in heldout}


def test_questions_ask_about_orders_their_caller_owns_once() -> None:
    """Every order asked about belongs to the caller in the seeded data, and none is used twice."""
    owners = {o["id"]: o["customer_id"] for o in build_dataset(as_of=AS_OF).orders}
    ordered = [q for q in build_questions(as_of=AS_OF) if q.order_id is not None]
    assert ordered
    assert all(owners[q.order_id] == q.customer_id for q in ordered)
    assert len({q.order_id for q in ordered}) == len(ordered)
