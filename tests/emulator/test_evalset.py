"""The emulator's evaluation set is what the benchmark says it is: at least 200 spoken questions
over all eleven tools, from the seeded data, two halves with phrasings of their own, and every
voice and noise in the held-out half; and four fresh splits (fresh; fresh2, the blind one once
fresh was tuned on; fresh3, sealed once fresh2 was read, opened for tuning on 2026-12-05; and
fresh4, sealed since) over all eleven tools whose phrasings are none of the earlier splits',
whose questions carry arguments the tools accept."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime, time, timedelta
from pathlib import Path

import jsonschema
import pytest

from bench.evalset import (
    _FRESH,
    _FRESH2,
    _FRESH3,
    _FRESH4,
    _LANGUAGES,
    _PHRASINGS,
    _TIMES,
    FRESH2_PER_TOOL,
    FRESH3_PER_TOOL,
    FRESH4_PER_TOOL,
    FRESH_PER_TOOL,
    PER_TOOL,
    SEALED,
    SPLITS,
    VOICES,
    build_questions,
)
from switchboard.cli.seed import build_dataset

AS_OF = date(2026, 11, 1)
SHOP_TOOLS = json.loads((Path(__file__).parent / "data" / "shop_tools.json").read_text())


def shape(text: str) -> str:
    return "".join(c for c in text if not c.isdigit())


def test_set_covers_every_tool_in_two_halves_with_their_own_phrasings() -> None:
    """220 questions in the two halves, 20 per tool, half held out; no held-out phrasing is a
    tuning phrasing."""
    questions = [q for q in build_questions(as_of=AS_OF) if q.split in ("tuning", "heldout")]
    assert len(questions) >= 200
    assert Counter(q.tool for q in questions) == {t["name"]: PER_TOOL for t in SHOP_TOOLS}
    halves = Counter(q.split for q in questions)
    assert halves["tuning"] == halves["heldout"] == len(questions) // 2

    tuning = {shape(q.text) for q in questions if q.split == "tuning"}
    heldout = [q for q in questions if q.split == "heldout"]
    assert not tuning & {shape(q.text) for q in heldout}
    assert {(q.voice, q.speed) for q in heldout} == set(VOICES)
    assert {None, "phone"} <= {q.noise for q in heldout}


def test_questions_ask_about_orders_their_caller_owns_once() -> None:
    """Every order asked about belongs to the caller in the seeded data, and none is used twice;
    nor is any caller, across all the splits."""
    owners = {o["id"]: o["customer_id"] for o in build_dataset(as_of=AS_OF).orders}
    questions = build_questions(as_of=AS_OF)
    ordered = [q for q in questions if q.order_id is not None]
    assert ordered
    assert {q.split for q in ordered} == set(SPLITS)
    assert all(owners[q.order_id] == q.customer_id for q in ordered)
    assert len({q.order_id for q in ordered}) == len(ordered)
    assert len({q.customer_id for q in questions}) == len(questions)


def test_fresh_split_covers_every_tool_with_phrasings_of_its_own() -> None:
    """The fresh split: 10 questions for each of the eleven tools, 3 or 4 phrasings each, none of
    them a tuning or held-out phrasing (nor the same once the numbers are left out), every voice
    and noise; the two halves come first and are as they were without it."""
    questions = build_questions(as_of=AS_OF)
    fresh = [q for q in questions if q.split == "fresh"]
    assert {q.split for q in questions} == set(SPLITS)
    assert Counter(q.tool for q in fresh) == {t["name"]: FRESH_PER_TOOL for t in SHOP_TOOLS}
    assert set(_FRESH) == set(_PHRASINGS) == {t["name"] for t in SHOP_TOOLS}
    assert all(3 <= len(phrasings) <= 4 for phrasings in _FRESH.values())
    old = {p for halves in _PHRASINGS.values() for half in halves for p in half}
    new = {p for phrasings in _FRESH.values() for p in phrasings}
    assert not old & new
    assert not {shape(q.text) for q in questions if q.split in ("tuning", "heldout")} & {
        shape(q.text) for q in fresh
    }
    assert len({q.qid for q in questions}) == len(questions)
    assert {(q.voice, q.speed) for q in fresh} == set(VOICES)
    assert {None, "phone", 15.0, 20.0} <= {q.noise for q in fresh}
    halves = build_questions(
        as_of=AS_OF, fresh_per_tool=0, fresh2_per_tool=0, fresh3_per_tool=0, fresh4_per_tool=0
    )
    assert [q for q in questions if q.split in ("tuning", "heldout")] == halves
    assert [q.split for q in questions[: len(halves) + len(fresh)]] == [q.split for q in halves] + [
        "fresh"
    ] * len(fresh)


#: the blind splits after the fresh one, in order: (split, its phrasings, questions per tool)
LATER_SPLITS = [
    ("fresh2", _FRESH2, FRESH2_PER_TOOL),
    ("fresh3", _FRESH3, FRESH3_PER_TOOL),
    ("fresh4", _FRESH4, FRESH4_PER_TOOL),
]
#: each split's phrasings, in the order the splits come
PHRASINGS_BY_SPLIT = {"fresh": _FRESH, **{name: phrasings for name, phrasings, _ in LATER_SPLITS}}


@pytest.mark.parametrize("position", range(len(LATER_SPLITS)), ids=[s for s, _, _ in LATER_SPLITS])
def test_later_split_covers_every_tool_with_phrasings_of_its_own(position: int) -> None:
    """Each blind split after the fresh one (fresh2; fresh3, sealed until 2026-12-05; fresh4,
    sealed now): 10 questions for each of the eleven tools, 3 or 4 phrasings each, none of them a
    phrasing of an earlier split (nor the same once the numbers are left out), every voice and
    noise, other products than the split just before it's (fresh2: than fresh's) and as few of
    the earlier fresh splits' as the catalogue allows; it comes right after the split before it,
    and every earlier question (split, order, voice, noise, product) is as it was without it;
    each callback phrasing says one spoken time, each language phrasing one language."""
    name, phrasings, per_tool = LATER_SPLITS[position]
    questions = build_questions(as_of=AS_OF)
    split = [q for q in questions if q.split == name]
    assert Counter(q.tool for q in split) == {t["name"]: per_tool for t in SHOP_TOOLS}
    assert set(phrasings) == set(_PHRASINGS) == {t["name"] for t in SHOP_TOOLS}
    assert all(3 <= len(p) <= 4 for p in phrasings.values())
    earlier_splits = ["fresh", *(s for s, _, _ in LATER_SPLITS[:position])]
    old = {p for halves in _PHRASINGS.values() for half in halves for p in half}
    for earlier in earlier_splits:
        old |= {p for ps in PHRASINGS_BY_SPLIT[earlier].values() for p in ps}
    new = {p for ps in phrasings.values() for p in ps}
    assert not old & new
    assert not {shape(q.text) for q in questions if q.split != name} & {
        shape(q.text) for q in split
    }
    assert {(q.voice, q.speed) for q in split} == set(VOICES)
    assert {None, "phone", 15.0, 20.0} <= {q.noise for q in split}

    # products: none of the split just before's; of the earlier fresh splits', only as many as
    # the catalogue leaves no choice about (fresh2 asks about none of fresh's; fresh3 asks about
    # the three products neither fresh split asked about before the fresh split's; for fresh4
    # none is left that no fresh split asked about)
    products = {
        s: {
            q.arguments["product_name"]
            for q in questions
            if q.split == s and q.tool == "get_product_info"
        }
        for s in (*earlier_splits, name)
    }
    assert len(products[name]) == per_tool
    assert not products[earlier_splits[-1]] & products[name]
    names = {str(p["name"]).split(" (")[0] for p in build_dataset(as_of=AS_OF).products}
    catalogue = {n.lower() for n in names if ":" not in n and "'" not in n}
    assert products[name] <= catalogue
    asked = set().union(*(products[s] for s in earlier_splits))
    unasked = catalogue - asked
    assert len(products[name] - asked) == min(per_tool, len(unasked))

    # the earlier splits come first, in the same count and order, with the same orders, voices
    # and products; this split right after them
    without = {f"{s}_per_tool": 0 for s, _, _ in LATER_SPLITS[position:]}
    before = build_questions(as_of=AS_OF, **without)
    assert questions[: len(before)] == before
    assert questions[len(before) : len(before) + len(split)] == split
    assert Counter(q.split for q in before) == {
        "tuning": len(SHOP_TOOLS) * PER_TOOL // 2,
        "heldout": len(SHOP_TOOLS) * PER_TOOL // 2,
        "fresh": len(SHOP_TOOLS) * FRESH_PER_TOOL,
        **{s: len(SHOP_TOOLS) * n for s, _, n in LATER_SPLITS[:position]},
    }
    if position == len(LATER_SPLITS) - 1:
        assert questions[len(before) :] == split

    # each callback phrasing says one spoken time, each language phrasing one language; and the
    # times added for this split leave every earlier callback phrasing saying exactly one
    earlier = [*(p for half in _PHRASINGS["schedule_callback"] for p in half)]
    for s in earlier_splits:
        earlier += PHRASINGS_BY_SPLIT[s]["schedule_callback"]
    for phrasing in [*earlier, *phrasings["schedule_callback"]]:
        assert sum(spoken in phrasing for spoken in _TIMES) == 1, phrasing
    for phrasing in phrasings["update_account_info"]:
        assert sum(language in phrasing for language in _LANGUAGES) == 1, phrasing


def test_only_the_newest_blind_split_is_sealed() -> None:
    """fresh4 is the sealed split (fresh3 was opened for tuning on 2026-12-05), and it is the
    last split."""
    assert SEALED == {"fresh4"} == {SPLITS[-1]}


def test_set_builds_for_dates_around_the_set_day() -> None:
    """The seeded data has unused orders of every status the six splits need, for days well
    before and after the set's and around today (it raises LookupError otherwise)."""
    for as_of in (AS_OF, date.today()):
        for days in (-90, -30, 0, 30, 90):
            questions = build_questions(as_of=as_of + timedelta(days=days))
            splits = Counter(q.split for q in questions)
            assert splits["fresh2"] == len(SHOP_TOOLS) * FRESH2_PER_TOOL
            assert splits["fresh3"] == len(SHOP_TOOLS) * FRESH3_PER_TOOL
            assert splits["fresh4"] == len(SHOP_TOOLS) * FRESH4_PER_TOOL


def test_fresh_questions_carry_arguments_the_tools_accept() -> None:
    """Each fresh, fresh2, fresh3 or fresh4 question's expected arguments are ones its tool's
    schema accepts, a spoken order number is the asked order's, and a callback is asked for
    inside business hours on a weekday after the day the set is for."""
    schemas = {t["name"]: t["parameters"]["properties"] for t in SHOP_TOOLS}
    words = ["oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    for q in build_questions(as_of=AS_OF):
        if q.split not in ("fresh", "fresh2", "fresh3", "fresh4"):
            continue
        assert q.arguments or q.tool in ("list_recent_orders", "get_customer_info"), q.qid
        for name, value in q.arguments.items():
            jsonschema.validate(value, schemas[q.tool][name])
        if q.order_id is not None:
            spoken = " ".join(words[int(d)] for d in str(q.order_id))
            assert str(q.order_id) in q.text or spoken in q.text, q.qid
        if q.tool == "schedule_callback":
            when = datetime.fromisoformat(q.arguments["callback_time"])
            assert when.date() > AS_OF and when.weekday() < 5
            assert time(9) <= when.time() < time(17)
        if q.tool == "update_account_info":
            assert q.arguments["value"].capitalize() in q.text
