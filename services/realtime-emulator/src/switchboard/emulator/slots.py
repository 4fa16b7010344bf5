"""Argument values from the caller's words, read against each argument's JSON schema: identifiers
(through the number reader), small numbers, enum values, booleans, dates and times, emails, reasons
and summaries. Pure logic, no I/O.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from switchboard.emulator.intent import ToolSpec, is_id, stem
from switchboard.emulator.lexicon import NAMED_LANGUAGE, SYNONYMS
from switchboard.emulator.numbers import NumberShape, read_identifier
from switchboard.emulator.text import (
    find_date,
    find_email,
    humanize,
    is_affirmative,
    is_negative,
    normalize,
    tokens,
)
from switchboard.emulator.things import thing_asked_about

__all__ = ["extract", "is_confirmation", "is_id", "question"]

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


def extract(
    name: str,
    schema: dict[str, Any],
    text: str,
    spec: ToolSpec,
    *,
    today: date,
    history: list[str],
    answer: bool = False,
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
        when = _date_near_time(text, today)
        if when is None:
            return None
        if fmt == "date-time" or "time" in humanize(name):
            return f"{when.isoformat()}T{_time_of_day(normalized)}"
        return when.isoformat()
    if fmt == "email" or ("email" in label and "field" not in label):
        return find_email(text) if not answer or find_email(text) else None
    if is_id(name, label):
        return read_identifier(normalized, _id_schema(schema), normalized=True)
    if NumberShape.from_schema(schema).asks_for_digits:  # a postcode: only when it fits
        return read_identifier(normalized, _id_schema(schema), normalized=True, strict=not answer)
    if any(h in humanize(name).split() for h in _FREE_TEXT_HINTS):
        return _free_text(name, text, answer=answer, history=history)
    if answer:
        return text.strip().rstrip(".?!")
    if humanize(name).split()[-1] in ("name", "title", "product", "item"):
        return thing_asked_about(text, spec)
    return _value_after_to(name, label, text)


def is_confirmation(name: str, schema: dict[str, Any]) -> bool:
    label = f"{name} {schema.get('description', '')}".lower()
    return any(w in label for w in ("confirm", "consent", "agree", "approv", "proceed"))


def _id_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """An identifier's schema for the number reader: at least three digits unless it says."""
    return schema if "minLength" in schema else {**schema, "minLength": 3}


