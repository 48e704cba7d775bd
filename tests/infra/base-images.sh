#!/usr/bin/env bash
# Make sure the base images that docker/*.Dockerfile build FROM exist in the local
# Docker engine. Idempotent. For each image:
#   1. present locally            -> nothing to do
#   2. `docker pull` works        -> the real image is used
#   3. otherwise (no registry)    -> a local stand-in is built under the SAME name:
#        debian:bookworm-slim     debootstrap --variant=minbase bookworm, slimmed, `docker import`
#        python:3.11-slim-bookworm  the Debian image + bookworm's python3 (3.11), a venv at
#                                 /usr/local so python/python3/pip sit in /usr/local/bin like
#                                 in the official image
#        golang:1.26-bookworm     the Debian image + ca-certificates + this host's Go toolchain
#                                 at /usr/local/go (GOPATH=/go), like the official image
# Stand-ins carry the label org.opencontainers.image.description "local stand-in ...".
# The debootstrap output is cached as a tarball under $TOOLS_DIR/base-images.
#
# Environment: TOOLS_DIR, PYTHON_IMAGE, DEBIAN_IMAGE, GO_IMAGE, DEBIAN_MIRROR,
#              PULL_TIMEOUT (seconds per pull attempt), GOROOT_DIR (Go tree to copy).
set -euo pipefail

TOOLS_DIR=${TOOLS_DIR:-$HOME/.cache/pycaret-mlops/tools}
CACHE_DIR=$TOOLS_DIR/base-images
PYTHON_IMAGE=${PYTHON_IMAGE:-python:3.11-slim-bookworm}
DEBIAN_IMAGE=${DEBIAN_IMAGE:-debian:bookworm-slim}
GO_IMAGE=${GO_IMAGE:-golang:1.26-bookworm}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PULL_TIMEOUT=${PULL_TIMEOUT:-60}
STANDIN_LABEL=org.opencontainers.image.description
DEFAULT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log() { printf 'base-images.sh: %s\n' "$*" >&2; }

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

try_pull() {
    log "$1: not present locally, trying docker pull (timeout ${PULL_TIMEOUT}s)"
    if timeout "$PULL_TIMEOUT" docker pull -q "$1" >/dev/null 2>&1; then
        log "$1: pulled"
        return 0
    fi
    log "$1: pull failed; building a local stand-in"
    return 1
}

