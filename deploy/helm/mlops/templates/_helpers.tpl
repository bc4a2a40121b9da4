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

{{- define "mlops.pdb" -}}
{{- if and .svc.pdb .svc.pdb.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ .name }}
  labels:
    {{- include "mlops.labels" . | nindent 4 }}
spec:
  minAvailable: {{ .svc.pdb.minAvailable }}
  selector:
    matchLabels:
      {{- include "mlops.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end }}

{{- define "mlops.hpa" -}}
{{- if .svc.autoscaling.enabled }}
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
