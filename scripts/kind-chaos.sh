#!/usr/bin/env bash
# The fault campaign's checker against a kind install, with the faults from Chaos Mesh: on a
# cluster `make kind-up` made, it installs Chaos Mesh with its Helm chart (containerd runtime, as
# kind's nodes have), then one `helm upgrade --reuse-values` of charts/orders turns on the stress
# Job (open loop straight to the nodes, `--verify`) and `chaos.*` (Schedules that kill one
# region's warehouse pod, partition it from the stress Job, and delay it, again and again). It
# removes the experiments `--settle` seconds before the load ends (Chaos Mesh undoes each fault),
# waits until the region's pod is Ready, waits for the Job, and prints the Job's own verification
# (acknowledged, found exactly once, lost, duplicated). Exit 1 on any lost or duplicated order, an
# unreadable shard or a failed Job; 2 on bad usage. Whatever happens (Ctrl-C included) the
# experiments are removed and the release is upgraded back to chaos.enabled=false,
# stress.enabled=false. CI cannot run this (no Docker, no kind): tests/chart/test_scripts.py lints
# it, runs --help, bad flags and --print-values, and renders the chart with those values.
# See docs/chaos.md#in-a-cluster.
set -euo pipefail
# shellcheck source=scripts/k8s-common.sh
. "$(dirname "$0")/k8s-common.sh"

