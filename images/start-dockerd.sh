#!/usr/bin/env bash
# Start a Docker engine in the background when none answers, and wait until it does.
#
# For machines with Debian's docker.io but no service manager (CI). The log goes to
# $DOCKERD_LOG (default /tmp/dockerd.log); $DOCKERD_WAIT_S (default 60) bounds the wait.
# overlay2 is tried first; if the engine dies on it (no overlayfs, e.g. nested in a container),
# it is started again with the slower but universal vfs storage driver.
set -euo pipefail

LOG="${DOCKERD_LOG:-/tmp/dockerd.log}"
WAIT_S="${DOCKERD_WAIT_S:-60}"

if docker info >/dev/null 2>&1; then
  echo "start-dockerd: a Docker engine is already running"
  exit 0
fi
if ! command -v dockerd >/dev/null 2>&1; then
  echo "start-dockerd: dockerd is not installed (apt-get install -y docker.io)" >&2
  exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "start-dockerd: dockerd must be started as root" >&2
  exit 2
fi

# Waits for the engine; returns 1 when dockerd ($1) exited or the time ran out.
wait_for_engine() {
  local pid=$1 waited=0
  while [ "$waited" -lt "$WAIT_S" ]; do
    if docker info >/dev/null 2>&1; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      return 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  return 1
}

start() {
  echo "start-dockerd: starting dockerd${*:+ $*} (log: $LOG)"
  nohup dockerd "$@" >>"$LOG" 2>&1 &
  DOCKERD_PID=$!
}

start
if wait_for_engine "$DOCKERD_PID"; then
  echo "start-dockerd: engine ready ($(docker info --format '{{.Driver}}') storage)"
  exit 0
fi
if kill -0 "$DOCKERD_PID" 2>/dev/null; then
  echo "start-dockerd: no answer after ${WAIT_S} s; last lines of $LOG:" >&2
  tail -n 20 "$LOG" >&2
  exit 1
fi
start --storage-driver=vfs
if wait_for_engine "$DOCKERD_PID"; then
  echo "start-dockerd: engine ready (vfs storage: overlay2 failed)"
  exit 0
fi
echo "start-dockerd: dockerd did not start; last lines of $LOG:" >&2
tail -n 20 "$LOG" >&2
exit 1
