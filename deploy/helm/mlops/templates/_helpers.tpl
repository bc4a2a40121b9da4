{{/*
Shared helpers. Objects are named after the service (gateway, inference, ...): one name everywhere.
Most helpers take a dict: (dict "root" $ "name" "gateway" "svc" .Values.gateway).
*/}}

{{- define "mlops.chart" -}}
{{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mlops.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end }}

{{- define "mlops.labels" -}}
{{ include "mlops.selectorLabels" . }}
app.kubernetes.io/part-of: mlops
app.kubernetes.io/component: {{ .name }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ include "mlops.chart" .root }}
{{- with .root.Values.global.labels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Image reference: [registry/]repository:tag; tag defaults to global.imageTag, then appVersion. */}}
{{- define "mlops.image" -}}
{{- $registry := .image.registry | default .root.Values.global.imageRegistry -}}
{{- $tag := .image.tag | default .root.Values.global.imageTag | default .root.Chart.AppVersion -}}
{{- if $registry -}}
{{ printf "%s/%s:%s" (trimSuffix "/" $registry) .image.repository $tag }}
{{- else -}}
{{ printf "%s:%s" .image.repository $tag }}
{{- end -}}
{{- end }}

{{- define "mlops.redisUrl" -}}
{{- if .Values.redis.enabled -}}
{{ printf "redis://redis:%v/0" .Values.redis.port }}
{{- else -}}
{{ required "redis.externalUrl is required when redis.enabled is false" .Values.redis.externalUrl }}
{{- end -}}
{{- end }}

{{- define "mlops.mlflowUri" -}}
{{- if .Values.mlflow.enabled -}}
{{ printf "http://mlflow:%v" .Values.mlflow.port }}
{{- else -}}
{{ required "mlflow.externalTrackingUri is required when mlflow.enabled is false" .Values.mlflow.externalTrackingUri }}
{{- end -}}
{{- end }}

{{/* Fail the render when a production release would ship a default secret. */}}
{{- define "mlops.refuseDefaultSecret" -}}
{{- if and (eq .root.Values.global.environment "production") (not .existingSecret) -}}
{{- if or (not .value) (has .value (list "local-admin-key" "local-drift-key" "mlflow-local" "change-me" "changeme" "admin" "password")) -}}
{{- fail (printf "refusing to render: %s must not be empty or a default value when global.environment=production; set %s (the name of a Secret you created) or a strong value in %s" .what .existingKey .valueKey) -}}
{{- end -}}
{{- end -}}
{{- end }}

