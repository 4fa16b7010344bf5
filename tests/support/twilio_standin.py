"""A local stand-in of the Twilio REST endpoints the bridge calls (``Calls(sid).update``): it
answers like Twilio (the call resource as JSON, 404 for an unknown account, 401 without the
account's credentials) and records every request, so tests can see what the bridge asked."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from switchboard.cli.stack import free_port

__all__ = ["CallUpdate", "TwilioStandIn"]


@dataclass(frozen=True)
class CallUpdate:
    account_sid: str
    call_sid: str
    form: dict[str, str]


@dataclass
class TwilioStandIn:
    account_sid: str
    auth_token: str
    updates: list[CallUpdate] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    port: int = 0
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _update_call(self, request: Request) -> JSONResponse:
        account = request.path_params["account"]
        call = request.path_params["call"].removesuffix(".json")
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            self.refused.append("unauthorized")
            return JSONResponse({"code": 20003, "message": "Authenticate", "status": 401}, 401)
        if account != self.account_sid:
            self.refused.append("unknown account")
            return JSONResponse({"code": 20404, "message": "Not found", "status": 404}, 404)
        form = dict(parse_qsl((await request.body()).decode()))
        self.updates.append(CallUpdate(account, call, form))
        self._changed.set()
        return JSONResponse(
            {
                "sid": call,
                "account_sid": account,
                "status": "in-progress",
                "api_version": "2010-04-01",
                "uri": f"/2010-04-01/Accounts/{account}/Calls/{call}.json",
            }
        )

    async def start(self) -> TwilioStandIn:
        app = Starlette(
            routes=[
                Route(
                    "/2010-04-01/Accounts/{account}/Calls/{call}",
                    self._update_call,
                    methods=["POST"],
                )
            ]
        )
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:  # noqa: ASYNC110 - uvicorn exposes startup only as a flag
            await asyncio.sleep(0.02)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 10)

    async def wait_update(self, call_sid: str, within_s: float = 30.0) -> CallUpdate:
        """The first update of *call_sid* (already made or still to come)."""
        async with asyncio.timeout(within_s):
            while True:
                for update in self.updates:
                    if update.call_sid == call_sid:
                        return update
                self._changed.clear()
                await self._changed.wait()
