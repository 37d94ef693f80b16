{{- define "duohuo.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "duohuo.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "duohuo.selectorLabels" -}}
app.kubernetes.io/name: {{ include "duohuo.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "duohuo.labels" -}}
{{ include "duohuo.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "duohuo.secretName" -}}
{{- .Values.admin.existingSecret | default (printf "%s-admin" (include "duohuo.fullname" .)) -}}
{{- end -}}

{{/* The configuration file: the user's, with the chart's admin section. */}}
{{- define "duohuo.config" -}}
{{- if hasKey .Values.config "admin" -}}
{{- fail "config.admin is set by the chart: use admin.port and admin.existingSecret" -}}
{{- end -}}
{{- $admin := dict "admin" (dict "listen" (printf "%s:%d" .Values.admin.host (int .Values.admin.port)) "token" "${DUOHUO_ADMIN_TOKEN}") -}}
{{- toYaml (merge $admin (deepCopy .Values.config)) -}}
{{- end -}}

{{/* The port of a listener's listen address (host:port). */}}
{{- define "duohuo.listenPort" -}}
{{- regexFind "[0-9]+$" . -}}
{{- end -}}
