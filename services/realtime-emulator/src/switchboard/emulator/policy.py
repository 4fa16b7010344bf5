"""The rule-based dialogue policy: picks a tool from the session's tool definitions (names,
descriptions, JSON schemas) and the user's words, fills arguments, asks for what is missing, and
summarises tool results. Pure logic: no I/O, one instance (with its small memory) per session.

It is a keyword matcher, not a language model; docs/emulator.md lists what it cannot do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from switchboard.emulator.numbers import NumberShape, read_identifier
from switchboard.emulator.summary import summarize_output
from switchboard.emulator.text import (
    find_date,
    find_email,
    humanize,
    is_affirmative,
    is_negative,
    normalize,
    tokens,
)

__all__ = ["DialoguePolicy", "Reply", "ToolSpec"]


def _syn_match(stem: str, key: str) -> bool:
    return stem.startswith(key) or (len(stem) >= 4 and key.startswith(stem))


_STOP = {
    "a", "an", "the", "to", "of", "for", "and", "or", "in", "on", "at", "by", "with", "my", "me",
    "i", "is", "it", "its", "be", "this", "that", "please", "can", "could", "you", "your", "we",
    "do", "does", "did", "what", "want", "would", "like", "need", "get", "from", "about", "as",
    "are", "was", "were", "will", "just", "hi", "hello", "hey", "thanks", "thank", "some", "any",
    "if", "so", "but", "has", "have", "had", "am", "there", "their", "them", "they", "which",
    "who", "when", "how", "all", "one", "given", "returns", "return's", "id", "number", "use",
    "customer's", "current", "s", "up", "out", "into", "than", "then", "also", "only", "not",
}  # fmt: skip
#: General customer-service vocabulary → words tool names and descriptions use (generic English,
#: not tied to any particular tool list).
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "where": ("track", "status", "locat", "shipment"),
    "arriv": ("track", "status", "shipment", "deliver"),
    "package": ("shipment", "order", "deliver"),
    "parcel": ("shipment", "order", "deliver"),
    "deliver": ("shipment", "track"),
    "refund": ("return", "refund"),
    "send": ("return", "ship"),
    "back": ("return",),
    "broken": ("return",),
    "damag": ("return",),
    "stop": ("cancel",),
    "dont": ("cancel",),
    "abort": ("cancel",),
    "human": ("escalat", "agent", "human", "transfer"),
    "talk": ("escalat", "transfer"),
    "speak": ("escalat", "transfer"),
    "person": ("escalat", "human", "agent"),
    "agent": ("escalat", "human"),
    "representative": ("escalat", "human", "agent"),
    "manager": ("escalat", "human", "supervisor"),
    "someone": ("escalat", "human"),
    "call": ("callback", "call", "phone", "schedul"),
    "ring": ("callback", "call", "schedul"),
    "later": ("callback", "schedul"),
    "email": ("account", "email", "contact", "info"),
    "address": ("account", "address", "info"),
    "phone": ("account", "phone", "info"),
    "chang": ("updat", "edit", "set"),
    "modif": ("updat", "edit"),
    "new": ("updat", "set"),
    "correct": ("updat",),
    "fix": ("updat",),
    "profil": ("account", "customer", "info"),
    "detail": ("info", "account"),
    "history": ("list", "recent", "orders"),
    "last": ("recent", "list"),
    "latest": ("recent", "list"),
    "bought": ("orders", "list"),
    "purchas": ("orders", "list"),
    "status": ("status",),
    "check": ("status", "check"),
    "who": ("customer", "info", "account"),
}
#: Actions that only read: such a tool needs no action word from the user, and a question favours it.
_READ_ACTIONS = {
    _s
    for _s in (
        "get",
        "check",
        "list",
        "show",
        "find",
        "lookup",
        "look",
        "fetch",
        "retriev",
        "read",
        "search",
        "track",
        "view",
        "describ",
        "query",
        "status",
    )
}
#: Verbs too generic to be the action of a tool name: the next word is the action.
_GENERIC_VERBS = {
    "process",
    "handle",
    "manage",
    "submit",
    "start",
    "request",
    "make",
    "do",
    "perform",
    "run",
    "initiate",
    "create",
    "open",
    "file",
}
_QUESTION_RE = re.compile(
    r"(\?|^\s*(what|which|where|when|how|is|are|do|does|did|show|tell|list|give)\b|\b(do you have|can you tell|let me know|show me|look up)\b)",
    re.I,
)
_ID_HINTS = ("id", "number", "identifier", "reference", "code")
_FREE_TEXT_HINTS = (
    "reason",
    "summary",
    "description",
    "note",
    "notes",
    "comment",
    "message",
    "details",
    "issue",
    "problem",
    "topic",
    "text",
)
_EXPLICIT_REASON = re.compile(
    r"\b(?:because|since|due to|the reason is|reason is|reason being)\b:?\s*", re.I
)
_DESCRIPTIVE_REASON = re.compile(
    r"\b(?:it's|it is|it was|it arrived|it came|they are|they were)\b\s*", re.I
)
_INTENT_FILLER = re.compile(
    r"\b(?:i'd like to|i would like to|i want to|i need to|can you|could you|please|i wanna|help me|my|the|order|number|id)\b",
    re.I,
)


def _stem(word: str) -> str:
    word = word.lower()
    for suffix in (
        "ations",
        "ation",
        "ments",
        "ment",
        "ings",
        "ing",
        "edly",
        "ies",
        "ied",
        "ed",
        "es",
        "s",
        "ly",
        "e",
        "y",
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if len(word) > 4 and word[-1] == word[-2]:  # cancell → cancel, shipp → ship
        word = word[:-1]
    return word[:7]


def _content_stems(text: str) -> list[str]:
    return [_stem(w) for w in tokens(text) if w not in _STOP and not w.isdigit() and len(w) > 1]


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

    @property
    def name_stems(self) -> set[str]:
        return {
            _stem(w)
            for w in re.split(r"[_\W]+|(?<=[a-z])(?=[A-Z])", self.name)
            if w and w.lower() not in _STOP
        }

    @property
    def action_stem(self) -> str:
        """The verb of the tool's name ("cancel_order" → cancel; "process_return" → return)."""
        words = [w for w in re.split(r"[_\W]+|(?<=[a-z])(?=[A-Z])", self.name) if w]
        for word in words:
            if word.lower() not in _GENERIC_VERBS:
                return _stem(word)
        return _stem(words[0]) if words else ""

    @property
    def description_stems(self) -> set[str]:
        return set(_content_stems(self.description))

    def spoken_name(self) -> str:
        return humanize(self.name)


