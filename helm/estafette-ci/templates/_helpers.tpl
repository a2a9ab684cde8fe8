{{/* The release's base name, at most 40 characters so that suffixed names stay within 63. */}}
{{- define "estafette-ci.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "estafette-ci.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "api"). */}}
{{- define "estafette-ci.selectorLabels" -}}
app.kubernetes.io/name: {{ default .root.Chart.Name .root.Values.nameOverride | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "estafette-ci.componentLabels" -}}
{{ include "estafette-ci.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "estafette-ci.serverImage" -}}
{{- printf "%s:%s" .Values.image.server.repository (default .Chart.AppVersion .Values.image.server.tag) -}}
{{- end -}}

{{- define "estafette-ci.builderImage" -}}
{{- printf "%s:%s" .Values.image.builder.repository (default .Chart.AppVersion .Values.image.builder.tag) -}}
{{- end -}}

{{- define "estafette-ci.serviceAccountName" -}}
{{- default (include "estafette-ci.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "estafette-ci.jobsNamespace" -}}
{{- default (printf "%s-jobs" (default "default" .Release.Namespace)) .Values.jobs.namespace -}}
{{- end -}}

{{- define "estafette-ci.keysSecret" -}}
{{- default (printf "%s-keys" (include "estafette-ci.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "estafette-ci.natsSecret" -}}
{{- default (printf "%s-keys" (include "estafette-ci.fullname" .)) .Values.nats.auth.existingSecret -}}
{{- end -}}

{{- define "estafette-ci.databaseSecret" -}}
{{- default (printf "%s-database" (include "estafette-ci.fullname" .)) .Values.database.existingSecret -}}
{{- end -}}

{{- define "estafette-ci.databaseSecretKey" -}}
{{- if .Values.database.existingSecret -}}{{ .Values.database.existingSecretKey }}{{- else -}}databaseURL{{- end -}}
{{- end -}}

{{- define "estafette-ci.apiService" -}}
{{- printf "%s-api" (include "estafette-ci.fullname" .) -}}
{{- end -}}

{{- define "estafette-ci.natsURL" -}}
{{- if .Values.nats.enabled -}}
{{- printf "nats://%s-nats.%s.svc:4222" (include "estafette-ci.fullname" .) .Release.Namespace -}}
{{- else -}}
{{- required "nats.externalURL is required when nats.enabled is false" .Values.nats.externalURL -}}
{{- end -}}
{{- end -}}

{{- define "estafette-ci.baseURL" -}}
{{- if .Values.baseURL -}}
{{- .Values.baseURL | trimSuffix "/" -}}
{{- else if .Values.api.ingress.enabled -}}
{{- printf "%s://%s" (ternary "https" "http" .Values.https) .Values.api.ingress.host -}}
{{- else -}}
{{- printf "http://%s.%s.svc" (include "estafette-ci.apiService" .) .Release.Namespace -}}
{{- end -}}
{{- end -}}

{{/* The environment every server process shares: database, keys, NATS, jobs. */}}
{{- define "estafette-ci.serverEnv" -}}
- name: ESTAFETTE_DATA_DIR
  value: /var/lib/estafette/data
- name: ESTAFETTE_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: ESTAFETTE_HTTPS
  value: {{ .Values.https | quote }}
- name: ESTAFETTE_BASE_URL
  value: {{ include "estafette-ci.baseURL" . | quote }}
- name: ESTAFETTE_CSRF_TRUSTED_ORIGINS
  value: {{ include "estafette-ci.baseURL" . | quote }}
{{- if .Values.api.ingress.enabled }}
- name: ESTAFETTE_TRUSTED_PROXY_COUNT
  value: "1"
{{- end }}
# Jobs report to the API's Service inside the cluster, not through the ingress.
- name: ESTAFETTE_SERVICE_URL
  value: {{ printf "http://%s.%s.svc:%d" (include "estafette-ci.apiService" .) .Release.Namespace (int .Values.api.service.port) | quote }}
- name: ESTAFETTE_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "estafette-ci.databaseSecret" . }}
      key: {{ include "estafette-ci.databaseSecretKey" . }}
- name: ESTAFETTE_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "estafette-ci.keysSecret" . }}
      key: secretKey
- name: ESTAFETTE_SECRET_DECRYPTION_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "estafette-ci.keysSecret" . }}
      key: secretDecryptionKey
- name: ESTAFETTE_GIT_WEBHOOK_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "estafette-ci.keysSecret" . }}
      key: gitWebhookSecret
- name: ESTAFETTE_METRICS_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "estafette-ci.keysSecret" . }}
      key: metricsToken
      optional: true
