"""The session gateway with its event publisher's redaction taken out, for the redaction
benchmark only (:mod:`bench.bench_gateway_redaction`): the product has no switch for it, on
purpose (docs/gateway.md, "Personal data"), so the bench starts this entry point, which swaps
the publisher's redactor for one that hands every event on unchanged and then runs the
gateway's own ``main``. Logs stay redacted (their filter is separate)."""

from __future__ import annotations

from typing import Any

import switchboard.gateway.broker as broker
from switchboard.gateway.main import main


class _Unredacted:
    """What the publisher calls instead of ``EVERY_KIND``: nothing replaced."""

    @staticmethod
    def event(event: Any) -> Any:
        return event


broker.EVERY_KIND = _Unredacted()

if __name__ == "__main__":
    main()
