#!/usr/bin/env bash
# Make sure Postgres, RabbitMQ and Redis are reachable for `make run` / `make test`.
# For each URL not set in the environment (or .env): if the server is installed on this machine,
# start it when stopped and print the local URL to export. Prints `export NAME=URL` lines.
set -euo pipefail

[ -f .env ] && set -a && . ./.env && set +a

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 1; done
  return 1
}

if [ -z "${DATABASE_URL:-}" ]; then
  if ! port_open 5432 && command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "starting local Postgres" >&2
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start >&2 || true
    wait_port 5432 || echo "Postgres did not come up on :5432" >&2
  fi
  port_open 5432 && echo "export DATABASE_URL=postgresql://postgres@127.0.0.1:5432/switchboard"
fi

if [ -z "${REDIS_URL:-}" ]; then
  if ! port_open 6379 && command -v redis-server >/dev/null 2>&1; then
    echo "starting local Redis" >&2
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >&2 || true
    wait_port 6379 || echo "Redis did not come up on :6379" >&2
  fi
  port_open 6379 && echo "export REDIS_URL=redis://127.0.0.1:6379/0"
fi

if [ -z "${AMQP_URL:-}" ]; then
  if ! port_open 5672 && command -v rabbitmq-server >/dev/null 2>&1; then
    echo "starting local RabbitMQ" >&2
    rabbitmq-server -detached >&2 || true
    wait_port 5672 || echo "RabbitMQ did not come up on :5672" >&2
  fi
  port_open 5672 && echo "export AMQP_URL=amqp://guest:guest@127.0.0.1:5672/"
fi
exit 0
