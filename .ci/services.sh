#!/usr/bin/env bash
# The services some tests need, on this machine only (CI runs as root): a private Docker engine
# (vfs storage, no iptables, no bridge: containers use --network host or none), an OCI registry
# on 127.0.0.1, and a local Debian bookworm base image with Python 3.11 (no registry to pull
# python:3.11-slim from). `start` starts what is not running, `stop` stops what it started, by PID.
# Tests find them by GREENLIGHT_DOCKER_HOST (default below) and skip, with a reason, without them.
set -euo pipefail

STATE=/run/greenlight
SOCKET="unix://$STATE/docker.sock"
DOCKER_PID="$STATE/docker.pid"
REGISTRY_PID="$STATE/registry.pid"
REGISTRY_ADDR=127.0.0.1:5000
BASE_IMAGE=greenlight-base:bookworm

docker_up() { DOCKER_HOST="$SOCKET" docker info >/dev/null 2>&1; }

start_docker() {
  docker_up && return 0
  mkdir -p "$STATE" /var/lib/greenlight-docker
  dockerd --host "$SOCKET" --pidfile "$DOCKER_PID" --data-root /var/lib/greenlight-docker \
    --exec-root "$STATE/docker-exec" --storage-driver=vfs --iptables=false --bridge=none \
    >"$STATE/dockerd.log" 2>&1 &
  for _ in $(seq 60); do docker_up && return 0; sleep 0.5; done
  echo "dockerd did not answer on $SOCKET: see $STATE/dockerd.log" >&2
  return 1
}

start_registry() {
  curl -fsS "http://$REGISTRY_ADDR/v2/" >/dev/null 2>&1 && return 0
  mkdir -p "$STATE" /var/lib/greenlight-registry
  cat >"$STATE/registry.yml" <<YAML
version: 0.1
storage:
  filesystem:
    rootdirectory: /var/lib/greenlight-registry
http:
  addr: $REGISTRY_ADDR
YAML
  docker-registry serve "$STATE/registry.yml" >"$STATE/registry.log" 2>&1 &
  echo $! >"$REGISTRY_PID"
  for _ in $(seq 40); do curl -fsS "http://$REGISTRY_ADDR/v2/" >/dev/null 2>&1 && return 0; sleep 0.25; done
  echo "the registry did not answer on $REGISTRY_ADDR: see $STATE/registry.log" >&2
  return 1
}

base_image() {
  DOCKER_HOST="$SOCKET" docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 && return 0
  local tarball="$STATE/base.tar"
  mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$tarball"
  DOCKER_HOST="$SOCKET" docker import "$tarball" "$BASE_IMAGE" >/dev/null
  rm -f "$tarball"
}

stop_pidfile() {
  local pidfile=$1
  [ -f "$pidfile" ] || return 0
  local pid
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$pidfile"
}

stop_all() {
  if docker_up; then
    # containers the tests left behind are a test's bug, but they must not outlive CI
    DOCKER_HOST="$SOCKET" docker ps -q | xargs -r env DOCKER_HOST="$SOCKET" docker rm -f >/dev/null
  fi
  stop_pidfile "$REGISTRY_PID"
  stop_pidfile "$DOCKER_PID"
}

if [ "$(id -u)" -ne 0 ]; then
  echo "not root: no private Docker engine or registry; the tests that need them skip" >&2
  exit 0
fi
case "${1:-}" in
  start)
    for tool in dockerd docker docker-registry mmdebstrap; do
      command -v "$tool" >/dev/null || { echo "$tool is missing: .ci/system-packages.sh installs it" >&2; exit 1; }
    done
    start_docker && start_registry && base_image
    echo "docker on $SOCKET, registry on $REGISTRY_ADDR, base image $BASE_IMAGE"
    ;;
  stop) stop_all ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
