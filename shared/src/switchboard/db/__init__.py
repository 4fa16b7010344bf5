"""Switchboard's Postgres schema (SQLAlchemy 2 models) and engine helpers."""

from switchboard.db.base import Base, metadata
from switchboard.db.engine import create_engine, create_sessionmaker

__all__ = ["Base", "create_engine", "create_sessionmaker", "metadata"]