@dataclass(frozen=True)
class Reply:
    """What the assistant does next: speak ``text``, or call ``tool`` with ``arguments``."""

    text: str | None = None
    tool: str | None = None
    arguments: dict[str, Any] | None = None


@dataclass
class _Pending:
    tool: ToolSpec
    arguments: dict[str, Any]
    asking: str


@dataclass
class DialoguePolicy:
    """Per-session dialogue state: the tool call being assembled and what was asked."""

    today: date = field(default_factory=date.today)
    pending: _Pending | None = None
    user_turns: list[str] = field(default_factory=list)

    # -- entry points -------------------------------------------------------------------------

    def respond(
        self,
        *,
        user_text: str | None,
        tools: list[dict[str, Any]],
        tool_choice: Any = "auto",
        instructions: str = "",
    ) -> Reply:
        """The reply to the user's latest words (or to no words: a greeting / the instructions)."""
        specs = [ToolSpec.from_tool(t) for t in tools]
        if tool_choice == "none":
            specs = []
        elif isinstance(tool_choice, dict):
            specs = [s for s in specs if s.name == tool_choice.get("name")]
        if user_text is None or not user_text.strip():
            return Reply(text=_instructed_text(instructions) or _greeting(specs))
        self.user_turns.append(user_text)
        if self.pending is not None:
            reply = self._continue_pending(user_text, specs)
            if reply is not None:
                return reply
        spec = self._choose(
            user_text, specs, forced=tool_choice == "required" or isinstance(tool_choice, dict)
        )
        if spec is None:
            return Reply(text=_fallback(user_text, specs))
        return self._fill_and_call(spec, {}, user_text)

    def summarize(self, tool_name: str | None, arguments: str | None, output: str) -> Reply:
        """Speak a faithful summary of a tool's output (after function_call_output + response.create)."""
        return Reply(text=summarize_output(tool_name or "that request", output))

    # -- internals ----------------------------------------------------------------------------

    def _continue_pending(self, user_text: str, specs: list[ToolSpec]) -> Reply | None:
        pending = self.pending
        assert pending is not None
        asking_schema = pending.tool.properties.get(pending.asking, {})
        if asking_schema.get("type") == "boolean":
            if is_affirmative(user_text) or is_negative(user_text):
                pending.arguments[pending.asking] = is_affirmative(user_text)
                if not pending.arguments[pending.asking] and _is_confirmation(
                    pending.asking, asking_schema
                ):
                    self.pending = None
                    return Reply(
                        text=f"Okay, I won't {pending.tool.spoken_name()}. Is there anything else I can do?"
                    )
                return self._fill_and_call(pending.tool, pending.arguments, "")
        elif is_negative(user_text) and len(tokens(user_text)) <= 4:
            self.pending = None
            return Reply(text="Okay, never mind. Is there anything else I can help you with?")
        # a clearly different request switches tools
        other = self._choose(user_text, specs, forced=False)
        if (
            other is not None
            and other.name != pending.tool.name
            and self._score(user_text, other) >= 6
        ):
            self.pending = None
            return None
        value = self._extract(pending.asking, asking_schema, user_text, pending.tool, answer=True)
        if value is None:
            return Reply(
                text=f"Sorry, I didn't catch that. {_question(pending.asking, asking_schema)}"
            )
        pending.arguments[pending.asking] = value
        return self._fill_and_call(pending.tool, pending.arguments, user_text)

    def _score(self, text: str, spec: ToolSpec) -> int:
        """Each content word of the user counts once, at its best match: a word of the tool's
        name 4, a synonym of one 2, a word of the description 1. A tool whose action (its
        name's verb) changes something loses 4 unless the user said that action."""
        stems = _content_stems(normalize(text))
        names, desc = spec.name_stems, spec.description_stems
        action = spec.action_stem
        score = 0
        action_said = False
        for stem in dict.fromkeys(stems):
            related = {
                _stem(t)
                for key, targets in _SYNONYMS.items()
                if _syn_match(stem, key)
                for t in targets
            }
            best = 0
            if stem in names:
                best = 4
            elif related & names:
                best = 2
            elif stem in desc or related & desc:
                best = 1
            score += best
            if stem == action or action in related:
                action_said = True
        if action in _READ_ACTIONS:
            if _QUESTION_RE.search(text):
                score += 2
        elif not action_said:
            score -= 4
        return score

    def _choose(self, text: str, specs: list[ToolSpec], *, forced: bool) -> ToolSpec | None:
        if not specs:
            return None
        scored = sorted(
            ((self._score(text, s), self._fillable(s, text), -i, s) for i, s in enumerate(specs)),
            key=lambda row: row[:3],
            reverse=True,
        )
        best_score, _fill, _i, best = scored[0]
        if best_score >= 3 or forced:
            return best
        return None

    def _fillable(self, spec: ToolSpec, text: str) -> int:
        return sum(
            1
            for name in spec.required
            if self._extract(name, spec.properties[name], text, spec) is not None
        )

    def _fill_and_call(self, spec: ToolSpec, arguments: dict[str, Any], text: str) -> Reply:
        args = dict(arguments)
        if text:
            for name, schema in spec.properties.items():
                if name in args:
                    continue
                value = self._extract(name, schema, text, spec)
                if value is not None:
                    args[name] = value
        for name in spec.required:
            if name not in args:
                schema = spec.properties[name]
                if "default" in schema:
                    args[name] = schema["default"]
                    continue
                self.pending = _Pending(tool=spec, arguments=args, asking=name)
                return Reply(text=_question(name, schema))
        self.pending = None
        return Reply(tool=spec.name, arguments=args)

    def _extract(
        self, name: str, schema: dict[str, Any], text: str, spec: ToolSpec, *, answer: bool = False
    ) -> Any:
        """A value for parameter *name* from *text*, or None (``answer``: the text replies to a
        question about exactly this parameter)."""
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), None)
        label = f"{humanize(name)} {schema.get('description', '')}".lower()
        normalized = normalize(text)
        if "enum" in schema:
            return _match_enum(schema["enum"], normalized)
        if kind == "boolean":
            if is_affirmative(text):
                return True
            if is_negative(text) and answer:
                return False
            return None
        if kind in ("integer", "number"):
            return _number_for(name, label, schema, normalized, spec, kind)
        if kind == "array":
            return None
        # strings
        fmt = schema.get("format", "")
        if fmt in ("date", "date-time") or re.search(r"\b(date|day|when|time)\b", label):
            when = find_date(text, today=self.today)
            if when is None:
                return None
            if fmt == "date-time" or "time" in humanize(name):
                return f"{when.isoformat()}T{_time_of_day(normalized)}"
            return when.isoformat()
        if fmt == "email" or ("email" in label and "field" not in label):
            return find_email(text) if not answer or find_email(text) else None
        if _is_id(name, label) or NumberShape.from_schema(schema).asks_for_digits:
            return read_identifier(normalized, _id_schema(schema), normalized=True)
        if any(h in humanize(name).split() for h in _FREE_TEXT_HINTS):
            return _free_text(name, text, answer=answer, history=self.user_turns)
        if answer:
            return text.strip().rstrip(".?!")
        return _value_after_to(name, label, text)


