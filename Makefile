# pycaret-mlops: `make demo` runs the whole loop locally, `make test` runs every test.
# Both set up what they need (virtualenv, PostgreSQL, a MinIO server built from source).

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON        ?= python3
VENV          ?= .venv
TOOLS_DIR     ?= $(HOME)/.cache/pycaret-mlops/tools
MINIO_VERSION ?= v0.0.0-20260212201848-7aac2a2c5b7c
# Real public CSVs for the dataset tests (CI lays ../shared/datasets beside the clone).
MLOPS_DATASETS_DIR ?= $(abspath ../shared/datasets)
PYTEST_ARGS   ?=
DEMO_STATE    ?= .state/demo
DEMO_ARGS     ?=

export TOOLS_DIR MINIO_VERSION MLOPS_DATASETS_DIR

.PHONY: help venv tools demo ui test test-core lint lock

help:  ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

venv: $(VENV)/.installed  ## virtualenv with the locked dependencies

$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -c requirements.lock -e '.[pycaret,test]'
	touch $@

tools:  ## PostgreSQL, a pinned MinIO server, helm and kubeconform with offline schemas
	bash tests/infra/tools.sh
	bash tests/infra/chart-tools.sh >/dev/null

demo: venv  ## train on bundled real data, register, serve @champion and score over HTTP
	$(VENV)/bin/python -m serving.demo --state-dir $(DEMO_STATE) $(DEMO_ARGS)

ui: venv  ## MLflow UI over the demo's runs and models, at http://127.0.0.1:5000
	$(VENV)/bin/python -m serving.tracking_server --port 5000 --workers 1 \
	  --backend-store-uri sqlite:///$(abspath $(DEMO_STATE))/mlflow.db --artifacts-destination $(abspath $(DEMO_STATE))/artifacts

test-core: venv tools  ## unit, integration and serving tests (no Docker needed)
	$(VENV)/bin/pytest -m "not containers and not chart" $(PYTEST_ARGS)

test: venv tools images  ## every test, the container tests on freshly built images
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: venv lint-docker  ## hadolint on every Dockerfile

lock:  ## re-resolve requirements.lock from pyproject.toml
	$(VENV)/bin/pip install -q uv
	$(VENV)/bin/uv pip compile pyproject.toml --all-extras --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 --no-header --annotation-style line -o requirements.lock.new
	{ echo '# Exact versions for every install path (venv, images, CI). Regenerate with `make lock`.'; \
	  cat requirements.lock.new; } > requirements.lock && rm requirements.lock.new

include docker/images.mk
include k8s/cluster.mk
