"""Switchboard's conversation store: a lossless audit trail of conversations (ingested from
RabbitMQ), an analyst REST API and web UI. See docs/store.md."""