usage() {
  cat <<EOT
usage: scripts/kind-chaos.sh [--region NAME] [--experiments LIST] [--duration S] [--rate N]
                             [--settle S] [--print-values]

  --region NAME        the region the experiments hit (default: HN)
  --experiments LIST   comma-separated: pod-kill, partition, delay (default: all three)
  --duration S         seconds of load (default: 240)
  --rate N             orders per second, open loop (default: 40)
  --settle S           seconds before the load ends when the experiments are removed, so the
                       faults are over before the Job reads every shard back (default: 45)
  --print-values       print the values this run would give charts/orders, and exit
  -h, --help           print this and exit

Needs kind, helm and kubectl (helm/kubectl: make bootstrap), kubectl's context on the kind
cluster (kind-\$KIND_CLUSTER) and the release that make kind-up installed.
Environment: KIND_CLUSTER (regional-orders), NAMESPACE (orders), CHAOS_MESH_VERSION (2.8.2),
CHAOS_MESH_REPO (https://charts.chaos-mesh.org), CHAOS_MESH_NAMESPACE (chaos-mesh),
CHAOS_KILL_EVERY (70s), CHAOS_PARTITION_EVERY (50s), CHAOS_DELAY_EVERY (40s): how often each
experiment starts again; CHAOS_FAULT_DURATION (15s): how long a partition or delay lasts;
CHAOS_MIN_SUCCESS (the Job's --min-success, 0.5); CHAOS_TIMEOUT (seconds for the Job, 1800).
EOT
}

usage_error() { printf 'kind-chaos.sh: %s (see --help)\n' "$*" >&2; exit 2; }

region=HN
experiments=pod-kill,partition,delay
duration=240
rate=40
settle=45
print_values=false
while (($#)); do
  case $1 in
    --region) (($# > 1)) || usage_error "--region needs a value"; region=$2; shift ;;
    --experiments) (($# > 1)) || usage_error "--experiments needs a value"; experiments=$2; shift ;;
    --duration) (($# > 1)) || usage_error "--duration needs a value"; duration=$2; shift ;;
    --rate) (($# > 1)) || usage_error "--rate needs a value"; rate=$2; shift ;;
    --settle) (($# > 1)) || usage_error "--settle needs a value"; settle=$2; shift ;;
    --print-values) print_values=true ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown argument: $1" ;;
  esac
  shift
done
[[ $region =~ ^[A-Za-z0-9]{1,16}$ ]] || usage_error "--region must be a region name, not '$region'"
region=${region^^}
for number in duration rate settle; do
  [[ ${!number} =~ ^[1-9][0-9]*$ ]] || usage_error "--$number must be a positive integer, not '${!number}'"
done
((settle < duration)) || usage_error "--settle ($settle) must be shorter than --duration ($duration)"
kill=false partition=false delay=false
IFS=, read -r -a chosen <<<"$experiments"
((${#chosen[@]})) || usage_error "--experiments is empty"
for experiment in "${chosen[@]}"; do
  case $experiment in
    pod-kill) kill=true ;;
    partition) partition=true ;;
    delay) delay=true ;;
    *) usage_error "--experiments: unknown experiment '$experiment' (pod-kill, partition, delay)" ;;
  esac
done

KILL_EVERY=${CHAOS_KILL_EVERY:-70s}
PARTITION_EVERY=${CHAOS_PARTITION_EVERY:-50s}
DELAY_EVERY=${CHAOS_DELAY_EVERY:-40s}
FAULT_DURATION=${CHAOS_FAULT_DURATION:-15s}
MIN_SUCCESS=${CHAOS_MIN_SUCCESS:-0.5}

# The values of this run, on top of the release's own (--reuse-values). The partition cuts off
# the stress Job only: it is the one long-lived client pod (Airflow's task pods start after an
# experiment has chosen its pods, and would not be cut).
chaos_values() {
  cat <<EOT
stress:
  enabled: true
  target: nodes
  orders: $((rate * duration))
  verify: true
  minSuccess: $MIN_SUCCESS
  extraArgs: [--rate, "$rate/s", --duration, "${duration}s"]
chaos:
  enabled: true
  region: $region
  podKill: {enabled: $kill, gracePeriod: 0, schedule: "@every $KILL_EVERY"}
  partition: {enabled: $partition, duration: $FAULT_DURATION, clients: [stress], schedule: "@every $PARTITION_EVERY"}
  delay: {enabled: $delay, duration: $FAULT_DURATION, schedule: "@every $DELAY_EVERY"}
EOT
}
if [[ $print_values == true ]]; then chaos_values; exit 0; fi

CLUSTER=${KIND_CLUSTER:-regional-orders}
CHAOS_MESH_VERSION=${CHAOS_MESH_VERSION:-2.8.2}
CHAOS_MESH_REPO=${CHAOS_MESH_REPO:-https://charts.chaos-mesh.org}
CHAOS_MESH_NAMESPACE=${CHAOS_MESH_NAMESPACE:-chaos-mesh}
TIMEOUT=${CHAOS_TIMEOUT:-1800}
CHAOS_SELECTOR="app.kubernetes.io/instance=$ORDERS_RELEASE,app.kubernetes.io/component=chaos"
CHAOS_KINDS=schedules.chaos-mesh.org,podchaos.chaos-mesh.org,networkchaos.chaos-mesh.org
need kind helm kubectl

# Faults are injected only into the kind cluster, never into whatever kubectl points at.
context=$(kubectl config current-context 2>/dev/null || true)
[[ $context == "kind-$CLUSTER" ]] ||
  die "kubectl's context is '${context:-none}', not kind-$CLUSTER: this script injects faults, so it only runs against the kind cluster (make kind-up)"
helm status "$ORDERS_RELEASE" --namespace "$NAMESPACE" >/dev/null 2>&1 ||
  die "no release $ORDERS_RELEASE in namespace $NAMESPACE: run make kind-up first"
warehouse_selector="app.kubernetes.io/instance=$ORDERS_RELEASE,app.kubernetes.io/component=warehouse,orders.routing.io/region=$region"
sts=$(k get statefulset -l "$warehouse_selector" -o jsonpath='{.items[0].metadata.name}' 2>/dev/null) ||
  die "no warehouse StatefulSet for region $region in namespace $NAMESPACE"
# the chart's experiment names: <release>-(kill|partition|delay)-<region>[-client]; a Schedule's
# runs add -<5 random characters>
experiment_names="^(podchaos|networkchaos)\.chaos-mesh\.org/$ORDERS_RELEASE-(kill|partition|delay)-${region,,}(-|$)"

say "installing Chaos Mesh $CHAOS_MESH_VERSION in namespace $CHAOS_MESH_NAMESPACE (containerd, as on kind's nodes)"
helm repo add chaos-mesh "$CHAOS_MESH_REPO" --force-update >/dev/null
helm upgrade --install chaos-mesh chaos-mesh/chaos-mesh \
  --version "$CHAOS_MESH_VERSION" \
  --namespace "$CHAOS_MESH_NAMESPACE" --create-namespace \
  --set chaosDaemon.runtime=containerd \
  --set chaosDaemon.socketPath=/run/containerd/containerd.sock \
  --set dashboard.create=false \
  --wait --timeout 10m
wait_until 120 "the API chaos-mesh.org/v1alpha1" kubectl get crd schedules.chaos-mesh.org networkchaos.chaos-mesh.org podchaos.chaos-mesh.org

runs_left() { k get podchaos.chaos-mesh.org,networkchaos.chaos-mesh.org -o name 2>/dev/null | grep -E "$experiment_names" || true; }
no_runs_left() { [[ -z $(runs_left) ]]; }
declare -A seen=()
note_runs() {
  local name
  while IFS= read -r name; do [[ -n $name ]] && seen[${name#*/}]=1; done < <(runs_left)
}

experiments_on=false
release_changed=false
values_file=
remove_experiments() {
  say "removing the experiments (Chaos Mesh undoes every fault still injected)"
  # foreground: each Schedule goes only after the runs it started, and each run only after
  # Chaos Mesh has recovered its pods (its finalizer)
  k delete "$CHAOS_KINDS" -l "$CHAOS_SELECTOR" --cascade=foreground --wait=true --timeout=5m >/dev/null
  wait_until 300 "every experiment run to be recovered and gone" no_runs_left
  experiments_on=false
}
cleanup() {
  local status=$?
  trap - EXIT
  # in a subshell: a die in there must not skip the release's restore below
  if [[ $experiments_on == true ]]; then (remove_experiments) || status=1; fi
  if [[ $release_changed == true ]]; then
    say "upgrading $ORDERS_RELEASE back to chaos.enabled=false, stress.enabled=false"
    install_orders --reuse-values --set chaos.enabled=false --set stress.enabled=false >/dev/null || status=1
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

values_file=$(mktemp)
chaos_values >"$values_file"
say "stress Job ($rate orders/s for $duration s straight to the nodes, then --verify) and experiments against $region: $experiments"
release_changed=true
experiments_on=true
install_orders --reuse-values -f "$values_file"
job=$(k get job -l "$STRESS_SELECTOR" --sort-by=.metadata.creationTimestamp \
  -o jsonpath='{.items[-1:].metadata.name}')
[[ -n $job ]] || die "the stress Job was not created"

job_finished() {
  local succeeded failed
  succeeded=$(k get job "$job" -o jsonpath='{.status.succeeded}')
  failed=$(k get job "$job" -o jsonpath='{.status.failed}')
  ((${succeeded:-0} + ${failed:-0} > 0))
}
load_started() {
  [[ $(k get pods -l "job-name=$job" -o jsonpath='{.items[*].status.phase}') == *Running* ]] || job_finished
}
wait_until 300 "the stress Job's pod to run" load_started
chaos_until=$((SECONDS + duration - settle))
say "stress Job $job is sending; experiments run for $((duration - settle)) s"
while ((SECONDS < chaos_until)) && ! job_finished; do
  note_runs
  sleep 5
done
note_runs
remove_experiments

pod_ready() {
  [[ $(k get pod "$sts-0" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]
}
say "waiting for $sts-0 to be Ready again"
wait_until 300 "$sts-0 to be Ready" pod_ready
say "waiting for stress Job $job (up to $TIMEOUT s)"
wait_until "$TIMEOUT" "stress Job $job to finish" job_finished
succeeded=$(k get job "$job" -o jsonpath='{.status.succeeded}')
log=$(k logs "job/$job" --tail=-1 2>&1 || true)
# the Job's own report: the verify paragraph (wrapped at 80 columns in a log) to the verdict
verify_block=$(sed -n '/^verify:/,/^result:/p' <<<"$log")
runs="               (none)"
if ((${#seen[@]})); then runs=$(printf '%s\n' "${!seen[@]}" | sort | sed 's/^/               /'); fi

cat <<EOT

==== kind chaos report ====
cluster        kind $CLUSTER, namespace $NAMESPACE, Chaos Mesh $CHAOS_MESH_VERSION
region         $region ($sts): $experiments, every $KILL_EVERY / $PARTITION_EVERY / $DELAY_EVERY (kill / partition / delay), faults of $FAULT_DURATION
runs seen      ${#seen[@]} (polled every 5 s; a Schedule keeps its last 3)
$runs
stress Job     $job: $(if [[ $succeeded == 1 ]]; then echo succeeded; else echo FAILED; fi)
${verify_block:-verify: (no verify report in the Job log)}
EOT
if [[ $succeeded != 1 || $verify_block != "verify: ok"* ]]; then
  printf '\nchaos run FAILED: the full Job log follows\n%s\n' "$log" >&2
  exit 1
fi
say "passed: every acknowledged order stored exactly once under Chaos Mesh's faults on $region"
