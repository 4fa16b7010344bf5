"""Where recordings are kept: the settings every service that opens the recording store reads."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from switchboard.settings import DatabaseUrl

__all__ = ["RecordingStoreKind", "RecordingStoreSettings"]

RecordingStoreKind = Literal["postgres", "azure-blob"]


class RecordingStoreSettings(BaseSettings):
    """The recording store's backend and how to reach it."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    recording_store: RecordingStoreKind = Field(
        default="postgres",
        validation_alias="RECORDING_STORE",
        description="postgres (the audit database, table audit.recording_object) or azure-blob.",
    )
    recording_database_url: DatabaseUrl = Field(
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/switchboard",
        validation_alias="RECORDING_DATABASE_URL",
        description="The Postgres database of the postgres backend (the audit database).",
    )
    recording_azure_connection_string: str | None = Field(
        default=None,
        validation_alias="RECORDING_AZURE_CONNECTION_STRING",
        description="Azure Storage connection string of the azure-blob backend.",
    )
    recording_container: str = Field(
        default="recordings",
        min_length=3,
        max_length=63,
        pattern=r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$",
        validation_alias="RECORDING_CONTAINER",
        description="Blob container of the azure-blob backend (created when missing).",
    )
    recording_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=120,
        validation_alias="RECORDING_TIMEOUT_S",
        description="How long one write or read of the store may take before it fails.",
    )
