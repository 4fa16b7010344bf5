"""Switchboard session gateway: a secure GA Realtime middle tier between voice clients and the
Realtime API (or the emulator), with tools over RabbitMQ and an audit trail of events."""

__all__: list[str] = []
