#!/usr/bin/env bash
# The whole stack on the offline kind cluster (for `make e2e` / .ci/run):
#   1. cluster up (kind-offline.sh up) and its smoke checks; with KIND_OFFLINE=0, kind's own
#      node image through `make up` instead
#   2. make up       images, kind load, helm upgrade --install (k8s/cluster.mk)
#   3. make train    a training Job from the CronJob, waited for
#   4. make predict  in-cluster scoring
#   5. make helm-test
#   6. PostgreSQL and MinIO pods deleted and recreated; runs, registered model versions,
#      aliases, artifact listings and the MLmodel files (read back from MinIO) must be the
#      same as before, and in-cluster scoring must still work.
# PostgreSQL: the chart's default image (postgres:17.7-trixie) comes from a registry this
# machine cannot reach; unless POSTGRES_IMAGE is set or that image is present locally, a
# stand-in is built (images/postgres-standin.Dockerfile: Debian's PostgreSQL 15).
#
# Environment: CLUSTER, K8S_NAMESPACE, RELEASE, VERSION (as k8s/cluster.mk), POSTGRES_IMAGE,
# KIND_SMOKE=0 to skip the cluster checks, E2E_FROM=train|predict to start later on an
# installed release, plus kind-offline.sh's variables. The cluster is kept afterwards
# (`kind-offline.sh down` deletes it).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
CLUSTER=${CLUSTER:-pycaret-mlops}
K8S_NAMESPACE=${K8S_NAMESPACE:-pycaret-mlops}
RELEASE=${RELEASE:-mlops}
export KIND_CLUSTER=$CLUSTER TOOLS_DIR=${TOOLS_DIR:-$HOME/.cache/pycaret-mlops/tools}
K=(kubectl --context "kind-$CLUSTER" -n "$K8S_NAMESPACE")
# One image tag for the whole run: the Makefiles derive it from HEAD, and a commit landing
# while e2e runs must not make `make predict` ask for images that were never built.
VERSION=${VERSION:-$(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' "$ROOT/pyproject.toml" | head -n1)-$(git -C "$ROOT" rev-parse --short=7 HEAD)}
MAKE_ARGS=(CLUSTER="$CLUSTER" K8S_NAMESPACE="$K8S_NAMESPACE" RELEASE="$RELEASE" VERSION="$VERSION")

log() { printf 'e2e: %s\n' "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }
T0=$(date +%s)
phase() { log "---- $* ($(( $(date +%s) - T0 ))s)"; }

# On failure, say why at the end of the output (CI shows its tail): the pods, the recent
# warnings, and the logs of every pod that is not Running/Succeeded or has restarted.
diagnose() {
  local rc=$?
  [ "$rc" -ne 0 ] || return 0
  log "FAILED after $(( $(date +%s) - T0 ))s (exit $rc); diagnostics of namespace $K8S_NAMESPACE:"
  "${K[@]}" get pods -o wide 2>&1 || return 0
  "${K[@]}" get events --field-selector type=Warning --sort-by=.lastTimestamp 2>&1 | tail -n 15
  local pod
  for pod in $("${K[@]}" get pods -o go-template='{{range .items}}{{$bad := ne .status.phase "Running"}}{{range .status.initContainerStatuses}}{{if gt .restartCount 0}}{{$bad = true}}{{end}}{{end}}{{range .status.containerStatuses}}{{if or (gt .restartCount 0) (not .ready)}}{{$bad = true}}{{end}}{{end}}{{if eq .status.phase "Succeeded"}}{{$bad = false}}{{end}}{{if $bad}}{{.metadata.name}} {{end}}{{end}}' 2>/dev/null); do
    log "logs of pod/$pod (last 40 lines per container):"
    "${K[@]}" logs "pod/$pod" --all-containers --prefix --tail=40 2>&1 || true
  done
  log "FAILED (exit $rc): see the pods and logs above"
}
trap diagnose EXIT

phase "cluster"
# KIND_OFFLINE=1: no registry (this project's CI machine): assemble the node image here.
# KIND_OFFLINE=0: kind's own node image (or KIND_NODE_IMAGE), created by `make up`.
if [ "${KIND_OFFLINE:-1}" = 1 ]; then
  NODE_IMAGE=$(bash "$HERE/kind-offline.sh" up | tail -n1)
  [ "${KIND_SMOKE:-1}" = 0 ] || bash "$HERE/kind-offline.sh" smoke
else
  NODE_IMAGE=${KIND_NODE_IMAGE:-}
fi

phase "postgres image"
if [ -z "${POSTGRES_IMAGE:-}" ]; then
  default_pg=postgres:17.7-trixie
  if docker image inspect "$default_pg" >/dev/null 2>&1; then
    POSTGRES_IMAGE=$default_pg
  else
    POSTGRES_IMAGE=localhost/kind-offline/postgres:15-bookworm
    bash "$ROOT/tests/infra/base-images.sh" >/dev/null
    log "$default_pg is not available here; building the stand-in $POSTGRES_IMAGE"
    nice -n 19 docker build --network host -q -t "$POSTGRES_IMAGE" \
      -f "$HERE/images/postgres-standin.Dockerfile" "$HERE/images" >/dev/null
  fi
fi
MAKE_ARGS+=(POSTGRES_IMAGE="$POSTGRES_IMAGE")
[ -z "$NODE_IMAGE" ] || MAKE_ARGS+=(KIND_NODE_IMAGE="$NODE_IMAGE")

if [ "${E2E_FROM:-up}" = up ]; then
  phase "make up (images $VERSION)"
  make -C "$ROOT" up "${MAKE_ARGS[@]}"
fi
case "${E2E_FROM:-up}" in up|train)
  phase "make train"
  make -C "$ROOT" train "${MAKE_ARGS[@]}" ;;
esac
phase "make predict"
make -C "$ROOT" predict "${MAKE_ARGS[@]}"
phase "make helm-test"
make -C "$ROOT" helm-test "${MAKE_ARGS[@]}"

phase "persistence across PostgreSQL and MinIO restarts"
auth_secret=$("${K[@]}" get secret "$RELEASE-auth" -o name 2>/dev/null || true)
state() {
  local env=(MLFLOW_TRACKING_URI=http://127.0.0.1:5000)
  if [ -n "$auth_secret" ]; then
    env+=("MLFLOW_TRACKING_USERNAME=$("${K[@]}" get "$auth_secret" -o jsonpath='{.data.admin-username}' | base64 -d)")
    env+=("MLFLOW_TRACKING_PASSWORD=$("${K[@]}" get "$auth_secret" -o jsonpath='{.data.admin-password}' | base64 -d)")
  fi
  "${K[@]}" exec -i "deploy/$RELEASE-tracking-server" -c tracking-server -- \
    env "${env[@]}" HOME=/tmp python - <"$HERE/e2e-state.py"
}
before=$(state) || die "could not read the tracking server's state"
log "state before: $before"
python3 - "$before" <<'PY' || die "nothing to compare: the training left no run, model version or artifact"
import json, sys
s = json.loads(sys.argv[1])
assert s["runs"] and s["models"] and s["artifacts"] and s["mlmodel_sha256"], s
PY
for component in postgresql minio; do
  sts=$("${K[@]}" get statefulset -l "app.kubernetes.io/component=$component" -o name | head -n1)
  [ -n "$sts" ] || die "no $component StatefulSet in $K8S_NAMESPACE"
  log "deleting the pods of $sts"
  "${K[@]}" delete pod -l "app.kubernetes.io/component=$component" --wait=true
  "${K[@]}" rollout status "$sts" --timeout=10m
done
"${K[@]}" rollout status "deploy/$RELEASE-tracking-server" --timeout=10m
after=""
for _ in $(seq 1 30); do   # the tracking server reconnects to the new database pod
  after=$(state 2>/dev/null) && break
  sleep 10
done
[ -n "$after" ] || die "the tracking server did not answer after the restarts"
log "state after:  $after"
[ "$before" = "$after" ] || die "state changed across the restarts"
phase "make predict after the restarts"
make -C "$ROOT" predict "${MAKE_ARGS[@]}"
phase "done: e2e passed"
