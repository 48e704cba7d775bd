# Kubernetes targets: included from the root Makefile (`include k8s/cluster.mk`), next to
# docker/images.mk (which builds the images and defines VERSION and IMAGE_PREFIX).
#
#   make up        kind cluster + `make images` + kind load + helm upgrade --install, wait until ready
#   make train     a training Job from the CronJob template; waits, prints outcome and log tail
#   make predict   in-cluster HTTP scoring of the release's sample rows (mlops-score in a pod)
#   make e2e       up + train + predict + helm test
#   make down      delete the kind cluster
#
# Knobs: CLUSTER, K8S_NAMESPACE, RELEASE, HELM_VALUES (extra -f/--set arguments), KUBECTL,
# DOCKER, KIND_NODE_IMAGE, POSTGRES_IMAGE, HELM_TIMEOUT, TRAIN_TIMEOUT_SECONDS.
# helm and kind are pinned and installed into $(TOOLS_DIR) by tests/infra/chart-tools.sh;
# kubectl comes from PATH.

CLUSTER_MK_DIR   := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
CLUSTER_ROOT     := $(abspath $(CLUSTER_MK_DIR)/..)
CLUSTER          ?= pycaret-mlops
K8S_NAMESPACE    ?= pycaret-mlops
RELEASE          ?= mlops
KUBECTL          ?= kubectl
DOCKER           ?= docker
HELM_VALUES      ?=
HELM_TIMEOUT     ?= 45m
TRAIN_TIMEOUT_SECONDS ?= 3600
KIND_NODE_IMAGE  ?=
# kind v0.30.0's default node image; pulling it tells whether a registry answers (make e2e).
KIND_PULL_CHECK_TAG ?= v1.34.0
# The chart's default (helm/pycaret-mlops/values.yaml postgresql.image); loaded into kind.
POSTGRES_IMAGE   ?= postgres:17.7-trixie
CHART_DIR        := $(CLUSTER_ROOT)/helm/pycaret-mlops
CHART_TOOLS      := bash $(CLUSTER_ROOT)/tests/infra/chart-tools.sh

# Same tag and names as docker/images.mk builds (it defines VERSION and IMAGE_PREFIX).
IMAGE_PREFIX     ?= pycaret-mlops
CLUSTER_IMAGE_TAG = $(or $(VERSION),$(shell sed -n 's/^version *= *"\([^"]*\)".*/\1/p' $(CLUSTER_ROOT)/pyproject.toml | head -n1)-$(shell git -C $(CLUSTER_ROOT) rev-parse --short=7 HEAD))
CLUSTER_IMAGES    = $(foreach name,tracking-server trainer model-server minio,$(IMAGE_PREFIX)/$(name):$(CLUSTER_IMAGE_TAG))
MODEL_SERVER_IMAGE = $(IMAGE_PREFIX)/model-server:$(CLUSTER_IMAGE_TAG)
KUBECTL_NS = $(KUBECTL) --context kind-$(CLUSTER) -n $(K8S_NAMESPACE)

.PHONY: up train predict e2e down helm-test cluster-tools

cluster-tools:  ## pinned helm and kind in $(TOOLS_DIR)
	@$(CHART_TOOLS) --cluster >/dev/null

up: images cluster-tools  ## kind cluster, images loaded, helm upgrade --install, wait until ready
	@set -euo pipefail; eval "$$($(CHART_TOOLS) --cluster)"; \
	command -v $(KUBECTL) >/dev/null || { echo "up: kubectl not found (KUBECTL=$(KUBECTL))" >&2; exit 1; }; \
	if ! "$$KIND" get clusters | grep -qx '$(CLUSTER)'; then \
	  "$$KIND" create cluster --name '$(CLUSTER)' --config '$(CLUSTER_ROOT)/k8s/kind-config.yaml' --wait 180s \
	    $(if $(KIND_NODE_IMAGE),--image '$(KIND_NODE_IMAGE)'); \
	fi; \
	$(DOCKER) image inspect '$(POSTGRES_IMAGE)' >/dev/null 2>&1 || $(DOCKER) pull '$(POSTGRES_IMAGE)'; \
	for image in $(CLUSTER_IMAGES) '$(POSTGRES_IMAGE)'; do \
	  echo "up: kind load docker-image $$image"; "$$KIND" load docker-image --name '$(CLUSTER)' "$$image"; \
	done; \
	sed 's/^  name: pycaret-mlops$$/  name: $(K8S_NAMESPACE)/' '$(CLUSTER_ROOT)/k8s/namespace.yaml' \
	  | $(KUBECTL) --context kind-$(CLUSTER) apply -f -; \
	"$$HELM" upgrade --install '$(RELEASE)' '$(CHART_DIR)' --kube-context kind-$(CLUSTER) -n '$(K8S_NAMESPACE)' \
	  --set-string image.tag='$(CLUSTER_IMAGE_TAG)' \
	  --set-string image.repositories.trackingServer='$(IMAGE_PREFIX)/tracking-server' \
	  --set-string image.repositories.trainer='$(IMAGE_PREFIX)/trainer' \
	  --set-string image.repositories.modelServer='$(IMAGE_PREFIX)/model-server' \
	  --set-string image.repositories.minio='$(IMAGE_PREFIX)/minio' \
	  --set-string postgresql.image.repository='$(firstword $(subst :, ,$(POSTGRES_IMAGE)))' \
	  --set-string postgresql.image.tag='$(lastword $(subst :, ,$(POSTGRES_IMAGE)))' \
	  $(HELM_VALUES) --wait=watcher --wait-for-jobs --timeout '$(HELM_TIMEOUT)'; \
	$(KUBECTL_NS) rollout status deployment/'$(RELEASE)-tracking-server' --timeout=10m; \
	if $(KUBECTL_NS) get deployment '$(RELEASE)-model-server' >/dev/null 2>&1; then \
	  $(KUBECTL_NS) rollout status deployment/'$(RELEASE)-model-server' --timeout=20m; fi; \
	$(KUBECTL_NS) get pods -o wide; \
	echo "up: release $(RELEASE) ready in namespace $(K8S_NAMESPACE) of kind-$(CLUSTER)"