def _is_confirmation(name: str, schema: dict[str, Any]) -> bool:
    label = f"{name} {schema.get('description', '')}".lower()
    return any(w in label for w in ("confirm", "consent", "agree", "approv", "proceed"))


def _id_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """An identifier's schema for the number reader: at least three digits unless it says."""
    return schema if "minLength" in schema else {**schema, "minLength": 3}


def _is_id(name: str, label: str) -> bool:
    words = humanize(name).split()
    return bool(words) and words[-1] in _ID_HINTS


def _number_for(
    name: str, label: str, schema: dict[str, Any], normalized: str, spec: ToolSpec, kind: str
) -> Any:
    numbers = re.findall(r"\d+(?:\.\d+)?", normalized)
    if not numbers:
        return None
    if _is_id(name, label):
        digits = read_identifier(normalized, _id_schema(schema), normalized=True)
        if digits is None:
            return None
        return float(digits) if kind == "number" else int(digits)
    others = [
        n
        for n, s in spec.properties.items()
        if n != name and s.get("type") in ("integer", "number", "string") and _is_id(n, humanize(n))
    ]
    maximum = schema.get("maximum", 1000)
    candidates = [n for n in numbers if float(n) <= float(maximum) and (not others or len(n) < 5)]
    if not candidates:
        return None
    value = candidates[0]
    number: float | int = float(value) if kind == "number" else int(float(value))
    if "minimum" in schema and number < schema["minimum"]:
        return None
    return number


