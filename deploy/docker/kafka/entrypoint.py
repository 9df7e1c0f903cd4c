"""Start a KRaft broker configured the way the official apache/kafka image is: every
`KAFKA_<NAME>` variable becomes the property `<name>` (lower case, `_` -> `.`), `CLUSTER_ID`
formats the log folder on the first start. For the stand-in image built by
deploy/docker/offline-images.sh, where that image cannot be pulled."""

import os
import subprocess
import sys
from pathlib import Path

HOME = Path("/opt/kafka")
CONFIG = HOME / "config" / "server.properties"
# What the official image also reads as JVM settings, not broker properties.
JVM_VARIABLES = {"KAFKA_HEAP_OPTS", "KAFKA_OPTS", "KAFKA_JVM_PERFORMANCE_OPTS"}


def properties(environment: dict[str, str]) -> dict[str, str]:
    return {
        name.removeprefix("KAFKA_").lower().replace("_", "."): value
        for name, value in environment.items()
        if name.startswith("KAFKA_") and name not in JVM_VARIABLES
    }


def java(main: str, *args: str) -> list[str]:
    jvm = os.environ.get("KAFKA_HEAP_OPTS", "-Xmx512m").split()
    logging = f"-Dlog4j.configuration=file:{HOME / 'config' / 'log4j.properties'}"
    return ["java", *jvm, logging, "-cp", f"{HOME / 'libs'}/*", main, *args]


def main() -> None:
    settings = properties(dict(os.environ))
    CONFIG.write_text("".join(f"{key}={value}\n" for key, value in sorted(settings.items())))
    cluster = os.environ["CLUSTER_ID"]
    format_storage = java("kafka.tools.StorageTool", "format", "--ignore-formatted",
                          "-t", cluster, "-c", str(CONFIG))  # fmt: skip
    subprocess.run(format_storage, check=True, stdout=subprocess.DEVNULL)
    command = java("kafka.Kafka", str(CONFIG))
    os.execvp(command[0], command)


if __name__ == "__main__":
    sys.exit(main())
