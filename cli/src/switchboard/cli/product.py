"""The whole product as child processes on free ports (emulator, tool workers, conversation
store, session gateway), for end-to-end tests and benchmarks: one call starts it in the right
order and answers where each part listens."""

from __future__ import annotations

from dataclasses import dataclass

from switchboard.cli.stack import Stack, free_port

__all__ = ["ProductUrls", "start_product"]


@dataclass(frozen=True)
class ProductUrls:
    gateway: str
    store: str
    emulator: str
    workers: tuple[str, ...]


async def start_product(
    stack: Stack,
    *,
    emulator_key: str,
    server_key: str,
    workers: int = 1,
    worker_today: str | None = None,
    store: bool = True,
    gateway_env: dict[str, str] | None = None,
    timeout_s: float = 90.0,
) -> ProductUrls:
    """Add and start every service on *stack* (whose base environment names the database,
    broker, Redis and namespace). The gateway starts last, once every worker is ready (its
    tools announced), so the first conversation is offered every tool."""
    emulator_port = free_port()
    stack.add(
        "emulator",
        "switchboard-emulator",
        env={"EMULATOR_PORT": str(emulator_port), "EMULATOR_API_KEY": emulator_key},
        health_url=f"http://127.0.0.1:{emulator_port}/healthz",
    )
    worker_urls = []
    for index in range(workers):
        port = free_port()
        env = {"WORKER_HTTP_PORT": str(port), "WORKER_ID": f"worker-{index + 1}"}
        if worker_today:
            env["WORKER_TODAY"] = worker_today
        stack.add(
            f"worker-{index + 1}",
            "switchboard-worker",
            env=env,
            health_url=f"http://127.0.0.1:{port}/readyz",  # ready = consuming, catalog announced
        )
        worker_urls.append(f"http://127.0.0.1:{port}")
    store_url = ""
    if store:
        store_port = free_port()
        stack.add(
            "store",
            "switchboard-store",
            env={"STORE_HTTP_PORT": str(store_port)},
            health_url=f"http://127.0.0.1:{store_port}/readyz",
        )
        store_url = f"http://127.0.0.1:{store_port}"
    await stack.start(timeout_s=timeout_s)
    gateway_port = free_port()
    stack.add(
        "gateway",
        "switchboard-gateway",
        env={
            "GATEWAY_PORT": str(gateway_port),
            "UPSTREAM_KIND": "emulator",
            "UPSTREAM_URL": f"ws://127.0.0.1:{emulator_port}",
            "UPSTREAM_API_KEY": emulator_key,
            "GATEWAY_SERVER_KEY": server_key,
            **(gateway_env or {}),
        },
        health_url=f"http://127.0.0.1:{gateway_port}/readyz",
    )
    await stack.start(timeout_s=timeout_s)
    return ProductUrls(
        gateway=f"http://127.0.0.1:{gateway_port}",
        store=store_url,
        emulator=f"ws://127.0.0.1:{emulator_port}",
        workers=tuple(worker_urls),
    )
