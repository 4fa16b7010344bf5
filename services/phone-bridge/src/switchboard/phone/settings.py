"""The phone bridge's settings (environment variables ``PHONE_*`` / ``TWILIO_*`` plus the shared
ones; see docs/configuration.md). Built once in ``main()`` (or by a test) and passed down."""

from __future__ import annotations

import hashlib

from pydantic import Field, SecretStr, field_validator, model_validator

from switchboard.settings import BaseServiceSettings, DatabaseSettings

__all__ = [
    "DEFAULT_ACS_CONNECTION_STRING",
    "DEFAULT_ACS_EVENTGRID_SECRET",
    "DEFAULT_ACS_RESOURCE_ID",
    "DEFAULT_GATEWAY_SERVER_KEY",
    "DEFAULT_TWILIO_AUTH_TOKEN",
    "PhoneSettings",
]

#: The gateway's development server key (``GATEWAY_SERVER_KEY``'s default).
DEFAULT_GATEWAY_SERVER_KEY = "switchboard-dev-server-key"
#: A development Twilio auth token: the carrier simulator signs with it by default.
DEFAULT_TWILIO_AUTH_TOKEN = "switchboard-dev-twilio-token"
#: Development ACS settings: they point at the local ACS simulator (``switchboard phone
#: --carrier acs``), which serves the Call Automation REST API and its JWKS on port 8084.
DEFAULT_ACS_CONNECTION_STRING = (
    "endpoint=http://127.0.0.1:8084/;accesskey=c3dpdGNoYm9hcmQtZGV2LWFjcy1hY2Nlc3Mta2V5"
)
DEFAULT_ACS_RESOURCE_ID = "00000000-0000-0000-0000-00000000acs0"
DEFAULT_ACS_EVENTGRID_SECRET = "switchboard-dev-eventgrid-secret"
DEFAULT_ACS_JWKS_URL = "http://127.0.0.1:8084/calling/keys"


#: What every caller hears first (``PHONE_GREETING``).
DEFAULT_GREETING = "Thank you for calling. You are connected to our assistant. How can I help?"


