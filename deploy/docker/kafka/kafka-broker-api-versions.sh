#!/bin/sh
# The official image's probe, for the compose file's healthcheck.
exec java ${KAFKA_HEAP_OPTS:--Xmx64m} -cp '/opt/kafka/libs/*' kafka.admin.BrokerApiVersionsCommand "$@"
