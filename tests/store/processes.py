"""Store subprocesses for the tests that need a real process (SIGKILL, schemathesis over HTTP)."""

from __future__ import annotations

from tests.processes import LoggedProcess

__all__ = ["StoreProcess"]


class StoreProcess(LoggedProcess):
    """``python -m switchboard.store.main``; started once it consumes and serves its API."""

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__("switchboard.store.main", env, ready_msg="store serving")
