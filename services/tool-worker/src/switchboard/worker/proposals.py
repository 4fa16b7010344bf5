"""The first phase of a data-changing tool: what a tool's ``propose`` step returns (what would
change and the sentence to read back), and helpers to say values aloud without revealing them."""

from __future__ import annotations

from dataclasses import dataclass, field

from switchboard.contracts.tools import ProposedChange

__all__ = ["Proposal", "mask_email", "mask_phone"]


@dataclass(frozen=True, slots=True)
class Proposal:
    """A validated change that has not happened: ``changes`` (before → after) and ``read_back``,
    a short sentence for the customer ending in a yes/no question."""

    read_back: str
    changes: list[ProposedChange] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.read_back.rstrip().endswith("?"):
            raise ValueError("a read-back ends with a yes/no question")


def mask_email(address: str) -> str:
    """``p…@example.com``: enough for the owner to recognise, too little to learn it."""
    local, at, domain = address.partition("@")
    if not at:
        return "…"
    return f"{local[:1]}…@{domain}"


def mask_phone(number: str) -> str:
    """``the number ending 4567``."""
    digits = [c for c in number if c.isdigit()]
    return f"the number ending {''.join(digits[-4:])}" if len(digits) >= 4 else "your number"
