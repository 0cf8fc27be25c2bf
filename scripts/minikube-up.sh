#!/usr/bin/env bash
# regional-orders on minikube: the same installs as kind-up.sh on a single-node minikube profile.
# The images are built inside minikube (`minikube image build`), so no registry and no image
# load are needed. Calico is the CNI because minikube's default one ignores NetworkPolicies.
# Needs minikube, helm and kubectl. Safe to run again.
#   MINIKUBE_PROFILE=regional-orders  MINIKUBE_CPUS=4  MINIKUBE_MEMORY=8g  MINIKUBE_CNI=calico
set -euo pipefail
# shellcheck source=scripts/k8s-common.sh
. "$(dirname "$0")/k8s-common.sh"

PROFILE=${MINIKUBE_PROFILE:-regional-orders}
need minikube helm kubectl

if minikube -p "$PROFILE" status >/dev/null 2>&1; then
  say "reusing minikube profile $PROFILE"
else
  say "starting minikube profile $PROFILE"
  minikube start -p "$PROFILE" --cpus "${MINIKUBE_CPUS:-4}" --memory "${MINIKUBE_MEMORY:-8g}" \
    --cni "${MINIKUBE_CNI:-calico}"
fi
kubectl config use-context "$PROFILE" >/dev/null

say "building $WAREHOUSE_IMAGE and $AIRFLOW_IMAGE inside minikube"
cd "$root"   # the build context is the repository root; -f is relative to it
minikube -p "$PROFILE" image build -t "$WAREHOUSE_IMAGE" -f images/warehouse/Dockerfile .
minikube -p "$PROFILE" image build -t "$AIRFLOW_IMAGE" -f images/airflow/Dockerfile \
  --build-opt "build-arg=AIRFLOW_IMAGE=$AIRFLOW_BASE_IMAGE" .

ensure_namespace
# charts/airflow-values.yaml pins Airflow to the system node: on one node, that is this one
kubectl label node --all --overwrite "$SYSTEM_NODE_LABEL=true" >/dev/null
install_orders --set regionNodeSelector=false   # one node: no per-region pinning
install_airflow
wait_ready
print_next_steps
cat <<EOT

Stop or delete the profile:
  minikube -p $PROFILE stop ; minikube -p $PROFILE delete
EOT
