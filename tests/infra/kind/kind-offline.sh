#!/usr/bin/env bash
# A real kind cluster with no container registry: every binary and image the node needs is
# built here from Debian packages and the Go module proxy, cached, and assembled into a
# local node image. See tests/infra/kind/README.md. Idempotent; nothing is built twice.
#
# Usage: kind-offline.sh COMMAND
#   runtime   Docker engine (tests/infra/docker.sh) + the runc-capfix runtime wrapper as
#             Docker's default runtime when this host's capability bounding set needs it
#             (reloads dockerd with SIGHUP only when /etc/docker/daemon.json changed)
#   bins [NAME...]  build (or find cached) the Go binaries only: gotools kubernetes etcd
#             coredns crictl local-path-provisioner (default: all)
#   image     build whatever is missing, print the node image name on stdout
#   up        runtime + image + `kind create cluster` (unless it exists), wait until Ready
#   smoke     cluster checks: pod running, PVC bound, Service reachable from another pod
#             through cluster DNS, privileged pod, data kept across a pod restart
#   env       print KIND=, KIND_NODE_IMAGE=, KIND_CLUSTER=, KIND_CONFIG=, KUBE_CONTEXT=
#             (eval-able; KIND_NODE_IMAGE only once built)
#   down      delete the cluster
#   timings   print the step timings recorded so far
#
# Environment:
#   TOOLS_DIR      cache root (default ~/.cache/pycaret-mlops/tools); all builds go to
#                  $TOOLS_DIR/kind-node, kind itself to $TOOLS_DIR/kind-<v> (chart-tools.sh)
#   KIND_CLUSTER   cluster name (default pycaret-mlops)
#   KIND_CONFIG    kind config (default k8s/kind-config.yaml, else tests/infra/kind/kind-config.yaml)
#   KIND_GO_JOBS   go build -p (default 2); every build runs under nice -n 19
#   KIND_RUNTIME_WRAPPER  auto (default: only when the bounding set lacks a capability),
#                  always, never
#   KIND_WAIT      kind create --wait (default 10m)
#   KIND_NODE_IMAGE  use this (local) node image as is and build nothing: e.g. one made
#                  elsewhere and brought over with docker save / docker load
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
# shellcheck source=versions.env
. "$HERE/versions.env"

TOOLS_DIR=${TOOLS_DIR:-$HOME/.cache/pycaret-mlops/tools}
CACHE=$TOOLS_DIR/kind-node
KIND_CLUSTER=${KIND_CLUSTER:-pycaret-mlops}
KIND_GO_JOBS=${KIND_GO_JOBS:-2}
KIND_RUNTIME_WRAPPER=${KIND_RUNTIME_WRAPPER:-auto}
KIND_WAIT=${KIND_WAIT:-10m}
if [ -z "${KIND_CONFIG:-}" ]; then
  if [ -f "$ROOT/k8s/kind-config.yaml" ]; then KIND_CONFIG=$ROOT/k8s/kind-config.yaml
  else KIND_CONFIG=$HERE/kind-config.yaml; fi
fi
KUBE_CONTEXT=kind-$KIND_CLUSTER
WRAPPER_NAME=runc-capfix
WRAPPER_PATH=/usr/local/bin/runc-capfix
DAEMON_JSON=${DAEMON_JSON:-/etc/docker/daemon.json}
IMAGE_LABEL=org.pycaret-mlops.kind-offline.key
NICE=(nice -n 19)
TIMINGS=$CACHE/timings.log

