"""Switchboard's realtime emulator: an offline, honest stand-in for the Azure/OpenAI Realtime API."""

__all__ = ["EMULATOR_MARKER"]

#: Marker the emulator puts where a client can see it (server header, session id prefix, ``GET /``),
#: so nobody mistakes it for a real model.
EMULATOR_MARKER = "switchboard-emulator"