def _match_enum(values: list[Any], normalized: str) -> Any:
    words = set(tokens(normalized))
    for value in values:
        spoken = humanize(str(value))
        if spoken and (spoken in normalized or set(spoken.split()) <= words):
            return value
    stems = {_stem(w) for w in words}
    for value in values:
        if _stem(str(value)) in stems:
            return value
    return None


def _free_text(name: str, text: str, *, answer: bool, history: list[str]) -> str | None:
    cleaned = text.strip().rstrip(".?!")
    if answer:
        return cleaned or None
    if "summary" in name or "description" in name:
        return " ".join(history[-3:]).strip() or None
    explicit = _EXPLICIT_REASON.search(cleaned)
    if explicit:
        return cleaned[explicit.end() :].strip(" ,.") or None
    if "," in cleaned:
        tail = cleaned.split(",", 1)[1].strip(" ,.")
        if len(tail.split()) >= 2 and not re.match(r"^\W*\d", normalize(tail)):
            return tail
    descriptive = _DESCRIPTIVE_REASON.search(cleaned)
    if descriptive and not re.match(r"^\W*\d", normalize(cleaned[descriptive.end() :])):
        return cleaned[descriptive.start() :].strip(" ,.") or None
    return None


def _value_after_to(name: str, label: str, text: str) -> str | None:
    if "field" in humanize(name) or "attribute" in label:
        for candidate in ("email", "phone", "address", "name"):
            if candidate in text.lower():
                return candidate
        return None
    email = find_email(text)
    if email and "value" in humanize(name):
        return email
    match = re.search(r"\bto\s+(.+)$", text.strip().rstrip(".?!"), re.I)
    if match and "value" in humanize(name):
        return match.group(1).strip()
    return None