log() { printf 'kind-offline: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

mkdir -p "$CACHE"

# timed NAME CMD...: run CMD (errexit stays in force inside it), log and record how long
# it took; a step that fails is recorded by the EXIT trap.
CURRENT_STEP="" STEP_T0=0 CLEANUP=""
record_step() { # NAME STATUS
  local dt=$(( $(date +%s) - STEP_T0 ))
  log "step $1: ${dt}s${2:+ ($2)}"
  printf '%s\t%s\t%ss\t%s\n' "$(date -u +%FT%TZ)" "$1" "$dt" "${2:-ok}" >>"$TIMINGS"
}
on_exit() {
  local rc=$?
  if [ -n "$CLEANUP" ]; then eval "$CLEANUP" || true; fi
  if [ -n "$CURRENT_STEP" ]; then record_step "$CURRENT_STEP" "FAILED rc=$rc"; fi
}
trap on_exit EXIT
timed() {
  CURRENT_STEP=$1 STEP_T0=$(date +%s)
  shift
  "$@"
  record_step "$CURRENT_STEP" ""
  CURRENT_STEP=""
}

hash_files() { # stable hash of the given files/dirs (content and relative names)
  (cd "$HERE" && find "$@" -type f ! -name '*.partial' -print0 | LC_ALL=C sort -z \
    | xargs -0 sha256sum) | sha256sum | cut -c1-12
}

go_env() { # common env for every go build: static, reproducible paths
  env CGO_ENABLED=0 GOFLAGS="${GOFLAGS:+$GOFLAGS }-trimpath -p=$KIND_GO_JOBS" "$@"
}

# ---------------------------------------------------------------- Go-built binaries
GOTOOLS_DIR=$CACHE/gotools-$(hash_files gotools)
K8S_DIR=$CACHE/k8s-$K8S_VERSION-$(hash_files k8s/go.mod k8s/go.sum)
ETCD_DIR=$CACHE/etcd-$ETCD_VERSION-$(hash_files etcd)
COREDNS_DIR=$CACHE/coredns-$COREDNS_VERSION
CRICTL_DIR=$CACHE/crictl-$CRICTL_VERSION
LPP_DIR=$CACHE/local-path-provisioner-$LOCAL_PATH_PROVISIONER_VERSION

build_gotools() {
  [ -f "$GOTOOLS_DIR/.ok" ] && return 0
  log "building runc-capfix, pause, smoke -> $GOTOOLS_DIR"
  rm -rf "$GOTOOLS_DIR.partial" && mkdir -p "$GOTOOLS_DIR.partial"
  (cd "$HERE/gotools" && go_env "${NICE[@]}" go build -ldflags='-s -w' -o "$GOTOOLS_DIR.partial/" ./...)
  touch "$GOTOOLS_DIR.partial/.ok" && rm -rf "$GOTOOLS_DIR" && mv "$GOTOOLS_DIR.partial" "$GOTOOLS_DIR"
}

build_k8s() {
  [ -f "$K8S_DIR/.ok" ] && return 0
  log "building Kubernetes $K8S_VERSION (kubelet kubeadm kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy) -> $K8S_DIR; cold: tens of minutes"
  local v=${K8S_VERSION#v} ld="-s -w" p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=${v%%.*} -X $p.gitMinor=$(cut -d. -f2 <<<"$v")"
    ld+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  rm -rf "$K8S_DIR.partial" && mkdir -p "$K8S_DIR.partial"
  (cd "$HERE/k8s" && go_env "${NICE[@]}" go build -ldflags="$ld" -o "$K8S_DIR.partial/" \
    k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kubeadm k8s.io/kubernetes/cmd/kubectl \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kube-proxy)
  local got
  got=$("$K8S_DIR.partial/kubeadm" version -o short)
  [ "$got" = "$K8S_VERSION" ] || die "kubeadm reports $got, want $K8S_VERSION"
  touch "$K8S_DIR.partial/.ok" && rm -rf "$K8S_DIR" && mv "$K8S_DIR.partial" "$K8S_DIR"
}

build_etcd() {
  [ -f "$ETCD_DIR/.ok" ] && return 0
  log "building etcd $ETCD_VERSION -> $ETCD_DIR"
  rm -rf "$ETCD_DIR.partial" && mkdir -p "$ETCD_DIR.partial"
  (cd "$HERE/etcd" && go_env "${NICE[@]}" go build -ldflags='-s -w' -o "$ETCD_DIR.partial/etcd" .)
  # Read the whole output first: `etcd --version | grep -q` fails under pipefail when grep
  # exits at its match and etcd dies of SIGPIPE.
  local got
  got=$("$ETCD_DIR.partial/etcd" --version)
  [[ $got == *"etcd Version: ${ETCD_VERSION#v}"* ]] || die "built etcd is not ${ETCD_VERSION}: ${got%%$'\n'*}"
  touch "$ETCD_DIR.partial/.ok" && rm -rf "$ETCD_DIR" && mv "$ETCD_DIR.partial" "$ETCD_DIR"
}

go_install_to() { # DIR PKG@VERSION [LDFLAGS]
  local dir=$1 pkg=$2 ld="-s -w ${3:-}"
  [ -f "$dir/.ok" ] && return 0
  log "go install $pkg -> $dir"
  rm -rf "$dir.partial" && mkdir -p "$dir.partial"
  (cd "$CACHE" && go_env GOBIN="$dir.partial" "${NICE[@]}" go install -ldflags="$ld" "$pkg")
  touch "$dir.partial/.ok" && rm -rf "$dir" && mv "$dir.partial" "$dir"
}

build_coredns() { go_install_to "$COREDNS_DIR" "github.com/coredns/coredns@$COREDNS_VERSION"; }
build_crictl() {
  go_install_to "$CRICTL_DIR" "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION" \
    "-X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION"
}
build_lpp() {
  go_install_to "$LPP_DIR" "github.com/rancher/local-path-provisioner@$LOCAL_PATH_PROVISIONER_VERSION" \
    "-X main.VERSION=$LOCAL_PATH_PROVISIONER_VERSION"
}

kind_bin() { # kind itself: pinned in tests/infra/chart-tools.sh (go install, cached)
  local line
  line=$(bash "$ROOT/tests/infra/chart-tools.sh" --cluster | grep '^KIND=') || die "chart-tools.sh --cluster failed"
  KIND=${line#KIND=}
  "$KIND" version | grep -q "$KIND_VERSION" || die "$KIND is not kind $KIND_VERSION (versions.env and chart-tools.sh disagree)"
}

# ------------------------------------------------------------------ runtime wrapper
missing_caps() { # prints how many known capabilities (0..40) the bounding set lacks
  local bnd
  bnd=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
  python3 -c "b=int('$bnd',16); print(sum(1 for i in range(41) if not b>>i&1))"
}

daemon_json_wanted() { # prints the merged daemon.json, or nothing when it is already right
  python3 - "$DAEMON_JSON" "$WRAPPER_NAME" "$WRAPPER_PATH" <<'PY'
import json, os, sys
path, name, binary = sys.argv[1:]
cfg = {}
if os.path.exists(path) and os.path.getsize(path) > 0:
    with open(path) as f:
        cfg = json.load(f)
want = dict(cfg)
want.setdefault("runtimes", {})
want["runtimes"] = dict(want["runtimes"], **{name: {"path": binary}})
want["default-runtime"] = name
if want != cfg:
    print(json.dumps(want, indent=2, sort_keys=True))
PY
}

dockerd_pid() {
  local pid
  pid=$(cat /var/run/docker.pid 2>/dev/null || true)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

default_runtime() { docker info --format '{{.DefaultRuntime}}' 2>/dev/null; }

ensure_runtime() {
  bash "$ROOT/tests/infra/docker.sh"
  local missing
  missing=$(missing_caps)
  case "$KIND_RUNTIME_WRAPPER" in
    never) log "runtime: KIND_RUNTIME_WRAPPER=never; leaving Docker as it is"; return 0 ;;
    auto) if [ "$missing" = 0 ]; then log "runtime: bounding set complete; no wrapper needed"; return 0; fi ;;
    always) ;;
    *) die "KIND_RUNTIME_WRAPPER must be auto, always or never" ;;
  esac
  log "runtime: the capability bounding set lacks $missing capabilities; using $WRAPPER_NAME"
  [ "$(id -u)" = 0 ] || die "registering a Docker runtime needs root"
  build_gotools
  if ! cmp -s "$GOTOOLS_DIR/runc-capfix" "$WRAPPER_PATH"; then
    log "runtime: installing $WRAPPER_PATH"
    install -m 0755 "$GOTOOLS_DIR/runc-capfix" "$WRAPPER_PATH.new"
    mv -f "$WRAPPER_PATH.new" "$WRAPPER_PATH"   # atomic: containers may be starting
  fi
  local wanted
  wanted=$(daemon_json_wanted)
  if [ -n "$wanted" ]; then
    log "runtime: registering $WRAPPER_NAME as Docker's default runtime in $DAEMON_JSON"
    mkdir -p "$(dirname "$DAEMON_JSON")"
    [ -f "$DAEMON_JSON" ] && cp -p "$DAEMON_JSON" "$DAEMON_JSON.bak-kind-offline"
    printf '%s\n' "$wanted" >"$DAEMON_JSON.new" && mv -f "$DAEMON_JSON.new" "$DAEMON_JSON"
  fi
  if [ "$(default_runtime)" != "$WRAPPER_NAME" ]; then
    # dockerd reloads "runtimes" and "default-runtime" on SIGHUP: running containers and
    # builds are untouched, so no restart is needed.
    local pid
    pid=$(dockerd_pid) || die "no dockerd pid in /var/run/docker.pid; restart dockerd yourself to apply $DAEMON_JSON"
    log "runtime: reloading dockerd (pid $pid) with SIGHUP"
    kill -HUP "$pid"
    for _ in $(seq 1 30); do
      [ "$(default_runtime)" = "$WRAPPER_NAME" ] && break
      sleep 1
    done
    [ "$(default_runtime)" = "$WRAPPER_NAME" ] \
      || die "dockerd did not pick up $DAEMON_JSON on SIGHUP (default runtime: $(default_runtime)); see /tmp/dockerd.log"
  fi
  log "runtime: default runtime $(default_runtime)"
}

