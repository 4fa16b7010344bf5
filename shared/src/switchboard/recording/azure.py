"""The Azure Blob Storage backend of the recording store: one block blob per object, in one
container.

The production path on Azure; tested against Azurite, Microsoft's storage emulator. Ranged reads
are ranged downloads (``x-ms-range``), so a seek in a long recording fetches only what it plays.
Every call is bounded by ``RECORDING_TIMEOUT_S`` (the client's own retries run inside that bound)
and every failure of the service or the network surfaces as :class:`RecordingStoreError`.
Needs the shared package's ``azure`` extra (``azure-storage-blob`` and ``aiohttp``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import TYPE_CHECKING

import aiohttp
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.storage.blob import ContentSettings
from azure.storage.blob.aio import ContainerClient, LinearRetry

from switchboard.recording.store import RecordingNotFound, RecordingStoreError

if TYPE_CHECKING:
    from switchboard.recording.settings import RecordingStoreSettings

__all__ = ["AzureBlobRecordingStore"]

#: Blobs deleted at once by delete_prefix.
_DELETE_CONCURRENCY = 16


class AzureBlobRecordingStore:
    """Recording objects as block blobs of one container."""

    kind = "azure-blob"

    def __init__(self, container: ContainerClient, *, timeout_s: float = 10.0) -> None:
        self._container = container
        self._timeout_s = timeout_s
        self._closed = False

    @classmethod
    async def from_settings(cls, settings: RecordingStoreSettings) -> AzureBlobRecordingStore:
        """A store on the container *settings* name, created when missing; raises
        :class:`RecordingStoreError` when the account does not answer in time."""
        if not settings.recording_azure_connection_string:
            raise ValueError("RECORDING_STORE=azure-blob needs RECORDING_AZURE_CONNECTION_STRING")
        timeout_s = settings.recording_timeout_s
        try:
            container = ContainerClient.from_connection_string(
                settings.recording_azure_connection_string,
                container_name=settings.recording_container,
                # a few quick retries of transient failures, all inside the call's time bound
                retry_policy=LinearRetry(backoff=1, random_jitter_range=1, retry_total=2),
                connection_timeout=timeout_s,
                read_timeout=timeout_s,
            )
        except (ValueError, AzureError) as exc:  # a malformed connection string
            raise ValueError(f"RECORDING_AZURE_CONNECTION_STRING: {exc}") from exc
        store = cls(container, timeout_s=timeout_s)
        try:
            await store.ensure_container()
        except BaseException:
            await store.close()
            raise
        return store

    async def ensure_container(self) -> None:
        """Create the container unless it exists."""
        async with self._bounded("create container"):
            with suppress(ResourceExistsError):
                await self._container.create_container()

    async def put(
        self, key: str, data: bytes, *, content_type: str = "application/octet-stream"
    ) -> None:
        async with self._bounded(f"put {key}"):
            await self._container.upload_blob(
                key,
                data,
                overwrite=True,
                length=len(data),
                content_settings=ContentSettings(content_type=content_type),
            )

    async def get(self, key: str, *, start: int = 0, end: int | None = None) -> bytes:
        if start < 0 or (end is not None and end < start):
            raise ValueError(f"bad range [{start}, {end})")
        if end == start:  # an empty range: still a missing key is refused
            await self.size(key)
            return b""
        length = None if end is None else end - start
        async with self._bounded(f"get {key}"):
            try:
                try:
                    downloader = await self._container.download_blob(
                        key, offset=start, length=length
                    )
                except HttpResponseError as exc:
                    if exc.status_code != 416 or isinstance(exc, ResourceNotFoundError):
                        raise
                    # a range wholly past the object's end: empty, once the object is known
                    await self._container.get_blob_client(key).get_blob_properties()
                    return b""
                return await downloader.readall()
            except ResourceNotFoundError as exc:
                raise _not_found(key, exc) from exc

    async def size(self, key: str) -> int:
        async with self._bounded(f"size {key}"):
            try:
                properties = await self._container.get_blob_client(key).get_blob_properties()
            except ResourceNotFoundError as exc:
                raise _not_found(key, exc) from exc
            return int(properties.size)

    async def keys(self, prefix: str) -> list[str]:
        async with self._bounded(f"keys {prefix}"):
            names = [
                name async for name in self._container.list_blob_names(name_starts_with=prefix)
            ]
        # code point order, which is UTF-8 byte order: the Postgres backend's COLLATE "C"
        return sorted(names)

    async def delete_prefix(self, prefix: str) -> int:
        if not prefix:
            raise ValueError("refusing to delete every recording (empty prefix)")
        async with self._bounded(f"delete {prefix}"):
            names = [
                name async for name in self._container.list_blob_names(name_starts_with=prefix)
            ]
            # one request per blob, a few at once: batch deletes (delete_blobs) are not supported
            # by Azurite (Azure/Azurite#2309), so they would go untested
            gate = asyncio.Semaphore(_DELETE_CONCURRENCY)
            try:
                async with asyncio.TaskGroup() as group:
                    tasks = [group.create_task(self._delete(name, gate)) for name in names]
            except ExceptionGroup as failed:
                raise failed.exceptions[0] from failed
        return sum(task.result() for task in tasks)

    async def _delete(self, name: str, gate: asyncio.Semaphore) -> bool:
        """Delete one blob (with its snapshots); False when it was already gone."""
        async with gate:
            try:
                await self._container.delete_blob(name, delete_snapshots="include")
            except ResourceNotFoundError:
                return False  # deleted meanwhile by another call
            return True

    async def ready(self) -> bool:
        try:
            async with self._bounded("ready"):
                await self._container.get_container_properties()
        except RecordingStoreError:
            return False
        return True

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._container.close()

    @asynccontextmanager
    async def _bounded(self, what: str) -> AsyncIterator[None]:
        """Run the block within the store's time bound; its failures become
        :class:`RecordingStoreError` (:class:`RecordingNotFound` passes through)."""
        try:
            async with asyncio.timeout(self._timeout_s):
                yield
        except RecordingStoreError:
            raise
        except TimeoutError as exc:
            raise RecordingStoreError(
                f"azure-blob recording store: {what}: no answer within {self._timeout_s} s"
            ) from exc
        except (AzureError, aiohttp.ClientError, OSError) as exc:
            raise RecordingStoreError(f"azure-blob recording store: {what}: {exc!r}"[:500]) from exc


def _not_found(key: str, exc: ResourceNotFoundError) -> RecordingStoreError:
    """A missing blob is :class:`RecordingNotFound`; a missing container is a broken store."""
    # the storage client sets error_code (x-ms-error-code) on the errors it raises
    if getattr(exc, "error_code", None) == "ContainerNotFound":
        return RecordingStoreError(f"azure-blob recording store: container missing ({key})")
    return RecordingNotFound(key)