# ---------------------------------------------------------------- debian:bookworm-slim
debian_rootfs_tar() {
    local tar=$CACHE_DIR/bookworm-minbase.tar
    if [ -s "$tar" ]; then
        echo "$tar"
        return
    fi
    if ! command -v debootstrap >/dev/null 2>&1; then
        log "installing debootstrap"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    fi
    mkdir -p "$CACHE_DIR"
    local dir
    dir=$(mktemp -d "$CACHE_DIR/rootfs.XXXXXX")
    log "debootstrap --variant=minbase bookworm into $dir (log: $CACHE_DIR/debootstrap.log)"
    if ! debootstrap --variant=minbase bookworm "$dir" "$DEBIAN_MIRROR" >"$CACHE_DIR/debootstrap.log" 2>&1; then
        log "error: debootstrap failed; last lines of $CACHE_DIR/debootstrap.log:"
        tail -n 20 "$CACHE_DIR/debootstrap.log" >&2
        rm -rf "$dir"
        exit 1
    fi
    # Slim it down the way the official -slim image is: no docs/man pages now or
    # in later apt installs, no apt lists or downloaded packages.
    mkdir -p "$dir/etc/dpkg/dpkg.cfg.d" "$dir/etc/apt/apt.conf.d"
    cat >"$dir/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
    cat >"$dir/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    rm -f "$dir/etc/apt/sources.list"
    cat >"$dir/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $DEBIAN_MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${DEBIAN_MIRROR%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    find "$dir/usr/share/doc" -mindepth 2 ! -name copyright -delete 2>/dev/null || true
    find "$dir/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
    rm -rf "$dir"/usr/share/man/* "$dir"/usr/share/info/* \
        "$dir"/var/cache/apt/archives/*.deb "$dir"/var/cache/apt/*.bin \
        "$dir"/var/lib/apt/lists/* "$dir"/var/log/* "$dir"/tmp/* "$dir"/root/.cache
    find "$dir/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} + 2>/dev/null || true
    tar -C "$dir" --numeric-owner -cf "$tar.tmp" .
    mv "$tar.tmp" "$tar"
    rm -rf "$dir"
    echo "$tar"
}

build_debian_standin() {
    local tar
    tar=$(debian_rootfs_tar)
    log "$DEBIAN_IMAGE: importing stand-in from $tar"
    docker import \
        --change "ENV PATH=$DEFAULT_PATH" \
        --change "LABEL $STANDIN_LABEL=\"local stand-in for $DEBIAN_IMAGE (debootstrap minbase bookworm)\"" \
        --change 'CMD ["bash"]' \
        "$tar" "$DEBIAN_IMAGE" >/dev/null
}

# ------------------------------------------------------------ python:3.11-slim-bookworm
build_python_standin() {
    ensure "$DEBIAN_IMAGE" build_debian_standin
    log "$PYTHON_IMAGE: building stand-in FROM $DEBIAN_IMAGE"
    docker build --network host -q -t "$PYTHON_IMAGE" - >/dev/null <<EOF
FROM $DEBIAN_IMAGE
ENV LANG=C.UTF-8 \\
    PATH=$DEFAULT_PATH
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
        ca-certificates python3 python3-venv python3-pip \\
 && rm -rf /var/lib/apt/lists/* \\
 && python3 -m venv /usr/local \\
 && /usr/local/bin/python --version \\
 && /usr/local/bin/pip --version \\
 && find /usr/local -depth -name __pycache__ -type d -exec rm -rf {} +
LABEL $STANDIN_LABEL="local stand-in for $PYTHON_IMAGE (Debian bookworm python3; venv at /usr/local)"
CMD ["python3"]
EOF
}

# ------------------------------------------------------------------ golang:1.26-bookworm
build_go_standin() {
    local want goroot have_ver
    want=${GO_IMAGE#*:}          # 1.26-bookworm
    want=${want%%-*}             # 1.26
    goroot=${GOROOT_DIR:-$(go env GOROOT 2>/dev/null || true)}
    if [ -z "$goroot" ] || [ ! -x "$goroot/bin/go" ]; then
        log "error: $GO_IMAGE cannot be pulled and no host Go toolchain was found to build a stand-in"
        exit 1
    fi
    have_ver=$("$goroot/bin/go" env GOVERSION)
    case "$have_ver" in
        go"$want"|go"$want".*) ;;
        *)
            log "error: $GO_IMAGE needs Go $want but the host toolchain at $goroot is $have_ver"
            exit 1 ;;
    esac
    ensure "$DEBIAN_IMAGE" build_debian_standin
    log "$GO_IMAGE: building stand-in FROM $DEBIAN_IMAGE with $goroot ($have_ver)"
    local df
    df=$(mktemp)
    cat >"$df" <<EOF
FROM $DEBIAN_IMAGE
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \\
 && rm -rf /var/lib/apt/lists/*
COPY . /usr/local/go
ENV GOLANG_VERSION=${have_ver#go} \\
    GOTOOLCHAIN=local \\
    GOPATH=/go \\
    PATH=/go/bin:/usr/local/go/bin:$DEFAULT_PATH
RUN mkdir -p /go/src /go/bin && chmod -R 1777 /go && go version
WORKDIR /go
LABEL $STANDIN_LABEL="local stand-in for $GO_IMAGE (Debian bookworm + $have_ver from the host)"
EOF
    docker build --network host -q -t "$GO_IMAGE" -f "$df" "$goroot" >/dev/null
    rm -f "$df"
}

ensure() {
    local image=$1 builder=$2
    if have_image "$image"; then
        log "$image: present"
        return
    fi
    try_pull "$image" || "$builder"
    have_image "$image" || { log "error: $image still missing"; exit 1; }
}

want=${*:-debian python go}
for w in $want; do
    case "$w" in
        debian) ensure "$DEBIAN_IMAGE" build_debian_standin ;;
        python) ensure "$PYTHON_IMAGE" build_python_standin ;;
        go)     ensure "$GO_IMAGE" build_go_standin ;;
        *) log "error: unknown base image '$w' (debian|python|go)"; exit 2 ;;
    esac
done
