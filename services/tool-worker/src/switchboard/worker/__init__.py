"""Switchboard tool worker: the order tools, served over RabbitMQ against Postgres.

Each tool is an async function with a pydantic argument model (``switchboard.worker.tools``);
:mod:`switchboard.worker.consumer` takes calls off the broker and answers them,
:mod:`switchboard.worker.effects` makes mutating calls exactly-once, and
:mod:`switchboard.worker.catalog` announces the served tools in Redis.
"""
