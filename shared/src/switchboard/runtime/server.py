"""Running a service's ASGI app under uvicorn, the same way in every service.

:func:`serve` binds the socket itself (so port 0 works and the bound port is logged as
``http listening``), runs the app with its lifespan, and stops on SIGTERM or SIGINT. A service
that must let work finish before uvicorn closes its connections (uvicorn closes every websocket
with 1012 as soon as it is told to stop) passes a *drain* hook: the first signal runs it while
the server still serves, and the server stops once it returns; a second signal stops at once.
After a clean shutdown the process exits 0 (uvicorn itself re-raises the signal it caught, so the
exit status would be the signal's and an orchestrator would count a crash).

Once the app has started (its lifespan included), the objects made so far, the imported modules'
and the lifespan's, are moved out of the garbage collector's reach (``gc.freeze()``): they live
as long as the process, and a full collection otherwise walks them all every time. In the
gateway that was about 155,000 objects, and its full collections took 65-150 ms at 100-300
streaming sessions (every call's audio stopped meanwhile); frozen, 16-71 ms for the same
sessions (docs/gateway.md, "Full garbage collections").
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from types import FrameType
from typing import Any

import uvicorn

__all__ = ["DrainHook", "Server", "bind", "freeze_startup_objects", "serve"]

log = logging.getLogger(__name__)

#: Awaited on the first SIGTERM/SIGINT, before the server stops (refuse new work, finish the rest).
DrainHook = Callable[[], Awaitable[None]]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Server(uvicorn.Server):
    """uvicorn's server with an optional drain on the first signal and exit status 0 after a clean
    shutdown. It installs its own signal handlers instead of uvicorn's, which keep the signals
    to raise them again on the way out."""

    def __init__(self, config: uvicorn.Config, *, drain: DrainHook | None = None) -> None:
        super().__init__(config)
        self._drain = drain
        self._drain_requested = False
        self._draining: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def draining(self) -> bool:
        """True once a signal asked for the drain hook."""
        return self._drain_requested

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            freeze_startup_objects()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # signals can only be handled on the main thread (a server run in a thread has none)
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in _SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        loop = self._loop
        if self._drain is not None and not self._drain_requested and loop is not None:
            self._drain_requested = True
            # called from a signal handler: hand over to the loop thread-safely (it wakes the loop)
            loop.call_soon_threadsafe(self._start_drain)
            return
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True  # Ctrl-C twice: do not wait for connections and tasks
        self.should_exit = True

    def _start_drain(self) -> None:
        if self._draining is None and not self.should_exit:
            self._draining = asyncio.get_running_loop().create_task(self._run_drain())

    async def _run_drain(self) -> None:
        assert self._drain is not None
        log.info("draining before shutdown")
        try:
            await self._drain()
        except Exception:
            log.exception("the drain hook failed; stopping anyway")
        self.should_exit = True


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to *host*:*port* (0: any free port), for :func:`serve`."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def freeze_startup_objects() -> int:
    """Collect once, then keep every object that exists now out of later collections (see the
    module's doc); the number of objects frozen."""
    gc.collect()
    gc.freeze()
    count = gc.get_freeze_count()
    log.info("startup objects frozen", extra={"objects": count})
    return count


def serve(
    app: Any,
    *,
    host: str,
    port: int,
    drain: DrainHook | None = None,
    graceful_timeout_s: float = 5.0,
    log_extra: Mapping[str, Any] | None = None,
    **options: Any,
) -> None:
    """Run *app* on *host*:*port* until SIGTERM/SIGINT (see the module's doc). *options* go to
    :class:`uvicorn.Config` (``headers``, ``ws_max_size``...); logging stays the caller's."""
    sock = bind(host, port)
    log.info(
        "http listening",
        extra={**(log_extra or {}), "host": host, "port": sock.getsockname()[1]},
    )
    config = uvicorn.Config(
        app,
        log_config=None,
        lifespan="on",
        server_header=False,
        # annotated int, but uvicorn hands it to asyncio.wait_for, which takes any seconds
        timeout_graceful_shutdown=graceful_timeout_s,  # type: ignore[arg-type]
        **options,
    )
    Server(config, drain=drain).run(sockets=[sock])
