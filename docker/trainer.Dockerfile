# Trainer: `mlops-train` (PyCaret -> MLflow tracking server -> model registry), a batch job.
#
#   docker build -f docker/trainer.Dockerfile -t pycaret-mlops/trainer:TAG .
#
# Build args: PYTHON_IMAGE, VERSION/REVISION/CREATED (labels, MLOPS_CODE_VERSION).
# Extra CA certificates: docker/ca/*.crt|*.pem (trusted by pip here, by Python at run time).
# Run: MLFLOW_TRACKING_URI and TRAIN_* (see `docker run IMAGE --help`). Works with a
# read-only root filesystem as long as /tmp is writable (HOME, caches and cwd live there).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ============================================================== deps
# The stages deps and project are the same in trainer.Dockerfile and model-server.Dockerfile,
# and so is the runtime stage up to the project wheel: the two images share those layers.
FROM ${PYTHON_IMAGE} AS deps
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Optional extra CA certificates -> /opt/ca/extra.pem; /opt/ca/bundle.pem = system + extra.
COPY docker/ca/ /tmp/extra-ca/
RUN mkdir -p /opt/ca \
 && : > /opt/ca/extra.pem \
 && for f in /tmp/extra-ca/*.crt /tmp/extra-ca/*.pem; do \
        if [ -f "$f" ]; then cat "$f"; echo; fi; \
    done >> /opt/ca/extra.pem \
 && cat /etc/ssl/certs/ca-certificates.crt /opt/ca/extra.pem > /opt/ca/bundle.pem \
 && rm -rf /tmp/extra-ca
ENV PIP_CERT=/opt/ca/bundle.pem \
    SSL_CERT_FILE=/opt/ca/bundle.pem \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
# tini (PID 1: forwards signals to the whole process group, reaps zombies; the static
# binary is copied into the runtime stage) and libgomp1 (OpenMP runtime of LightGBM).
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tini libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && python -m venv /opt/venv
WORKDIR /src
# 1) Dependencies, exactly as locked: only pyproject.toml and the lock decide this layer
#    (the packages are empty stubs here), so code changes do not reinstall them. The
#    bundled test suites of the big scientific packages are dropped (~160 MB, never imported).
COPY pyproject.toml requirements.lock ./
RUN mkdir -p training serving \
 && touch README.md training/__init__.py serving/__init__.py \
 && /opt/venv/bin/pip install -c requirements.lock '.[pycaret]' \
 && rm -rf /src/build /src/*.egg-info \
 && site=$(/opt/venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
 && for pkg in matplotlib numba numpy pandas pyarrow scipy sklearn statsmodels; do \
        if [ -d "$site/$pkg" ]; then find "$site/$pkg" -depth -type d -name tests -exec rm -rf {} +; fi; \
    done

# ============================================================== project
# 2) The project itself: a wheel (installed and checked here against the locked deps).
FROM deps AS project
COPY pyproject.toml README.m[d] ./
COPY training/ training/
COPY serving/ serving/
RUN /opt/venv/bin/pip wheel --no-deps -c requirements.lock --wheel-dir /wheels . \
 && /opt/venv/bin/pip install --no-deps --force-reinstall /wheels/*.whl \
 && /opt/venv/bin/pip check \
 && /opt/venv/bin/python -c "import training, serving, pycaret.classification, mlflow" \
 && rm -rf /src/build /src/*.egg-info

# ============================================================== runtime
FROM ${PYTHON_IMAGE}
COPY --from=deps /opt/ca/extra.pem /tmp/extra-ca.pem
COPY --from=deps /usr/bin/tini-static /usr/local/bin/tini
# Extra CA certificates join the system bundle; libgomp1 is the OpenMP runtime that the
# LightGBM wheel links against (a shared library, no compiler); a numeric non-root user.
# hadolint ignore=DL3008
RUN cat /tmp/extra-ca.pem >> /etc/ssl/certs/ca-certificates.crt \
 && rm /tmp/extra-ca.pem \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin app
# The locked dependencies: the big layer, rebuilt only when pyproject.toml or the lock change.
COPY --from=deps /opt/venv /opt/venv
# The project's wheel from the project stage, installed offline (no index, no build).
COPY --from=project /wheels/ /tmp/wheels/
RUN PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore \
    /opt/venv/bin/pip install --no-index --no-deps --force-reinstall --no-cache-dir /tmp/wheels/*.whl \
 && rm -rf /tmp/wheels
ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \
    AWS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \
    HOME=/tmp \
    TMPDIR=/tmp \
    XDG_CACHE_HOME=/tmp/.cache \
    XDG_CONFIG_HOME=/tmp/.config \
    MPLCONFIGDIR=/tmp/matplotlib \
    MPLBACKEND=Agg \
    NUMBA_CACHE_DIR=/tmp/numba \
    GIT_PYTHON_REFRESH=quiet
# ---------------------------------------------- end of the part shared with model-server
USER 10001:10001
WORKDIR /tmp
# A batch job: it finishes instead of serving, so there is nothing to health-check.
HEALTHCHECK NONE
# mlops-train refuses to start without MLFLOW_TRACKING_URI: a local store would vanish with the container.
ENTRYPOINT ["tini", "-g", "--", "mlops-train"]
CMD []
ARG PYTHON_IMAGE
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=
ENV MLOPS_CODE_VERSION=${VERSION}
LABEL org.opencontainers.image.title="pycaret-mlops/trainer" \
      org.opencontainers.image.description="PyCaret training job: compares models, logs to MLflow and registers the best one (mlops-train)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"