check_privileged() { # a privileged container must start (the thing kind needs)
  bash "$ROOT/tests/infra/base-images.sh" >/dev/null
  docker run --rm --privileged debian:bookworm-slim sh -c 'grep CapEff /proc/self/status' >&2 \
    || die "docker run --privileged fails; see the README's troubleshooting section"
}

# ------------------------------------------------------------------------ images
component_images() { # the exact refs kubeadm will ask for
  "$K8S_DIR/kubeadm" config images list --kubernetes-version "$K8S_VERSION" 2>/dev/null
}

image_has_key() { # REF KEY
  [ "$(docker image inspect --format "{{ index .Config.Labels \"$IMAGE_LABEL\" }}" "$1" 2>/dev/null)" = "$2" ]
}

scratch_image() { # REF KEY ENTRYPOINT SRC:DEST...
  local ref=$1 key=$2 entry=$3 dir spec
  shift 3
  image_has_key "$ref" "$key" && return 0
  log "image $ref"
  dir=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  mkdir -p "$dir/tmp" "$dir/etc" "$dir/usr/local/bin"
  chmod 1777 "$dir/tmp"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' >"$dir/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
  for spec in "$@"; do
    mkdir -p "$dir$(dirname "${spec#*:}")"
    install -m 0755 "${spec%%:*}" "$dir${spec#*:}"
  done
  tar -C "$dir" --numeric-owner --owner=0 --group=0 -c . | docker import \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin' \
    --change "ENTRYPOINT [\"$entry\"]" \
    --change "LABEL $IMAGE_LABEL=$key" - "$ref" >/dev/null
  rm -rf "$dir"
}

dockerfile_image() { # REF KEY DOCKERFILE FILE...  (context: the files, flat)
  local ref=$1 key=$2 dockerfile=$3 ctx f
  shift 3
  image_has_key "$ref" "$key" && return 0
  log "image $ref (docker build)"
  ctx=$(mktemp -d "$CACHE/ctx.XXXXXX")
  for f in "$@"; do cp "$f" "$ctx/"; done
  "${NICE[@]}" docker build --network host -q --label "$IMAGE_LABEL=$key" -t "$ref" -f "$dockerfile" "$ctx" >/dev/null
  rm -rf "$ctx"
}

SMOKE_IMAGE=localhost/kind-offline/smoke:${GOTOOLS_DIR##*-}
LPP_IMAGE=localhost/kind-offline/local-path-provisioner:$LOCAL_PATH_PROVISIONER_VERSION
HELPER_IMAGE=localhost/kind-offline/local-path-helper:bookworm

build_component_images() {
  bash "$ROOT/tests/infra/base-images.sh" >/dev/null   # debian:bookworm-slim (local stand-in if no registry)
  local ref name key
  PRELOAD=()
  while read -r ref; do
    name=${ref#registry.k8s.io/}; name=${name%%:*}
    case "$name" in
      kube-apiserver|kube-controller-manager|kube-scheduler)
        [ "${ref##*:}" = "$K8S_VERSION" ] || die "kubeadm lists $ref, expected tag $K8S_VERSION"
        key=${K8S_DIR##*/}
        scratch_image "$ref" "$key" "/usr/local/bin/$name" "$K8S_DIR/$name:/usr/local/bin/$name" ;;
      kube-proxy)
        key=${K8S_DIR##*/}-$(hash_files images/kube-proxy.Dockerfile node/kube-proxy-wrapper.sh)
        dockerfile_image "$ref" "$key" "$HERE/images/kube-proxy.Dockerfile" \
          "$K8S_DIR/kube-proxy" "$HERE/node/kube-proxy-wrapper.sh" ;;
      etcd)
        [ "${ref##*:}" = "$ETCD_IMAGE_TAG" ] || die "kubeadm lists $ref; versions.env has ETCD_IMAGE_TAG=$ETCD_IMAGE_TAG"
        scratch_image "$ref" "${ETCD_DIR##*/}" /usr/local/bin/etcd "$ETCD_DIR/etcd:/usr/local/bin/etcd" ;;
      coredns/coredns)
        [ "${ref##*:}" = "$COREDNS_VERSION" ] || die "kubeadm lists $ref; versions.env has COREDNS_VERSION=$COREDNS_VERSION"
        scratch_image "$ref" "${COREDNS_DIR##*/}" /coredns "$COREDNS_DIR/coredns:/coredns" ;;
      pause)
        [ "${ref##*:}" = "$PAUSE_IMAGE_TAG" ] || die "kubeadm lists $ref; versions.env has PAUSE_IMAGE_TAG=$PAUSE_IMAGE_TAG"
        scratch_image "$ref" "${GOTOOLS_DIR##*/}" /pause "$GOTOOLS_DIR/pause:/pause" ;;
      *) die "kubeadm lists an image this script does not know how to build: $ref" ;;
    esac
    PRELOAD+=("$ref")
  done < <(component_images)
  [ "${#PRELOAD[@]}" -ge 7 ] || die "kubeadm config images list printed ${#PRELOAD[@]} images"
  scratch_image "$LPP_IMAGE" "${LPP_DIR##*/}" /usr/local/bin/local-path-provisioner \
    "$LPP_DIR/local-path-provisioner:/usr/local/bin/local-path-provisioner"
  scratch_image "$SMOKE_IMAGE" "${GOTOOLS_DIR##*/}" /usr/local/bin/smoke "$GOTOOLS_DIR/smoke:/usr/local/bin/smoke"
  docker tag debian:bookworm-slim "$HELPER_IMAGE"
  PRELOAD+=("$LPP_IMAGE" "$HELPER_IMAGE" "$SMOKE_IMAGE")
}

node_key() { # everything the node image is made of
  {
    echo "$KIND_VERSION ${K8S_DIR##*/} ${ETCD_DIR##*/} ${COREDNS_DIR##*/} ${CRICTL_DIR##*/} ${LPP_DIR##*/} ${GOTOOLS_DIR##*/}"
    hash_files node images/kube-proxy.Dockerfile versions.env
    docker image inspect --format '{{.Id}}' debian:bookworm-slim 2>/dev/null || true
  } | sha256sum | cut -c1-12
}

node_image_name() { echo "localhost/kind-offline/node:$K8S_VERSION-$(node_key)"; }

build_node_image() {
  NODE_IMAGE=$(node_image_name)
  if docker image inspect "$NODE_IMAGE" >/dev/null 2>&1; then
    log "node image $NODE_IMAGE present"
    return 0
  fi
  local key=${NODE_IMAGE##*:} base ctx kind_dir id
  base=localhost/kind-offline/node-base:$key
  ctx=$(mktemp -d "$CACHE/node-ctx.XXXXXX")
  kind_dir=$(cd "$CACHE" && go mod download -json "sigs.k8s.io/kind@$KIND_VERSION" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  cp -r "$kind_dir/images/base/files" "$ctx/kind-files"
  chmod -R u+w,go-w "$ctx/kind-files"
  find "$ctx/kind-files" -type f -exec chmod 0644 {} +
  chmod 0755 "$ctx/kind-files/usr/local/bin/"* "$ctx/kind-files/kind/bin/"*
  rm -f "$ctx/kind-files/etc/containerd/config.toml" "$ctx/kind-files/etc/systemd/system/containerd-fuse-overlayfs.service"
  mkdir -p "$ctx/bin" "$ctx/node"
  cp "$K8S_DIR/kubelet" "$K8S_DIR/kubeadm" "$K8S_DIR/kubectl" "$CRICTL_DIR/crictl" "$GOTOOLS_DIR/runc-capfix" "$ctx/bin/"
  cp "$HERE"/node/* "$ctx/node/"
  printf '%s' "$K8S_VERSION" >"$ctx/version"
  log "node base image $base (docker build; apt layer cached by Docker)"
  "${NICE[@]}" docker build --network host -q --label "$IMAGE_LABEL=$key" -t "$base" \
    -f "$HERE/node/Dockerfile" "$ctx" >/dev/null
  rm -rf "$ctx"

  log "preloading ${#PRELOAD[@]} images into the node's containerd"
  id=kind-offline-build-$$
  docker rm -f "$id" >/dev/null 2>&1 || true
  docker run -d --init --name "$id" --entrypoint sleep --security-opt seccomp=unconfined "$base" infinity >/dev/null
  CLEANUP="docker rm -f $id >/dev/null 2>&1"
  docker exec "$id" bash -c 'nohup containerd >/tmp/containerd.log 2>&1 &'
  docker exec "$id" bash -c 'for i in $(seq 1 30); do ctr version >/dev/null 2>&1 && exit 0; sleep 1; done; cat /tmp/containerd.log; exit 1' \
    || die "containerd did not start in the build container"
  docker save "${PRELOAD[@]}" | docker exec -i "$id" \
    ctr --namespace=k8s.io images import --all-platforms --no-unpack --digests - >/dev/null
  local listed ref
  listed=$(docker exec "$id" ctr --namespace=k8s.io images list -q)
  for ref in "${PRELOAD[@]}"; do
    grep -qx -e "$ref" -e "docker.io/$ref" <<<"$listed" || die "preload: $ref missing from containerd (have: $listed)"
  done
  docker exec "$id" bash -c 'pkill containerd; for i in $(seq 1 20); do pgrep containerd >/dev/null || exit 0; sleep 0.5; done; exit 1'
  docker exec "$id" rm -rf /tmp/containerd.log /run/containerd
  docker commit \
    --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' \
    --change 'CMD []' \
    --change "LABEL $IMAGE_LABEL=$key" \
    "$id" "$NODE_IMAGE" >/dev/null
  docker rm -f "$id" >/dev/null
  CLEANUP=""
  docker rmi "$base" >/dev/null 2>&1 || true
  log "node image $NODE_IMAGE built"
}

BIN_STEPS=(gotools:build_gotools kubernetes:build_k8s etcd:build_etcd coredns:build_coredns
  crictl:build_crictl local-path-provisioner:build_lpp)

build_bins() { # [NAME...]: the named binaries (default: all)
  local s want
  for s in "${BIN_STEPS[@]}"; do
    if [ "$#" -gt 0 ]; then
      for want in "$@"; do [ "$want" = "${s%%:*}" ] && timed "${s%%:*}" "${s#*:}"; done
    else
      timed "${s%%:*}" "${s#*:}"
    fi
  done
}

build_all() {
  if [ -n "${KIND_NODE_IMAGE:-}" ]; then
    docker image inspect "$KIND_NODE_IMAGE" >/dev/null 2>&1 || die "KIND_NODE_IMAGE=$KIND_NODE_IMAGE is not a local image"
    log "using KIND_NODE_IMAGE=$KIND_NODE_IMAGE; nothing to build"
    NODE_IMAGE=$KIND_NODE_IMAGE
    return 0
  fi
  build_bins
  timed component-images build_component_images
  timed node-image build_node_image
}

# ------------------------------------------------------------------------ cluster
cluster_exists() { "$KIND" get clusters 2>/dev/null | grep -qx "$KIND_CLUSTER"; }

cluster_up() {
  kind_bin
  if cluster_exists; then
    local running
    running=$(docker inspect --format '{{.Config.Image}}' "$KIND_CLUSTER-control-plane" 2>/dev/null || true)
    log "cluster $KIND_CLUSTER exists (node image $running)"
    [ "$running" = "$NODE_IMAGE" ] || log "warning: the cluster runs $running, not the current $NODE_IMAGE; \`$0 down\` and up again to use it"
    docker start "$KIND_CLUSTER-control-plane" >/dev/null 2>&1 || true
  else
    log "kind create cluster --name $KIND_CLUSTER --image $NODE_IMAGE --config $KIND_CONFIG"
    "$KIND" create cluster --name "$KIND_CLUSTER" --image "$NODE_IMAGE" --config "$KIND_CONFIG" \
      --wait "$KIND_WAIT" --retain
  fi
  kubectl --context "$KUBE_CONTEXT" wait --for=condition=Ready nodes --all --timeout=300s >&2
  kubectl --context "$KUBE_CONTEXT" -n kube-system rollout status deployment/coredns --timeout=300s >&2
  kubectl --context "$KUBE_CONTEXT" get nodes -o wide >&2
}

smoke_wait_done() { # POD: wait until it Succeeded (0) or Failed (1), at most 180 s
  local phase i
  for i in $(seq 1 90); do
    phase=$("${K[@]}" get pod "$1" -o jsonpath='{.status.phase}' 2>/dev/null || true)
    case "$phase" in Succeeded) return 0 ;; Failed) break ;; esac
    sleep 2
  done
  log "smoke: pod $1 is ${phase:-missing}"
  "${K[@]}" describe pod "$1" >&2 || true
  "${K[@]}" logs "$1" >&2 || true
  return 1
}

smoke_wait_ready() { # POD
  "${K[@]}" wait --for=condition=Ready "pod/$1" --timeout=180s >&2 && return 0
  "${K[@]}" describe pod "$1" >&2 || true
  "${K[@]}" logs "$1" >&2 || true
  return 1
}

smoke() {
  local ns=kind-offline-smoke out
  K=(kubectl --context "$KUBE_CONTEXT" -n "$ns")
  sed "s|@SMOKE_IMAGE@|$SMOKE_IMAGE|g" "$HERE/smoke.yaml" >"$CACHE/smoke.rendered.yaml"
  kubectl --context "$KUBE_CONTEXT" delete namespace "$ns" --ignore-not-found --wait=true >&2
  kubectl --context "$KUBE_CONTEXT" apply -f "$CACHE/smoke.rendered.yaml" >&2
  smoke_wait_ready web || die "smoke: pod web (on the PVC) not Ready"
  [ "$("${K[@]}" get pvc data -o jsonpath='{.status.phase}')" = Bound ] || die "smoke: PVC data not Bound"
  log "smoke: pod web Running on PVC data ($("${K[@]}" get pvc data -o jsonpath='{.spec.storageClassName} {.spec.volumeName}'))"
  smoke_wait_done client || die "smoke: pod client could not reach Service web by its DNS name"
  log "smoke: client -> http://web.$ns.svc.cluster.local:8080/: $("${K[@]}" logs client)"
  smoke_wait_done privileged || die "smoke: privileged pod failed"
  log "smoke: privileged pod: $("${K[@]}" logs privileged)"
  # the PVC keeps data across pods: a new pod on it must see both boots
  "${K[@]}" delete pod web --wait=true >&2
  kubectl --context "$KUBE_CONTEXT" apply -f "$CACHE/smoke.rendered.yaml" >&2
  smoke_wait_ready web || die "smoke: recreated pod web not Ready"
  out=$("${K[@]}" exec web -- smoke get "http://web.$ns.svc.cluster.local:8080/" 30)
  log "smoke: after the pod was recreated: $out"
  grep -q 'boots=2' <<<"$out" || die "smoke: PVC data not kept across the pod restart ($out)"
  kubectl --context "$KUBE_CONTEXT" delete namespace "$ns" --wait=false >&2
  log "smoke: all checks passed"
}

cmd=${1:-}
case "$cmd" in
  runtime)
    timed runtime ensure_runtime
    timed privileged-container check_privileged ;;
  bins)
    shift
    build_bins "$@" ;;
  image)
    build_all
    echo "$NODE_IMAGE" ;;
  up)
    timed runtime ensure_runtime
    build_all
    timed cluster-up cluster_up
    echo "$NODE_IMAGE" ;;
  smoke)
    timed smoke smoke ;;
  env)
    kind_bin
    echo "KIND=$KIND"
    echo "KIND_CLUSTER=$KIND_CLUSTER"
    echo "KIND_CONFIG=$KIND_CONFIG"
    echo "KUBE_CONTEXT=$KUBE_CONTEXT"
    n=${KIND_NODE_IMAGE:-$(node_image_name)}
    if docker image inspect "$n" >/dev/null 2>&1; then echo "KIND_NODE_IMAGE=$n"; fi ;;
  down)
    kind_bin
    "$KIND" delete cluster --name "$KIND_CLUSTER" ;;
  timings)
    cat "$TIMINGS" 2>/dev/null || true ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2 ;;
esac
