"""Switchboard phone bridge: phone calls from a carrier's media stream to the session gateway."""
