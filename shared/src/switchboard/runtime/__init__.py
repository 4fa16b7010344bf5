"""The runtime part of the shared library: what every service process does the same way.

- :mod:`~switchboard.runtime.server`: run an ASGI app under uvicorn (signals, drain, exit 0);
- :mod:`~switchboard.runtime.probes`: the ``/healthz``, ``/readyz`` and ``/metrics`` routes, and
  the database readiness check;
- :mod:`~switchboard.runtime.backoff`: connect (or retry anything) with capped backoff;
- :mod:`~switchboard.runtime.deadletter`: keep a poison message with the reason it was refused;
- :mod:`~switchboard.runtime.histogram`: a lock-free histogram for the event loop's hot paths.

Import from the submodules: each pulls in only what it needs (the server uvicorn, dead letters
aio-pika). The contracts part (:mod:`switchboard.contracts`) has no I/O at all.
"""