class PhoneSettings(BaseServiceSettings, DatabaseSettings):
    """Listening address, carrier credentials, the gateway, caller lookup, keypad and transfer."""

    host: str = Field(default="127.0.0.1", validation_alias="PHONE_HOST")
    port: int = Field(default=8083, ge=0, le=65535, validation_alias="PHONE_PORT")
    public_url: str = Field(
        default="",
        validation_alias="PHONE_PUBLIC_URL",
        description="Base URL the carrier reaches the bridge at (https://...); empty = the "
        "URL of each request as the bridge sees it (right without a proxy in front).",
    )

    # -- Twilio --------------------------------------------------------------------------------
    twilio_account_sid: str = Field(
        default="AC00000000000000000000000000000000", validation_alias="TWILIO_ACCOUNT_SID"
    )
    twilio_auth_token: SecretStr = Field(
        default=SecretStr(DEFAULT_TWILIO_AUTH_TOKEN),
        validation_alias="TWILIO_AUTH_TOKEN",
        description="Checks X-Twilio-Signature on every webhook and media websocket.",
    )
    twilio_api_base_url: str = Field(
        default="https://api.twilio.com",
        validation_alias="TWILIO_API_BASE_URL",
        description="Twilio REST API base (tests point it at a local stand-in).",
    )

    # -- Azure Communication Services ---------------------------------------------------------
    acs_enabled: bool | None = Field(
        default=None,
        validation_alias="ACS_ENABLED",
        description="Serve the /acs/ routes (default: on outside production, off in it).",
    )
    acs_connection_string: SecretStr = Field(
        default=SecretStr(DEFAULT_ACS_CONNECTION_STRING),
        validation_alias="ACS_CONNECTION_STRING",
        description="endpoint=https://<resource>.communication.azure.com/;accesskey=<key>: "
        "Call Automation REST calls (HMAC-signed with the key); tests point it at a stand-in.",
    )
    acs_resource_id: str = Field(
        default=DEFAULT_ACS_RESOURCE_ID,
        validation_alias="ACS_RESOURCE_ID",
        description="The ACS resource's immutable id: the audience of Call Automation's JWTs.",
    )
    acs_jwks_url: str = Field(
        default=DEFAULT_ACS_JWKS_URL,
        validation_alias="ACS_JWKS_URL",
        description="Keys of Call Automation's JWTs (in Azure: "
        "https://acscallautomation.communication.azure.com/calling/keys).",
    )
    acs_eventgrid_secret: SecretStr = Field(
        default=SecretStr(DEFAULT_ACS_EVENTGRID_SECRET),
        validation_alias="ACS_EVENTGRID_SECRET",
        description="The ?secret= of the Event Grid subscription's webhook URL "
        "(/acs/incoming?secret=...).",
    )
    acs_cognitive_services_endpoint: str = Field(
        default="",
        validation_alias="ACS_COGNITIVE_SERVICES_ENDPOINT",
        description="Azure AI services endpoint connected to the ACS resource, passed on the "
        "answer (call intelligence; empty = none). The bot's own voice never needs it.",
    )

    # -- the session gateway -------------------------------------------------------------------
    gateway_url: str = Field(default="http://127.0.0.1:8080", validation_alias="PHONE_GATEWAY_URL")
    gateway_server_key: SecretStr = Field(
        default=SecretStr(DEFAULT_GATEWAY_SERVER_KEY),
        validation_alias="PHONE_GATEWAY_SERVER_KEY",
        description="The gateway's GATEWAY_SERVER_KEY: the bridge mints client secrets with it.",
    )
    gateway_connect_timeout_s: float = Field(
        default=10.0, gt=0, le=120, validation_alias="PHONE_GATEWAY_CONNECT_TIMEOUT_S"
    )
    resume_within_s: float = Field(
        default=15.0,
        ge=0,
        le=300,
        validation_alias="PHONE_RESUME_WITHIN_S",
        description="When the gateway socket drops (no close frame) or closes with 1012, how "
        "long the bridge keeps trying to resume the conversation (backing off 0.2 s to 1 s) "
        "with the carrier call held; 0 ends the call at once as before.",
    )
    resume_attempts: int = Field(
        default=3,
        ge=0,
        le=100,
        validation_alias="PHONE_RESUME_ATTEMPTS",
        description="Most resumes one call may make (each may take several tries within "
        "PHONE_RESUME_WITHIN_S); 0 turns resuming off.",
    )

    # -- who is calling (caller ID; verification itself is verify_caller on the workers) -------
    default_country_code: str = Field(
        default="1",
        pattern=r"^[1-9][0-9]{0,2}$",
        validation_alias="PHONE_DEFAULT_COUNTRY_CODE",
        description="Country calling code for numbers stored without one (E.164 normalising).",
    )
    binding_ttl_s: int = Field(
        default=120,
        ge=5,
        le=3600,
        validation_alias="PHONE_BINDING_TTL_S",
        description="How long an answered call has to open its media stream.",
    )

    # -- audio, keypad, transfer ---------------------------------------------------------------
    greeting: str = Field(
        default=DEFAULT_GREETING,
        max_length=1000,
        validation_alias="PHONE_GREETING",
        description="Said to every caller before the bot's first words (Twilio: TwiML <Say>; "
        "ACS: played with Azure text to speech, which needs ACS_COGNITIVE_SERVICES_ENDPOINT); "
        "empty = none.",
    )
    acs_greeting_voice: str = Field(
        default="en-US-JennyNeural",
        validation_alias="ACS_GREETING_VOICE",
        description="The Azure neural voice of the greeting on ACS calls.",
    )
    acs_greeting_timeout_s: float = Field(
        default=20.0,
        gt=0,
        le=120,
        validation_alias="ACS_GREETING_TIMEOUT_S",
        description="On ACS, the conversation's audio starts when the greeting has played "
        "(PlayCompleted or PlayFailed), or after this long at the latest.",
    )
    mark_interval_ms: int = Field(
        default=100,
        ge=20,
        le=2000,
        validation_alias="PHONE_MARK_INTERVAL_MS",
        description="Playback marks per this much bot audio (barge-in precision).",
    )
    append_batch_ms: int = Field(
        default=0,
        ge=0,
        le=500,
        validation_alias="PHONE_APPEND_BATCH_MS",
        description="Caller audio is sent to the gateway in appends of up to this much audio "
        "(fewer messages, less CPU per call; the gateway hears the caller up to this much "
        "minus one carrier frame later); 0 (the default: latency first) sends every carrier "
        "frame at once.",
    )
    dtmf_pause_s: float = Field(
        default=2.0,
        gt=0,
        le=30,
        validation_alias="PHONE_DTMF_PAUSE_S",
        description="Keypad digits are sent to the conversation after '#' or this pause.",
    )
    transfer_to: str = Field(
        default="",
        validation_alias="PHONE_TRANSFER_TO",
        description="Where escalations go: an E.164 number or a sip: URI (empty = no transfer; "
        "the caller is told to call back).",
    )
    transfer_grace_s: float = Field(
        default=15.0,
        ge=0,
        le=120,
        validation_alias="PHONE_TRANSFER_GRACE_S",
        description="Longest the bridge waits for the bot's answer to an escalation, and then "
        "for it to be played, before it moves the call.",
    )
    store_url: str = Field(
        default="http://127.0.0.1:8081",
        validation_alias="PHONE_STORE_URL",
        description="The conversation store as agents reach it (the handoff summary link).",
    )
    hangup_settle_s: float = Field(
        default=15.0,
        ge=0,
        le=120,
        validation_alias="PHONE_HANGUP_SETTLE_S",
        description="After a hang-up mid-turn, longest the conversation stays open for a running "
        "tool or response to finish (so its outcome is recorded).",
    )
    max_calls: int = Field(default=1000, ge=1, le=100000, validation_alias="PHONE_MAX_CALLS")
    drain_timeout_s: float = Field(
        default=600.0,
        ge=0,
        validation_alias="PHONE_DRAIN_TIMEOUT_S",
        description="On SIGTERM, longest wait for calls in progress to end (new calls are "
        "refused meanwhile); what is left then is cut.",
    )

    @field_validator(
        "public_url", "gateway_url", "twilio_api_base_url", "store_url", "acs_jwks_url"
    )
    @classmethod
    def _strip_url(cls, value: str) -> str:
        return value.strip().rstrip("/")

    @field_validator("transfer_to")
    @classmethod
    def _check_transfer(cls, value: str) -> str:
        value = value.strip()
        if value and not (value.startswith("sip:") or value.lstrip("+").isdigit()):
            raise ValueError("PHONE_TRANSFER_TO must be an E.164 number (+1...) or a sip: URI")
        return value

    @model_validator(mode="after")
    def _check(self) -> PhoneSettings:
        if self.is_production:
            if self.twilio_auth_token.get_secret_value() == DEFAULT_TWILIO_AUTH_TOKEN:
                raise ValueError("TWILIO_AUTH_TOKEN must be set in production")
            if self.gateway_server_key.get_secret_value() == DEFAULT_GATEWAY_SERVER_KEY:
                raise ValueError("PHONE_GATEWAY_SERVER_KEY must be set in production")
            if not self.public_url.startswith("https://"):
                raise ValueError("PHONE_PUBLIC_URL must be an https:// URL in production")
        if not self.twilio_auth_token.get_secret_value():
            raise ValueError("TWILIO_AUTH_TOKEN must not be empty")
        if self.acs_enabled is None:
            self.acs_enabled = not self.is_production
        if self.acs_enabled:
            self._check_acs()
        return self

    def _check_acs(self) -> None:
        from switchboard.phone.carriers.acs import parse_connection_string

        parse_connection_string(self.acs_connection_string.get_secret_value())
        if not self.acs_eventgrid_secret.get_secret_value() or not self.acs_resource_id:
            raise ValueError("ACS_EVENTGRID_SECRET and ACS_RESOURCE_ID must not be empty")
        if self.is_production:
            dev = (
                self.acs_connection_string.get_secret_value() == DEFAULT_ACS_CONNECTION_STRING
                or self.acs_eventgrid_secret.get_secret_value() == DEFAULT_ACS_EVENTGRID_SECRET
                or self.acs_resource_id == DEFAULT_ACS_RESOURCE_ID
                or self.acs_jwks_url == DEFAULT_ACS_JWKS_URL
            )
            if dev:
                raise ValueError(
                    "with ACS_ENABLED in production, ACS_CONNECTION_STRING, ACS_RESOURCE_ID, "
                    "ACS_JWKS_URL and ACS_EVENTGRID_SECRET must be set"
                )

    @property
    def binding_key(self) -> bytes:
        """Key of the verified-call bindings (derived from the auth token, so every replica
        of the bridge shares it without one more secret)."""
        token = self.twilio_auth_token.get_secret_value().encode()
        return hashlib.sha256(b"switchboard-phone-binding:" + token).digest()
