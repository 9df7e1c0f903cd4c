#!/usr/bin/env bash
# Prometheus for `make up OBSERVE=1`: Debian's `prometheus` binary with the local scrape
# config (deploy/prometheus/prometheus.local.yml: every service on loopback, the rules),
# in the background, data in ./data/prometheus, log in .run/prometheus.log.
#   deploy/local/prometheus.sh start|stop
# PROMETHEUS_PORT (default 9090, the port the config's self-scrape expects),
# PROMETHEUS_DATA and PROMETHEUS_RUN_DIR (pid and log) move it.
set -euo pipefail
cd "$(dirname "$0")/../.."

port=${PROMETHEUS_PORT:-9090}
data=${PROMETHEUS_DATA:-./data/prometheus}
run=${PROMETHEUS_RUN_DIR:-.run}
pidfile=$run/prometheus.pid
log=$run/prometheus.log

running() {
    [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

start() {
    if ! command -v prometheus > /dev/null; then
        echo "prometheus is not installed: apt-get install prometheus (Debian's package)" >&2
        exit 1
    fi
    if running; then
        echo "prometheus already running (pid $(cat "$pidfile"))"
        return
    fi
    mkdir -p "$run" "$data"
    # setsid: Ctrl-C in the terminal of `make up` reaches the services, not Prometheus;
    # `stop` (from make up's exit or make down) ends it.
    setsid prometheus \
        --config.file=deploy/prometheus/prometheus.local.yml \
        --storage.tsdb.path="$data" \
        --storage.tsdb.retention.time=7d \
        --web.listen-address="127.0.0.1:$port" \
        > "$log" 2>&1 < /dev/null &
    echo $! > "$pidfile"
    for _ in $(seq 60); do
        if ! running; then
            echo "prometheus exited; the end of $log:" >&2
            tail -n 20 "$log" >&2
            rm -f "$pidfile"
            exit 1
        fi
        if python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$port/-/ready', timeout=1)" 2> /dev/null; then
            echo "prometheus ready on http://127.0.0.1:$port (targets: /targets, alerts: /alerts)"
            return
        fi
        sleep 0.5
    done
    echo "prometheus not ready after 30s; see $log" >&2
    stop
    exit 1
}

stop() {
    if running; then
        pid=$(cat "$pidfile")
        kill -TERM "$pid"
        for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
        echo "prometheus stopped"
    fi
    rm -f "$pidfile"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