def _number_for(
    name: str, label: str, schema: dict[str, Any], normalized: str, spec: ToolSpec, kind: str
) -> Any:
    numbers = re.findall(r"\d+(?:\.\d+)?", normalized)
    if not numbers:
        return None
    if is_id(name, label):
        digits = read_identifier(normalized, _id_schema(schema), normalized=True)
        if digits is None:
            return None
        return float(digits) if kind == "number" else int(digits)
    others = [
        n
        for n, s in spec.properties.items()
        if n != name and s.get("type") in ("integer", "number", "string") and is_id(n, humanize(n))
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
    # a language named, with no address or number to set: the value about languages, even when
    # another value is said ("can the emails you send me be in Portuguese?")
    spoken_language = NAMED_LANGUAGE.search(normalized)
    if spoken_language and not find_email(normalized) and not re.search(r"\d{3,}", normalized):
        for value in values:
            if "language" in str(value).lower():
                return value
    for value in values:
        spoken = humanize(str(value))
        if spoken and (spoken in normalized or set(spoken.split()) <= words):
            return value
    stems = {stem(w) for w in words}
    # and what they stand for ("mobile", "cell" -> phone), as the intent scoring reads them
    stems |= {
        stem(target)
        for s in list(stems)
        for key, targets in SYNONYMS.items()
        if s.startswith(key) or (len(s) >= 4 and key.startswith(s))
        for target in targets
    }
    for value in values:
        if stem(str(value)) in stems:
            return value
    # the value's head noun ("preferred language" -> language), or a language named for a
    # value about languages ("in Italian")
    for value in values:
        head = humanize(str(value)).split()[-1:] or [""]
        if head[0] and stem(head[0]) in stems:
            return value
        if "language" in str(value).lower() and NAMED_LANGUAGE.search(normalized):
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
    language = NAMED_LANGUAGE.search(text.lower())
    if language and "value" in humanize(name) and not re.search(r"\d", text):
        return language.group(1)
    match = re.search(r"\bto\s+(.+)$", text.strip().rstrip(".?!"), re.I)
    if match and "value" in humanize(name):
        return match.group(1).strip()
    return None


_CLOCK = re.compile(r"\b(\d{1,2})(?:\s?:\s?(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?(?![\d:])")
_RELATIVE = re.compile(r"\b(half|quarter|\d{1,2})(?: minutes)? (past|after|to|before) (\d{1,2})\b")
_AT_HOUR = re.compile(
    r"\b(?:at|around|about|say|by)\s+(\d{1,2})\b(?!\s*(?:st|nd|rd|th|st\b))"
    r"|\b(\d{1,2})\s+(?:in the (?:morning|afternoon|evening)|tonight|sharp)\b"
)


_PARTS = re.compile(r"[,.;!?]|\s(?:and|but|so|because|though)\s")
_PERIOD = re.compile(r"\b(?:midday|noon|lunchtime|morning|afternoon|evening|am|pm|a\.m\.|p\.m\.)\b")


def _date_near_time(text: str, today: date) -> date | None:
    """The day a caller named for a time: the date said nearest the time of day ("I'm out most
    of today, so ring me Tuesday at ten past one" → Tuesday), else the first date said."""
    parts = _PARTS.split(text)
    timed = [i for i, part in enumerate(parts) if _says_time(normalize(part))]
    if timed:
        for distance in range(len(parts)):
            for index in (timed[0] - distance, timed[0] + distance):
                if 0 <= index < len(parts) and (when := find_date(parts[index], today=today)):
                    return when
    return find_date(text, today=today)


#: times said without a colon: "3 30 pm" / "330 pm" / "at 445" (three forty-five), and the
#: British "half ten" (half past ten)
_SPOKEN_MINUTES = (
    (re.compile(r"\b(\d{1,2})\s?([0-5]\d)\s*(am|pm|a\.m\.|p\.m\.)"), r"\1:\2 \3"),
    (re.compile(r"\b(at|around|about|say|by) (\d{1,2})\s?([0-5]\d)\b(?![\d:])"), r"\1 \2:\3"),
    (re.compile(r"\bhalf (\d{1,2})\b(?!\s*(?:past|after|to|an?\b))"), r"\1:30"),
)


def _clock(normalized: str) -> str:
    """*normalized* with times said without a colon written with one."""
    for pattern, replacement in _SPOKEN_MINUTES:
        normalized = pattern.sub(replacement, normalized)
    return normalized


def _says_time(normalized: str) -> bool:
    """Whether *normalized* says a time of day ("1 pm", "10:30", "half past 2", "at 4")."""
    normalized = _clock(normalized)
    clock = any(m.group(2) or m.group(3) for m in _CLOCK.finditer(normalized))
    return bool(
        clock
        or _RELATIVE.search(normalized)
        or _AT_HOUR.search(normalized)
        or _PERIOD.search(normalized)
    )


def _time_of_day(normalized: str) -> str:
    """The time a caller asked for, as HH:MM:SS: "1 pm", "10:30 am", "half past 2 in the
    afternoon", "20 to 5", "quarter past 9 in the morning", "midday", "at 4" (an hour without
    a period is read in shop hours: 1 to 6 in the afternoon, 7 to 11 in the morning), "in the
    afternoon" alone; 09:00 when no time is said."""
    text = _clock(normalized.replace("o'clock", "").replace("o clock", ""))
    hour: int | None = None
    minute = 0
    explicit = False  # am/pm said with the number
    for match in _CLOCK.finditer(text):
        if match.group(3) or match.group(2):
            hour, minute = int(match.group(1)), int(match.group(2) or 0)
            if match.group(3):
                explicit = True
                pm = match.group(3).startswith("p")
                hour = hour % 12 + (12 if pm else 0)
            break
    if hour is None and (relative := _RELATIVE.search(text)):
        amount, direction, base = relative.groups()
        minutes = {"half": 30, "quarter": 15}.get(amount) or int(amount)
        hour = int(base)
        if direction in ("to", "before"):
            hour, minute = (hour - 1) % 24, 60 - minutes
        else:
            minute = minutes
    if hour is None and (at := _AT_HOUR.search(text)):
        hour = int(at.group(1) or at.group(2))
    if hour is None and re.search(r"\b(midday|noon|lunchtime)\b", text):
        hour = 12
    if hour is None:
        if "afternoon" in text:
            return "14:00:00"
        if "evening" in text:
            return "18:00:00"
        return "09:00:00"
    if not explicit and hour < 12:
        if re.search(r"\b(afternoon|evening|tonight|pm|p\.m\.)\b", text):
            hour += 12
        elif not re.search(r"\b(morning|am|a\.m\.)\b", text) and 1 <= hour <= 6:
            hour += 12  # "at 4": the shop's afternoon, not 4 in the morning
    if not 0 <= hour <= 23 or not 0 <= minute <= 59:
        return "09:00:00"
    return f"{hour:02d}:{minute:02d}:00"


def question(name: str, schema: dict[str, Any]) -> str:
    description = (schema.get("description") or "").strip().rstrip(".")
    if schema.get("type") == "boolean":
        return f"{description or humanize(name).capitalize()}? Please say yes or no."
    if "enum" in schema:
        options = ", ".join(humanize(str(v)) for v in schema["enum"])
        return f"What {humanize(name)} would you like: {options}?"
    if description and len(description) <= 80:
        return f"Could you tell me the {humanize(name)}? That's {description[0].lower()}{description[1:]}."
    return f"Could you tell me the {humanize(name)}?"
