# MinIO object storage (S3 API for MLflow artifacts), built from source.
#
#   docker build -f docker/minio.Dockerfile -t pycaret-mlops/minio:TAG .
#
# Build args: GO_IMAGE, RUNTIME_IMAGE, MINIO_VERSION (Go pseudo-version of
# github.com/minio/minio), GOPROXY/GOSUMDB/GONOSUMDB/GOPRIVATE/GOFLAGS (passed to go),
# VERSION/REVISION/CREATED (OCI labels). Extra CA certificates: docker/ca/*.crt|*.pem.
# Run: MINIO_ROOT_USER and MINIO_ROOT_PASSWORD (or *_FILE) are required; data in /data.
ARG GO_IMAGE=golang:1.26-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---------------------------------------------------------------- builder
FROM ${GO_IMAGE} AS builder
# Optional extra CA certificates: trusted by `go` here and copied into the runtime bundle.
COPY docker/ca/ /tmp/extra-ca/
RUN set -eu; \
    for f in /tmp/extra-ca/*.crt /tmp/extra-ca/*.pem; do \
        [ -f "$f" ] || continue; \
        cat "$f" >> /etc/ssl/certs/ca-certificates.crt; \
        echo >> /etc/ssl/certs/ca-certificates.crt; \
    done; \
    rm -rf /tmp/extra-ca
ARG MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
ARG GOPROXY=https://proxy.golang.org,direct
ARG GOSUMDB=sum.golang.org
# Module settings, not secrets (hadolint reads "PRIVATE"/"SUMDB" as sensitive).
# hadolint ignore=DL3064
ARG GONOSUMDB=
# hadolint ignore=DL3064
ARG GOPRIVATE=
ARG GOFLAGS=
# hadolint ignore=DL3064
ENV CGO_ENABLED=0 \
    GOTOOLCHAIN=local \
    GOPROXY=${GOPROXY} \
    GOSUMDB=${GOSUMDB} \
    GONOSUMDB=${GONOSUMDB} \
    GOPRIVATE=${GOPRIVATE} \
    GOFLAGS=${GOFLAGS} \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
# Same version stamps as upstream's buildscripts/gen-ldflags.go, taken from the
# pseudo-version (vX-YYYYMMDDhhmmss-commit): a development build of that commit.
# (The version is pinned: @${MINIO_VERSION}; the pipes only feed sed.)
# hadolint ignore=DL3062,DL4006
RUN set -eu; \
    ts=$(echo "$MINIO_VERSION" | sed -E 's/^v[0-9.]+-(0\.)?([0-9]{14})-([0-9a-f]{12})$/\2/'); \
    commit=$(echo "$MINIO_VERSION" | sed -E 's/^.*-([0-9a-f]{12})$/\1/'); \
    case "$ts$commit" in *[!0-9a-f]*) echo "MINIO_VERSION must be a Go pseudo-version, got $MINIO_VERSION" >&2; exit 1;; esac; \
    iso=$(echo "$ts" | sed -E 's/(....)(..)(..)(..)(..)(..)/\1-\2-\3T\4:\5:\6Z/'); \
    tag=$(echo "$ts" | sed -E 's/(....)(..)(..)(..)(..)(..)/DEVELOPMENT.\1-\2-\3T\4-\5-\6Z/'); \
    pkg=github.com/minio/minio/cmd; \
    GOBIN=/out go install -tags kqueue -trimpath \
        -ldflags "-s -w -X $pkg.Version=$iso -X $pkg.ReleaseTag=$tag -X $pkg.CommitID=$commit -X $pkg.ShortCommitID=$commit -X $pkg.CopyrightYear=${ts%??????????}" \
        "github.com/minio/minio@${MINIO_VERSION}"; \
    go clean -cache -modcache; \
    /out/minio --version

# ---------------------------------------------------------------- runtime
FROM ${RUNTIME_IMAGE}
# The builder's CA bundle already holds the extra certificates (no apt in this stage).
COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=builder /out/minio /usr/local/bin/minio
RUN set -eu; \
    groupadd --system --gid 10001 minio; \
    useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home --shell /usr/sbin/nologin minio; \
    mkdir -p /data; \
    chown 10001:10001 /data
# HOME=/tmp: MinIO keeps ~/.minio (certs dir) there; writable even with a read-only
# root filesystem plus an emptyDir at /tmp.
ENV HOME=/tmp \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    MINIO_ADDRESS=:9000 \
    MINIO_CONSOLE_ADDRESS=:9001
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 9000 9001
# No curl or wget in the image: bash's /dev/tcp speaks enough HTTP for the liveness probe.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${MINIO_ADDRESS##*:} && printf 'GET /minio/health/live HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
# Refuse to start with MinIO's well-known default credentials.
ENTRYPOINT ["/bin/sh", "-c", "if [ -z \"${MINIO_ROOT_USER:-}${MINIO_ROOT_USER_FILE:-}\" ] || [ -z \"${MINIO_ROOT_PASSWORD:-}${MINIO_ROOT_PASSWORD_FILE:-}\" ]; then echo 'minio: error: MINIO_ROOT_USER and MINIO_ROOT_PASSWORD (or MINIO_ROOT_USER_FILE and MINIO_ROOT_PASSWORD_FILE) must be set' >&2; exit 64; fi; exec minio \"$@\"", "minio"]
CMD ["server", "/data"]
ARG RUNTIME_IMAGE
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=
ARG MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
LABEL org.opencontainers.image.title="pycaret-mlops/minio" \
      org.opencontainers.image.description="MinIO object storage server built from source (github.com/minio/minio@${MINIO_VERSION}) for MLflow artifacts" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="https://github.com/minio/minio" \
      org.opencontainers.image.licenses="AGPL-3.0-only" \
      org.opencontainers.image.base.name="${RUNTIME_IMAGE}"
