"""Settings validation: good URLs are normalised, bad ones are clear start-up errors."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from switchboard.settings import (
    AmqpSettings,
    BaseServiceSettings,
    DatabaseSettings,
    RedisSettings,
    redact_url,
)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db:5432/shop", "postgresql+asyncpg://u:p@db:5432/shop"),
        ("postgresql://u@db/shop", "postgresql+asyncpg://u@db/shop"),
        ("postgresql+asyncpg://u@db/shop", "postgresql+asyncpg://u@db/shop"),
    ],
)
def test_database_url_is_normalised_to_asyncpg(
    monkeypatch: pytest.MonkeyPatch, given: str, expected: str
) -> None:
    """Any Postgres URL spelling becomes the asyncpg driver URL."""
    monkeypatch.setenv("DATABASE_URL", given)
    assert DatabaseSettings(_env_file=None).database_url == expected  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("given", "fragment"),
    [
        ("mysql://u@db/shop", "must use postgresql://"),
        ("not a url", "not a URL"),
        ("postgresql://u@/shop", "no host"),
        ("postgresql://u@db:notaport/shop", "invalid port"),
        ("postgresql://u@db:5432", "names no database"),
    ],
)
def test_bad_database_url_names_the_problem(
    monkeypatch: pytest.MonkeyPatch, given: str, fragment: str
) -> None:
    """A malformed DATABASE_URL fails at start-up with a message saying what is wrong."""
    monkeypatch.setenv("DATABASE_URL", given)
    with pytest.raises(ValidationError) as info:
        DatabaseSettings(_env_file=None)  # type: ignore[call-arg]
    assert fragment in str(info.value)


def test_bad_amqp_and_redis_urls_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """AMQP_URL and REDIS_URL must use their own schemes."""
    monkeypatch.setenv("AMQP_URL", "http://rabbit:5672/")
    monkeypatch.setenv("REDIS_URL", "amqp://redis:6379")
    with pytest.raises(ValidationError, match="AMQP_URL must use amqp"):
        AmqpSettings(_env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="REDIS_URL must use redis"):
        RedisSettings(_env_file=None)  # type: ignore[call-arg]


def test_defaults_point_at_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    """With nothing set, every URL points at the local servers."""
    for name in ("DATABASE_URL", "AMQP_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    assert "127.0.0.1:5432" in DatabaseSettings(_env_file=None).database_url  # type: ignore[call-arg]
    assert AmqpSettings(_env_file=None).amqp_url.startswith("amqp://guest:guest@127.0.0.1")  # type: ignore[call-arg]
    assert RedisSettings(_env_file=None).redis_url == "redis://127.0.0.1:6379/0"  # type: ignore[call-arg]


def test_namespace_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    """The namespace prefixes broker and Redis names, so it must be a safe identifier."""
    monkeypatch.setenv("SWITCHBOARD_NAMESPACE", "Bad Name!")
    with pytest.raises(ValidationError, match="SWITCHBOARD_NAMESPACE"):
        BaseServiceSettings(_env_file=None)  # type: ignore[call-arg]


def test_passwords_are_redacted_in_messages() -> None:
    """URLs in logs and errors never show the password."""
    assert redact_url("amqp://user:s3cret@host:5672/") == "amqp://user:***@host:5672/"
    assert redact_url("redis://host:6379/0") == "redis://host:6379/0"
