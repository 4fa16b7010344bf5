"""Settings pieces shared by every Switchboard service.

Each service builds its own ``Settings`` class from these mixins in ``main()`` or its lifespan
and passes it down; nothing reads the environment at import time.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "AmqpSettings",
    "BaseServiceSettings",
    "DatabaseSettings",
    "RedisSettings",
    "normalise_amqp_url",
    "normalise_database_url",
    "normalise_redis_url",
]

_NAMESPACE_RE = re.compile(r"^[a-z][a-z0-9_-]{0,47}$")


def _require_host(url: str, what: str) -> None:
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"{what} has no host: {redact_url(url)!r}")
    try:
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError as exc:
        raise ValueError(f"{what} has an invalid port: {redact_url(url)!r}") from exc


def redact_url(url: str) -> str:
    """Return *url* with any password replaced by ``***``, for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def normalise_database_url(url: str) -> str:
    """Accept ``postgres://``, ``postgresql://`` or ``postgresql+asyncpg://``; return the asyncpg form."""
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"DATABASE_URL is not a URL: {redact_url(url)!r}")
    if scheme in {"postgres", "postgresql", "postgresql+asyncpg"}:
        url = f"postgresql+asyncpg://{rest}"
    else:
        raise ValueError(
            f"DATABASE_URL must use postgresql:// (got scheme {scheme!r}); "
            "example: postgresql://postgres@127.0.0.1:5432/switchboard"
        )
    _require_host(url, "DATABASE_URL")
    if not urlsplit(url).path.strip("/"):
        raise ValueError(f"DATABASE_URL names no database: {redact_url(url)!r}")
    return url


def normalise_amqp_url(url: str) -> str:
    """Accept ``amqp://`` or ``amqps://`` URLs with a host."""
    url = url.strip()
    scheme = url.partition("://")[0]
    if scheme not in {"amqp", "amqps"} or "://" not in url:
        raise ValueError(
            f"AMQP_URL must use amqp:// or amqps:// (got {redact_url(url)!r}); "
            "example: amqp://guest:guest@127.0.0.1:5672/"
        )
    _require_host(url, "AMQP_URL")
    return url


def normalise_redis_url(url: str) -> str:
    """Accept ``redis://``, ``rediss://`` or ``unix://`` URLs."""
    url = url.strip()
    scheme = url.partition("://")[0]
    if scheme not in {"redis", "rediss", "unix"} or "://" not in url:
        raise ValueError(
            f"REDIS_URL must use redis://, rediss:// or unix:// (got {redact_url(url)!r}); "
            "example: redis://127.0.0.1:6379/0"
        )
    if scheme != "unix":
        _require_host(url, "REDIS_URL")
    return url


def _check_namespace(value: str) -> str:
    if not _NAMESPACE_RE.match(value):
        raise ValueError(
            "SWITCHBOARD_NAMESPACE must be 1-48 characters of a-z, 0-9, '_' or '-', "
            f"starting with a letter (got {value!r})"
        )
    return value


DatabaseUrl = Annotated[str, AfterValidator(normalise_database_url)]
AmqpUrl = Annotated[str, AfterValidator(normalise_amqp_url)]
RedisUrl = Annotated[str, AfterValidator(normalise_redis_url)]
Namespace = Annotated[str, AfterValidator(_check_namespace)]


class BaseServiceSettings(BaseSettings):
    """Options every service reads: environment, logging and the broker/Redis namespace."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    environment: str = Field(
        default="development",
        validation_alias="SWITCHBOARD_ENV",
        description="development, test or production; production refuses unsafe defaults.",
    )
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    log_format: str = Field(
        default="json", validation_alias="LOG_FORMAT", description="json or console"
    )
    namespace: Namespace = Field(
        default="switchboard",
        validation_alias="SWITCHBOARD_NAMESPACE",
        description="Prefix of every exchange, queue and Redis key (isolates environments).",
    )

    @property
    def is_production(self) -> bool:
        return self.environment.lower() == "production"


class DatabaseSettings(BaseSettings):
    """The Postgres order/audit database."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: DatabaseUrl = Field(
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/switchboard",
        validation_alias="DATABASE_URL",
    )
    database_pool_size: int = Field(default=10, ge=1, le=200, validation_alias="DATABASE_POOL_SIZE")
    database_timeout_s: float = Field(
        default=3.0, gt=0, le=60, validation_alias="DATABASE_TIMEOUT_S"
    )


class AmqpSettings(BaseSettings):
    """The RabbitMQ broker."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    amqp_url: AmqpUrl = Field(
        default="amqp://guest:guest@127.0.0.1:5672/", validation_alias="AMQP_URL"
    )


class RedisSettings(BaseSettings):
    """The Redis server (tokens, session registry, tool catalog, limits)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    redis_url: RedisUrl = Field(default="redis://127.0.0.1:6379/0", validation_alias="REDIS_URL")
