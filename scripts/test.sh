#!/usr/bin/env bash
# `make test`: the whole suite against real Postgres, RabbitMQ and Redis (their URLs in the
# environment, see scripts/ensure-services.sh).
#
# The short chaos run (tests/chaos/test_chaos_short.py) starts a product of its own: its own
# processes on free ports, its own namespace and database, and its faults cut connections through
# its own proxies, never the shared servers. Most of its three and a half minutes, like most of
# the end-to-end tests', is waiting on speech at real-time pace, so it runs in a second pytest
# process beside the rest and the two overlap on two cores. Its output follows the main run's.
#
# With arguments (`make test PYTEST_ARGS="tests/worker -k exactly"`): one plain pytest run.
set -uo pipefail
cd "$(dirname "$0")/.."

UV=${UV:-uv}
if [ "$#" -gt 0 ]; then
    exec "$UV" run --frozen pytest "$@"
fi

CHAOS=tests/chaos/test_chaos_short.py
log=$(mktemp -t switchboard-chaos-XXXXXX.log)
trap 'rm -f "$log"' EXIT

# the second run keeps pytest's cache to itself (the main run writes .pytest_cache)
"$UV" run --frozen pytest -p no:cacheprovider "$CHAOS" >"$log" 2>&1 &
chaos_pid=$!
trap 'kill "$chaos_pid" 2>/dev/null; rm -f "$log"' INT TERM

"$UV" run --frozen pytest --ignore="$CHAOS"
main_status=$?

wait "$chaos_pid"
chaos_status=$?
echo
echo "================ the short chaos run (ran beside the above: $CHAOS) ================"
cat "$log"

if [ "$main_status" -ne 0 ] || [ "$chaos_status" -ne 0 ]; then
    echo "make test: FAILED (main run exit $main_status, chaos run exit $chaos_status)" >&2
    exit 1
fi
echo "make test: both runs passed"
