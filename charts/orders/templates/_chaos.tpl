{{/*
Chaos Mesh experiments (chaos.*, docs/chaos.md#in-a-cluster): one region's warehouse pods
killed, cut off from their clients, or slowed. Every experiment is built once as a spec (a
dict) and rendered either as the one-shot object or inside a Schedule, so the two forms cannot
drift apart. tests/chart/test_chaos.py validates what comes out against Chaos Mesh's CRD schemas
(tests/chart/crds/chaos-mesh/).
*/}}
{{- define "orders.chaosApi" -}}chaos-mesh.org/v1alpha1{{- end }}
{{- define "orders.componentChaos" -}}chaos{{- end }}

{{/* The region the experiments hit, upper-cased; fails unless it is one of the chart's regions
and the cluster serves Chaos Mesh's API. */}}
{{- define "orders.chaosRegion" -}}
{{- $want := upper (toString .Values.chaos.region) }}
{{- $names := splitList "," (include "orders.regionNames" .) }}
{{- if not (has $want $names) }}
{{- fail (printf "chaos.region %q is not one of this release's regions (%s): set chaos.region to one of them" (toString .Values.chaos.region) (join ", " $names)) }}
{{- end }}
{{- if not (.Capabilities.APIVersions.Has (include "orders.chaosApi" .)) }}
{{- fail (printf "chaos.enabled needs Chaos Mesh: the cluster does not serve %s (install Chaos Mesh first, docs/chaos.md#in-a-cluster; with helm template pass --api-versions %s)" (include "orders.chaosApi" .) (include "orders.chaosApi" .)) }}
{{- end }}
{{- $want }}
{{- end }}

{{/* <fullname>-<experiment>-<region>[-<suffix>]. orders.validate bounds
<fullname>-warehouse-<region> to 52 characters, so the longest, <fullname>-partition-<region>-airflow,
has at most 60; a Schedule's name may have at most 57, since Chaos Mesh names each run
<schedule>-<5 random characters>. Pass (dict "root" $ "experiment" "kill" "region" "HN"
"suffix" "" "schedule" <cron or "">). */}}
{{- define "orders.chaosName" -}}
{{- $name := printf "%s-%s-%s" (include "orders.fullname" .root) .experiment (lower .region) }}
{{- with .suffix }}{{ $name = printf "%s-%s" $name . }}{{ end }}
{{- if and .schedule (gt (len $name) 57) }}
{{- fail (printf "chaos: the Schedule name %q is %d characters, at most 57 fit (Chaos Mesh adds 6 to name each run): use a shorter fullnameOverride, release name or region name, or no schedule" $name (len $name)) }}
{{- end }}
{{- $name }}
{{- end }}

{{/* Chaos Mesh's PodSelectorSpec `selector` for one region's warehouse pods (the chart's own
labels, so it matches the StatefulSet's pods and no other). Pass (dict "root" $ "region" "HN"). */}}
{{- define "orders.chaosWarehousePods" -}}
namespaces: [{{ .root.Release.Namespace }}]
labelSelectors:
  {{- include "orders.warehouseSelector" . | nindent 2 }}
{{- end }}

{{/* The pods of one kind of client, as a Chaos Mesh selector: "stress" (this release's stress
Job) or "airflow" (airflow.podSelector, in airflow.namespace). Pass (dict "root" $ "client" ...). */}}
{{- define "orders.chaosClientPods" -}}
{{- if eq .client "stress" }}
namespaces: [{{ .root.Release.Namespace }}]
labelSelectors:
  {{- include "orders.componentSelector" (dict "root" .root "component" "stress") | nindent 2 }}
{{- else }}
{{- $sel := .root.Values.airflow.podSelector }}
namespaces: [{{ .root.Values.airflow.namespace | default .root.Release.Namespace }}]
{{- with $sel.matchLabels }}
labelSelectors:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $sel.matchExpressions }}
expressionSelectors:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
{{- end }}

{{/* One experiment, one-shot or scheduled. Pass (dict "root" $ "kind" "PodChaos" "name" ...
"region" "HN" "experiment" "pod-kill" "spec" <dict> "schedule" <cron or "">). */}}
{{- define "orders.chaosObject" -}}
{{- $labels := include "orders.componentLabels" (dict "root" .root "component" (include "orders.componentChaos" .root)) -}}
apiVersion: {{ include "orders.chaosApi" .root }}
kind: {{ if .schedule }}Schedule{{ else }}{{ .kind }}{{ end }}
metadata:
  name: {{ .name }}
  labels:
    {{- $labels | nindent 4 }}
    {{ include "orders.regionLabel" .root }}: {{ .region }}
    orders.routing.io/experiment: {{ .experiment }}
spec:
{{- if .schedule }}
  schedule: {{ .schedule | quote }}
  # a run that is still going when the next is due is skipped, never doubled. Both fields are
  # always set: left out, Chaos Mesh 2.0 ran a Schedule once and no more (its issues 2606, 2607)
  concurrencyPolicy: Forbid
  historyLimit: 3
  type: {{ .kind }}
  {{ untitle .kind }}:
    {{- toYaml .spec | nindent 4 }}
{{- else }}
  {{- toYaml .spec | nindent 2 }}
{{- end }}
{{- end }}
