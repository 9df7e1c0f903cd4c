#!/usr/bin/env bash
# `make up`: the local broker in the background (started and checked ready), the topics, then
# every service in the foreground under honcho with prefixed output. Ctrl-C or `make down`
# stops the services and then the broker. Reads ./inbox, writes ./data.
# OBSERVE=1 (`make up OBSERVE=1`, `make up-observed`) also starts Prometheus (Debian's
# package) with the local scrape config and the alert rules, on http://127.0.0.1:9090.
# WORKER_INSTANCES=n: instances of each model worker (default: one per core).
# KAFKA_PORT, KAFKA_CONTROLLER_PORT (default 9092, 9093): the broker's ports, to run beside
# another Kafka; each service's metrics port is its NEWSFLOW_<SERVICE>_METRICS_PORT.
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
    python deploy/kafka/localkafka.py stop "${kafka_ports[@]}"
    rm -f .run/up.pid
}

kafka_ports=(--port "${KAFKA_PORT:-9092}" --controller-port "${KAFKA_CONTROLLER_PORT:-9093}")
export NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:${KAFKA_PORT:-9092}"
python deploy/kafka/localkafka.py start "${kafka_ports[@]}"
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
# honcho's env file wins over the environment: the broker's address goes into a copy.
sed "s/^NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS=.*/NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS=$NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS/" \
    deploy/local/local.env > .run/local.env
honcho --env .run/local.env --procfile .run/Procfile start &
runner=$!
# One line for people among the services' JSON logs, once every instance is ready.
(
    until newsflow status > /dev/null 2>&1; do
        kill -0 "$runner" 2> /dev/null || exit 0
        sleep 2
    done
    echo "newsflow is ready: drop article files into ./inbox; the enriched records are on" \
        "articles.enriched at $NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS and stored in ./data/newsflow.db" \
        "(newsflow query --help). Watch: newsflow status --watch (after . .venv/bin/activate)." \
        "Ctrl-C or make down stops everything."
) &
wait "$runner"
