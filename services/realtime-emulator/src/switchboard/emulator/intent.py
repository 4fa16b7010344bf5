"""Which tool the caller means: every tool is scored against the whole utterance. Pure logic.

A tool's words are its name (strongest), its description, its arguments' names, descriptions and
enum values. The caller's words count by how rare they are among the session's tools (a word every
tool shares, like "order", says little), widened by a small table of generic customer-service
synonyms and by question phrases ("who is delivering" means carrier and tracking; "which orders"
means a list). A tool that changes something (its name's verb is not a read verb) is only a
candidate when the caller used that verb as a verb ("update my address", not "any update on my
order"), not negated ("I don't want to cancel it"), and not as a participle in a question about
how things are ("what is my account set to?"). An identifier the caller gave (an order number)
counts against tools with no argument for it. When the best two candidates are close the caller
is asked which one they mean; below a floor nothing is chosen, so off-topic and general questions
never become tool calls.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from switchboard.emulator.lexicon import (
    CUES,
    CUES_MORE,
    GENERIC_READS,
    GENERIC_VERBS,
    ING_COMPLEMENT,
    LIGHT_VERBS,
    NOT_REQUESTS,
    NOUN_BEFORE,
    PLAIN_WORDS,
    QUESTION_RE,
    READ_ACTIONS,
    STOP,
    SYNONYMS,
)
from switchboard.emulator.numbers import read_identifier
from switchboard.emulator.text import EMAIL_RE, humanize, normalize, tokens

__all__ = [
    "ID_HINTS",
    "Choice",
    "ToolSpec",
    "choose_tool",
    "content_stems",
    "default_reader",
    "is_id",
    "score_tools",
    "stem",
]

#: every question phrase: the first table's, then the everyday ways of asking (lexicon)
_ALL_CUES = CUES + CUES_MORE
#: Floor below which no tool is chosen; the margin under which two tools are too close to call.
FLOOR = 3.0
CLOSE = 1.0
#: taken off a tool that has no argument for the identifier the caller gave ("order 100001" is
#: not a question for the order list or the caller's own details)
NO_PLACE_FOR_ID = 3.0
#: a caller who speaks of a phone: a number of 10-15 digits then is that phone's (the value of a
#: contact field), never an order number read from its first groups
_PHONE_WORDS = re.compile(r"\b(?:phone|mobile|cell|telephone|landline)\b", re.IGNORECASE)
_PHONE_SHAPED = re.compile(r"\+?\d(?:[\s().-]*\d){9,14}")
#: the last word of an identifier argument's name ("order_id", "tracking_number")
ID_HINTS = ("id", "number", "identifier", "reference", "code")


def is_id(name: str, label: str = "") -> bool:
    """Whether the argument *name* holds an identifier (its name ends in id, number, code...);
    *label* (its description) is not needed and kept for callers that pass it."""
    words = humanize(name).split()
    return bool(words) and words[-1] in ID_HINTS


def stem(word: str) -> str:
    """A crude stem: common suffixes off, doubled final consonant undone, at most 7 letters."""
    word = word.lower()
    for suffix in (
        "ations", "ation", "ments", "ment", "ings", "ing", "edly", "ies", "ied", "ed", "es", "s",
        "ly", "e", "y",
    ):  # fmt: skip
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if len(word) > 4 and word[-1] == word[-2]:  # cancell → cancel, shipp → ship
        word = word[:-1]
    return word[:7]


def content_stems(text: str) -> list[str]:
    """The stems of the content words of *text* (no stop words, no numbers), in order."""
    return [stem(w) for w in tokens(text) if w not in STOP and not w.isdigit() and len(w) > 1]


def _split_name(name: str) -> list[str]:
    return [w for w in re.split(r"[_\W]+|(?<=[a-z])(?=[A-Z])", name) if w]


@dataclass(frozen=True)
class ToolSpec:
    """A function tool as the policy sees it."""

    name: str
    description: str
    properties: dict[str, dict[str, Any]]
    required: tuple[str, ...]

    @classmethod
    def from_tool(cls, tool: dict[str, Any]) -> ToolSpec:
        params = tool.get("parameters") or {}
        props = params.get("properties") or {}
        return cls(
            name=tool["name"],
            description=tool.get("description") or "",
            properties={k: v if isinstance(v, dict) else {} for k, v in props.items()},
            required=tuple(r for r in params.get("required") or () if r in props),
        )

    @cached_property
    def name_stems(self) -> frozenset[str]:
        return frozenset(stem(w) for w in _split_name(self.name) if w.lower() not in STOP)

    @cached_property
    def action_stem(self) -> str:
        """The verb of the tool's name ("cancel_order" → cancel; "process_return" → return)."""
        words = _split_name(self.name)
        for word in words:
            if word.lower() not in GENERIC_VERBS:
                return stem(word)
        return stem(words[0]) if words else ""

    @cached_property
    def identifiers(self) -> tuple[str, ...]:
        """The arguments that hold an identifier (an order number, a reference)."""
        return tuple(n for n in self.properties if is_id(n))

    @property
    def reads_only(self) -> bool:
        return self.action_stem in READ_ACTIONS

    @cached_property
    def doc_stems(self) -> frozenset[str]:
        """Stems of the description and of every argument's name, description and enum values."""
        parts = [self.description]
        for name, schema in self.properties.items():
            parts.append(humanize(name))
            parts.append(str(schema.get("description") or ""))
            parts.extend(humanize(str(v)) for v in schema.get("enum") or ())
        return frozenset(content_stems(" ".join(parts)))

    def spoken_name(self) -> str:
        return humanize(self.name)


