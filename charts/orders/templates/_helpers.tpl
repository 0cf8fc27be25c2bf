{{/*
Names every part of the system agrees on. They are copies of dags/order_contracts/labels.py
(the controller selects Services by them, the DAG reads the ConfigMap by them);
tests/chart/test_labels.py fails when the two disagree.
*/}}
{{- define "orders.componentLabel" -}}app.kubernetes.io/component{{- end }}
{{- define "orders.componentWarehouse" -}}warehouse{{- end }}
{{- define "orders.componentFollower" -}}warehouse-follower{{- end }}
{{- define "orders.regionLabel" -}}orders.routing.io/region{{- end }}
{{- define "orders.partOfLabel" -}}app.kubernetes.io/part-of{{- end }}
{{- define "orders.partOf" -}}regional-orders{{- end }}
{{- define "orders.routingConfigMap" -}}warehouse-routing{{- end }}
{{- define "orders.routingKey" -}}routing.json{{- end }}
{{- define "orders.warehousePort" -}}8000{{- end }}

{{- define "orders.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-scoped base name; "orders" for a release named orders. */}}
{{- define "orders.fullname" -}}
{{- /* never truncated (two long names would collide): orders.validate refuses long ones */}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name }}
{{- end }}
{{- end }}
{{- end }}

{{- define "orders.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels shared by every object of this release (never change after install). */}}
{{- define "orders.selectorLabels" -}}
app.kubernetes.io/name: {{ include "orders.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "orders.labels" -}}
helm.sh/chart: {{ include "orders.chart" . }}
{{ include "orders.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{ include "orders.partOfLabel" . }}: {{ include "orders.partOf" . }}
{{- end }}

{{/* Labels of one component: pass (dict "root" $ "component" "controller"). */}}
{{- define "orders.componentLabels" -}}
{{ include "orders.labels" .root }}
{{ include "orders.componentLabel" .root }}: {{ .component }}
{{- end }}

{{- define "orders.componentSelector" -}}
{{ include "orders.selectorLabels" .root }}
{{ include "orders.componentLabel" .root }}: {{ .component }}
{{- end }}

{{/* Labels of one region's warehouse: pass (dict "root" $ "region" "HCM"). */}}
{{- define "orders.warehouseSelector" -}}
{{ include "orders.selectorLabels" .root }}
{{ include "orders.componentLabel" .root }}: {{ include "orders.componentWarehouse" .root }}
{{ include "orders.regionLabel" .root }}: {{ .region }}
{{- end }}

{{- define "orders.warehouseLabels" -}}
{{ include "orders.labels" .root }}
{{ include "orders.componentLabel" .root }}: {{ include "orders.componentWarehouse" .root }}
{{ include "orders.regionLabel" .root }}: {{ .region }}
{{- end }}

{{/* Service and StatefulSet name of a region: <fullname>-warehouse-<region lower-cased>.
Never truncated: orders.validate refuses names that do not fit. */}}
{{- define "orders.warehouseName" -}}
{{- printf "%s-warehouse-%s" (include "orders.fullname" .root) (lower .region) }}
{{- end }}

{{/* The headless Service governing a region's StatefulSet (its serviceName). */}}
{{- define "orders.warehouseHeadlessName" -}}
{{- printf "%s-pods" (include "orders.warehouseName" .) }}
{{- end }}

{{/* A region's follower (Deployment and Service): <fullname>-follower-<region lower-cased>,
shorter than the StatefulSet's name, which orders.validate already bounds. */}}
{{- define "orders.followerName" -}}
{{- printf "%s-follower-%s" (include "orders.fullname" .root) (lower .region) }}
{{- end }}

{{- define "orders.followerSelector" -}}
{{ include "orders.selectorLabels" .root }}
{{ include "orders.componentLabel" .root }}: {{ include "orders.componentFollower" .root }}
{{ include "orders.regionLabel" .root }}: {{ .region }}
{{- end }}

{{- define "orders.followerLabels" -}}
{{ include "orders.labels" .root }}
{{ include "orders.componentLabel" .root }}: {{ include "orders.componentFollower" .root }}
{{ include "orders.regionLabel" .root }}: {{ .region }}
{{- end }}

{{/* One region's replication settings as YAML (read back with fromYaml): the top-level
`replication` merged with the region's own `replication`, plus `replicaUrl`, the URL this
region's Litestream uses: the region's `url` as it is, else <replication.url>/<region>.
Pass (dict "root" $ "entry" <the regions[] item>). */}}
{{- define "orders.regionReplication" -}}
{{- $rep := mergeOverwrite (deepCopy .root.Values.replication) (deepCopy (.entry.replication | default dict)) }}
{{- $own := (.entry.replication | default dict).url | default "" }}
{{- if $own }}
{{- $_ := set $rep "replicaUrl" $own }}
{{- else if .root.Values.replication.url }}
{{- $_ := set $rep "replicaUrl" (printf "%s/%s" (trimSuffix "/" .root.Values.replication.url) (lower .entry.name)) }}
{{- else }}
{{- $_ := set $rep "replicaUrl" "" }}
{{- end }}
{{- toYaml $rep }}
{{- end }}

{{/* The replication environment every container of a replicated region gets (the node, its
restore init container, its Litestream sidecar, its follower): the replica, the mode, the S3
endpoint and the credentials from the Secret. Litestream's config (printed by the node) refers
to the credentials as ${NODE_REPLICA_S3_*}, so the sidecar needs them in its environment.
Pass (dict "root" $ "rep" <orders.regionReplication>). */}}
{{- define "orders.replicationEnv" -}}
- name: NODE_REPLICA_URL
  value: {{ .rep.replicaUrl | quote }}
- name: NODE_REPLICATION
  value: {{ .rep.mode | quote }}
- name: NODE_REPLICATION_TIMEOUT
  value: {{ .rep.timeoutSeconds | quote }}
{{- with .rep.s3.endpoint }}
- name: NODE_REPLICA_S3_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- with .rep.s3.region }}
- name: NODE_REPLICA_S3_REGION
  value: {{ . | quote }}
{{- end }}
{{- with .rep.s3.existingSecret }}
- name: NODE_REPLICA_S3_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: access-key-id
- name: NODE_REPLICA_S3_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: secret-access-key
{{- end }}
{{- end }}

{{- define "orders.componentWarehousePods" -}}warehouse-pods{{- end }}

{{/* Kubernetes names are at most 63 characters. A StatefulSet's name must leave room for the
"-<10-character hash>" of its pods' controller-revision-hash label value: 52 at most, so the
fullname has at most 52 - len("-warehouse-") - 1 = 40 (a one-letter region); the longest other
names built from it add 19 ("-controller-metrics") and, for the headless Service, 5. */}}
{{- define "orders.maxFullnameLength" -}}40{{- end }}
{{- define "orders.maxStatefulSetNameLength" -}}52{{- end }}

{{- define "orders.regionNames" -}}
{{- $names := list }}
{{- range .Values.regions }}{{ $names = append $names (upper .name) }}{{ end }}
{{- join "," $names }}
{{- end }}

{{- define "orders.tokenSecretName" -}}
{{- default (printf "%s-node-token" (include "orders.fullname" .)) .Values.nodeApi.existingSecret }}
{{- end }}

{{- define "orders.controllerName" -}}
{{- printf "%s-controller" (include "orders.fullname" .) }}
{{- end }}

{{/* The stress Job of this release revision (see stress-job.yaml for why per revision). */}}
{{- define "orders.stressJobName" -}}
{{- printf "%s-stress-%d" (include "orders.fullname" .) (int .Release.Revision) }}
{{- end }}

{{- define "orders.peeringName" -}}
{{- default (include "orders.controllerName" .) .Values.controller.peeringName }}
{{- end }}

{{- define "orders.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The "restricted" Pod Security Standard, pod level. */}}
{{- define "orders.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* The "restricted" Pod Security Standard, container level, plus a read-only root. */}}
{{- define "orders.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* What every warehouse-node process of a region reads (node, init containers, follower).
Pass (dict "root" $ "region" "HCM"). */}}
{{- define "orders.nodeBaseEnv" -}}
- name: NODE_REGION
  value: {{ .region | quote }}
- name: ORDER_REGIONS
  value: {{ include "orders.regionNames" .root | quote }}
- name: DATA_DIR
  value: /data
- name: LOG_LEVEL
  value: {{ .root.Values.warehouse.logLevel | quote }}
{{- end }}

{{/* Where the node and its Litestream sidecar meet: the control socket on the shared data
volume (the node's default, <DATA_DIR>/litestream.sock, spelled out). */}}
{{- define "orders.litestreamSocket" -}}/data/litestream.sock{{- end }}
{{- define "orders.litestreamConfig" -}}/litestream/litestream.yml{{- end }}

{{/* NODE_API_TOKEN from the chart's (or the given) Secret. */}}
{{- define "orders.tokenEnv" -}}
- name: NODE_API_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "orders.tokenSecretName" . }}
      key: token
{{- end }}

{{/* The NetworkPolicyPeers allowed to call a node or a follower: this release's controller,
stress Job and `helm test` pod, the Airflow workers, Prometheus and networkPolicy.extraFrom. */}}
{{- define "orders.nodeClients" -}}
# this release's own clients
- podSelector:
    matchLabels:
      {{- include "orders.selectorLabels" . | nindent 6 }}
    matchExpressions:
      - key: {{ include "orders.componentLabel" . }}
        operator: In
        values: [controller, stress, test]
# Airflow workers (KubernetesExecutor pods of the official chart)
- podSelector:
    {{- toYaml .Values.airflow.podSelector | nindent 4 }}
  {{- with .Values.airflow.namespace }}
  namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: {{ . }}
  {{- end }}
# Prometheus
- podSelector:
    {{- toYaml .Values.networkPolicy.prometheus.podSelector | nindent 4 }}
  namespaceSelector:
    {{- toYaml .Values.networkPolicy.prometheus.namespaceSelector | nindent 4 }}
{{- with .Values.networkPolicy.extraFrom }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* "auto" means: render when the cluster serves the Prometheus Operator's API. */}}
{{- define "orders.monitoringEnabled" -}}
{{- $setting := .setting }}
{{- if eq (toString $setting) "auto" }}
{{- if .root.Capabilities.APIVersions.Has (printf "monitoring.coreos.com/v1/%s" .kind) }}true{{ end }}
{{- else if $setting }}true{{ end }}
{{- end }}

{{/* Seconds uvicorn gets to finish in-flight requests after SIGTERM: what the grace period
leaves after the preStop pause, minus 10 s of slack before the kubelet's SIGKILL. */}}
{{- define "orders.nodeShutdownGrace" -}}
{{- sub (sub (int .Values.warehouse.terminationGracePeriodSeconds) (int .Values.warehouse.preStopSleepSeconds)) 10 }}
{{- end }}

{{- define "orders.validate" -}}
{{- $w := .Values.warehouse }}
{{- $fullname := include "orders.fullname" . }}
{{- $maxFullname := int (include "orders.maxFullnameLength" .) }}
{{- if gt (len $fullname) $maxFullname }}
{{- fail (printf "the release's base name %q is %d characters; names built from it (%s-controller-metrics) must fit Kubernetes' 63, so it may have at most %d: set a shorter fullnameOverride or release name" $fullname (len $fullname) $fullname $maxFullname) }}
{{- end }}
{{- $maxSts := int (include "orders.maxStatefulSetNameLength" .) }}
{{- range .Values.regions }}
{{- $sts := include "orders.warehouseName" (dict "root" $ "region" (upper .name)) }}
{{- if gt (len $sts) $maxSts }}
{{- fail (printf "region %s: the StatefulSet name %q is %d characters, at most %d fit (its pods' controller-revision-hash label adds 11 to it, and Kubernetes allows 63): use a shorter fullnameOverride, release name or region name" .name $sts (len $sts) $maxSts) }}
{{- end }}
{{- end }}
{{- if lt (int (include "orders.nodeShutdownGrace" .)) 1 }}
{{- fail (printf "warehouse.terminationGracePeriodSeconds (%d) must exceed warehouse.preStopSleepSeconds (%d) by more than 10 s, or the node has no time to drain" (int $w.terminationGracePeriodSeconds) (int $w.preStopSleepSeconds)) }}
{{- end }}
{{- range .Values.regions }}
{{- $rep := include "orders.regionReplication" (dict "root" $ "entry" .) | fromYaml }}
{{- if and $rep.enabled (not $rep.replicaUrl) }}
{{- fail (printf "region %s: replication is enabled but has no replica: set replication.url (s3://bucket/path) or the region's replication.url" .name) }}
{{- end }}
{{- if and $rep.enabled (not (regexMatch "^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$" $rep.replicaUrl)) }}
{{- fail (printf "region %s: the replica URL %q is not s3://bucket/path (in a cluster the replica must be off the pod's own disk)" .name $rep.replicaUrl) }}
{{- end }}
{{- end }}
{{- $tls := .Values.tls }}
{{- if and $tls.enabled $tls.certManager.enabled $tls.existingSecret }}
{{- fail (printf "tls: both tls.certManager.enabled and tls.existingSecret (%q) are set: choose one certificate source (docs/tls.md#in-the-chart)" $tls.existingSecret) }}
{{- end }}
{{- if and $tls.enabled (not $tls.certManager.enabled) (not $tls.existingSecret) }}
{{- fail "tls.enabled is true but no certificate source is set: set tls.certManager.enabled=true (cert-manager issues them) or tls.existingSecret (a kubernetes.io/tls Secret with ca.crt) (docs/tls.md#in-the-chart)" }}
{{- end }}
{{- $seen := dict }}
{{- range .Values.regions }}
{{- $key := upper .name }}
{{- if hasKey $seen $key }}
{{- fail (printf "regions: %s is listed twice (region names are case-insensitive)" .name) }}
{{- end }}
{{- $_ := set $seen $key true }}
{{- end }}
{{- end }}

{{/* ---- TLS in transit (docs/tls.md#in-the-chart) ---- */}}

{{/* "true" when the nodes and followers serve HTTPS, else empty. */}}
{{- define "orders.tlsEnabled" -}}
{{- if .Values.tls.enabled }}true{{ end }}
{{- end }}

{{/* The scheme clients dial and the name of the Service port: the controller reads the port
name (controller/observe.py) and writes https:// URLs into the routing document for "https". */}}
{{- define "orders.scheme" -}}
{{- if include "orders.tlsEnabled" . }}https{{ else }}http{{ end }}
{{- end }}

{{/* "true" when cert-manager issues the certificates with the chart's own CA chain. */}}
{{- define "orders.tlsOwnCA" -}}
{{- if and .Values.tls.enabled .Values.tls.certManager.enabled (not .Values.tls.certManager.issuerRef.name) }}true{{ end }}
{{- end }}

{{- define "orders.tlsCAName" -}}
{{- printf "%s-ca" (include "orders.fullname" .) }}
{{- end }}

{{/* The Secret a region's node and follower serve from: the user's, or its Certificate's.
Pass (dict "root" $ "region" "HCM"). */}}
{{- define "orders.tlsSecretName" -}}
{{- if .root.Values.tls.existingSecret }}
{{- .root.Values.tls.existingSecret }}
{{- else }}
{{- printf "%s-tls" (include "orders.warehouseName" .) }}
{{- end }}
{{- end }}

{{/* The Secret whose ca.crt clients trust (ORDER_CA_BUNDLE): the user's Secret, the chart's
CA, or with a named issuer the first region's certificate Secret (CA-type issuers fill its
ca.crt). */}}
{{- define "orders.tlsCASecretName" -}}
{{- if .Values.tls.existingSecret }}
{{- .Values.tls.existingSecret }}
{{- else if include "orders.tlsOwnCA" . }}
{{- include "orders.tlsCAName" . }}
{{- else }}
{{- include "orders.tlsSecretName" (dict "root" . "region" (upper (first .Values.regions).name)) }}
{{- end }}
{{- end }}

{{- define "orders.tlsDir" -}}/etc/orders/tls{{- end }}
{{- define "orders.caDir" -}}/etc/orders/ca{{- end }}

{{/* The node's serving pair, read from the Secret volume, re-read when the kubelet swaps in a
renewed Secret (docs/tls.md#certificate-rotation). */}}
{{- define "orders.tlsEnv" -}}
- name: NODE_TLS_CERT
  value: {{ include "orders.tlsDir" . }}/tls.crt
- name: NODE_TLS_KEY
  value: {{ include "orders.tlsDir" . }}/tls.key
- name: NODE_TLS_RELOAD_INTERVAL
  value: {{ .Values.tls.reloadIntervalSeconds | quote }}
{{- end }}

{{/* The whole directory, never a subPath mount: the kubelet updates a Secret volume by
swapping its ..data symlink, and a subPath mount pins the file it first saw, so a renewed
certificate would never reach the node. */}}
{{- define "orders.tlsVolumeMount" -}}
- name: tls
  mountPath: {{ include "orders.tlsDir" . }}
  readOnly: true
{{- end }}

{{/* Pass (dict "root" $ "region" "HCM"), or (dict "secretName" <name>). */}}
{{- define "orders.tlsVolume" -}}
- name: tls
  secret:
    secretName: {{ if .secretName }}{{ .secretName }}{{ else }}{{ include "orders.tlsSecretName" . }}{{ end }}
    defaultMode: 0440
    items:
      - {key: tls.crt, path: tls.crt}
      - {key: tls.key, path: tls.key}
{{- end }}

{{/* A client's CA bundle: only ca.crt of the CA Secret (never its key), as a directory (no
subPath, so a re-issued CA reaches a pod that starts after it) and ORDER_CA_BUNDLE. */}}
{{- define "orders.caEnv" -}}
- name: ORDER_CA_BUNDLE
  value: {{ include "orders.caDir" . }}/ca.crt
{{- end }}

{{- define "orders.caVolumeMount" -}}
- name: orders-ca
  mountPath: {{ include "orders.caDir" . }}
  readOnly: true
{{- end }}

{{- define "orders.caVolume" -}}
- name: orders-ca
  secret:
    secretName: {{ include "orders.tlsCASecretName" . }}
    defaultMode: 0444
    items:
      - {key: ca.crt, path: ca.crt}
{{- end }}

{{/* A probe from the values, over HTTPS when the node serves TLS (the kubelet does not verify
the certificate; it checks that /health answers). Pass (dict "root" $ "probe" <probe>). */}}
{{- define "orders.probe" -}}
{{- $probe := deepCopy .probe }}
{{- if and (include "orders.tlsEnabled" .root) $probe.httpGet }}
{{- $_ := set $probe.httpGet "scheme" "HTTPS" }}
{{- end }}
{{- toYaml $probe }}
{{- end }}

{{/* Services in every form a client dials: short, namespaced, .svc, .svc.<clusterDomain>.
Pass (dict "root" $ "services" (list <Service name> ...)). */}}
{{- define "orders.tlsServiceDNSNames" -}}
{{- $ns := .root.Release.Namespace }}
{{- $domain := .root.Values.tls.clusterDomain }}
{{- range .services }}
- {{ . }}
- {{ . }}.{{ $ns }}
- {{ . }}.{{ $ns }}.svc
- {{ . }}.{{ $ns }}.svc.{{ $domain }}
{{- end }}
{{- end }}

{{/* The names a region's certificate carries: its Service and follower Service (every form,
above) and each StatefulSet pod's stable name through the headless Service
(*.<headless>.<namespace>.svc[.<domain>]).
Pass (dict "root" $ "region" "HCM" "follower" true|false). */}}
{{- define "orders.tlsDNSNames" -}}
{{- $ns := .root.Release.Namespace }}
{{- $domain := .root.Values.tls.clusterDomain }}
{{- $services := list (include "orders.warehouseName" .) }}
{{- if .follower }}{{ $services = append $services (include "orders.followerName" .) }}{{ end }}
{{- include "orders.tlsServiceDNSNames" (dict "root" .root "services" $services) }}
{{- $headless := include "orders.warehouseHeadlessName" . }}
- "*.{{ $headless }}.{{ $ns }}.svc"
- "*.{{ $headless }}.{{ $ns }}.svc.{{ $domain }}"
{{- end }}

{{/* The issuer of the chart's server certificates: the user's tls.certManager.issuerRef, or
with an empty name the chart-made CA Issuer (tls-certificates.yaml). */}}
{{- define "orders.tlsIssuerRef" -}}
{{- if include "orders.tlsOwnCA" . }}
{{- toYaml (dict "name" (include "orders.tlsCAName" .) "kind" "Issuer" "group" "cert-manager.io") }}
{{- else }}
{{- toYaml .Values.tls.certManager.issuerRef }}
{{- end }}
{{- end }}

{{/* One server Certificate (a region's, the controller's): ECDSA P-256, a new key at each
renewal, server auth only, into a Secret of its own name.
Pass (dict "root" $ "name" <name> "dnsNames" <YAML list> "region" <region, or empty>). */}}
{{- define "orders.tlsCertificate" -}}
{{- $cm := .root.Values.tls.certManager }}
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: {{ .name }}
  labels:
    {{- include "orders.componentLabels" (dict "root" .root "component" "tls") | nindent 4 }}
    {{- with .region }}
    {{ include "orders.regionLabel" $.root }}: {{ . }}
    {{- end }}
spec:
  secretName: {{ .name }}
  duration: {{ $cm.duration }}
  renewBefore: {{ $cm.renewBefore }}
  privateKey:
    algorithm: ECDSA
    size: 256
    # a new key at every renewal (cert-manager's default since 1.18, spelled out)
    rotationPolicy: Always
  usages: [digital signature, server auth]
  dnsNames:
    {{- .dnsNames | trim | nindent 4 }}
  issuerRef:
    {{- include "orders.tlsIssuerRef" .root | nindent 4 }}
{{- end }}

{{/* ---- The controller's /metrics over HTTPS (CONTROLLER_TLS_CERT / CONTROLLER_TLS_KEY) ---- */}}

{{/* The controller's metrics Service, the one name its certificate carries (in every form). */}}
{{- define "orders.controllerMetricsName" -}}
{{- printf "%s-metrics" (include "orders.controllerName" .) }}
{{- end }}

{{/* "true" when the controller gets a cert-manager Certificate of its own. */}}
{{- define "orders.controllerCertManaged" -}}
{{- if and .Values.controller.enabled .Values.tls.enabled .Values.tls.certManager.enabled (not .Values.tls.controller.existingSecret) }}true{{ end }}
{{- end }}

{{/* The Secret the controller serves /metrics from: tls.controller.existingSecret, else
tls.existingSecret (its SANs must then name the controller's metrics Service too), else its
Certificate's. */}}
{{- define "orders.controllerTLSSecretName" -}}
{{- if .Values.tls.controller.existingSecret }}
{{- .Values.tls.controller.existingSecret }}
{{- else if .Values.tls.existingSecret }}
{{- .Values.tls.existingSecret }}
{{- else }}
{{- printf "%s-tls" (include "orders.controllerName" .) }}
{{- end }}
{{- end }}

{{/* The Secret whose ca.crt Prometheus verifies the controller against: its own Secret when
the user gives one for it, else the CA every client trusts (orders.tlsCASecretName). */}}
{{- define "orders.controllerTLSCASecretName" -}}
{{- default (include "orders.tlsCASecretName" .) .Values.tls.controller.existingSecret }}
{{- end }}

{{- define "orders.controllerTLSEnv" -}}
- name: CONTROLLER_TLS_CERT
  value: {{ include "orders.tlsDir" . }}/tls.crt
- name: CONTROLLER_TLS_KEY
  value: {{ include "orders.tlsDir" . }}/tls.key
{{- end }}

{{/* One ServiceMonitor endpoint. With a serverName: over HTTPS, verified against ca.crt of
caSecret for that name; with a region: keeping only that region's Services (a certificate
names one region's Services). Every series gets `component` and `region` from its Service.
Pass (dict "root" $ "port" <port name> ["serverName" <host> "caSecret" <Secret>] ["region" R]). */}}
{{- define "orders.monitorEndpoint" -}}
- port: {{ .port }}
  {{- if .serverName }}
  scheme: https
  tlsConfig:
    ca:
      secret:
        name: {{ .caSecret }}
        key: ca.crt
    serverName: {{ .serverName }}
  {{- end }}
  path: /metrics
  interval: {{ .root.Values.monitoring.serviceMonitor.interval }}
  relabelings:
    {{- with .region }}
    - sourceLabels: [__meta_kubernetes_service_label_orders_routing_io_region]
      regex: {{ . }}
      action: keep
    {{- end }}
    - sourceLabels: [__meta_kubernetes_service_label_app_kubernetes_io_component]
      targetLabel: component
    - sourceLabels: [__meta_kubernetes_service_label_orders_routing_io_region]
      targetLabel: region
{{- end }}