train:  ## start a training Job from the CronJob template, wait, print the outcome and the log tail
	@set -euo pipefail; job='$(RELEASE)-train-'$$(date +%Y%m%d-%H%M%S); \
	$(KUBECTL_NS) create job --from=cronjob/'$(RELEASE)-train' "$$job"; \
	echo "train: waiting for job/$$job (at most $(TRAIN_TIMEOUT_SECONDS)s)"; \
	deadline=$$(( $$(date +%s) + $(TRAIN_TIMEOUT_SECONDS) )); result='timed out'; \
	while [ "$$(date +%s)" -lt "$$deadline" ]; do \
	  conditions=" $$($(KUBECTL_NS) get job "$$job" -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type}{" "}{end}') "; \
	  case "$$conditions" in *" Complete "*) result=succeeded; break;; *" Failed "*) result=failed; break;; esac; \
	  sleep 10; \
	done; \
	$(KUBECTL_NS) logs "job/$$job" --all-containers --prefix --tail=40 || true; \
	echo "train: job/$$job $$result"; \
	[ "$$result" = succeeded ]; \
	if $(KUBECTL_NS) get deployment '$(RELEASE)-model-server' >/dev/null 2>&1; then \
	  $(KUBECTL_NS) rollout status deployment/'$(RELEASE)-model-server' --timeout=20m; fi

predict:  ## score the release's sample rows in-cluster (mlops-score in a model-server image pod)
	@set -euo pipefail; pod='$(RELEASE)-predict-'$$(date +%s); \
	sed -e "s|@POD@|$$pod|g" -e 's|@RELEASE@|$(RELEASE)|g' -e 's|@IMAGE@|$(MODEL_SERVER_IMAGE)|g' \
	  '$(CLUSTER_ROOT)/k8s/predict-pod.yaml' | $(KUBECTL_NS) apply -f -; \
	phase=Pending; \
	for _ in $$(seq 1 60); do \
	  phase=$$($(KUBECTL_NS) get pod "$$pod" -o jsonpath='{.status.phase}'); \
	  case "$$phase" in Succeeded|Failed) break;; esac; sleep 5; \
	done; \
	$(KUBECTL_NS) logs "$$pod" || true; \
	$(KUBECTL_NS) delete pod "$$pod" --wait=false >/dev/null; \
	echo "predict: pod $$pod $$phase"; \
	[ "$$phase" = Succeeded ]

helm-test: cluster-tools  ## helm test: tracking /health and a scored row on the model server
	@set -euo pipefail; eval "$$($(CHART_TOOLS) --cluster)"; \
	"$$HELM" test '$(RELEASE)' --kube-context kind-$(CLUSTER) -n '$(K8S_NAMESPACE)' --logs --timeout 10m

# Where no registry answers (kind's node image cannot be pulled), the node image is
# assembled locally by tests/infra/kind/kind-offline.sh; see tests/infra/kind/README.md.
e2e:  ## up + train + predict + helm test + PostgreSQL/MinIO restart check (offline node image without a registry)
	@offline=1; \
	if [ -z '$(KIND_NODE_IMAGE)' ] && timeout 60 $(DOCKER) pull -q kindest/node:$(KIND_PULL_CHECK_TAG) >/dev/null 2>&1; then offline=0; fi; \
	[ -z '$(KIND_NODE_IMAGE)' ] || offline=0; \
	echo "e2e: $$([ $$offline = 1 ] && echo 'no registry: offline node image' || echo 'kind node image from the registry')"; \
	KIND_OFFLINE=$$offline CLUSTER='$(CLUSTER)' K8S_NAMESPACE='$(K8S_NAMESPACE)' RELEASE='$(RELEASE)' VERSION='$(VERSION)' \
	  KIND_NODE_IMAGE='$(KIND_NODE_IMAGE)' bash tests/infra/kind/e2e.sh

down: cluster-tools  ## delete the kind cluster (and with it every volume)
	@set -euo pipefail; eval "$$($(CHART_TOOLS) --cluster)"; \
	"$$KIND" delete cluster --name '$(CLUSTER)'