@dataclass(frozen=True)
class Choice:
    """The outcome of scoring: a tool, two close tools to ask about, or nothing."""

    tool: ToolSpec | None = None
    between: tuple[ToolSpec, ToolSpec] | None = None


#: a negation close before a verb or a cue: "I don't want to cancel", "I'm not after a refund",
#: "no callback" (two words may come between; "no," answers something else, negating nothing)
_NEGATED = re.compile(
    r"\b(?:don't|do not|dont|not|never|no need to|without)(?:\s+[\w']+){0,2}\s*$|\bno\s+$"
)


def _negated(before: str) -> bool:
    """Whether the text *before* an act ends in a negation of it."""
    return bool(_NEGATED.search(before))


def _acted(text: str) -> set[str]:
    """Stems of the acts that cue phrases in *text* stand for (not negated ones)."""
    lowered = _plain(text)
    return {
        stem(t)
        for pattern, targets, acts in _ALL_CUES
        if acts and any(not _negated(lowered[: m.start()]) for m in pattern.finditer(lowered))
        for t in targets
    }


def _expand(text: str) -> dict[str, float]:
    """The caller's stems with weights: said words 1, their synonyms 0.6, question cues 2."""
    lowered = _plain(text)
    bag: dict[str, float] = {}
    for word in dict.fromkeys(content_stems(lowered)):
        bag[word] = max(bag.get(word, 0.0), 1.0)
        for key, targets in SYNONYMS.items():
            if word.startswith(key) or (len(word) >= 4 and key.startswith(word)):
                for target in targets:
                    bag[stem(target)] = max(bag.get(stem(target), 0.0), 0.6)
    for pattern, targets, _acts in _ALL_CUES:
        if any(not _negated(lowered[: m.start()]) for m in pattern.finditer(lowered)):
            for target in targets:
                bag[stem(target)] = max(bag.get(stem(target), 0.0), 2.0)
    return bag


def _plain(text: str) -> str:
    """*text* normalised, idioms left out, words used as another part of speech said plainly."""
    plain = NOT_REQUESTS.sub(" ", normalize(text))
    for pattern, replacement in PLAIN_WORDS:
        plain = pattern.sub(replacement, plain)
    return plain


def _action_said(text: str, spec: ToolSpec) -> float:
    """How clearly the caller asked for the tool's action: 1 for its verb itself or a phrase
    that stands for it ("call me back"), 0.5 for a synonym ("change" for update), 0 if not (or
    only as a noun: "an update on my order")."""
    if _acted(text) & spec.name_stems:
        return 1.0
    words = tokens(_plain(text))
    best = 0.0
    for index, word in enumerate(words):
        stemmed = stem(word)
        related = {
            stem(t)
            for key, targets in SYNONYMS.items()
            if stemmed.startswith(key) or (len(stemmed) >= 4 and key.startswith(stemmed))
            for t in targets
        }
        if stemmed != spec.action_stem and spec.action_stem not in related:
            continue
        before = words[index - 1] if index else ""
        after = words[index + 1] if index + 1 < len(words) else ""
        light = index > 1 and words[index - 2] in LIGHT_VERBS  # "start a return"
        if (before in NOUN_BEFORE and not light) or after in (
            "policy", "window", "status", "on", "about",
        ):  # fmt: skip
            continue  # a noun: "an update on", "the return policy"
        if _modifier(word, before):
            continue  # an adjective: "noise cancelling headphones"
        if _stative(words, index):
            continue  # a state asked about: "what language is my account set to?"
        if _negated(" ".join(words[:index])):
            continue  # "I don't want to cancel it, just to know where it is"
        if (
            stemmed != spec.action_stem
            and not word.endswith(("ed", "ing"))
            and before
            and before not in STOP
            and not before.isdigit()
        ):
            continue  # a near verb's bare form after a noun is a noun: "the pruning shears set"
        best = max(best, 1.0 if stemmed == spec.action_stem else 0.5)
    return best


def _modifier(word: str, before: str) -> bool:
    """Whether the -ing form *word* after *before* describes a thing rather than asks for an
    act: after a content word ("noise cancelling headphones"), not after a pronoun, an auxiliary
    or a verb that takes an -ing form ("I'm cancelling", "about cancelling", "stop tracking")."""
    if not word.endswith("ing") or not before or before in STOP or before.isdigit():
        return False
    return before not in ING_COMPLEMENT


#: a question about how things are, not a request: "what ... is X set to", "which ... is it
#: changed to", "how is it set up"
_WH = {"what", "which", "how", "where", "when", "what's", "which's", "how's"}
_BE = {"is", "are", "was", "were", "'s", "been"}


