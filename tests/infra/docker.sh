#!/usr/bin/env bash
# Make a working Docker engine available on this machine. Idempotent:
#   - installs Debian's docker.io when dockerd is missing,
#   - starts dockerd in the background (log: $DOCKERD_LOG) when no engine answers,
#   - waits until `docker info` works (at most $DOCKERD_WAIT seconds).
# Safe to run any number of times; it never stops or restarts a running engine.
set -euo pipefail

DOCKERD_LOG=${DOCKERD_LOG:-/tmp/dockerd.log}
DOCKERD_WAIT=${DOCKERD_WAIT:-90}
DOCKERD_PIDFILE=/var/run/docker.pid

log() { printf 'docker.sh: %s\n' "$*" >&2; }

if docker info >/dev/null 2>&1; then
    log "engine already running ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
    exit 0
fi

if ! command -v dockerd >/dev/null 2>&1 && [ ! -x /usr/sbin/dockerd ]; then
    log "installing docker.io from Debian"
    if [ "$(id -u)" -ne 0 ]; then
        log "error: dockerd is missing and installing it needs root"
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi
DOCKERD=$(command -v dockerd || echo /usr/sbin/dockerd)

# `docker` may be only a client (another one can sit earlier on PATH): the engine
# decides. Start dockerd unless one is already running (then just wait for it).
running_pid=""
if [ -s "$DOCKERD_PIDFILE" ]; then
    pid=$(cat "$DOCKERD_PIDFILE")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        running_pid=$pid
    else
        log "removing stale $DOCKERD_PIDFILE (pid $pid is gone)"
        rm -f "$DOCKERD_PIDFILE"
    fi
fi

if [ -z "$running_pid" ]; then
    log "starting $DOCKERD (log: $DOCKERD_LOG)"
    # setsid + nohup: the engine outlives this script and the shell that ran it.
    setsid nohup "$DOCKERD" >>"$DOCKERD_LOG" 2>&1 </dev/null &
    running_pid=$!
else
    log "dockerd (pid $running_pid) is starting; waiting for it"
fi

for _ in $(seq 1 "$DOCKERD_WAIT"); do
    if docker info >/dev/null 2>&1; then
        log "engine ready ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
        exit 0
    fi
    if ! kill -0 "$running_pid" 2>/dev/null && [ ! -s "$DOCKERD_PIDFILE" ]; then
        log "error: dockerd exited; last lines of $DOCKERD_LOG:"
        tail -n 20 "$DOCKERD_LOG" >&2 || true
        exit 1
    fi
    sleep 1
done
log "error: docker engine not ready after ${DOCKERD_WAIT}s; last lines of $DOCKERD_LOG:"
tail -n 20 "$DOCKERD_LOG" >&2 || true
exit 1
