"""Redis key names, all under the deployment namespace."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RedisKeys"]


@dataclass(frozen=True, slots=True)
class RedisKeys:
    """Key builders for one namespace; every Redis key Switchboard writes comes from here."""

    namespace: str = "switchboard"

    def client_secret(self, secret_hash: str) -> str:
        """One ephemeral client secret (stored by its SHA-256, never in clear)."""
        return f"{self.namespace}:secret:{secret_hash}"

    def catalog_worker(self, worker_id: str) -> str:
        """The tools one live worker serves (JSON list of catalog entries), with a TTL."""
        return f"{self.namespace}:catalog:worker:{worker_id}"

    @property
    def catalog_pattern(self) -> str:
        return f"{self.namespace}:catalog:worker:*"

    def session(self, session_id: str) -> str:
        """Registry entry of one live conversation (hash), with a heartbeat TTL."""
        return f"{self.namespace}:session:{session_id}"

    @property
    def sessions_index(self) -> str:
        """Sorted set of live session ids scored by start time."""
        return f"{self.namespace}:sessions"

    def customer_sessions(self, customer_id: str) -> str:
        """Set of live session ids of one customer (concurrency limit)."""
        return f"{self.namespace}:customer:{customer_id}:sessions"

    def session_control(self, session_id: str) -> str:
        """Pub/sub channel carrying control commands (e.g. end) to the gateway holding a session."""
        return f"{self.namespace}:control:{session_id}"

    def session_snapshot(self, session_id: str) -> str:
        """Resume snapshot of one conversation (hash: ``holder``, ``refreshed_at``, ``data``),
        kept while it is live and for the resume window after it was lost."""
        return f"{self.namespace}:snapshot:{session_id}"

    def gateway(self, gateway_id: str) -> str:
        """Heartbeat of one gateway instance."""
        return f"{self.namespace}:gateway:{gateway_id}"