def _stative(words: list[str], index: int) -> bool:
    """Whether the verb at *index* is a participle after a form of "be" in a wh-question ("what
    language is my account set to?"), which asks how things are, not for a change; "can it be
    changed" (after a modal) still asks for one."""
    window = words[max(0, index - 6) : index]
    asked = [i for i, w in enumerate(window) if w in _WH]
    if not asked:
        return False
    after_wh = window[asked[0] :]
    return any(w in _BE for w in after_wh) and not any(
        w in ("be", "can", "could", "would", "will", "please", "want", "like") for w in after_wh
    )


def _identifier_heard(text: str, specs: list[ToolSpec]) -> bool:
    """Whether *text* holds a value one of the tools' identifier arguments would take (an order
    number said in digits or words)."""
    # the digits of an e-mail address are never an order number ("kim.196306@example.org")
    normalized = EMAIL_RE.sub(" ", normalize(text))
    if _PHONE_WORDS.search(normalized):
        normalized = _PHONE_SHAPED.sub(" ", normalized)
    seen: set[str] = set()
    for spec in specs:
        for name in spec.identifiers:
            schema = spec.properties[name]
            key = repr(sorted(schema.items()))
            if key in seen:
                continue
            seen.add(key)
            shaped = schema if "minLength" in schema else {**schema, "minLength": 3}
            if read_identifier(normalized, shaped, normalized=True, strict=True):
                return True
    return False


def score_tools(text: str, specs: list[ToolSpec]) -> list[tuple[float, ToolSpec]]:
    """Every tool's score for *text*, best first (ties keep the session's order)."""
    if not specs:
        return []
    bag = _expand(text)
    df: dict[str, int] = {}
    for spec in specs:
        for word in spec.name_stems | spec.doc_stems:
            df[word] = df.get(word, 0) + 1
    total = len(specs)
    rarest = math.log((total + 1) / 1.5)
    question = bool(QUESTION_RE.search(text))
    identified = _identifier_heard(text, specs)
    scored: list[tuple[float, int, ToolSpec]] = []
    for index, spec in enumerate(specs):
        score = 0.0
        for word, weight in bag.items():
            # rarity among this session's tools: 2 for a word only one tool has, near 0 for one all have
            idf = 2.0 * math.log((total + 1) / (df[word] + 0.5)) / rarest if word in df else 0.0
            if word in spec.name_stems and word not in GENERIC_READS:
                score += 2.5 * weight * max(idf, 0.3)
            elif word in spec.doc_stems or word in spec.name_stems:
                score += 1.0 * weight * max(idf, 0.1)
        if spec.reads_only:
            if question:
                score += 0.5
        elif said := _action_said(text, spec):
            score += 3.0 * said
        else:
            score = min(score, FLOOR - 0.5) - 2.0  # never chosen without its action
        if identified and not spec.identifiers:
            score -= NO_PLACE_FOR_ID
        scored.append((score, -index, spec))
    scored.sort(key=lambda row: row[:2], reverse=True)
    return [(score, spec) for score, _i, spec in scored]


def choose_tool(text: str, specs: list[ToolSpec], *, forced: bool = False) -> Choice:
    """The tool *text* asks for, two tools too close to call, or nothing (*forced*: the best)."""
    ranked = score_tools(text, specs)
    if not ranked:
        return Choice()
    best_score, best = ranked[0]
    if forced:
        return Choice(tool=best)
    if best_score < FLOOR:
        return Choice()
    if len(ranked) > 1:
        second_score, second = ranked[1]
        if second_score >= FLOOR and best_score - second_score < CLOSE:
            return Choice(between=(best, second))
    return Choice(tool=best)


#: name words of the tool that answers a plain question about an identifier: its status first,
#: then a generic read of it ("get_order", "check_order")
_DEFAULT_READS = ("status", "get", "check", "show", "view", "lookup", "look", "fetch", "describ")


def default_reader(text: str, specs: list[ToolSpec]) -> ToolSpec | None:
    """The tool that answers a question about an identifier when its words name no tool ("is
    order 456789 stuck somewhere?", "what's happened to order 456789?"): a read-only tool whose
    one required argument holds the identifier, named for its status (else a generic read);
    None for statements, for text without an identifier, or with no such tool."""
    if not QUESTION_RE.search(text) or not _identifier_heard(text, specs):
        return None
    readers = [
        s for s in specs if s.reads_only and len(s.required) == 1 and s.required[0] in s.identifiers
    ]
    for word in _DEFAULT_READS:
        named = [s for s in readers if stem(word) in s.name_stems]
        if len(named) == 1:
            return named[0] if _says_more(text, named[0]) else None
    return None


def _says_more(text: str, spec: ToolSpec) -> bool:
    """Whether *text* says something besides the identifier ("and order 100003?" says nothing
    more: it leans on the last question, not on a default)."""
    argument = spec.properties[spec.required[0]]
    about = set(content_stems(f"{humanize(spec.required[0])} {argument.get('description', '')}"))
    return any(word not in about for word in content_stems(text))
