#!/usr/bin/env bash
# The services some tests need, on this machine only (CI runs as root): a private Docker engine
# (overlay2 storage, vfs where the kernel has no overlayfs; no iptables, no bridge: containers use
# --network host or none), an OCI registry
# on 127.0.0.1, and a local Debian bookworm base image with Python 3.11 (no registry to pull
# python:3.11-slim from). `start` starts what is not running, `stop` stops what it started, by PID.
# The image tests (tests/serving/test_image.py) and the docker target's (tests/deploy) find the
# engine by GREENLIGHT_DOCKER_HOST (default: the socket below) and skip, with a reason, without it.
set -euo pipefail

STATE=/run/greenlight
SOCKET="unix://$STATE/docker.sock"
DOCKER_PID="$STATE/docker.pid"
REGISTRY_PID="$STATE/registry.pid"
REGISTRY_ADDR=127.0.0.1:5000
BASE_IMAGE=greenlight-base:bookworm

engine() { DOCKER_HOST="$SOCKET" docker "$@"; }
docker_up() { engine info >/dev/null 2>&1; }
registry_up() { curl -fsS "http://$REGISTRY_ADDR/v2/" >/dev/null 2>&1; }

# wait_until TRIES CHECK: run CHECK every half second until it succeeds, at most TRIES times
wait_until() {
  local tries=$1
  shift
  for _ in $(seq "$tries"); do "$@" && return 0; sleep 0.5; done
  return 1
}

# overlay2 when the kernel has overlayfs (measured here: `docker run` 0.6 s, a build step well
# under a second), else vfs, which copies the whole file system for every container and build
# step (about a minute each for the 650 MB serving image). One data root per driver.
storage_driver() {
  if grep -qw overlay /proc/filesystems; then echo overlay2; else echo vfs; fi
}

start_docker() {
  docker_up && return 0
  local driver
  driver=$(storage_driver)
  mkdir -p "$STATE" "/var/lib/greenlight-docker-$driver"
  dockerd --host "$SOCKET" --pidfile "$DOCKER_PID" --data-root "/var/lib/greenlight-docker-$driver" \
    --exec-root "$STATE/docker-exec" --storage-driver="$driver" --iptables=false --bridge=none \
    >"$STATE/dockerd.log" 2>&1 &
  wait_until 60 docker_up && return 0
  echo "dockerd ($driver storage) did not answer on $SOCKET: see $STATE/dockerd.log" >&2
  return 1
}

start_registry() {
  registry_up && return 0
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
  wait_until 20 registry_up && return 0
  echo "the registry did not answer on $REGISTRY_ADDR: see $STATE/registry.log" >&2
  return 1
}

base_image() {
  engine image inspect "$BASE_IMAGE" >/dev/null 2>&1 && return 0
  local tarball="$STATE/base.tar"
  mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$tarball"
  engine import "$tarball" "$BASE_IMAGE" >/dev/null
  rm -f "$tarball"
}

not_running() { ! kill -0 "$1" 2>/dev/null; }

stop_pidfile() {
  local pidfile=$1
  [ -f "$pidfile" ] || return 0
  local pid
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    wait_until 60 not_running "$pid" || kill -KILL "$pid"
  fi
  rm -f "$pidfile"
}

stop_all() {
  if docker_up; then
    # containers the tests left behind are a test's bug, but they must not outlive CI
    local leftover
    leftover=$(engine ps -q)
    [ -z "$leftover" ] || { echo "removing containers left running: $leftover" >&2; engine rm -f $leftover >/dev/null; }
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
