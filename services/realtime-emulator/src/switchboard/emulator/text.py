"""Pure text helpers for the dialogue policy: spoken numbers → digits, dates, yes/no, emails.

No I/O and no state; everything here is unit-tested without sockets.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

__all__ = [
    "EMAIL_RE",
    "MONTHS",
    "WEEKDAYS",
    "clauses",
    "digit_runs",
    "find_date",
    "find_email",
    "humanize",
    "identifier_pieces",
    "is_affirmative",
    "is_negative",
    "normalize",
    "speakable_date",
    "tokens",
    "words_to_digits",
]

_UNITS = {
    "zero": 0, "oh": 0, "o": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9,
}  # fmt: skip
_TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "thirtieth": 30,
}  # fmt: skip
_REPEAT = {"double": 2, "triple": 3}
MONTHS = [
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december",
]  # fmt: skip
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

_YES = {
    "yes", "yeah", "yep", "yup", "sure", "correct", "right", "ok", "okay", "please", "confirm",
    "confirmed", "absolutely", "definitely", "affirmative", "go",
}  # fmt: skip
_NO = {"no", "nope", "nah", "not", "don't", "dont", "cancel", "stop", "never", "negative", "wrong"}

_TOKEN_RE = re.compile(r"[a-z0-9@._'+-]+")


def tokens(text: str) -> list[str]:
    """Lower-case word tokens (keeps ``@ . _ ' + -`` inside tokens for emails and ids)."""
    return [t.strip(".'-") for t in _TOKEN_RE.findall(text.lower()) if t.strip(".'-")]


def _is_number_word(word: str) -> bool:
    return word in _UNITS or word in _TEENS or word in _TENS or word in _SCALES


def _cardinal(words: list[str]) -> int:
    total = current = 0
    for word in words:
        if word in _UNITS:
            current += _UNITS[word]
        elif word in _TEENS:
            current += _TEENS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        else:
            total += max(current, 1) * _SCALES[word]
            current = 0
    return total + current


def _spell_run(words: list[str]) -> str:
    """A run of number words: digit by digit when every word is a single digit (ids, phone
    numbers), else a cardinal ("twenty three" → 23), else digit-wise groups ("twenty twenty six")."""
    digits_only = all(w in _UNITS or w in _REPEAT for w in words)
    if digits_only:
        out: list[str] = []
        repeat = 1
        for word in words:
            if word in _REPEAT:
                repeat = _REPEAT[word]
                continue
            out.append(str(_UNITS[word]) * repeat)
            repeat = 1
        return "".join(out)
    if any(w in _SCALES for w in words):
        return str(_cardinal(words))
    # groups like "twenty twenty six" or "one twenty three": each tens/teen/unit group spoken alone
    groups: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word in _TENS and i + 1 < len(words) and words[i + 1] in _UNITS and _UNITS[words[i + 1]]:
            groups.append(str(_TENS[word] + _UNITS[words[i + 1]]))
            i += 2
            continue
        value = _UNITS.get(word, _TEENS.get(word, _TENS.get(word, 0)))
        groups.append(str(value))
        i += 1
    return "".join(groups) if len(groups) > 1 else groups[0]


_HYPHENATED = re.compile(r"\b[a-z]+(?:-[a-z]+)+\b")


def _split_number_words(match: re.Match[str]) -> str:
    """ "twenty-three" / "one-oh-one" → words; other hyphenated words stay as they are."""
    parts = match.group(0).split("-")
    if all(_is_number_word(p) or p in _REPEAT for p in parts):
        return " ".join(parts)
    return match.group(0)


_GLUED_WORDS = {
    **dict.fromkeys(("or", "ord", "orde", "order"), "order"),
    **dict.fromkeys(("no", "nr", "num", "number"), "number"),
}
_GLUED = re.compile(r"\b(" + "|".join(_GLUED_WORDS) + r")(\d{4,})\b")


def words_to_digits(text: str) -> str:
    """Replace spoken numbers by digits and join digit groups: "order one zero zero zero zero one"
    → "order 100001", "1 0 0 0 0 1" → "100001", "100,001" → "100001", "twenty three" → "23"."""
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text.lower())
    # a recogniser that glued a clipped "order" / "number" to the digits: "or100001"
    text = _GLUED.sub(lambda m: f"{_GLUED_WORDS[m.group(1)]} {m.group(2)}", text)
    text = re.sub(r"(?<=\d)-(?=\d)", " ", text)
    text = _HYPHENATED.sub(_split_number_words, text)
    words = re.findall(r"[a-z0-9@._'+-]+|[^\sa-z0-9]", text)
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            # "a" alone is never a number; "o"/"oh" only inside a run with other numbers
            if all(w in {"o", "oh"} for w in run):
                out.extend(run)
            else:
                out.append(_spell_run(run))
            run.clear()

    for index, word in enumerate(words):
        bare = word.strip(".,")
        nxt = words[index + 1].strip(".,") if index + 1 < len(words) else ""
        if bare == "a" and nxt in ("hundred", "thousand") and not run:
            run.append("one")  # "a hundred and five"
            continue
        if _is_number_word(bare) or (bare in _REPEAT and nxt in _UNITS):
            run.append(bare)
            if word.endswith((",", ".")):
                flush()
            continue
        if (
            bare == "and"
            and run
            and nxt
            and _is_number_word(nxt)
            and any(w in _SCALES for w in run)
        ):
            continue
        flush()
        out.append(word)
    flush()
    joined = " ".join(out)
    joined = re.sub(r"\s+([,.?!;:])", r"\1", joined)
    # digits spoken one by one by a recogniser that writes numerals: "1 0 0 0 0 1" → "100001"
    return re.sub(r"\b\d(?: \d\b)+", lambda m: m.group(0).replace(" ", ""), joined)


