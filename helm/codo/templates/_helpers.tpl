{{/* vim: set filetype=mustache: */}}

{{/* Chart name, truncated to 63 characters (DNS label). */}}
{{- define "codo.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Full name: <release>-<chart> unless the release name already contains the
chart name. Truncated to 52 characters so that suffixes such as
"-worker-metrics" still fit in 63.
*/}}
{{- define "codo.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* name-version for the helm.sh/chart label. */}}
{{- define "codo.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select the release's pods (never change them: selectors are immutable). */}}
{{- define "codo.selectorLabels" -}}
app.kubernetes.io/name: {{ include "codo.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels on every resource. */}}
{{- define "codo.labels" -}}
helm.sh/chart: {{ include "codo.chart" . }}
{{ include "codo.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | toString | replace "@" "_" | replace ":" "_" | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: codo
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component: (dict "ctx" $ "component" "api"). */}}
{{- define "codo.componentSelectorLabels" -}}
{{ include "codo.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* All labels of one component: (dict "ctx" $ "component" "api"). */}}
{{- define "codo.componentLabels" -}}
{{ include "codo.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The image reference; image.tag is required (the schema says so too). */}}
{{- define "codo.image" -}}
{{- $tag := required "image.tag is required: pin the codo version to run (--set image.tag=X.Y.Z)" .Values.image.tag | toString -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Name of the ServiceAccount the API, the worker and the org sync use. */}}
{{- define "codo.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "codo.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
ServiceAccount of the migrate Job. A pre-install hook runs before the chart's
ordinary resources exist, so it gets its own hook ServiceAccount.
*/}}
{{- define "codo.migrateServiceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- printf "%s-migrate" (include "codo.fullname" .) -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Name of the Secret with the secret settings. */}}
{{- define "codo.secretName" -}}
{{- default (include "codo.fullname" .) .Values.existingSecret -}}
{{- end -}}

{{/*
Secret the migrate Job reads: existingSecret, or a copy of the chart's Secret
created as a pre-install hook (the ordinary Secret does not exist yet then).
*/}}
{{- define "codo.migrateSecretName" -}}
{{- if .Values.existingSecret -}}
{{- .Values.existingSecret -}}
{{- else -}}
{{- printf "%s-migrate" (include "codo.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* termination grace of the worker: job timeout plus margin. */}}
{{- define "codo.workerTerminationGracePeriodSeconds" -}}
{{- add (int .Values.worker.jobTimeout) (int .Values.worker.terminationGraceMarginSeconds) -}}
{{- end -}}

{{/*
Non-secret settings as a flat map of CODO_* names to strings, in YAML. The
ConfigMap renders it, the migrate Job inlines it, checksum/config hashes it.
*/}}
{{- define "codo.configEnv" -}}
{{- $c := .Values.config -}}
{{- if gt (int64 $c.session.idleMinutes) (mul (int64 $c.session.absoluteHours) 60) -}}
{{- fail "config.session.idleMinutes must not exceed config.session.absoluteHours (codo refuses to start otherwise)" -}}
{{- end -}}
{{- $env := dict -}}
{{- $_ := set $env "CODO_ENV" $c.env -}}
{{- $_ := set $env "CODO_PUBLIC_URL" $c.publicUrl -}}
{{- $_ := set $env "CODO_LOG_LEVEL" $c.logLevel -}}
{{- $_ := set $env "CODO_LOG_FORMAT" $c.logFormat -}}
{{- $_ := set $env "CODO_DB_POOL_SIZE" (toString (int64 $c.database.poolSize)) -}}
{{- $_ := set $env "CODO_DB_MAX_OVERFLOW" (toString (int64 $c.database.maxOverflow)) -}}
{{- $_ := set $env "CODO_DB_POOL_TIMEOUT" (toString $c.database.poolTimeout) -}}
{{- $_ := set $env "CODO_DB_CONNECT_TIMEOUT" (toString $c.database.connectTimeout) -}}
{{- $_ := set $env "CODO_DB_STATEMENT_TIMEOUT_MS" (toString (int64 $c.database.statementTimeoutMs)) -}}
{{- $_ := set $env "CODO_DB_STATEMENT_CACHE" (ternary "true" "false" $c.database.statementCache) -}}
{{- $_ := set $env "CODO_API_HOST" "0.0.0.0" -}}
{{- $_ := set $env "CODO_API_PORT" (toString (int64 .Values.api.port)) -}}
{{- $_ := set $env "CODO_API_WORKERS" (toString (int64 .Values.api.workers)) -}}
{{- with $c.smtp.host }}{{ $_ := set $env "CODO_SMTP_HOST" . }}{{ end -}}
{{- $_ := set $env "CODO_SMTP_PORT" (toString (int64 $c.smtp.port)) -}}
{{- $_ := set $env "CODO_SMTP_TLS" $c.smtp.tls -}}
{{- $_ := set $env "CODO_SMTP_TIMEOUT" (toString $c.smtp.timeout) -}}
{{- with $c.mailFrom }}{{ $_ := set $env "CODO_MAIL_FROM" . }}{{ end -}}
{{- $_ := set $env "CODO_OUTBOX_POLL_SECONDS" (toString (int64 $c.outbox.pollSeconds)) -}}
{{- $_ := set $env "CODO_OUTBOX_BATCH_SIZE" (toString (int64 $c.outbox.batchSize)) -}}
{{- $_ := set $env "CODO_OUTBOX_MAX_ATTEMPTS" (toString (int64 $c.outbox.maxAttempts)) -}}
{{- $_ := set $env "CODO_OUTBOX_BACKOFF_SECONDS" (toString (int64 $c.outbox.backoffSeconds)) -}}
{{- $_ := set $env "CODO_OUTBOX_LEASE_SECONDS" (toString (int64 $c.outbox.leaseSeconds)) -}}
{{- $_ := set $env "CODO_OUTBOX_BODY_RETENTION_DAYS" (toString (int64 $c.outbox.bodyRetentionDays)) -}}
{{- $_ := set $env "CODO_WORKER_MAX_JOBS" (toString (int64 .Values.worker.maxJobs)) -}}
{{- $_ := set $env "CODO_WORKER_JOB_TIMEOUT" (toString (int64 .Values.worker.jobTimeout)) -}}
{{- $_ := set $env "CODO_WORKER_HEALTH_CHECK_INTERVAL" (toString (int64 .Values.worker.healthCheckInterval)) -}}
{{- $_ := set $env "CODO_METRICS_ENABLED" (ternary "true" "false" .Values.metrics.enabled) -}}
{{- $_ := set $env "CODO_METRICS_PORT" (toString (int64 .Values.metrics.port)) -}}
{{- $_ := set $env "CODO_SESSION_IDLE_MINUTES" (toString (int64 $c.session.idleMinutes)) -}}
{{- $_ := set $env "CODO_SESSION_ABSOLUTE_HOURS" (toString (int64 $c.session.absoluteHours)) -}}
{{- $_ := set $env "CODO_SIGNIN_ATTEMPTS_PER_MINUTE" (toString (int64 $c.signin.attemptsPerMinute)) -}}
{{- $_ := set $env "CODO_OIDC_ALLOW_PRIVATE_NETWORKS" (ternary "true" "false" $c.signin.allowPrivateNetworks) -}}
{{- with $c.trustedProxies }}{{ $_ := set $env "CODO_TRUSTED_PROXIES" (join "," .) }}{{ end -}}
{{- range $k, $v := $c.extraEnv }}{{ $_ := set $env $k (toString $v) }}{{ end -}}
{{- toYaml $env -}}
{{- end -}}

{{/*
Data of the chart-created Secret (names of keys from secretKeys; empty values
left out), as a YAML map of base64 strings.
*/}}
{{- define "codo.secretData" -}}
{{- $s := .Values.secrets -}}
{{- $k := .Values.secretKeys -}}
{{- if ne (empty $s.smtpUsername) (empty $s.smtpPassword) -}}
{{- fail "secrets.smtpUsername and secrets.smtpPassword must be set together" -}}
{{- end -}}
{{- $data := dict -}}
{{- if and (eq .Values.config.env "production") (not $s.secretKey) -}}
{{- fail "secrets.secretKey is required with config.env=production (or name a Secret holding CODO_SECRET_KEY in existingSecret)" -}}
{{- end -}}
{{- range $field := list "databaseUrl" "migrationsDatabaseUrl" "redisUrl" "smtpUsername" "smtpPassword" "secretKey" -}}
{{- $value := index $s $field -}}
{{- if $value -}}
{{- $_ := set $data (index $k $field) ($value | toString | b64enc) -}}
{{- end -}}
{{- end -}}
{{- with $s.oidcProviders -}}
{{- $_ := set $data $k.oidcProviders (toJson . | b64enc) -}}
{{- end -}}
{{- toYaml $data -}}
{{- end -}}

{{/*
Environment variables from the Secret: (dict "ctx" $ "secretName" NAME
"migrations" BOOL). The database and Redis URLs and, in production, the secret
key are required (a missing key stops the pod with an event naming it); the
SMTP credentials and the platform's sign-in providers are optional. CODO_MIGRATIONS_DATABASE_URL only when migrations=true.
*/}}
{{- define "codo.secretEnv" -}}
{{- $k := .ctx.Values.secretKeys -}}
- name: CODO_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ $k.databaseUrl }}
{{- if .migrations }}
- name: CODO_MIGRATIONS_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ $k.migrationsDatabaseUrl }}
{{- end }}
- name: CODO_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ $k.redisUrl }}
- name: CODO_SMTP_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ $k.smtpUsername }}
      optional: true
- name: CODO_SMTP_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ $k.smtpPassword }}
      optional: true
- name: CODO_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ $k.secretKey }}
      {{- if ne .ctx.Values.config.env "production" }}
      optional: true
      {{- end }}
- name: CODO_OIDC_PROVIDERS
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ $k.oidcProviders }}
      optional: true
{{- end -}}

{{/* Pod annotations that roll the pods when settings change. */}}
{{- define "codo.checksumAnnotations" -}}
checksum/config: {{ include "codo.configEnv" . | sha256sum }}
{{- if .Values.existingSecret }}
checksum/secret: {{ printf "%s|%s" .Values.existingSecret (toJson .Values.secretKeys) | sha256sum }}
{{- else }}
checksum/secret: {{ include "codo.secretData" . | sha256sum }}
{{- end }}
{{- end -}}

{{/* The /tmp emptyDir volume: (dict "sizeLimit" "256Mi"). */}}
{{- define "codo.tmpVolume" -}}
- name: tmp
  emptyDir:
    {{- with .sizeLimit }}
    sizeLimit: {{ . }}
    {{- else }}
    {}
    {{- end }}
{{- end -}}

{{/* Soft spread over nodes plus the component's own constraints: (dict "ctx" $ "component" "api" "values" .Values.api). */}}
{{- define "codo.topologySpread" -}}
{{- $list := list -}}
{{- if .values.spreadAcrossNodes -}}
{{- $sel := include "codo.componentSelectorLabels" (dict "ctx" .ctx "component" .component) | fromYaml -}}
{{- $list = append $list (dict "maxSkew" 1 "topologyKey" "kubernetes.io/hostname" "whenUnsatisfiable" "ScheduleAnyway" "labelSelector" (dict "matchLabels" $sel)) -}}
{{- end -}}
{{- $list = concat $list .values.topologySpreadConstraints -}}
{{- if $list -}}
topologySpreadConstraints:
  {{- toYaml $list | nindent 2 }}
{{- end -}}
{{- end -}}

{{/*
Fails unless the metrics port is free: it must not be the API's HTTP port
(the application serves /metrics on a port of its own).
*/}}
{{- define "codo.checkMetricsPort" -}}
{{- if and .Values.metrics.enabled (eq (int .Values.metrics.port) (int .Values.api.port)) -}}
{{- fail (printf "metrics.port (%d) must differ from api.port: metrics are served on a port of their own" (int .Values.metrics.port)) -}}
{{- end -}}
{{- end -}}

{{/* Labels of the metrics Services, which the ServiceMonitors select: (dict "ctx" $ "component" "api"). */}}
{{- define "codo.metricsServiceSelectorLabels" -}}
{{ include "codo.componentSelectorLabels" . }}
codo/metrics: "true"
{{- end -}}

{{/* Path of the OIDC client secret of organisation SLUG inside the sync Job. */}}
{{- define "codo.oidcSecretFile" -}}
{{- printf "/etc/codo/oidc/%s/client-secret" . -}}
{{- end -}}

{{/* Path of the organisations file inside the sync Job. */}}
{{- define "codo.organizationsFile" -}}
/etc/codo/organizations.yaml
{{- end -}}
