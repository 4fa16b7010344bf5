"""Azurite, Microsoft's Azure Storage emulator, for the tests of the azure-blob recording store.

``AZURITE_CONNECTION_STRING`` names one already running (for example the ``azurite`` service of
docker-compose.yml); otherwise ``azurite-blob`` from ``tools/azurite`` (``make install`` puts it
there) is started in memory on a free port of 127.0.0.1 and stopped afterwards. Like the other
services, a missing emulator stops the run with a message rather than skipping tests.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from switchboard.cli.stack import free_port

__all__ = ["AZURITE_BIN", "DEV_ACCOUNT", "DEV_KEY", "dev_connection_string", "provide_azurite"]

ROOT = Path(__file__).resolve().parents[2]
AZURITE_BIN = ROOT / "tools" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
#: The emulator's well-known development account and key (public, the same everywhere).
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
HOW_TO = (
    "The azure-blob recording store's tests need Azurite: run `make install` (it installs the "
    "pinned version into tools/azurite with npm), or set AZURITE_CONNECTION_STRING to a running "
    "one (docker compose --profile azure up azurite)."
)


def dev_connection_string(port: int, host: str = "127.0.0.1") -> str:
    """The development account's connection string for a blob endpoint at *host*:*port*."""
    return (
        f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
        f"BlobEndpoint=http://{host}:{port}/{DEV_ACCOUNT};"
    )


def _answers(port: int) -> bool:
    """Whether an HTTP server answers on 127.0.0.1:*port* (any status: Azurite refuses an
    unsigned request with 403, which shows it is up)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", f"/{DEV_ACCOUNT}?comp=list")
        conn.getresponse().read()
    except OSError:
        return False
    finally:
        conn.close()
    return True


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _spawn(workdir: Path, *, timeout_s: float = 30.0) -> tuple[subprocess.Popen[bytes], int]:
    """``azurite-blob`` in memory on a free port, answering (another port is tried when the
    first was taken meanwhile and the emulator exited)."""
    for _ in range(3):
        port = free_port()
        log_path = workdir / f"azurite-{port}.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [
                    str(AZURITE_BIN),
                    "--inMemoryPersistence",
                    "--blobHost",
                    "127.0.0.1",
                    "--blobPort",
                    str(port),
                    "--skipApiVersionCheck",
                    "--loose",
                    "--disableTelemetry",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=workdir,  # in memory, but anything it may write lands here
            )
        deadline = time.monotonic() + timeout_s
        while proc.poll() is None and not _answers(port):
            if time.monotonic() > deadline:
                _stop(proc)
                raise RuntimeError(f"azurite-blob did not answer on port {port} in {timeout_s} s")
            time.sleep(0.05)
        if proc.poll() is None:
            return proc, port
    raise RuntimeError(
        f"azurite-blob exited with {proc.returncode}: {log_path.read_text()[-2000:]}"
    )


@contextmanager
def provide_azurite() -> Iterator[str]:
    """A connection string of a running Azurite: ``AZURITE_CONNECTION_STRING``, else one started
    for the block and stopped after it."""
    given = os.environ.get("AZURITE_CONNECTION_STRING")
    if given:
        yield given
        return
    if not AZURITE_BIN.exists():
        raise RuntimeError(f"{AZURITE_BIN} not found. {HOW_TO}")
    with tempfile.TemporaryDirectory(prefix="switchboard-azurite-") as tmp:
        proc, port = _spawn(Path(tmp))
        try:
            yield dev_connection_string(port)
        finally:
            _stop(proc)