- name: ESTAFETTE_NATS_URL
  value: {{ include "estafette-ci.natsURL" . | quote }}
- name: ESTAFETTE_NATS_USER
  value: {{ .Values.nats.auth.user | quote }}
- name: ESTAFETTE_NATS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "estafette-ci.natsSecret" . }}
      key: natsPassword
- name: ESTAFETTE_JOB_RUNNER
  value: kubernetes
- name: ESTAFETTE_LOCAL_JOB_STANDBYS
  value: "0"
- name: ESTAFETTE_JOBS_NAMESPACE
  value: {{ include "estafette-ci.jobsNamespace" . | quote }}
- name: ESTAFETTE_JOBS_SERVICE_ACCOUNT
  value: {{ .Values.jobs.serviceAccountName | quote }}
- name: ESTAFETTE_JOBS_BUILDER_IMAGE
  value: {{ include "estafette-ci.builderImage" . | quote }}
- name: ESTAFETTE_JOBS_BACKOFF_LIMIT
  value: {{ .Values.jobs.backoffLimit | quote }}
- name: ESTAFETTE_JOBS_AFFINITY
  value: {{ .Values.jobs.affinity | toJson | quote }}
- name: ESTAFETTE_JOBS_TOLERATIONS
  value: {{ .Values.jobs.tolerations | toJson | quote }}
- name: ESTAFETTE_JOBS_USER_NAMESPACES
  value: {{ .Values.jobs.userNamespaces | quote }}
{{- range $name, $value := .Values.extraEnv }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{/* The data dir (keys the server makes, git cache) and /tmp: the root file system is read-only. */}}
{{- define "estafette-ci.scratchVolumes" -}}
- name: data
  emptyDir: {}
- name: tmp
  emptyDir: {}
{{- end -}}

{{- define "estafette-ci.scratchMounts" -}}
- name: data
  mountPath: /var/lib/estafette
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* One server container running `python manage.py ARGS`: (dict "root" $ "name" "consumers" "args" (list …)). */}}
{{- define "estafette-ci.managePod" -}}
serviceAccountName: {{ include "estafette-ci.serviceAccountName" .root }}
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
containers:
  - name: {{ .name }}
    image: {{ include "estafette-ci.serverImage" .root | quote }}
    imagePullPolicy: {{ .root.Values.image.server.pullPolicy }}
    command: ["python", "manage.py"]
    args:
      {{- toYaml .args | nindent 6 }}
    env:
      {{- include "estafette-ci.serverEnv" .root | nindent 6 }}
      {{- if .metricsPort }}
      # Its own /metrics (estafette/lib/metrics_server.py): the API's cannot sum processes of other pods.
      - name: ESTAFETTE_METRICS_PORT
        value: {{ .metricsPort | quote }}
    ports:
      - name: metrics
        containerPort: {{ .metricsPort }}
        protocol: TCP
      {{- end }}
    securityContext:
      {{- toYaml .root.Values.securityContext | nindent 6 }}
    resources:
      {{- toYaml .resources | nindent 6 }}
    volumeMounts:
      {{- include "estafette-ci.scratchMounts" .root | nindent 6 }}
volumes:
  {{- include "estafette-ci.scratchVolumes" .root | nindent 2 }}
{{- end -}}

{{/* How Prometheus authenticates to every /metrics (estafette/metrics_view.py, estafette/lib/metrics_server.py). */}}
{{- define "estafette-ci.metricsAuthorization" -}}
authorization:
  type: Bearer
  credentials:
    name: {{ include "estafette-ci.keysSecret" . }}
    key: metricsToken
{{- end -}}
