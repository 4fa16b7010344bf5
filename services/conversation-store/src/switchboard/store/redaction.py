"""The store's redaction: the shared rules (:mod:`switchboard.redaction`), applied again before
anything is written (``STORE_REDACT`` chooses the kinds).

The gateways already redact every event before they publish it; this second line covers a
publisher that does not (an older gateway, a tool, a test) and removes NUL characters, which
Postgres cannot store.
"""

from __future__ import annotations

from switchboard.redaction import KINDS, Redactor, luhn_valid

__all__ = ["KINDS", "Redactor", "luhn_valid"]
