"""Worker subprocesses for the tests that need a real process: SIGKILL, SIGTERM, HTTP."""

from __future__ import annotations

from tests.processes import LoggedProcess

__all__ = ["WorkerProcess"]


class WorkerProcess(LoggedProcess):
    """``python -m switchboard.worker.main``; started once it consumes and has announced its
    catalog."""

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__("switchboard.worker.main", env, ready_msg="worker serving")
        self.worker_id = env["WORKER_ID"]