def normalize(text: str) -> str:
    """Lower case, spoken numbers as digits, single spaces."""
    return re.sub(r"\s+", " ", words_to_digits(text)).strip()


def digit_runs(text: str) -> list[str]:
    """Every run of digits in *text* after :func:`normalize` (in order)."""
    return re.findall(r"\d+", normalize(text))


def is_affirmative(text: str) -> bool:
    """The utterance says yes (and not no)."""
    words = set(tokens(text))
    return bool(words & _YES) and not is_negative(text)


def is_negative(text: str) -> bool:
    """The utterance says no / never mind."""
    lowered = text.lower()
    if re.search(r"\b(never ?mind|forget it|no thanks|not now|don'?t)\b", lowered):
        return True
    words = tokens(lowered)
    return bool(words) and words[0] in _NO


#: an e-mail address as written
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def find_email(text: str) -> str | None:
    """An email address, also when spoken ("bob at example dot com")."""
    match = EMAIL_RE.search(text)
    if match:
        return match.group(0).lower()
    spoken = re.search(
        r"\b([a-z0-9._+-]+(?: dot [a-z0-9]+)*) at ([a-z0-9-]+(?: dot [a-z0-9-]+)+)\b", text.lower()
    )
    if spoken:
        local = spoken.group(1).replace(" dot ", ".")
        domain = spoken.group(2).replace(" dot ", ".")
        return f"{local}@{domain}"
    return None


def _ordinal_or_number(word: str) -> int | None:
    word = word.strip(",.")
    if word in _ORDINALS:
        return _ORDINALS[word]
    match = re.fullmatch(r"(\d{1,2})(st|nd|rd|th)?", word)
    return int(match.group(1)) if match else None


