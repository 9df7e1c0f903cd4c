#!/usr/bin/env bash
# `make down`: stop what `make up` started (Prometheus too), whether it is still in a
# terminal or was left behind, and the broker even if `make up` itself is already gone.
# Says what it stopped.
set -uo pipefail
cd "$(dirname "$0")/../.."

stopped=()
if [ -f .run/up.pid ]; then
    up=$(cat .run/up.pid)
    if kill -TERM "$up" 2> /dev/null; then
        for _ in $(seq 60); do kill -0 "$up" 2> /dev/null || break; sleep 0.5; done
        stopped+=("make up (pid $up) with its services and broker")
    fi
    rm -f .run/up.pid
fi
if [ -n "$(deploy/local/prometheus.sh stop)" ]; then  # if `make up OBSERVE=1` left it behind
    stopped+=("Prometheus")
fi
if python3 deploy/kafka/localkafka.py status > /dev/null 2>&1; then
    python3 deploy/kafka/localkafka.py stop 2> /dev/null
    stopped+=("the Kafka broker")
fi
if [ ${#stopped[@]} -eq 0 ]; then
    echo "nothing of make up was running"
else
    printf 'stopped: %s\n' "$(IFS=';'; echo "${stopped[*]}" | sed 's/;/, /g')"
fi
