"""Client secrets and the websocket handshake: only a live, unused secret minted with the server
key opens a conversation; everything else is refused before the upgrade."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest
import redis.asyncio as aioredis
import websockets
from websockets.exceptions import InvalidStatus

from tests.gateway.conftest import SERVER_KEY, GatewayFactory, RunningGateway


async def _status_of(url: str, **kw: object) -> tuple[int, dict[str, object]]:
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(url, **kw):  # type: ignore[arg-type]
            pass
    response = refused.value.response
    return response.status_code, json.loads(response.body or b"{}")


async def test_minting_needs_the_server_key(gateway: RunningGateway) -> None:
    """client_secrets answers 401 without the server key and an OpenAI-shaped secret with it."""
    async with httpx.AsyncClient(base_url=gateway.http) as http:
        body = {"customer_id": "cus_0001", "expires_after": {"anchor": "created_at", "seconds": 60}}
        assert (await http.post("/v1/realtime/client_secrets", json=body)).status_code == 401
        wrong = {"Authorization": "Bearer not-the-key"}
        assert (
            await http.post("/v1/realtime/client_secrets", json=body, headers=wrong)
        ).status_code == 401
        right = {"Authorization": f"Bearer {SERVER_KEY}"}
        answer = await http.post("/v1/realtime/client_secrets", json=body, headers=right)
    assert answer.status_code == 200
    doc = answer.json()
    assert doc["value"].startswith("ek_") and doc["customer_id"] == "cus_0001"
    assert isinstance(doc["expires_at"], int)


async def test_secrets_are_stored_hashed_with_a_ttl(
    gateway: RunningGateway, redis_client: aioredis.Redis
) -> None:
    """Redis holds the secret's SHA-256 (never the secret) with the requested TTL."""
    secret = await gateway.secret("cus_0002", expires_after={"seconds": 120})
    key = gateway.gateway.keys.client_secret(hashlib.sha256(secret.encode()).hexdigest())
    assert 0 < await redis_client.ttl(key) <= 120
    assert json.loads(str(await redis_client.get(key)))["customer_id"] == "cus_0002"
    assert not [k async for k in redis_client.scan_iter(match=f"*{secret}*")]


async def test_missing_unknown_and_reused_secrets_are_refused_before_the_upgrade(
    gateway: RunningGateway,
) -> None:
    """No secret → 401, an unknown one → 401, a second use of a good one → 403."""
    url = f"{gateway.ws}/v1/realtime?model=gpt-realtime"
    status, body = await _status_of(url)
    assert status == 401 and body["error"]["code"] == "missing_client_secret"  # type: ignore[index]
    status, body = await _status_of(
        url, additional_headers={"Authorization": "Bearer ek_made_up_secret"}
    )
    assert status == 401 and body["error"]["code"] == "invalid_client_secret"  # type: ignore[index]
    secret = await gateway.secret()
    async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {secret}"}):
        pass
    status, body = await _status_of(url, additional_headers={"Authorization": f"Bearer {secret}"})
    assert status == 403 and body["error"]["code"] == "client_secret_used"  # type: ignore[index]


async def test_expired_secret_is_refused(gateway: RunningGateway) -> None:
    """A secret past its expiry time is refused like an unknown one (even if Redis has not
    evicted it yet)."""
    secret = await gateway.secret(expires_after={"seconds": 10})
    key = gateway.gateway.keys.client_secret(hashlib.sha256(secret.encode()).hexdigest())
    record = json.loads(await gateway.gateway.redis.get(key))
    record["expires_at"] -= 11
    await gateway.gateway.redis.set(key, json.dumps(record), keepttl=True)
    status, _ = await _status_of(
        f"{gateway.ws}/v1/realtime?model=m",
        additional_headers={"Authorization": f"Bearer {secret}"},
    )
    assert status == 401


async def test_browser_subprotocol_auth_selects_realtime(gateway: RunningGateway) -> None:
    """A browser's subprotocols (realtime + openai-insecure-api-key.SECRET) authenticate and the
    gateway selects 'realtime'; the first event is a session.created without the policy."""
    secret = await gateway.secret()
    async with websockets.connect(
        f"{gateway.ws}/v1/realtime?model=gpt-realtime",
        subprotocols=["realtime", f"openai-insecure-api-key.{secret}"],  # type: ignore[list-item]
    ) as ws:
        assert ws.subprotocol == "realtime"
        created = json.loads(await ws.recv())
        assert created["type"] == "session.created"
        assert "instructions" not in created["session"] and "tools" not in created["session"]


async def test_dev_routes_and_probes(gateway: RunningGateway) -> None:
    """In development the dev routes mint secrets and list demo customers; probes and metrics
    answer."""
    async with httpx.AsyncClient(base_url=gateway.http) as http:
        customers = (await http.get("/dev/customers")).json()
        assert customers[0]["customer_id"] == "cus_0001"
        assert customers[0]["orders"][0] == {
            "order_id": 100001,
            "status": "shipped",
            "placed_days_ago": 3,
        }
        minted = await http.post("/dev/client_secrets", json={"customer_id": "cus_0003"})
        assert minted.status_code == 200 and minted.json()["value"].startswith("ek_")
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        ready = await http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["broker"] is True
        metrics = (await http.get("/metrics")).text
        assert "switchboard_gateway_active_sessions" in metrics


async def test_dev_routes_are_absent_in_production(start_gateway: GatewayFactory) -> None:
    """With SWITCHBOARD_ENV=production the dev routes answer 404."""
    gateway = await start_gateway(SWITCHBOARD_ENV="production")
    async with httpx.AsyncClient(base_url=gateway.http) as http:
        assert (await http.get("/dev/customers")).status_code == 404
        assert (
            await http.post("/dev/client_secrets", json={"customer_id": "cus_0001"})
        ).status_code == 404
