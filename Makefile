# Developer entry points.  The README names these targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: operator-stop setup node-deps image binaries monitoring-binaries cluster-up cluster-down cluster-status test test-unit test-e2e lint walkthrough clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

## setup: the Python environment (.venv) with the package and its test extra
setup: $(STAMP)

# The real node (docs/realnode.md) is part of the test environment unless
# KD_NO_REAL_NODE=1: its Debian packages, its binaries, the operator's image.
REAL_NODE_FLAG := $(if $(KD_NO_REAL_NODE),,--real-node)

## node-deps: Debian packages for the real node and the image (installed when root)
node-deps:
	$(if $(KD_NO_REAL_NODE),@true,bash hack/node-deps.sh)

## binaries: build (or reuse from the cache) the local control plane's binaries
binaries: node-deps
	bash hack/build-binaries.sh $(REAL_NODE_FLAG)

## image: the operator image from the Dockerfile as an OCI archive (buildah; root)
image: node-deps
	bash hack/build-image.sh

## monitoring-binaries: build (or reuse) Prometheus and promtool, fetch the Prometheus
## Operator's CRDs (the monitoring tests; docs/monitoring.md)
monitoring-binaries:
	bash hack/build-binaries.sh prometheus
	bash hack/build-binaries.sh monitoring-crds

## cluster-up: start the local control plane and install the CRDs
cluster-up: setup binaries
	$(PY) hack/localcluster.py up

## cluster-down: stop the local control plane (and its local operator) and remove its state;
##   TEST=1: the test suite's cluster instead (tests/conftest.py: suite_cluster_dir)
cluster-down: setup
	$(if $(TEST),KD_CLUSTER_DIR="$$($(PY) -c 'import os; from tests.conftest import suite_cluster_dir; print(suite_cluster_dir(os.environ))')") $(PY) hack/localcluster.py down

cluster-status: setup
	$(PY) hack/localcluster.py status

## walkthrough: the main job (local simulated cluster unless KUBECONFIG is set)
walkthrough: setup binaries
	bash hack/walkthrough.sh

## operator-stop: stop the operator the walkthrough started
operator-stop:
	bash hack/local-operator.sh stop

## test: everything (lint, types, import contracts, unit, end-to-end) against the local
## control plane
test: setup binaries monitoring-binaries
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(PY) -m pytest

test-unit: setup
	$(PY) -m pytest -m unit

test-e2e: setup binaries monitoring-binaries
	$(PY) -m pytest -m e2e

## lint: style, formatting, types (mypy, strict on the pure layers and the runtime) and
## the import contracts (lint-imports; pyproject.toml [tool.importlinter])
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis .mypy_cache .import_linter_cache

# ---- deployment (hack/deploy.sh; see docs/deploy.md) ---------------------------------
# deploy: CRDs, operator, webhooks and the catalog to the current kubeconfig's cluster
#   (DEPLOY_ARGS=--local for the simulated cluster, --dry-run for a server-side dry run)
# undeploy: the operator and its webhooks; keeps users' clusters, apps, configs and the CRDs
#   (and says so).  PURGE=1: clusters, then apps, then operator and webhooks, then CRDs.
# bundle: dist/kubedirector-<version>.yaml, the single-file install, from manifests/
.PHONY: deploy undeploy bundle
deploy:
	bash hack/deploy.sh deploy $(DEPLOY_ARGS)

undeploy:
	bash hack/deploy.sh undeploy $(if $(PURGE),--purge) $(DEPLOY_ARGS)

bundle: binaries
	bash hack/bundle.sh