def _time_of_day(normalized: str) -> str:
    match = re.search(
        r"\b(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?", normalized.replace("o'clock", "")
    )
    hour, minute = 9, 0
    if match and (match.group(3) or match.group(2)):
        hour = int(match.group(1)) % 24
        minute = int(match.group(2) or 0)
        if match.group(3) and match.group(3).startswith("p") and hour < 12:
            hour += 12
    elif "afternoon" in normalized:
        hour = 14
    elif "evening" in normalized:
        hour = 18
    return f"{hour:02d}:{minute:02d}:00"


def _question(name: str, schema: dict[str, Any]) -> str:
    description = (schema.get("description") or "").strip().rstrip(".")
    if schema.get("type") == "boolean":
        return f"{description or humanize(name).capitalize()}? Please say yes or no."
    if "enum" in schema:
        options = ", ".join(humanize(str(v)) for v in schema["enum"])
        return f"What {humanize(name)} would you like: {options}?"
    if description and len(description) <= 80:
        return f"Could you tell me the {humanize(name)}? That's {description[0].lower()}{description[1:]}."
    return f"Could you tell me the {humanize(name)}?"


def _greeting(specs: list[ToolSpec]) -> str:
    if specs:
        return "Hello, thanks for calling. How can I help you today?"
    return "Hello, how can I help you today?"


def _fallback(user_text: str, specs: list[ToolSpec]) -> str:
    if re.search(r"\b(thanks|thank you|bye|goodbye|that's all|that is all)\b", user_text.lower()):
        return "You're welcome. Is there anything else I can help you with?"
    if re.fullmatch(r"\W*(hi|hello|hey|good (morning|afternoon|evening))\W*", user_text.lower()):
        return "Hello! How can I help you today?"
    if not specs:
        return f"I heard: {user_text.strip()}. I can't look anything up in this session."
    offers = ", ".join(s.spoken_name() for s in specs[:4])
    return f"Sorry, I'm not sure I can help with that. I can help with things like: {offers}."


def _instructed_text(instructions: str) -> str | None:
    """Quoted text after say/tell/greet in the instructions (e.g. ``Say "One moment please."``)."""
    match = re.search(
        r"\b(?:say|tell|greet|respond with|reply with)\b[^\"'“]*[\"'“]([^\"'”]{1,400})[\"'”]",
        instructions,
        re.I,
    )
    return match.group(1).strip() if match else None
