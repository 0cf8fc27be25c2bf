#!/usr/bin/env bash
# The kind smoke test for users with Docker: the whole cluster path once, end to end, with one
# region's pod killed in the middle. It brings the cluster up (scripts/kind-up.sh, reused as it
# is), starts the chart's stress Job (named per revision: a `helm upgrade` with
# stress.enabled=true), deletes one region's warehouse pod while the Job sends orders (and, when
# the release has replication on, its PVC too, so the restore init container must bring the shard
# back from the replica), waits until the StatefulSet has recreated the pod and it is Ready, then
# reads the Job's own `--verify` verdict (every acknowledged order stored exactly once, read from
# every shard after the load). One short report; exit 1 on any lost or duplicated order, a failed
# Job or a pod that did not come back; exit 2 on bad usage. CI cannot run this (no Docker there):
# tests/chart/test_scripts.py lints it and runs --help and a bad flag. See docs/kubernetes.md.
set -euo pipefail
# shellcheck source=scripts/k8s-common.sh
. "$(dirname "$0")/k8s-common.sh"

usage() {
  cat <<EOT
usage: scripts/kind-smoke.sh [--keep] [--replication] [--region NAME] [--orders N] [-f VALUES]...

  --keep          leave the kind cluster up afterwards (default: delete it, if this run created it)
  --replication   also delete the region's PVC (refused unless the release has replication on,
                  e.g. -f my-minio-values.yaml; see docs/replication-cluster.md)
  --region NAME   the region whose pod is deleted (default: HN)
  --orders N      orders the stress Job sends (default: 1000)
  -f, --values F  extra values file for charts/orders (repeatable)
  -h, --help      print this and exit

Needs docker, kind, helm and kubectl (helm/kubectl: make bootstrap).
Environment: KIND_CLUSTER (regional-orders), NAMESPACE (orders), SMOKE_DELETE_AFTER (seconds of
load before the pod is deleted, 20), SMOKE_TIMEOUT (seconds for the Job, 1800), SMOKE_MIN_SUCCESS
(the Job's --min-success, 0.99), and those of scripts/kind-up.sh.
EOT
}

usage_error() { printf 'kind-smoke.sh: %s (see --help)\n' "$*" >&2; exit 2; }

