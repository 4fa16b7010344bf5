"""The emulator's evaluation set is what the benchmark says it is: at least 200 spoken questions
over all eleven tools, from the seeded data, two halves with phrasings of their own, and every
voice and noise in the held-out half; and three fresh splits (fresh; fresh2, the blind one since
fresh was tuned on; and fresh3, sealed since fresh2 was read) over all eleven tools whose
phrasings are none of the earlier splits', whose questions carry arguments the tools accept."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime, time, timedelta
from pathlib import Path

import jsonschema

from bench.evalset import (
    _FRESH,
    _FRESH2,
    _FRESH3,
    _LANGUAGES,
    _PHRASINGS,
    _TIMES,
    FRESH2_PER_TOOL,
    FRESH3_PER_TOOL,
    FRESH_PER_TOOL,
    PER_TOOL,
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
    halves = build_questions(as_of=AS_OF, fresh_per_tool=0, fresh2_per_tool=0, fresh3_per_tool=0)
    assert [q for q in questions if q.split in ("tuning", "heldout")] == halves
    assert [q.split for q in questions[: len(halves) + len(fresh)]] == [q.split for q in halves] + [
        "fresh"
    ] * len(fresh)


def test_fresh2_split_covers_every_tool_with_phrasings_of_its_own() -> None:
    """The fresh2 split: 10 questions for each of the eleven tools, 3 or 4 phrasings each, none of
    them a phrasing of an earlier split (nor the same once the numbers are left out), every voice
    and noise, other products than the fresh split's; it comes after the fresh split (only the
    sealed fresh3 follows it), and every earlier question (split, order, voice, noise) is as it
    was without it."""
    questions = build_questions(as_of=AS_OF)
    fresh2 = [q for q in questions if q.split == "fresh2"]
    assert Counter(q.tool for q in fresh2) == {t["name"]: FRESH2_PER_TOOL for t in SHOP_TOOLS}
    assert set(_FRESH2) == set(_PHRASINGS) == {t["name"] for t in SHOP_TOOLS}
    assert all(3 <= len(phrasings) <= 4 for phrasings in _FRESH2.values())
    old = {p for halves in _PHRASINGS.values() for half in halves for p in half}
    old |= {p for phrasings in _FRESH.values() for p in phrasings}
    new = {p for phrasings in _FRESH2.values() for p in phrasings}
    assert not old & new
    assert not {shape(q.text) for q in questions if q.split != "fresh2"} & {
        shape(q.text) for q in fresh2
    }
    assert {(q.voice, q.speed) for q in fresh2} == set(VOICES)
    assert {None, "phone", 15.0, 20.0} <= {q.noise for q in fresh2}
    products = {
        split: {
            q.arguments["product_name"]
            for q in questions
            if q.split == split and q.tool == "get_product_info"
        }
        for split in ("fresh", "fresh2")
    }
    assert products["fresh2"] and not products["fresh"] & products["fresh2"]
    # the earlier splits come first, in the same count and order, with the same orders and voices
    before = build_questions(as_of=AS_OF, fresh2_per_tool=0, fresh3_per_tool=0)
    assert questions[: len(before)] == before
    assert questions[len(before) : len(before) + len(fresh2)] == fresh2
    assert Counter(q.split for q in before) == {
        "tuning": len(SHOP_TOOLS) * PER_TOOL // 2,
        "heldout": len(SHOP_TOOLS) * PER_TOOL // 2,
        "fresh": len(SHOP_TOOLS) * FRESH_PER_TOOL,
    }
    # each callback phrasing says one spoken time, each language phrasing one language
    for phrasing in _FRESH2["schedule_callback"]:
        assert sum(spoken in phrasing for spoken in _TIMES) == 1, phrasing
    for phrasing in _FRESH2["update_account_info"]:
        assert sum(name in phrasing for name in _LANGUAGES) == 1, phrasing


def test_fresh3_split_covers_every_tool_with_phrasings_of_its_own() -> None:
    """The sealed fresh3 split: 10 questions for each of the eleven tools, 3 or 4 phrasings each,
    none of them a phrasing of an earlier split (nor the same once the numbers are left out),
    every voice and noise, other products than fresh2's and as few of fresh's as the catalogue
    allows; it comes last, and every earlier question (split, order, voice, noise) is as it was
    without it."""
    questions = build_questions(as_of=AS_OF)
    fresh3 = [q for q in questions if q.split == "fresh3"]
    assert Counter(q.tool for q in fresh3) == {t["name"]: FRESH3_PER_TOOL for t in SHOP_TOOLS}
    assert set(_FRESH3) == set(_PHRASINGS) == {t["name"] for t in SHOP_TOOLS}
    assert all(3 <= len(phrasings) <= 4 for phrasings in _FRESH3.values())
    old = {p for halves in _PHRASINGS.values() for half in halves for p in half}
    old |= {p for phrasings in _FRESH.values() for p in phrasings}
    old |= {p for phrasings in _FRESH2.values() for p in phrasings}
    new = {p for phrasings in _FRESH3.values() for p in phrasings}
    assert not old & new
    assert not {shape(q.text) for q in questions if q.split != "fresh3"} & {
        shape(q.text) for q in fresh3
    }
    assert {(q.voice, q.speed) for q in fresh3} == set(VOICES)
    assert {None, "phone", 15.0, 20.0} <= {q.noise for q in fresh3}
    products = {
        split: {
            q.arguments["product_name"]
            for q in questions
            if q.split == split and q.tool == "get_product_info"
        }
        for split in ("fresh", "fresh2", "fresh3")
    }
    assert len(products["fresh3"]) == FRESH3_PER_TOOL
    assert not products["fresh2"] & products["fresh3"]
    # the catalogue is too small for ten products neither fresh split asked about: fresh3 asks
    # about every one of those there are, and only then about the fresh split's
    names = {str(p["name"]).split(" (")[0] for p in build_dataset(as_of=AS_OF).products}
    catalogue = {n.lower() for n in names if ":" not in n and "'" not in n}
    unasked = catalogue - products["fresh"] - products["fresh2"]
    assert products["fresh3"] <= catalogue
    assert len(products["fresh3"] - products["fresh"]) == min(FRESH3_PER_TOOL, len(unasked))
    # the earlier splits come first, in the same count and order, with the same orders and voices
    before = build_questions(as_of=AS_OF, fresh3_per_tool=0)
    assert questions[: len(before)] == before
    assert questions[len(before) :] == fresh3
    assert Counter(q.split for q in before) == {
        "tuning": len(SHOP_TOOLS) * PER_TOOL // 2,
        "heldout": len(SHOP_TOOLS) * PER_TOOL // 2,
        "fresh": len(SHOP_TOOLS) * FRESH_PER_TOOL,
        "fresh2": len(SHOP_TOOLS) * FRESH2_PER_TOOL,
    }
    # each callback phrasing says one spoken time, each language phrasing one language; and the
    # times added for fresh3 leave every earlier callback phrasing saying exactly one
    earlier = [*(p for half in _PHRASINGS["schedule_callback"] for p in half)]
    earlier += [*_FRESH["schedule_callback"], *_FRESH2["schedule_callback"]]
    for phrasing in [*earlier, *_FRESH3["schedule_callback"]]:
        assert sum(spoken in phrasing for spoken in _TIMES) == 1, phrasing
    for phrasing in _FRESH3["update_account_info"]:
        assert sum(name in phrasing for name in _LANGUAGES) == 1, phrasing


def test_set_builds_for_dates_around_the_set_day() -> None:
    """The seeded data has unused orders of every status the five splits need, for days well
    before and after the set's and around today (it raises LookupError otherwise)."""
    for as_of in (AS_OF, date.today()):
        for days in (-90, -30, 0, 30, 90):
            questions = build_questions(as_of=as_of + timedelta(days=days))
            splits = Counter(q.split for q in questions)
            assert splits["fresh2"] == len(SHOP_TOOLS) * FRESH2_PER_TOOL
            assert splits["fresh3"] == len(SHOP_TOOLS) * FRESH3_PER_TOOL


def test_fresh_questions_carry_arguments_the_tools_accept() -> None:
    """Each fresh, fresh2 or fresh3 question's expected arguments are ones its tool's schema accepts, a
    spoken order number is the asked order's, and a callback is asked for inside business hours
    on a weekday after the day the set is for."""
    schemas = {t["name"]: t["parameters"]["properties"] for t in SHOP_TOOLS}
    words = ["oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    for q in build_questions(as_of=AS_OF):
        if q.split not in ("fresh", "fresh2", "fresh3"):
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
