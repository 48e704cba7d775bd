#!/usr/bin/env bash
# Installs what the tests run for real, idempotently:
#   PostgreSQL server binaries (Debian's postgresql; the tests start their own cluster with initdb/pg_ctl)
#   a MinIO server built from source at a pinned version, cached in $TOOLS_DIR
set -euo pipefail
: "${TOOLS_DIR:=$HOME/.cache/pycaret-mlops/tools}"
: "${MINIO_VERSION:?set MINIO_VERSION (the Makefile pins it)}"

apt_install() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "tools.sh: need Debian packages: $* (run as root or install them)" >&2
    exit 1
  fi
  [ -n "$(find /var/lib/apt/lists -name '*Packages*' -print -quit 2>/dev/null)" ] || apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  echo "tools.sh: installing PostgreSQL"
  apt_install postgresql
fi

minio="$TOOLS_DIR/minio-$MINIO_VERSION/minio"
if [ ! -x "$minio" ]; then
  command -v go >/dev/null || { echo "tools.sh: Go is needed to build MinIO (https://go.dev/dl/)" >&2; exit 1; }
  echo "tools.sh: building MinIO $MINIO_VERSION from source (a few minutes, once)"
  GOBIN="$(dirname "$minio")" go install "github.com/minio/minio@$MINIO_VERSION"
fi
