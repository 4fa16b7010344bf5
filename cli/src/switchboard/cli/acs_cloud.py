"""A local stand-in of Azure Communication Services, the cloud side of the ACS simulator.

It serves what the bridge calls, as the Call Automation REST API documents it, and refuses a
request whose HMAC-SHA256 signature (``x-ms-date;host;x-ms-content-sha256``, keyed by the
base64 access key) does not verify: ``callConnections:answer`` (200, the call connection),
``:redirect`` / ``:reject`` (204), ``/{id}:play`` (202, then ``PlayStarted`` and
``PlayCompleted``, or ``PlayFailed``; text prompts are kept), ``/{id}:recognize`` (202, then ``RecognizeCompleted`` with
the tones the caller "types", or ``RecognizeFailed``), ``/{id}:startMediaStreaming`` (202, then
``MediaStreamingStarted`` and the media websocket), ``/{id}:transferToParticipant`` (202, then
``CallTransferAccepted``; the call leaves the app, so its media stream ends), ``DELETE /{id}``
and ``/{id}:terminate`` (204, then ``CallDisconnected``). Callbacks are CloudEvents posted with
an RS256 JWT (issuer ``https://acscallautomation.communication.azure.com``, audience the
resource id), whose keys it serves at ``/calling/keys`` like ACS. Every request is recorded.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = ["ACS_ISSUER", "AcsCloud", "AcsRequest", "SimCall"]

ACS_ISSUER = "https://acscallautomation.communication.azure.com"
_TONES = {
    "0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six",
    "7": "seven", "8": "eight", "9": "nine", "*": "asterisk", "#": "pound",
}  # fmt: skip


@dataclass(frozen=True)
class AcsRequest:
    action: str
    call_connection_id: str
    body: dict[str, Any]


@dataclass
class SimCall:
    """One call as ACS sees it; ``events`` tells the caller side what the app did."""

    caller: str
    to: str
    digits: list[str]
    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    server_call_id: str = field(
        default_factory=lambda: base64.b64encode(uuid.uuid4().bytes).decode()
    )
    call_connection_id: str = ""
    callback_url: str = ""
    transport_url: str = ""
    prompts: list[str] = field(default_factory=list)
    #: a play answers PlayFailed (as when the Azure AI services resource cannot speak it)
    play_fails: bool = False
    events: asyncio.Queue[str] = field(default_factory=asyncio.Queue)

    @property
    def incoming_call_context(self) -> str:
        return f"sim.{self.correlation_id}"


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _load_key(path: Path | None) -> rsa.RSAPrivateKey:
    if path is not None and path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return key
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.write_bytes(pem)
        path.chmod(0o600)
    return key


class AcsCloud:
    """The stand-in; ``await AcsCloud(...).start()``, then place calls on it."""

    def __init__(
        self,
        *,
        access_key: str,
        resource_id: str,
        port: int = 0,
        host: str = "127.0.0.1",
        key_path: Path | None = None,
    ) -> None:
        self.access_key = base64.b64decode(access_key)
        self.resource_id = resource_id
        self.host = host
        self.port = port
        self.private_key = _load_key(key_path)
        public = jwt.PyJWK.from_dict(
            json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key()))
        )
        self.kid = hashlib.sha256(
            json.dumps(public._jwk_data, sort_keys=True).encode()
        ).hexdigest()[:16]
        self.jwk = {**public._jwk_data, "kid": self.kid, "use": "sig", "alg": "RS256"}
        self.requests: list[AcsRequest] = []
        self.refused: list[str] = []
        self.calls: dict[str, SimCall] = {}  # by incoming call context and by connection id
        self.http = httpx.AsyncClient(timeout=30)
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def connection_string(self) -> str:
        key = base64.b64encode(self.access_key).decode()
        return f"endpoint={self.url}/;accesskey={key}"

    def token(self, *, audience: str | None = None, lifetime_s: int = 300) -> str:
        """A Call Automation JWT (RS256) as ACS puts on callbacks and media connections."""
        now = int(time.time())
        claims = {
            "iss": ACS_ISSUER,
            "aud": audience or self.resource_id,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime_s,
        }
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": self.kid})

    def new_call(self, caller: str, *, digits: list[str], to: str = "+15550100000") -> SimCall:
        call = SimCall(caller=caller, to=to, digits=list(digits))
        self.calls[call.incoming_call_context] = call
        return call

    def incoming_call_event(self, call: SimCall) -> list[dict[str, Any]]:
        """The Event Grid delivery of ``Microsoft.Communication.IncomingCall``."""

        def phone(number: str) -> dict[str, Any]:
            return {"kind": "phoneNumber", "rawId": f"4:{number}", "phoneNumber": {"value": number}}

        return [
            {
                "id": str(uuid.uuid4()),
                "topic": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/"
                "switchboard/providers/Microsoft.Communication/communicationServices/sim",
                "subject": f"/caller/4:{call.caller}/recipient/4:{call.to}",
                "data": {
                    "to": phone(call.to),
                    "from": phone(call.caller),
                    "serverCallId": call.server_call_id,
                    "callerDisplayName": "",
                    "incomingCallContext": call.incoming_call_context,
                    "correlationId": call.correlation_id,
                },
                "eventType": "Microsoft.Communication.IncomingCall",
                "dataVersion": "1.0",
                "metadataVersion": "1",
                "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
        ]

    # -- callbacks -------------------------------------------------------------------------
    async def send_event(self, call: SimCall, kind: str, data: dict[str, Any] | None = None) -> int:
        event = {
            "id": str(uuid.uuid4()),
            "source": f"calling/callConnections/{call.call_connection_id}",
            "type": f"Microsoft.Communication.{kind}",
            "data": {
                "callConnectionId": call.call_connection_id,
                "serverCallId": call.server_call_id,
                "correlationId": call.correlation_id,
                "version": "2024-09-15",
                "publicEventType": f"Microsoft.Communication.{kind}",
                **(data or {}),
            },
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "specversion": "1.0",
            "datacontenttype": "application/json",
            "subject": f"calling/callConnections/{call.call_connection_id}",
        }
        response = await self.http.post(
            call.callback_url,
            json=[event],
            headers={"Authorization": f"Bearer {self.token()}"},
        )
        return response.status_code

    def _later(self, call: SimCall, kind: str, data: dict[str, Any] | None = None) -> None:
        self._later_all(call, [(kind, data)])

    def _later_all(self, call: SimCall, events: list[tuple[str, dict[str, Any] | None]]) -> None:
        """*events*, in order, each shortly after the one before (after the REST answer)."""

        async def send() -> None:
            for kind, data in events:
                await asyncio.sleep(0.05)  # after the REST answer, as ACS does
                with contextlib.suppress(httpx.HTTPError):
                    await self.send_event(call, kind, data)

        task = asyncio.create_task(send())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- the REST API ----------------------------------------------------------------------
    def _signed(self, request: Request, body: bytes) -> bool:
        date = request.headers.get("x-ms-date", "")
        content_hash = base64.b64encode(hashlib.sha256(body).digest()).decode()
        if request.headers.get("x-ms-content-sha256") != content_hash:
            return False
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        signed = f"{request.method}\n{path}\n{date};{request.headers.get('host')};{content_hash}"
        mac = base64.b64encode(hmac.new(self.access_key, signed.encode(), hashlib.sha256).digest())
        expected = (
            f"HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={mac.decode()}"
        )
        return hmac.compare_digest(request.headers.get("authorization", ""), expected)

    async def _api(self, request: Request) -> Response:
        body = await request.body()
        if not self._signed(request, body):
            self.refused.append(request.url.path)
            return _error(401, "401", "Denied by the HMAC authentication policy.")
        if not request.query_params.get("api-version"):
            return _error(400, "MissingApiVersionParameter", "The api-version is required.")
        data = json.loads(body) if body else {}
        target = request.path_params["target"]
        if target.startswith("callConnections:"):
            action = target.removeprefix("callConnections:")
            call = self.calls.get(str(data.get("incomingCallContext")))
            connection_id = ""
        else:
            connection_id, _, action = target.removeprefix("callConnections/").partition(":")
            action = action or request.method.lower()
            call = self.calls.get(connection_id)
        if call is None:
            return _error(404, "8522", "Call not found.")
        if action == "answer":
            call.call_connection_id = f"{uuid.uuid4().hex[:8]}-{call.correlation_id}"
            self.calls[call.call_connection_id] = call
        self.requests.append(AcsRequest(action, connection_id or call.call_connection_id, data))
        return await self._act(call, action, data)

    async def _act(self, call: SimCall, action: str, data: dict[str, Any]) -> Response:
        if action == "answer":
            call.callback_url = str(data["callbackUri"])
            call.transport_url = str((data.get("mediaStreamingOptions") or {}).get("transportUrl"))
            self._later(call, "CallConnected")
            return JSONResponse(
                {
                    "callConnectionId": call.call_connection_id,
                    "serverCallId": call.server_call_id,
                    "correlationId": call.correlation_id,
                    "callbackUri": call.callback_url,
                    "callConnectionState": "connecting",
                    "targets": [{"rawId": f"4:{call.to}", "kind": "phoneNumber"}],
                    "source": {"rawId": f"4:{call.caller}", "kind": "phoneNumber"},
                    "mediaStreamingSubscription": {"id": str(uuid.uuid4()), "state": "inactive"},
                }
            )
        if action in ("redirect", "reject"):
            target = ((data.get("target") or {}).get("phoneNumber") or {}).get("value", "")
            await call.events.put(f"redirected:{target}" if action == "redirect" else "rejected")
            return Response(status_code=204)
        if action == "recognize":
            prompts = data.get("playPrompts") or [data.get("playPrompt") or {}]
            for prompt in prompts:
                if prompt.get("kind") == "text":
                    call.prompts.append(str((prompt.get("text") or {}).get("text", "")))
            digits = call.digits.pop(0) if call.digits else ""
            context = data.get("operationContext")
            tones = [_TONES[d] for d in digits if d in _TONES and d != "#"]
            if tones:
                result = {
                    "code": 200,
                    "subCode": 8514,
                    "message": "Action completed, stop tone detected.",
                }
                payload = {"recognitionType": "dtmf", "dtmfResult": {"tones": tones}}
                self._later(
                    call,
                    "RecognizeCompleted",
                    {**payload, "operationContext": context, "resultInformation": result},
                )
            else:
                result = {
                    "code": 400,
                    "subCode": 8510,
                    "message": "Action failed, initial silence timeout reached.",
                }
                self._later(
                    call,
                    "RecognizeFailed",
                    {"operationContext": context, "resultInformation": result},
                )
            return Response(status_code=202)
        if action == "play":
            for source in data.get("playSources") or []:
                if source.get("kind") == "text":
                    call.prompts.append(str((source.get("text") or {}).get("text", "")))
            context = {"operationContext": data.get("operationContext")}
            if call.play_fails:
                failed = {
                    "code": 400,
                    "subCode": 8565,
                    "message": "Action failed, bad request to Cognitive Services.",
                }
                self._later(call, "PlayFailed", {**context, "resultInformation": failed})
            else:
                done = {"code": 200, "subCode": 0, "message": "Action completed successfully."}
                self._later_all(
                    call,
                    [
                        ("PlayStarted", context),
                        ("PlayCompleted", {**context, "resultInformation": done}),
                    ],
                )
            await call.events.put("played")
            return Response(status_code=202)
        if action == "startMediaStreaming":
            self._later(
                call, "MediaStreamingStarted", {"operationContext": data.get("operationContext")}
            )
            await call.events.put("stream")
            return Response(status_code=202)
        if action == "transferToParticipant":
            target = ((data.get("targetParticipant") or {}).get("phoneNumber") or {}).get(
                "value", ""
            )
            self._later(
                call, "CallTransferAccepted", {"operationContext": data.get("operationContext")}
            )
            await call.events.put(f"transferred:{target}")
            return JSONResponse({"operationContext": data.get("operationContext")}, status_code=202)
        if action in ("delete", "terminate"):
            self._later(call, "CallDisconnected")
            await call.events.put("hung_up")
            return Response(status_code=204)
        return _error(400, "8523", f"Unsupported action {action}.")

    async def _keys(self, request: Request) -> JSONResponse:
        return JSONResponse({"keys": [self.jwk]})

    async def _openid(self, request: Request) -> JSONResponse:
        return JSONResponse({"issuer": ACS_ISSUER, "jwks_uri": f"{self.url}/calling/keys"})

    async def start(self) -> AcsCloud:
        app = Starlette(
            routes=[
                Route("/calling/keys", self._keys),
                Route("/calling/.well-known/acsopenidconfiguration", self._openid),
                Route("/calling/{target:path}", self._api, methods=["POST", "DELETE"]),
            ]
        )
        config = uvicorn.Config(app, host=self.host, port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                await self._task  # raises why it could not start (port taken, ...)
                raise OSError(f"the ACS simulator could not listen on {self.url}")
            await asyncio.sleep(0.02)
        if not self.port:
            self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        for task in list(self._background):
            task.cancel()
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 10)
        await self.http.aclose()
