#!/usr/bin/env bash
# One command from nothing to regional-orders on a local kind cluster: creates the cluster from
# kind-config.yaml (one control plane, three workers labelled by region, one system worker for
# Airflow), builds the two images
# and loads them into the nodes, installs charts/orders and the official Airflow chart, waits
# until every region answers /health, and prints how to reach Airflow and run the stress Job.
# Needs docker, kind, helm and kubectl (helm/kubectl: `make bootstrap`). Safe to run again:
# an existing cluster is reused and both releases are upgraded in place.
#   KIND_CLUSTER=regional-orders  NAMESPACE=orders  KIND_NODE_IMAGE=kindest/node:v1.34.0
#   AIRFLOW_CHART_VERSION=1.22.0  AIRFLOW_BASE_IMAGE=<images/airflow/Dockerfile's ARG>
#   ORDERS_TLS=1: install cert-manager (CERT_MANAGER_VERSION, its manifest applied from GitHub)
#   and the chart with tls.enabled + tls.certManager.enabled, Airflow with
#   charts/airflow-values-tls.yaml (docs/tls.md#in-the-chart)
set -euo pipefail
# shellcheck source=scripts/k8s-common.sh
. "$(dirname "$0")/k8s-common.sh"

CLUSTER=${KIND_CLUSTER:-regional-orders}
need docker kind helm kubectl

if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  say "reusing kind cluster $CLUSTER"
else
  say "creating kind cluster $CLUSTER (1 control plane, 3 region workers, 1 system worker)"
  kind create cluster --name "$CLUSTER" --config "$root/kind-config.yaml" \
    ${KIND_NODE_IMAGE:+--image "$KIND_NODE_IMAGE"} --wait 180s
fi
kubectl config use-context "kind-$CLUSTER" >/dev/null

say "building $WAREHOUSE_IMAGE and $AIRFLOW_IMAGE"
docker build -f "$root/images/warehouse/Dockerfile" -t "$WAREHOUSE_IMAGE" "$root"
docker build -f "$root/images/airflow/Dockerfile" --build-arg "AIRFLOW_IMAGE=$AIRFLOW_BASE_IMAGE" \
  -t "$AIRFLOW_IMAGE" "$root"
say "loading the images into the kind nodes"
kind load docker-image --name "$CLUSTER" "$WAREHOUSE_IMAGE" "$AIRFLOW_IMAGE"

ensure_namespace
tls_args=()
if [ "${ORDERS_TLS:-0}" = 1 ]; then
  install_cert_manager
  tls_args=(--set tls.enabled=true --set tls.certManager.enabled=true)
  AIRFLOW_OVERLAY="$root/charts/airflow-values-tls.yaml"
fi
# One warehouse per labelled worker: stopping a worker container takes exactly one region down.
install_orders --set regionNodeSelector=true ${tls_args[@]+"${tls_args[@]}"}
install_airflow
wait_ready
print_next_steps
cat <<EOT

Take a region down and watch the fallback (the controller marks it not ready within seconds):
  docker stop $CLUSTER-worker2 ; docker start $CLUSTER-worker2
Delete the cluster:
  make kind-down     (kind delete cluster --name $CLUSTER)
EOT
