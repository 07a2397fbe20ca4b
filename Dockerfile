# watcher: `watcher run` as a non-root user, config from /config and the environment, data in /data.
# BASE_IMAGE is any Debian-like image with python3 (>= 3.11) and its venv module: python:3.12-slim
# by default; CI builds from a local debootstrap image (deploy/container-test.sh).
ARG BASE_IMAGE=python:3.12-slim

# ---- build: the project and its dependencies into a virtual environment
FROM ${BASE_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python3 -m venv /opt/watcher
WORKDIR /src
COPY pyproject.toml README.md ./
COPY watcher ./watcher
# Optional build secret `pip.conf` (e.g. a CA bundle behind a TLS-inspecting proxy, or a mirror):
# used for this step only, never stored in a layer.
RUN --mount=type=secret,id=pip.conf,target=/etc/pip.conf \
    --mount=type=secret,id=ca.crt,target=/etc/ssl/certs/build-ca.crt \
    /opt/watcher/bin/pip install --no-compile . \
 && /opt/watcher/bin/python -m compileall -q /opt/watcher/lib

# ---- runtime: the base plus the virtual environment, nothing to build with
FROM ${BASE_IMAGE}
# A fixed uid/gid (also what Kubernetes' runAsUser names); written directly so the base needs no useradd.
RUN echo 'watcher:x:10001:10001:watcher:/data:/usr/sbin/nologin' >> /etc/passwd \
 && echo 'watcher:x:10001:' >> /etc/group \
 && mkdir -p /data /config \
 && chown 10001:10001 /data
COPY --from=build /opt/watcher /opt/watcher
COPY config /config
ENV PATH=/opt/watcher/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    WATCHER_CONFIG=/config/watcher.yaml \
    WATCHER_DATABASE_URL=sqlite:////data/watcher.db \
    WATCHER_HTTP_HOST=0.0.0.0 \
    WATCHER_HTTP_PORT=8080 \
    WATCHER_LOG_FORMAT=json
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
# No curl in slim images: the probe is the image's own Python.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('WATCHER_HTTP_PORT', '8080'), timeout=4)"]
# SIGTERM: in-flight polls and deliveries finish, leases are released, exit within 10 s.
STOPSIGNAL SIGTERM
ENTRYPOINT ["watcher"]
CMD ["run"]
