"""The thing a question is about ("what would the remote control car set me back?" → remote
control car): the noun phrase after a determiner or a preposition, cut where the caller's
sentence goes on (a verb, a pronoun, a conjunction, a preposition before another noun phrase).
Pure logic, no I/O.
"""

from __future__ import annotations

import re

from switchboard.emulator.intent import ToolSpec, stem

__all__ = ["thing_asked_about"]

#: words a noun phrase starts after ("the", "about", "do you sell")
_DETERMINERS = {
    "the", "a", "an", "your", "those", "these", "this", "that", "some", "any", "my", "her", "his",
    "their", "our",
}  # fmt: skip
_OPENERS = _DETERMINERS | {
    "about",
    "for",
    "of",
    "on",
    "sell",
    "carry",
    "stock",
    "got",
    "buy",
    "purchase",
}
#: a word before an object pronoun is a verb or a preposition ("set me back", "for her"); a
#: preposition before a determiner starts another phrase ("on the shoes"): the name ends there
_OBJECTS = {"me", "you", "him", "her", "us", "them", "it"}
_PREPOSITIONS = {
    "in", "on", "at", "for", "of", "to", "with", "from", "by", "about", "as", "into", "over",
    "under", "around", "like", "than",
}  # fmt: skip
#: words no thing's name holds: verbs, pronouns, conjunctions, question words, fillers
_ENDS = {
    "is", "are", "was", "were", "be", "been", "being", "has", "have", "had", "do", "does", "did",
    "will", "would", "can", "could", "should", "might", "may", "must", "cost", "costs",
    "costing", "sold", "sell", "sells", "selling", "going", "go", "goes", "come", "comes",
    "coming", "retail", "retails", "available", "left", "worth", "still", "now", "today",
    "right", "please", "and", "or", "but", "whether", "because", "so", "if", "when", "before",
    "after", "while", "than", "what", "what's", "which", "how", "where", "who", "why", "it",
    "it's", "that's", "that", "this", "these", "those", "me", "you", "i", "i'm", "we", "they",
    "them", "he", "she", "him", "us", "there", "here", "um", "uh", "er", "like", "stock",
    "again", "anymore", "too", "also", "actually", "really", "just", "though",
}  # fmt: skip
#: heads that are not things: the question's own words, times, amounts, talk
_NOT_A_THING = {
    "price", "cost", "stock", "status", "name", "thing", "things", "one", "moment", "product",
    "products", "bit", "lot", "little", "couple", "few", "something", "anything", "stuff",
    "information", "info", "details", "detail", "question", "questions", "help", "day", "days",
    "week", "weeks", "month", "months", "year", "years", "time", "times", "morning",
    "afternoon", "evening", "night", "birthday", "christmas", "holidays", "while", "minute",
    "second", "way",
}  # fmt: skip
_BOUNDARY = re.compile(r"[?!,;:()\"\u201c\u201d\u2013\u2014]+|\.(?:\s|$)|\s-\s")


def thing_asked_about(text: str, spec: ToolSpec) -> str | None:
    """The longest noun phrase of *text* (after a determiner or a preposition) that names a
    thing rather than the question's own words ("price", "the return policy"), a time ("these
    days") or an amount ("a bit")."""
    question = {stem(w) for w in re.findall(r"[a-z]+", spec.description.lower())}
    best: str | None = None
    for segment in _BOUNDARY.split(text.lower()):
        words = segment.split()
        for start, opener in enumerate(words):
            if opener not in _OPENERS:
                continue
            phrase = _phrase(words[start + 1 :])
            if not phrase or all(w in _NOT_A_THING or stem(w) in question for w in phrase):
                continue
            if phrase[-1] in _NOT_A_THING or phrase[-1].endswith("'s"):
                continue  # "these days", "a bit", "my daughter's [been]"
            candidate = " ".join(phrase)
            if best is None or len(candidate) > len(best):
                best = candidate
    return best


def _phrase(words: list[str]) -> list[str]:
    """The noun phrase at the start of *words*: leading determiners off, cut before a word that
    cannot be in a name or that takes an object."""
    index = 0
    while index < len(words) and words[index] in _DETERMINERS:
        index += 1
    phrase: list[str] = []
    for position in range(index, len(words)):
        word = words[position]
        after = words[position + 1] if position + 1 < len(words) else ""
        if word in _ENDS or after in _OBJECTS:
            break
        if after in _DETERMINERS:
            if word not in _PREPOSITIONS:
                phrase.append(word)  # "the blender this week"
            break
        phrase.append(word)
    while phrase and (phrase[-1] in _PREPOSITIONS or phrase[-1] in ("back", "yet")):
        phrase.pop()
    return phrase