keep=false
replication=false
region=HN
orders=1000
values_args=()
while (($#)); do
  case $1 in
    --keep) keep=true ;;
    --replication) replication=true ;;
    --region) (($# > 1)) || usage_error "--region needs a value"; region=$2; shift ;;
    --orders) (($# > 1)) || usage_error "--orders needs a value"; orders=$2; shift ;;
    -f | --values) (($# > 1)) || usage_error "$1 needs a file"; values_args+=(-f "$2"); shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown argument: $1" ;;
  esac
  shift
done
[[ $orders =~ ^[1-9][0-9]*$ ]] || usage_error "--orders must be a positive integer, not '$orders'"
[[ $region =~ ^[A-Za-z0-9]+$ ]] || usage_error "--region must be a region name, not '$region'"
region=${region^^}

CLUSTER=${KIND_CLUSTER:-regional-orders}
DELETE_AFTER=${SMOKE_DELETE_AFTER:-20}
TIMEOUT=${SMOKE_TIMEOUT:-1800}
MIN_SUCCESS=${SMOKE_MIN_SUCCESS:-0.99}
need docker kind helm kubectl

created=false
kind get clusters 2>/dev/null | grep -qx "$CLUSTER" || created=true
teardown() {
  if [[ $keep == true ]]; then
    say "leaving kind cluster $CLUSTER up (make kind-down deletes it)"
  elif [[ $created == true ]]; then
    say "deleting kind cluster $CLUSTER (--keep leaves it up)"
    kind delete cluster --name "$CLUSTER" || true
  else
    say "kind cluster $CLUSTER existed before this run: left up (make kind-down deletes it)"
  fi
}
trap teardown EXIT

KIND_CLUSTER=$CLUSTER bash "$root/scripts/kind-up.sh"

warehouse_selector="app.kubernetes.io/instance=$ORDERS_RELEASE,app.kubernetes.io/component=warehouse,orders.routing.io/region=$region"
sts=$(k get statefulset -l "$warehouse_selector" -o jsonpath='{.items[0].metadata.name}' 2>/dev/null) ||
  die "no warehouse StatefulSet for region $region in namespace $NAMESPACE"
pod=$sts-0
pvc=data-$pod
has_restore=false
if k get statefulset "$sts" -o jsonpath='{.spec.template.spec.initContainers[*].name}' |
  tr ' ' '\n' | grep -qx restore; then
  has_restore=true
fi
if [[ $replication == true && $has_restore == false ]]; then
  die "--replication: release $ORDERS_RELEASE has replication off (no restore init container); pass -f with replication values"
fi
# with replication on, losing the volume is what the restore is for: test it by default
if [[ $has_restore == true ]]; then replication=true; fi

say "starting the stress Job ($orders orders through Airflow, then --verify)"
kubectl -n "$NAMESPACE" create secret generic airflow-login \
  --from-literal=username=admin --from-literal=password=admin --dry-run=client -o yaml |
  kubectl apply -f - >/dev/null
# install_orders' --wait covers the StatefulSets, not the Job (that needs --wait-for-jobs): it
# returns while the Job sends orders
install_orders --reuse-values "${values_args[@]}" \
  --set stress.enabled=true --set stress.airflowCredentialsSecret=airflow-login \
  --set stress.orders="$orders" --set stress.verify=true --set stress.minSuccess="$MIN_SUCCESS"
job=$(k get job -l "$STRESS_SELECTOR" --sort-by=.metadata.creationTimestamp \
  -o jsonpath='{.items[-1:].metadata.name}')
[[ -n $job ]] || die "the stress Job was not created"
say "stress Job $job started; deleting $pod in $DELETE_AFTER s"
sleep "$DELETE_AFTER"

old_pod_uid=$(k get pod "$pod" -o jsonpath='{.metadata.uid}')
old_pvc_uid=$(k get pvc "$pvc" -o jsonpath='{.metadata.uid}')
if [[ $replication == true ]]; then
  say "deleting PVC $pvc (held until its pod is gone) and pod $pod"
  k delete pvc "$pvc" --wait=false >/dev/null
else
  say "deleting pod $pod (its PVC stays)"
fi
k delete pod "$pod" --wait=true >/dev/null

pending_since=
pod_back() {
  local uid ready phase claim
  uid=$(k get pod "$pod" -o jsonpath='{.metadata.uid}' 2>/dev/null) || return 1
  [[ -n $uid && $uid != "$old_pod_uid" ]] || return 1
  phase=$(k get pod "$pod" -o jsonpath='{.status.phase}')
  # the known StatefulSet race: a pod recreated before its old PVC finished deleting waits for
  # the terminating (then missing) claim and stays Pending; after 20 s of that, delete the pod
  # once more so that the StatefulSet makes the pod and a new claim together
  if [[ $replication == true && $phase == Pending ]]; then
    claim=$(k get pvc "$pvc" -o jsonpath='{.metadata.uid}' 2>/dev/null || true)
    if [[ -z $claim || $claim == "$old_pvc_uid" ]]; then
      pending_since=${pending_since:-$SECONDS}
      if ((SECONDS - pending_since >= 20)); then
        say "$pod is Pending on the old (deleted) claim: deleting it once more"
        k delete pod "$pod" --wait=true >/dev/null || true
        old_pod_uid=$uid
        pending_since=
      fi
      return 1
    fi
  fi
  ready=$(k get pod "$pod" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')
  [[ $ready == True ]]
}
wait_until 600 "StatefulSet $sts to recreate $pod and make it Ready" pod_back
new_pvc_uid=$(k get pvc "$pvc" -o jsonpath='{.metadata.uid}')
if [[ $replication == true ]]; then
  [[ $new_pvc_uid != "$old_pvc_uid" ]] || die "PVC $pvc was not replaced"
  restore_log=$(k logs "$pod" -c restore --tail=5 2>&1 || true)
fi

job_done() {
  local succeeded failed
  succeeded=$(k get job "$job" -o jsonpath='{.status.succeeded}')
  failed=$(k get job "$job" -o jsonpath='{.status.failed}')
  ((${succeeded:-0} + ${failed:-0} > 0))
}
say "waiting for stress Job $job (up to $TIMEOUT s)"
wait_until "$TIMEOUT" "stress Job $job to finish" job_done
succeeded=$(k get job "$job" -o jsonpath='{.status.succeeded}')
log=$(k logs "job/$job" --tail=-1 2>&1 || true)
# the Job's own report: the verify paragraph (wrapped at 80 columns in a log) to the verdict
verify_block=$(sed -n '/^verify:/,/^result:/p' <<<"$log")

cat <<EOT

==== kind smoke report ====
cluster        kind $CLUSTER, namespace $NAMESPACE
region killed  $region: pod $pod recreated by StatefulSet $sts and Ready
volume         $(if [[ $replication == true ]]; then echo "PVC $pvc deleted and recreated; restore init container:"; else echo "PVC $pvc kept (no replication)"; fi)
EOT
if [[ $replication == true ]]; then
  while IFS= read -r line; do printf '%17s%s\n' '' "$line"; done <<<"$restore_log"
fi
cat <<EOT
stress Job     $job: $(if [[ $succeeded == 1 ]]; then echo succeeded; else echo FAILED; fi)
${verify_block:-verify: (no verify report in the Job log)}
EOT
if [[ $succeeded != 1 || $verify_block != "verify: ok"* ]]; then
  printf '\nsmoke FAILED: the full Job log follows\n%s\n' "$log" >&2
  exit 1
fi
say "smoke passed: every acknowledged order stored exactly once after losing $pod"
