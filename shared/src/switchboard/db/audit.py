"""The conversation store's audit tables (schema ``audit``).

Defined here, beside the order tables, so one migration tree covers the whole database; only the
conversation store writes them.
"""

from __future__ import annotations

__all__: list[str] = []
