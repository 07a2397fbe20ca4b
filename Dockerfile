# Minimal image for now; the deployment issue makes it multi-stage with a healthcheck.
ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE}
WORKDIR /app
COPY pyproject.toml README.md ./
COPY watcher ./watcher
RUN python -m pip install --no-cache-dir . \
 && useradd --system --uid 10001 --home-dir /data watcher \
 && mkdir -p /data /config && chown watcher /data
COPY config /config
ENV WATCHER_CONFIG=/config/watcher.yaml \
    WATCHER_DATABASE_URL=sqlite:////data/watcher.db \
    WATCHER_LOG_FORMAT=json
USER watcher
VOLUME ["/data"]
ENTRYPOINT ["watcher"]
CMD ["run"]
