{{/*
Names, labels and the small pieces of logic every template shares.
*/}}

{{- define "codex-slack.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Resource-name prefix, at most 50 characters so "<fullname>-codex-headless" fits in 63. */}}
{{- define "codex-slack.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "codex-slack.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels every resource carries. */}}
{{- define "codex-slack.labels" -}}
helm.sh/chart: {{ include "codex-slack.chart" . }}
app.kubernetes.io/name: {{ include "codex-slack.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: codex-slack
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component; call with (dict "root" $ "component" "bot"). */}}
{{- define "codex-slack.selectorLabels" -}}
app.kubernetes.io/name: {{ include "codex-slack.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* All labels of one component's resources; same argument as selectorLabels. */}}
{{- define "codex-slack.componentLabels" -}}
{{ include "codex-slack.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "codex-slack.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "codex-slack.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Secret names: the chart's own, or the operator's existing ones. */}}
{{- define "codex-slack.slackSecretName" -}}
{{- default (printf "%s-slack" (include "codex-slack.fullname" .)) .Values.slack.existingSecret -}}
{{- end -}}

{{- define "codex-slack.openaiSecretName" -}}
{{- default (printf "%s-openai" (include "codex-slack.fullname" .)) .Values.codex.openai.existingSecret -}}
{{- end -}}

{{- define "codex-slack.codexAuthSecretName" -}}
{{- default (printf "%s-codex-auth" (include "codex-slack.fullname" .)) .Values.codex.auth.existingSecret -}}
{{- end -}}

{{- define "codex-slack.redisSecretName" -}}
{{- if .Values.redis.enabled -}}
{{- default (printf "%s-redis" (include "codex-slack.fullname" .)) .Values.redis.auth.existingSecret -}}
{{- else -}}
{{- default (printf "%s-redis" (include "codex-slack.fullname" .)) .Values.redis.external.existingSecret -}}
{{- end -}}
{{- end -}}

{{/* The key of the Codex auth Secret for the chosen mode. */}}
{{- define "codex-slack.codexAuthKey" -}}
{{- if eq .Values.codex.auth.mode "capability-token" -}}token{{- else -}}jwt-secret{{- end -}}
{{- end -}}

{{/* Where the bot and the app-server read the Codex credential. */}}
{{- define "codex-slack.codexAuthDir" -}}
{{- if eq .Values.codex.auth.mode "capability-token" -}}/secrets/codex-token{{- else -}}/secrets/jwt{{- end -}}
{{- end -}}

{{- define "codex-slack.codexAuthFile" -}}
{{- if eq .Values.codex.auth.mode "capability-token" -}}/secrets/codex-token/token{{- else -}}/secrets/jwt/secret{{- end -}}
{{- end -}}

{{/* CODEX_URL: one URL per bundled app-server pod (stable StatefulSet DNS), or the external one. */}}
{{- define "codex-slack.codexUrl" -}}
{{- if .Values.codex.enabled -}}
{{- $fullname := include "codex-slack.fullname" . -}}
{{- $urls := list -}}
{{- range $i := until (int .Values.codex.replicas) -}}
{{- $urls = append $urls (printf "ws://%s-codex-%d.%s-codex-headless.%s.svc.%s:%d" $fullname $i $fullname $.Release.Namespace $.Values.clusterDomain (int $.Values.codex.port)) -}}
{{- end -}}
{{- join "," $urls -}}
{{- else -}}
{{- .Values.codex.externalUrl -}}
{{- end -}}
{{- end -}}

{{/* TCP ports of the external Codex URLs (explicit, else 443 for wss and 80 for ws), comma-joined. */}}
{{- define "codex-slack.externalCodexPorts" -}}
{{- $ports := list -}}
{{- range $raw := splitList "," .Values.codex.externalUrl -}}
{{- $url := urlParse (trim $raw) -}}
{{- $hostport := splitList ":" $url.host -}}
{{- if and (gt (len $hostport) 1) (not (hasSuffix "]" $url.host)) -}}
{{- $ports = append $ports (last $hostport) -}}
{{- else if eq $url.scheme "wss" -}}
{{- $ports = append $ports "443" -}}
{{- else -}}
{{- $ports = append $ports "80" -}}
{{- end -}}
{{- end -}}
{{- $ports | uniq | join "," -}}
{{- end -}}

{{/*
A generated secret that survives upgrades: the value already stored in the release's Secret when
there is one (lookup returns nothing under `helm template`), else a fresh random string.
Call with (dict "root" $ "secret" <name> "key" <key>).
*/}}
{{- define "codex-slack.generatedSecret" -}}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace .secret -}}
{{- if and $existing $existing.data (hasKey $existing.data .key) -}}
{{- index $existing.data .key | b64dec -}}
{{- else -}}
{{- randAlphaNum 48 -}}
{{- end -}}
{{- end -}}

{{/* Pod securityContext: non-root and RuntimeDefault seccomp always; user/group from values. */}}
{{- define "codex-slack.podSecurityContext" -}}
runAsNonRoot: true
seccompProfile:
  type: RuntimeDefault
{{- with . }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Container securityContext shared by every container of the chart; not configurable. */}}
{{- define "codex-slack.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Combinations the schema cannot express; rendered (as nothing) by the bot Deployment. */}}
{{- define "codex-slack.validate" -}}
{{- if and (not .Values.codex.enabled) (not .Values.codex.externalUrl) -}}
{{- fail "codex.enabled=false needs codex.externalUrl (the CODEX_URL of your app-server)" -}}
{{- end -}}
{{- if and .Values.codex.enabled (eq .Values.codex.auth.mode "none") -}}
{{- fail "codex.auth.mode=none is refused for the bundled app-server: codex app-server will not listen on a non-loopback address without --ws-auth. Use signed-bearer-token (default) or capability-token." -}}
{{- end -}}
{{- if and (not .Values.codex.enabled) (ne .Values.codex.auth.mode "none") (not .Values.codex.auth.existingSecret) -}}
{{- if and (eq .Values.codex.auth.mode "signed-bearer-token") (not .Values.codex.auth.sharedSecret) -}}
{{- fail "an external app-server with signed-bearer-token needs its shared secret: set codex.auth.sharedSecret or codex.auth.existingSecret (key jwt-secret)" -}}
{{- end -}}
{{- if and (eq .Values.codex.auth.mode "capability-token") (not .Values.codex.auth.token) -}}
{{- fail "an external app-server with capability-token needs its token: set codex.auth.token or codex.auth.existingSecret (key token)" -}}
{{- end -}}
{{- end -}}
{{- if and (not .Values.redis.enabled) (not .Values.redis.external.url) (not .Values.redis.external.existingSecret) -}}
{{- fail "redis.enabled=false needs redis.external.url or redis.external.existingSecret (key redis-url)" -}}
{{- end -}}
{{- if and (eq .Values.bot.mode "socket") (gt (int .Values.bot.replicas) 10) -}}
{{- fail "bot.replicas > 10 in Socket Mode: Slack allows at most 10 Socket Mode connections per app. Use bot.mode=http to scale further." -}}
{{- end -}}
{{- if and .Values.bot.ingress.enabled (ne .Values.bot.mode "http") -}}
{{- fail "bot.ingress.enabled needs bot.mode=http: a Socket Mode bot has no public endpoint" -}}
{{- end -}}
{{- end -}}
