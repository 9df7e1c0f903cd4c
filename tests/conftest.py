"""The suite's fixtures, registered from tests/support: a real Kafka broker and a real
PostgreSQL server, each started once per session when a test first asks for it.

The tests are sorted by what they need: tests/unit nothing outside Python and no model run
on data (`make unit`, under a minute), tests/models the models on data (quality figures and
bounded time), tests/service a real broker, PostgreSQL or Maven, tests/deploy whole
pipelines, Prometheus and the deployment files.
"""

pytest_plugins = ["tests.support.kafka", "tests.support.postgres"]
