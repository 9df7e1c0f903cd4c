#!/usr/bin/env bash
# `make images-offline`: stand-ins for the images docker-compose.yml pulls, for machines
# that reach Debian's and Python's package registries but not Docker Hub. Each is Debian
# bookworm made with debootstrap and imported into the local engine, labelled with a hash of
# what made it: an image already there is kept until this script or deploy/docker/kafka/
# changes. Use them with the variables printed last.
#   python   the Dockerfile's base (Debian's Python 3.11, as in python:3.11-slim-bookworm)
#   kafka    a KRaft broker from the Kafka jars `localkafka.py fetch` gets from Maven,
#            configured from KAFKA_* variables as the official image is
#   prometheus  Debian's package
# Grafana has no stand-in: no registry reachable here serves it.
set -euo pipefail
cd "$(dirname "$0")/../.."

docker=${DOCKER:-docker}
mirror=${DEBIAN_MIRROR:-$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)}
mirror=${mirror:-http://deb.debian.org/debian}
python_image=newsflow-offline/python:3.11-bookworm
kafka_image=newsflow-offline/kafka:3.9.1
prometheus_image=newsflow-offline/prometheus:bookworm
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A bookworm root file system with `packages`, trusting what this machine trusts (its CA
# bundle and pip settings: a proxy that re-signs TLS must be trusted inside too).
rootfs() {
    local dir=$1 packages=$2
    debootstrap --variant=minbase --include="$packages" bookworm "$dir" "$mirror" > "$dir.log" 2>&1 \
        || { tail -n 20 "$dir.log"; return 1; }
    mkdir -p "$dir/etc/ssl/certs"
    cp /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/certs/ca-certificates.crt"
    if [ -f /etc/pip.conf ]; then cp /etc/pip.conf "$dir/etc/pip.conf"; fi
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
}

made_by=$(cat "$0" deploy/docker/kafka/* deploy/kafka/log4j.properties | sha256sum | cut -c1-16)
have() {
    [ "$("$docker" image inspect --format '{{index .Config.Labels "newsflow.made-by"}}' "$1" \
        2> /dev/null)" = "$made_by" ]
}
label="LABEL newsflow.made-by=$made_by"

if ! have "$python_image"; then
    rootfs "$work/python" python3,python3-venv,ca-certificates
    ln -sf python3 "$work/python/usr/bin/python"
    tar -C "$work/python" -c . | "$docker" import --change "$label" --change 'CMD ["python3"]' - "$python_image"
fi

if ! have "$kafka_image"; then
    libs=$(python3 deploy/kafka/localkafka.py fetch)  # prints where the jars are
    rootfs "$work/kafka" openjdk-17-jre-headless,python3
    mkdir -p "$work/kafka/opt/kafka/bin" "$work/kafka/opt/kafka/config" "$work/kafka/var/lib/kafka/data"
    cp -r "$libs" "$work/kafka/opt/kafka/libs"
    cp deploy/kafka/log4j.properties "$work/kafka/opt/kafka/config/log4j.properties"
    cp deploy/docker/kafka/entrypoint.py "$work/kafka/opt/kafka/entrypoint.py"
    cp deploy/docker/kafka/kafka-broker-api-versions.sh "$work/kafka/opt/kafka/bin/"
    tar -C "$work/kafka" -c . | "$docker" import --change "$label" \
        --change 'ENTRYPOINT ["python3", "/opt/kafka/entrypoint.py"]' - "$kafka_image"
fi

if ! have "$prometheus_image"; then
    rootfs "$work/prometheus" prometheus,wget
    mkdir -p "$work/prometheus/prometheus"
    chown 65534:65534 "$work/prometheus/prometheus"
    tar -C "$work/prometheus" -c . | "$docker" import --change "$label" \
        --change 'USER 65534' --change 'WORKDIR /prometheus' \
        --change 'ENTRYPOINT ["/usr/bin/prometheus"]' - "$prometheus_image"
fi

echo "PYTHON_IMAGE=$python_image KAFKA_IMAGE=$kafka_image PROMETHEUS_IMAGE=$prometheus_image"
