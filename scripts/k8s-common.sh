#!/usr/bin/env bash
# Shared by kind-up.sh and minikube-up.sh (sourced, not run): names, the two installs, the waits
# and the closing instructions. Everything can be overridden from the environment.
# shellcheck disable=SC2034  # the variables are used by the scripts that source this file

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$root/.tools/bin:$PATH"   # helm and kubectl from scripts/fetch-helm.sh

NAMESPACE=${NAMESPACE:-orders}
# charts/airflow-values.yaml names the Secret "orders-node-token" and the service
# "airflow-api-server": the two release names are fixed.
ORDERS_RELEASE=orders
AIRFLOW_RELEASE=airflow
# Airflow's node (kind-config.yaml, charts/airflow-values.yaml nodeSelector)
SYSTEM_NODE_LABEL=orders.routing.io/system
# the stress Job is named per release revision (charts/orders/templates/stress-job.yaml)
STRESS_SELECTOR="app.kubernetes.io/instance=$ORDERS_RELEASE,app.kubernetes.io/component=stress"
APP_VERSION=$(awk '/^appVersion:/ {gsub(/"/, "", $2); print $2}' "$root/charts/orders/Chart.yaml")
WAREHOUSE_IMAGE=${WAREHOUSE_IMAGE:-regional-orders/warehouse:$APP_VERSION}
AIRFLOW_IMAGE=${AIRFLOW_IMAGE:-regional-orders/airflow:$APP_VERSION}
# the Airflow image's base: by default the Dockerfile's own pin (one place to fill in a digest)
AIRFLOW_BASE_IMAGE=${AIRFLOW_BASE_IMAGE:-$(sed -n 's/^ARG AIRFLOW_IMAGE=//p' "$root/images/airflow/Dockerfile")}
AIRFLOW_CHART_VERSION=${AIRFLOW_CHART_VERSION:-1.22.0}
AIRFLOW_CHART_REPO=${AIRFLOW_CHART_REPO:-https://airflow.apache.org}
# ORDERS_TLS=1 (kind-up.sh): cert-manager from its release manifest, and the chart's TLS on
CERT_MANAGER_VERSION=${CERT_MANAGER_VERSION:-v1.18.2}
CERT_MANAGER_MANIFEST=${CERT_MANAGER_MANIFEST:-https://github.com/cert-manager/cert-manager/releases/download/$CERT_MANAGER_VERSION/cert-manager.yaml}

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

need() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || die "$tool is not installed (see the README's Kubernetes section)"
  done
}

image_name() { printf '%s' "${1%:*}"; }
image_tag() { printf '%s' "${1##*:}"; }

# The namespace admits what the "baseline" standard allows (the Airflow chart's pods) and warns
# about anything short of "restricted" (which the orders chart's pods meet).
ensure_namespace() {
  kubectl create namespace "$NAMESPACE" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  kubectl label --overwrite namespace "$NAMESPACE" \
    pod-security.kubernetes.io/enforce=baseline \
    pod-security.kubernetes.io/warn=restricted \
    pod-security.kubernetes.io/audit=restricted >/dev/null
}

# install_orders [helm args...]: the chart from this checkout, with the image just built.
install_orders() {
  say "installing charts/orders as release $ORDERS_RELEASE in namespace $NAMESPACE"
  helm upgrade --install "$ORDERS_RELEASE" "$root/charts/orders" \
    --namespace "$NAMESPACE" \
    --set image.repository="$(image_name "$WAREHOUSE_IMAGE")" \
    --set image.tag="$(image_tag "$WAREHOUSE_IMAGE")" \
    --set image.pullPolicy=Never \
    "$@" \
    --wait --timeout 10m
}

# The chart's tls.certManager needs cert-manager's CRDs and webhook before the install: kubectl
# applies the release manifest from its URL (this needs the network; CI never runs it).
install_cert_manager() {
  say "installing cert-manager $CERT_MANAGER_VERSION ($CERT_MANAGER_MANIFEST)"
  kubectl apply -f "$CERT_MANAGER_MANIFEST" >/dev/null
  kubectl -n cert-manager wait --for=condition=Available deployment --all --timeout 5m
}

# ensure_secret NAME KEY: a Secret holding one random value, created once and never replaced,
# so that re-running the install (helm upgrade) keeps Airflow's keys and restarts nothing.
ensure_secret() {
  if ! kubectl -n "$NAMESPACE" get secret "$1" >/dev/null 2>&1; then
    kubectl -n "$NAMESPACE" create secret generic "$1" \
      --from-literal="$2=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >/dev/null
  fi
}

# AIRFLOW_OVERLAY: a values file on top of airflow-values.yaml (kind-up.sh's ORDERS_TLS=1 sets
# charts/airflow-values-tls.yaml)
install_airflow() {
  # charts/airflow-values.yaml: apiSecretKeySecretName and jwtSecretName
  ensure_secret orders-airflow-api-secret-key api-secret-key
  ensure_secret orders-airflow-jwt-secret jwt-secret
  say "installing the official Airflow chart $AIRFLOW_CHART_VERSION as release $AIRFLOW_RELEASE"
  helm repo add apache-airflow "$AIRFLOW_CHART_REPO" --force-update >/dev/null
  helm upgrade --install "$AIRFLOW_RELEASE" apache-airflow/airflow \
    --version "$AIRFLOW_CHART_VERSION" \
    --namespace "$NAMESPACE" \
    -f "$root/charts/airflow-values.yaml" \
    --set images.airflow.repository="$(image_name "$AIRFLOW_IMAGE")" \
    --set images.airflow.tag="$(image_tag "$AIRFLOW_IMAGE")" \
    --set images.pod_template.repository="$(image_name "$AIRFLOW_IMAGE")" \
    --set images.pod_template.tag="$(image_tag "$AIRFLOW_IMAGE")" \
    ${AIRFLOW_OVERLAY:+-f "$AIRFLOW_OVERLAY"} \
    --wait --timeout 20m
}

wait_ready() {
  say "waiting for the warehouses, the controller and Airflow"
  kubectl -n "$NAMESPACE" rollout status statefulset \
    -l "app.kubernetes.io/instance=$ORDERS_RELEASE,app.kubernetes.io/component=warehouse" --timeout 5m
  kubectl -n "$NAMESPACE" rollout status "deployment/$ORDERS_RELEASE-controller" --timeout 5m
  kubectl -n "$NAMESPACE" wait --for=condition=Available deployment \
    -l "release=$AIRFLOW_RELEASE" --timeout 10m
  say "helm test: every region answers /health"
  helm test "$ORDERS_RELEASE" --namespace "$NAMESPACE" --logs
}

print_next_steps() {
  cat <<EOT

Everything is up in namespace $NAMESPACE.

Airflow UI and REST API (login admin / admin, see charts/airflow-values.yaml):
  kubectl -n $NAMESPACE port-forward svc/$AIRFLOW_RELEASE-api-server 8080:8080
  open http://localhost:8080   (DAG: order_workflow)

The routing document:
  kubectl -n $NAMESPACE get configmap warehouse-routing -o jsonpath='{.data.routing\.json}'; echo

Run the stress Job (1000 orders through Airflow, then read every shard back):
  kubectl -n $NAMESPACE create secret generic airflow-login --from-literal=username=admin --from-literal=password=admin
  helm upgrade $ORDERS_RELEASE $root/charts/orders -n $NAMESPACE --reuse-values \\
    --set stress.enabled=true --set stress.airflowCredentialsSecret=airflow-login
  kubectl -n $NAMESPACE wait --for=condition=complete --timeout=30m job -l $STRESS_SELECTOR
  kubectl -n $NAMESPACE logs -l $STRESS_SELECTOR --tail=-1

Or from this machine through the port-forward:
  .venv/bin/orders-stress --endpoint http://localhost:8080 --orders 1000 --concurrency 10
EOT
}

# kubectl in the install's namespace
k() { kubectl -n "$NAMESPACE" "$@"; }

# wait_until SECONDS WHAT COMMAND...: poll COMMAND until it succeeds, or fail saying WHAT.
wait_until() {
  local limit=$1 what=$2
  local deadline=$((SECONDS + limit))
  shift 2
  until "$@"; do
    ((SECONDS < deadline)) || die "timed out after $limit s waiting for $what"
    sleep 2
  done
}
