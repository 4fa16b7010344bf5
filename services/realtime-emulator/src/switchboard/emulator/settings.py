"""The emulator's settings (environment variables ``EMULATOR_*``; see docs/configuration.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator

from switchboard.settings import BaseServiceSettings

__all__ = ["DEFAULT_API_KEY", "EmulatorSettings"]

DEFAULT_API_KEY = "emulator-dev-key"


class EmulatorSettings(BaseServiceSettings):
    """Where the emulator listens, the key it accepts, and which speech engines it runs."""

    host: str = Field(default="127.0.0.1", validation_alias="EMULATOR_HOST")
    port: int = Field(default=8082, ge=0, le=65535, validation_alias="EMULATOR_PORT")
    api_key: SecretStr = Field(
        default=SecretStr(DEFAULT_API_KEY),
        validation_alias="EMULATOR_API_KEY",
        description="The key clients must send as api-key or Authorization: Bearer.",
    )
    asr: Literal["hybrid", "pocketsphinx", "whisper"] = Field(
        default="hybrid",
        validation_alias="EMULATOR_ASR",
        description="hybrid = whisper tiny.en text cross-checked by pocketsphinx for digit runs.",
    )
    tts: Literal["piper", "espeak"] = Field(default="piper", validation_alias="EMULATOR_TTS")
    speech: Literal["engines", "text"] = Field(
        default="engines",
        validation_alias="EMULATOR_SPEECH",
        description="engines = recognise and synthesise speech; text = the speech-free load "
        "mode (no recognition or synthesis engines loaded; the words of each turn come from "
        "typed input, replies are synthetic audio of speech length). Refused in production.",
    )
    speech_threads: int = Field(
        default=2,
        ge=1,
        le=64,
        validation_alias="EMULATOR_SPEECH_THREADS",
        description="Worker processes running recognition and synthesis (at a lower CPU "
        "priority) off the event loop; resampling and VAD of appended audio run on one thread "
        "of their own.",
    )
    max_session_s: float = Field(
        default=1800.0,
        gt=0,
        validation_alias="EMULATOR_MAX_SESSION_S",
        description="Session cap: the emulator ends a session after this long, as Azure does.",
    )

    @model_validator(mode="after")
    def _refuse_default_key_in_production(self) -> EmulatorSettings:
        if self.is_production and self.api_key.get_secret_value() == DEFAULT_API_KEY:
            raise ValueError("EMULATOR_API_KEY must be set to a non-default value in production")
        if not self.api_key.get_secret_value():
            raise ValueError("EMULATOR_API_KEY must not be empty")
        if self.is_production and self.speech == "text":
            raise ValueError(
                "EMULATOR_SPEECH=text is a load-test mode (it does not listen to callers) and is "
                "refused in production"
            )
        return self
