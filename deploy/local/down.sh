#!/usr/bin/env bash
# `make down`: stop what `make up` started (Prometheus too), whether it is still in a
# terminal or was left behind, and the broker even if `make up` itself is already gone.
set -uo pipefail
cd "$(dirname "$0")/../.."

if [ -f .run/up.pid ]; then
    up=$(cat .run/up.pid)
    kill -TERM "$up" 2>/dev/null
    for _ in $(seq 60); do kill -0 "$up" 2>/dev/null || break; sleep 0.5; done
    rm -f .run/up.pid
fi
deploy/local/prometheus.sh stop  # if `make up OBSERVE=1` left it behind
python3 deploy/kafka/localkafka.py stop
