# One image for every newsflow process: the command picks what runs
# (`newsflow topics`, `newsflow watcher`, ...); docker-compose.yml starts one
# container per command.

# Bump the patch release deliberately; both stages use the same base.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# .dockerignore lets only pyproject.toml, requirements.lock, README.md,
# services/, schemas/ and models/ into the context, so this copies exactly those
# that exist.
WORKDIR /src
COPY . .
# schemas/ and models/ are optional in the context; make sure both exist so the
# runtime stage can copy them unconditionally.
RUN mkdir -p schemas models
# The lockfile as constraints: the versions `make venv` installs, but only the
# runtime dependencies (the lockfile also holds the dev tools).
RUN pip install --no-cache-dir --constraint requirements.lock .


FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="newsflow" \
      org.opencontainers.image.description="Streaming services that turn news article files into enriched Kafka records"

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    HOME=/home/newsflow

# The user's primary group is 0 and its folders are group-writable, so the
# containers also work when compose runs them as another uid (CONTAINER_UID in
# .env: the owner of ./inbox on a Linux host).
# /var/lib/newsflow/* are the mount points of the volumes in docker-compose.yml:
# a new named volume takes the owner of the folder it is mounted on.
RUN useradd --uid 10001 --gid 0 --home-dir /home/newsflow --create-home \
        --shell /usr/sbin/nologin newsflow \
 && mkdir -p /var/lib/newsflow/inbox \
             /var/lib/newsflow/watcher \
             /var/lib/newsflow/dedup \
             /var/lib/newsflow/entities \
             /var/lib/newsflow/stance \
             /var/lib/newsflow/data \
 && chown -R 10001:0 /var/lib/newsflow /home/newsflow \
 && chmod -R g=u /var/lib/newsflow /home/newsflow

COPY --from=builder /opt/venv /opt/venv
# The working directory mirrors the repository root, so `schemas/...` and
# `models/...` resolve the same way in the image as in a checkout.
COPY --from=builder /src/schemas /opt/newsflow/schemas
COPY --from=builder /src/models /opt/newsflow/models
WORKDIR /opt/newsflow

# Metrics, /healthz and /readyz: watcher, dedup, entities, stance, sink.
EXPOSE 9101 9102 9103 9104 9105

USER 10001

ENTRYPOINT ["newsflow"]
CMD ["--help"]
