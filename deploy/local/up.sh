#!/usr/bin/env bash
# `make up`: the local broker in the background (started and checked ready), the topics, then
# every service in the foreground under honcho with prefixed output. Ctrl-C or `make down`
# stops the services and then the broker. Reads ./inbox, writes ./data.
# OBSERVE=1 (`make up OBSERVE=1`, `make up-observed`) also starts Prometheus (Debian's
# package) with the local scrape config and the alert rules, on http://127.0.0.1:9090.
# WORKER_INSTANCES=n: instances of each model worker (default: one per core).
set -euo pipefail
cd "$(dirname "$0")/../.."

bin=.venv/bin
export PATH="$PWD/$bin:$PATH"  # the Procfile runs `newsflow` from the virtual environment
mkdir -p inbox data .run

stop_all() {
    set +e  # stop everything, whatever fails on the way
    if [ -n "${runner:-}" ]; then
        kill -TERM "$runner" 2>/dev/null
        wait "$runner"
    fi
    [ "${OBSERVE:-0}" = 1 ] && deploy/local/prometheus.sh stop
    python deploy/kafka/localkafka.py stop
    rm -f .run/up.pid
}

python deploy/kafka/localkafka.py start
trap stop_all EXIT
if [ "${OBSERVE:-0}" = 1 ]; then
    deploy/local/prometheus.sh start
fi
trap 'exit 0' INT TERM
newsflow topics
echo $$ > .run/up.pid
# As many instances of each model worker as there are cores (WORKER_INSTANCES overrides it):
# .run/Procfile, and their metrics ports for Prometheus (deploy/local/instances.py).
python deploy/local/instances.py "${WORKER_INSTANCES:-}" .run/Procfile .run/prometheus-instances.json
honcho --env deploy/local/local.env --procfile .run/Procfile start &
runner=$!
wait "$runner"
