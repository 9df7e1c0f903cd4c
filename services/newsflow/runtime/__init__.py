"""Running a service: the Faust worker and its batches, Kafka clients, the health and
metrics endpoints, consumer lag and logs."""
