# The two commands a newcomer needs: `make demo` (the local demo) and `make test` (the suite).
# Both bootstrap what they need first (virtualenv from requirements.lock, helm, Debian packages).
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/.tools/bin:$(CURDIR)/$(BIN):$(PATH)

.PHONY: demo test test-fast bootstrap lint typecheck pytest lock bench clean

demo: bootstrap
	$(BIN)/orders-demo $(DEMO_ARGS)

# The same demo with every node, follower and routing-source hop on HTTPS (docs/tls.md).
demo-tls: bootstrap
	$(BIN)/orders-demo --tls $(DEMO_ARGS)

test: bootstrap lint typecheck pytest

bootstrap:
	@bash scripts/bootstrap.sh

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy's configuration (pyproject.toml) names every package; the helm-test script is a lone file
# run by `helm test` in the image, so it is checked on its own (tests/unit/test_mypy_coverage.py).
typecheck:
	$(BIN)/mypy
	$(BIN)/mypy --strict charts/orders/files/check_health.py

# Both cores: see tests/conftest.py for how tests are grouped (PYTEST_XDIST= runs serially).
PYTEST_XDIST ?= -n 2 --dist loadgroup --no-loadscope-reorder
pytest:
	$(BIN)/pytest $(PYTEST_XDIST) $(PYTEST_ARGS)

# Everything but Airflow (dag.test, a real Airflow stack) and the end-to-end flows: the quick
# loop while working (docs/testing.md). `make test` stays the CI command.
FAST_MARKERS := not airflow and not slow
test-fast: bootstrap lint typecheck
	$(BIN)/pytest $(PYTEST_XDIST) -m "$(FAST_MARKERS)" $(PYTEST_ARGS)

# Re-pin every dependency (needs the PyPI index); commit requirements.lock afterwards.
# requirements-runtime.lock is the image's subset (no Airflow, no dev tools) at the same versions,
# with hashes (the image installs with --require-hashes); requirements-build.lock is the image's
# build backend (setuptools), also with hashes.
lock: bootstrap
	$(BIN)/uv pip compile pyproject.toml --extra airflow --extra dev --extra stress --python-version 3.11 -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 -c requirements.lock --generate-hashes -o requirements-runtime.lock
	$(BIN)/uv pip compile images/build-requirements.in --python-version 3.11 --generate-hashes -o requirements-build.lock

bench: bootstrap
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) .tools .mypy_cache .ruff_cache .pytest_cache

# Kubernetes (scripts/kind-up.sh): a kind cluster with the chart, Airflow and both images.
.PHONY: kind-up kind-down kind-smoke kind-chaos minikube-up
KIND_CLUSTER ?= regional-orders

kind-up: bootstrap
	KIND_CLUSTER=$(KIND_CLUSTER) bash scripts/kind-up.sh

kind-down:
	kind delete cluster --name $(KIND_CLUSTER)

# Up, stress Job, one region's pod deleted, every order verified once (docs/kubernetes.md).
kind-smoke: bootstrap
	KIND_CLUSTER=$(KIND_CLUSTER) bash scripts/kind-smoke.sh $(SMOKE_ARGS)

# On a kind-up cluster: Chaos Mesh, its experiments against one region under load, verify
# (docs/chaos.md#in-a-cluster).
kind-chaos: bootstrap
	KIND_CLUSTER=$(KIND_CLUSTER) bash scripts/kind-chaos.sh $(CHAOS_ARGS)

minikube-up: bootstrap
	bash scripts/minikube-up.sh