def find_date(text: str, *, today: date) -> date | None:
    """A calendar date in *text*: ISO, "11/05", "november fifth", "the 5th of november",
    "today", "tomorrow", "next monday", "on friday", "in 3 days"."""
    lowered = text.lower()
    iso = re.search(r"\b(\d{4})-(\d{2})-(\d{2})\b", lowered)
    if iso:
        try:
            return date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
        except ValueError:
            return None
    if "day after tomorrow" in lowered:
        return today + timedelta(days=2)
    if re.search(r"\btomorrow\b", lowered):
        return today + timedelta(days=1)
    if re.search(r"\btoday\b", lowered):
        return today
    in_days = re.search(r"\bin (\d+|[a-z]+) days?\b", normalize(lowered))
    if in_days and in_days.group(1).isdigit():
        return today + timedelta(days=int(in_days.group(1)))
    slash = re.search(r"\b(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?\b", lowered)
    if slash:
        year = int(slash.group(3)) if slash.group(3) else today.year
        year = year + 2000 if year < 100 else year
        return _safe_date(
            year,
            int(slash.group(1)),
            int(slash.group(2)),
            today,
            explicit_year=bool(slash.group(3)),
        )
    words = tokens(words_to_digits(lowered).replace(",", " "))
    day_only = re.search(r"\bthe (\d{1,2})(?:st|nd|rd|th)\b(?! of\b)", " ".join(words))
    if day_only and not any(w in MONTHS for w in words):  # "on the 9th": the next 9th
        return _next_day_of_month(int(day_only.group(1)), today)
    for i, word in enumerate(words):
        if word in MONTHS:
            month = MONTHS.index(word) + 1
            day: int | None = None
            if i + 1 < len(words):
                day = _ordinal_or_number(words[i + 1])
                if day is None and i + 2 < len(words) and words[i + 1] == "the":
                    day = _ordinal_or_number(words[i + 2])
            if day is None and i >= 2 and words[i - 1] == "of":
                day = _ordinal_or_number(words[i - 2])
            if day is None and i >= 1:
                day = _ordinal_or_number(words[i - 1])
            if day is not None:
                year_word = words[i + 2] if i + 2 < len(words) else ""
                explicit = bool(re.fullmatch(r"20\d\d", year_word))
                year = int(year_word) if explicit else today.year
                return _safe_date(year, month, day, today, explicit_year=explicit)
        if word in WEEKDAYS:
            target = WEEKDAYS.index(word)
            ahead = (target - today.weekday()) % 7 or 7
            return today + timedelta(days=ahead)
    return None


def _next_day_of_month(day: int, today: date) -> date | None:
    """The next date (today included) that is the *day*-th of a month."""
    year, month = today.year, today.month
    for _ in range(3):
        if day >= today.day or (year, month) != (today.year, today.month):
            try:
                return date(year, month, day)
            except ValueError:
                pass
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


def _safe_date(year: int, month: int, day: int, today: date, *, explicit_year: bool) -> date | None:
    try:
        value = date(year, month, day)
    except ValueError:
        return None
    if not explicit_year and value < today - timedelta(days=180):
        value = value.replace(year=year + 1)
    return value


def speakable_date(value: date) -> str:
    """ "2026-11-05" → "November 5, 2026" (what a person would say)."""
    return f"{MONTHS[value.month - 1].capitalize()} {value.day}, {value.year}"


def humanize(name: str) -> str:
    """``order_id`` / ``orderId`` → "order id"."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return re.sub(r"[_\-\s]+", " ", spaced).strip().lower()


#: where one turn's requests part: sentence ends, and "and" / "also" / "plus" between clauses
CLAUSE_SPLIT = re.compile(r"(?<=[.?!;])\s+|,?\s+\b(?:and also|and then|also|and|plus)\b\s+", re.I)


def clauses(text: str) -> list[str]:
    """The requests of one turn: sentences, and parts joined by "and" / "also" that each have
    content words of their own."""
    parts = [p.strip() for p in CLAUSE_SPLIT.split(text) if p and p.strip()]
    merged: list[str] = []
    for part in parts:
        if merged and len(tokens(part)) < 3:
            merged[-1] = f"{merged[-1]} and {part}"
        else:
            merged.append(part)
    return merged


def identifier_pieces(normalized: str) -> list[str]:
    """ "100001 and 100004" → each identifier with the words around it."""
    return [p for p in re.split(r"\s*(?:,|\band\b|\bor\b|&)\s*", normalized) if p.strip()]
