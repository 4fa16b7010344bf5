"""The gateway's settings (environment variables ``GATEWAY_*`` / ``UPSTREAM_*`` plus the shared
ones; see docs/configuration.md). Built once in ``main()`` (or by a test) and passed down."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from switchboard.recording import RecordingStoreSettings
from switchboard.settings import AmqpSettings, BaseServiceSettings, RedisSettings

__all__ = [
    "DEFAULT_PROMPT_FILE",
    "DEFAULT_SERVER_KEY",
    "DEFAULT_UPSTREAM_KEY",
    "GatewaySettings",
    "UpstreamKind",
]

DEFAULT_SERVER_KEY = "switchboard-dev-server-key"
#: The emulator's development key (``EMULATOR_API_KEY``'s default).
DEFAULT_UPSTREAM_KEY = "emulator-dev-key"
DEFAULT_PROMPT_FILE = Path(__file__).parent / "prompts" / "shopme.md"

UpstreamKind = Literal["emulator", "azure", "azure-preview", "openai"]

_DEFAULT_UPSTREAM_URLS = {
    "emulator": "ws://127.0.0.1:8082",
    "openai": "wss://api.openai.com",
}


def default_gateway_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class GatewaySettings(BaseServiceSettings, AmqpSettings, RedisSettings, RecordingStoreSettings):
    """Listening address, client auth, upstream, session policy, limits, resilience and
    recordings (the ``RECORDING_*`` store settings are the shared ones)."""

    # -- identity and HTTP -------------------------------------------------------------------
    gateway_id: str = Field(
        default_factory=default_gateway_id,
        min_length=1,
        max_length=128,
        validation_alias="GATEWAY_ID",
    )
    host: str = Field(default="127.0.0.1", validation_alias="GATEWAY_HOST")
    port: int = Field(default=8080, ge=0, le=65535, validation_alias="GATEWAY_PORT")
    ws_compression: bool = Field(
        default=False,
        validation_alias="GATEWAY_WS_COMPRESSION",
        description="Accept permessage-deflate from clients that offer it (CPU per audio chunk).",
    )

    server_fields: Literal["ignore", "error"] = Field(
        default="ignore",
        validation_alias="GATEWAY_SERVER_FIELDS",
        description="Server-owned fields (instructions, tools, tracing, ...) in a client's "
        "session.update: 'ignore' drops them (audited, counted), 'error' refuses the event.",
    )

    # -- client auth ---------------------------------------------------------------------------
    server_key: SecretStr = Field(
        default=SecretStr(DEFAULT_SERVER_KEY),
        validation_alias="GATEWAY_SERVER_KEY",
        description="Bearer key the shop's backend uses to mint client secrets.",
    )
    client_secret_ttl_s: int = Field(
        default=600, ge=10, le=7200, validation_alias="GATEWAY_CLIENT_SECRET_TTL_S"
    )

    # -- upstream ------------------------------------------------------------------------------
    upstream_kind: UpstreamKind = Field(default="emulator", validation_alias="UPSTREAM_KIND")
    upstream_url: str = Field(
        default="",
        validation_alias="UPSTREAM_URL",
        description="Base URL of the upstream (empty = the kind's default).",
    )
    upstream_model: str = Field(
        default="gpt-realtime",
        min_length=1,
        validation_alias="UPSTREAM_MODEL",
        description="Model (OpenAI) or deployment name (Azure, emulator).",
    )
    upstream_api_key: SecretStr = Field(
        default=SecretStr(DEFAULT_UPSTREAM_KEY), validation_alias="UPSTREAM_API_KEY"
    )
    upstream_auth: Literal["api-key", "entra"] = Field(
        default="api-key",
        validation_alias="UPSTREAM_AUTH",
        description="Azure only: api-key header, or a Microsoft Entra ID token (azure-identity).",
    )
    upstream_api_version: str = Field(
        default="2024-10-01-preview", validation_alias="UPSTREAM_API_VERSION"
    )
    upstream_connect_timeout_s: float = Field(
        default=10.0, gt=0, le=120, validation_alias="UPSTREAM_CONNECT_TIMEOUT_S"
    )
    upstream_session_cap_s: float = Field(
        default=1800.0,
        gt=0,
        validation_alias="UPSTREAM_SESSION_CAP_S",
        description="The upstream's own session cap; the gateway renews before it.",
    )
    upstream_renew_margin_s: float = Field(
        default=60.0, ge=0, validation_alias="UPSTREAM_RENEW_MARGIN_S"
    )
    upstream_reconnect_attempts: int = Field(
        default=8, ge=0, le=100, validation_alias="UPSTREAM_RECONNECT_ATTEMPTS"
    )
    upstream_reconnect_backoff_s: float = Field(
        default=0.25, gt=0, le=30, validation_alias="UPSTREAM_RECONNECT_BACKOFF_S"
    )
    upstream_ws_compression: bool = Field(
        default=False,
        validation_alias="UPSTREAM_WS_COMPRESSION",
        description="Offer permessage-deflate to the upstream (CPU for every audio chunk).",
    )
    upstream_ws_client: Literal["websockets", "picows"] = Field(
        default="picows",
        validation_alias="UPSTREAM_WS_CLIENT",
        description="The upstream websocket client library (picows: less CPU, no compression).",
    )

    # -- session policy ------------------------------------------------------------------------
    prompt_file: Path = Field(default=DEFAULT_PROMPT_FILE, validation_alias="GATEWAY_PROMPT_FILE")
    language: str = Field(default="English", min_length=1, validation_alias="GATEWAY_LANGUAGE")
    voice: str = Field(default="shimmer", validation_alias="GATEWAY_VOICE")
    audio_format: Literal["audio/pcm", "audio/pcmu", "audio/pcma"] = Field(
        default="audio/pcm", validation_alias="GATEWAY_AUDIO_FORMAT"
    )
    transcription_model: str = Field(
        default="whisper-1", validation_alias="GATEWAY_TRANSCRIPTION_MODEL"
    )
    vad_silence_ms: int = Field(
        default=500, ge=0, le=10000, validation_alias="GATEWAY_VAD_SILENCE_MS"
    )
    catalog_refresh_s: float = Field(
        default=2.0, ge=0, le=600, validation_alias="GATEWAY_CATALOG_REFRESH_S"
    )

    # -- tools ---------------------------------------------------------------------------------
    tool_timeout_s: float = Field(
        default=8.0, gt=0, le=120, validation_alias="GATEWAY_TOOL_TIMEOUT_S"
    )
    filler_after_s: float = Field(
        default=1.5,
        ge=0,
        validation_alias="GATEWAY_FILLER_AFTER_S",
        description="Say a short filler when a tool is slower than this (0 = never).",
    )
    filler_text: str = Field(
        default="One moment please, I am checking that for you.",
        validation_alias="GATEWAY_FILLER_TEXT",
    )

    # -- limits --------------------------------------------------------------------------------
    max_session_s: float = Field(default=1800.0, gt=0, validation_alias="GATEWAY_MAX_SESSION_S")
    idle_timeout_s: float = Field(default=120.0, gt=0, validation_alias="GATEWAY_IDLE_TIMEOUT_S")
    max_sessions_per_customer: int = Field(
        default=3, ge=1, le=1000, validation_alias="GATEWAY_MAX_SESSIONS_PER_CUSTOMER"
    )
    max_message_bytes: int = Field(
        default=256 * 1024,
        ge=1024,
        le=16 * 1024 * 1024,
        validation_alias="GATEWAY_MAX_MESSAGE_BYTES",
    )
    max_audio_rate: float = Field(
        default=2.0,
        gt=0,
        validation_alias="GATEWAY_MAX_AUDIO_RATE",
        description="Input audio allowed per second of wall time (1.0 = real time), with a burst.",
    )
    audio_burst_s: float = Field(default=10.0, gt=0, validation_alias="GATEWAY_AUDIO_BURST_S")

    redis_max_connections: int = Field(
        default=64, ge=4, le=10000, validation_alias="GATEWAY_REDIS_MAX_CONNECTIONS"
    )

    # -- recordings -----------------------------------------------------------------------------
    recording: bool = Field(
        default=True,
        validation_alias="GATEWAY_RECORDING",
        description="Record conversations (both channels) into the recording store; a session "
        "minted with recording false is never recorded.",
    )
    recording_segment_s: float = Field(
        default=5.0,
        ge=0.5,
        le=60,
        validation_alias="GATEWAY_RECORDING_SEGMENT_S",
        description="Length of the caller channel's segments: at most this much audio is lost "
        "when a gateway dies.",
    )

    # -- events, registry, shutdown ------------------------------------------------------------
    event_buffer: int = Field(
        default=10000, ge=10, le=1_000_000, validation_alias="GATEWAY_EVENT_BUFFER"
    )
    registry_ttl_s: float = Field(default=30.0, gt=0, validation_alias="GATEWAY_REGISTRY_TTL_S")
    heartbeat_s: float = Field(default=10.0, gt=0, validation_alias="GATEWAY_HEARTBEAT_S")
    drain_timeout_s: float = Field(default=20.0, ge=0, validation_alias="GATEWAY_DRAIN_TIMEOUT_S")
    drain_handover_s: float = Field(
        default=10.0,
        ge=0,
        validation_alias="GATEWAY_DRAIN_HANDOVER_S",
        description="After the drain timeout, how long a conversation still running may wait "
        "for a quiet moment (no answer under way, the caller not speaking, no tool running) to "
        "be handed over; then it is handed over anyway.",
    )
    resume_window_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        validation_alias="GATEWAY_RESUME_WINDOW_S",
        description="How long after its client or gateway was lost a conversation can be "
        "resumed with a resume secret.",
    )
    snapshot_interval_s: float = Field(
        default=0.2,
        ge=0,
        le=10,
        validation_alias="GATEWAY_SNAPSHOT_INTERVAL_S",
        description="The most often a conversation's resume snapshot is written to Redis "
        "(changes in between are coalesced).",
    )
    amqp_reconnect_s: float = Field(
        default=1.0, gt=0, le=60, validation_alias="GATEWAY_AMQP_RECONNECT_S"
    )

    @field_validator("upstream_url")
    @classmethod
    def _strip_url(cls, value: str) -> str:
        return value.strip().rstrip("/")

    @model_validator(mode="after")
    def _check(self) -> GatewaySettings:
        if not self.upstream_url:
            default = _DEFAULT_UPSTREAM_URLS.get(self.upstream_kind)
            if default is None:
                raise ValueError(
                    f"UPSTREAM_URL is required for UPSTREAM_KIND={self.upstream_kind} "
                    "(e.g. https://RESOURCE.openai.azure.com)"
                )
            self.upstream_url = default
        if self.is_production:
            if self.server_key.get_secret_value() == DEFAULT_SERVER_KEY:
                raise ValueError(
                    "GATEWAY_SERVER_KEY must be set to a non-default value in production"
                )
            if (
                self.upstream_kind != "emulator"
                and self.upstream_auth == "api-key"
                and self.upstream_api_key.get_secret_value() == DEFAULT_UPSTREAM_KEY
            ):
                raise ValueError("UPSTREAM_API_KEY must be set in production")
        if not self.server_key.get_secret_value():
            raise ValueError("GATEWAY_SERVER_KEY must not be empty")
        if self.upstream_ws_client == "picows" and self.upstream_ws_compression:
            raise ValueError(
                "UPSTREAM_WS_COMPRESSION=true needs UPSTREAM_WS_CLIENT=websockets "
                "(picows, the default, has no permessage-deflate)"
            )
        if self.heartbeat_s >= self.registry_ttl_s:
            raise ValueError("GATEWAY_HEARTBEAT_S must be below GATEWAY_REGISTRY_TTL_S")
        if not self.prompt_file.is_file():
            raise ValueError(f"GATEWAY_PROMPT_FILE does not exist: {self.prompt_file}")
        return self

    @property
    def renew_after_s(self) -> float:
        """When to renew the upstream session (before its cap)."""
        return max(1.0, self.upstream_session_cap_s - self.upstream_renew_margin_s)