{{- define "mlops.serviceAccount" -}}
{{- if .root.Values.serviceAccount.create }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ .name }}
  labels:
    {{- include "mlops.labels" . | nindent 4 }}
  {{- $annotations := merge (deepCopy (.svc.serviceAccount.annotations | default dict)) .root.Values.serviceAccount.annotations }}
  {{- with $annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
automountServiceAccountToken: false
{{- end }}
{{- end }}

{{/* Pod spec fields every workload shares. */}}
{{- define "mlops.podCommon" -}}
serviceAccountName: {{ if .root.Values.serviceAccount.create }}{{ .name }}{{ else }}default{{ end }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .root.Values.global.podSecurityContext | nindent 2 }}
{{- with .root.Values.global.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .svc.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .svc.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .svc.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- include "mlops.topologySpread" . }}
{{- end }}

{{- define "mlops.securityContext" -}}
securityContext:
  {{- toYaml .Values.global.securityContext | nindent 2 }}
{{- end }}

{{/* Environment from the settings ConfigMap and the service's own extra env. */}}
{{- define "mlops.envFrom" -}}
envFrom:
  - configMapRef:
      name: mlops-settings
{{- end }}

{{- define "mlops.extraEnv" -}}
{{- range $key, $value := .svc.env }}
- name: {{ $key }}
  value: {{ $value | quote }}
{{- end }}
{{- end }}

{{/* Pod annotations: roll the pods when the settings change. */}}
{{- define "mlops.podAnnotations" -}}
checksum/settings: {{ include (print .root.Template.BasePath "/configmap.yaml") .root | sha256sum }}
{{- end }}

{{/* Writable scratch space (the root filesystem is read-only). */}}
{{- define "mlops.scratchVolumes" -}}
- name: tmp
  emptyDir: {sizeLimit: 256Mi}
- name: home
  emptyDir: {sizeLimit: 64Mi}
{{- end }}

{{- define "mlops.scratchMounts" -}}
- name: tmp
  mountPath: /tmp
- name: home
  mountPath: /home/app
{{- end }}

{{- define "mlops.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ .name }}
  labels:
    {{- include "mlops.labels" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "mlops.selectorLabels" . | nindent 4 }}
  ports:
    {{- range .ports }}
    - name: {{ .name }}
      port: {{ .port }}
      targetPort: {{ .name }}
      {{- if .appProtocol }}
      appProtocol: {{ .appProtocol }}
      {{- end }}
      protocol: TCP
    {{- end }}
{{- end }}

{{/* INFERENCE_MODELS from inference.models: names, "name=uri" strings or {name, uri} maps. */}}
{{- define "mlops.inferenceModels" -}}
{{- $entries := list -}}
{{- range . -}}
{{- if kindIs "map" . -}}
{{- if not .name }}{{ fail "inference.models: every {name, uri} entry needs a name" }}{{ end -}}
{{- $entries = append $entries (ternary (printf "%s=%v" .name .uri) .name (not (empty .uri))) -}}
{{- else -}}
{{- $entries = append $entries (toString .) -}}
{{- end -}}
{{- end -}}
{{- join "," $entries -}}
{{- end -}}

{{/*
The autoscaling of one service, "none", "hpa" or "keda": <service>.autoscaling.mode, else the
global autoscaling.mode; "auto" is keda when the cluster serves KEDA's ScaledObject, else hpa.
A service without an autoscaling block (drift, frontend) is none; the worker has no CPU
autoscaling (CPU says nothing about its queue): its hpa is none.
*/}}
{{- define "mlops.autoscalingMode" -}}
{{- $mode := "none" -}}
{{- with .svc.autoscaling -}}
{{- $mode = .mode | default $.root.Values.autoscaling.mode | default "none" -}}
{{- end -}}
{{- if not (has $mode (list "none" "hpa" "keda" "auto")) -}}
{{- fail (printf "autoscaling mode of %s must be none, hpa, keda or auto, not %q" .name $mode) -}}
{{- end -}}
{{- if eq $mode "auto" -}}
{{- $apis := .root.Capabilities.APIVersions -}}
{{- $mode = ternary "keda" "hpa" (or ($apis.Has "keda.sh/v1alpha1/ScaledObject") ($apis.Has "keda.sh/v1alpha1")) -}}
{{- end -}}
{{- if and (eq .name "worker") (eq $mode "hpa") -}}
{{- $mode = "none" -}}
{{- end -}}
{{- $mode -}}
{{- end }}

{{/*
A PodDisruptionBudget when enabled and the Deployment runs at least two pods (replicas, or
minReplicas when autoscaled): a budget on a single pod would block every node drain.
minAvailable wins when set, else maxUnavailable. Unhealthy pods may always be evicted, so a
broken rollout never blocks a drain.
*/}}
{{- define "mlops.pdb" -}}
{{- $autoscaled := ne (include "mlops.autoscalingMode" .) "none" -}}
{{- $least := ternary (.svc.autoscaling | default dict).minReplicas .svc.replicas $autoscaled | int -}}
{{- if and .svc.pdb .svc.pdb.enabled (ge $least 2) }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ .name }}
  labels:
    {{- include "mlops.labels" . | nindent 4 }}
spec:
  {{- if not (kindIs "invalid" .svc.pdb.minAvailable) }}
  minAvailable: {{ .svc.pdb.minAvailable }}
  {{- else }}
  maxUnavailable: {{ .svc.pdb.maxUnavailable | default 1 }}
  {{- end }}
  unhealthyPodEvictionPolicy: AlwaysAllow
  selector:
    matchLabels:
      {{- include "mlops.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end }}

{{/* Topology spread over zones and nodes for a service with topologySpread: true. */}}
{{- define "mlops.topologySpread" -}}
{{- $spread := .root.Values.topologySpread -}}
{{- if and .svc.topologySpread $spread.enabled }}
topologySpreadConstraints:
  {{- range $spread.topologyKeys }}
  - maxSkew: {{ $spread.maxSkew }}
    topologyKey: {{ . }}
    whenUnsatisfiable: {{ $spread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "mlops.selectorLabels" $ | nindent 8 }}
    matchLabelKeys: [pod-template-hash]
  {{- end }}
{{- end }}
{{- end }}

{{- define "mlops.hpa" -}}
{{- if eq (include "mlops.autoscalingMode" .) "hpa" }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ .name }}
  labels:
    {{- include "mlops.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ .name }}
  minReplicas: {{ .svc.autoscaling.minReplicas }}
  maxReplicas: {{ .svc.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .svc.autoscaling.targetCPUUtilizationPercentage }}
    {{- with .svc.autoscaling.customMetric }}
    {{- if .enabled }}
    - type: Pods
      pods:
        metric:
          name: {{ .name }}
        target:
          type: AverageValue
          averageValue: {{ .targetAverageValue | quote }}
    {{- end }}
    {{- end }}
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 300
{{- end }}
{{- end }}

{{/* apiVersion, metadata and scaleTargetRef of a ScaledObject for the service's Deployment. */}}
{{- define "mlops.scaledObjectHead" }}
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: {{ .name }}
  labels:
    {{- include "mlops.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ .name }}
  advanced:
    horizontalPodAutoscalerConfig:
      behavior:
        scaleDown:
          stabilizationWindowSeconds: 300
{{- end }}

{{/*
Redis as KEDA's operator reaches it (YAML: address, database, tls): autoscaling.keda.redisAddress,
else the chart's Redis by its cluster DNS name, else host:port of redis.externalUrl.
*/}}
{{- define "mlops.kedaRedis" -}}
{{- $url := urlParse (include "mlops.redisUrl" .) -}}
{{- $address := .Values.autoscaling.keda.redisAddress -}}
{{- if and (not $address) .Values.redis.enabled -}}
{{- $address = printf "redis.%s.svc.cluster.local:%v" .Release.Namespace .Values.redis.port -}}
{{- end -}}
address: {{ $address | default $url.host | quote }}
database: {{ trimPrefix "/" $url.path | default "0" | quote }}
tls: {{ eq $url.scheme "rediss" }}
{{- end }}
