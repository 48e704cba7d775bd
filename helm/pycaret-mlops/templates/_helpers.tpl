{{/* ===================================================================================
Names. Every resource is "<fullname>-<component>"; fullname = release name (or
fullnameOverride), at most 30 characters so that every derived name and label fits in 63.
==================================================================================== */}}
{{- define "pm.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 30 | trimSuffix "-" -}}
{{- end -}}

{{- define "pm.trackingServer.name" -}}{{ include "pm.fullname" . }}-tracking-server{{- end -}}
{{- define "pm.modelServer.name" -}}{{ include "pm.fullname" . }}-model-server{{- end -}}
{{- define "pm.postgresql.name" -}}{{ include "pm.fullname" . }}-postgresql{{- end -}}
{{- define "pm.minio.name" -}}{{ include "pm.fullname" . }}-minio{{- end -}}
{{- define "pm.trainer.name" -}}{{ include "pm.fullname" . }}-train{{- end -}}
{{- define "pm.scripts.name" -}}{{ include "pm.fullname" . }}-scripts{{- end -}}

{{/* Labels. Call with (dict "ctx" $ "component" "tracking-server"). */}}
{{- define "pm.selectorLabels" -}}
app.kubernetes.io/name: pycaret-mlops
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "pm.labels" -}}
{{ include "pm.selectorLabels" . }}
app.kubernetes.io/part-of: pycaret-mlops
app.kubernetes.io/version: {{ include "pm.imageTag" .ctx | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" }}
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Label a client pod carries to pass the NetworkPolicy of the tracking/model server. */}}
{{- define "pm.trackingClientLabel" -}}
pycaret-mlops/tracking-client: {{ include "pm.fullname" . }}
{{- end -}}
{{- define "pm.modelClientLabel" -}}
pycaret-mlops/model-client: {{ include "pm.fullname" . }}
{{- end -}}

{{/* ===================================================================================
Images: the four built by `make images`, <registry>/<repository>:<tag>.
==================================================================================== */}}
{{- define "pm.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag -}}
{{- end -}}

{{/* (dict "ctx" $ "image" "trackingServer") */}}
{{- define "pm.image" -}}
{{- $repo := index .ctx.Values.image.repositories .image -}}
{{- with .ctx.Values.image.registry -}}{{ trimSuffix "/" . }}/{{- end -}}
{{ $repo }}:{{ include "pm.imageTag" .ctx }}
{{- end -}}

{{- define "pm.imagePullSecrets" -}}
{{- with .Values.image.pullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* ===================================================================================
Security contexts: non-root, read-only root filesystem, no capabilities, RuntimeDefault
seccomp. (dict "uid" 10001)
==================================================================================== */}}
{{- define "pm.podSecurityContext" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: {{ .uid }}
  runAsGroup: {{ .uid }}
  fsGroup: {{ .uid }}
  fsGroupChangePolicy: OnRootMismatch
  seccompProfile:
    type: RuntimeDefault
{{- end -}}

{{- define "pm.containerSecurityContext" -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  runAsNonRoot: true
  privileged: false
  capabilities:
    drop: ["ALL"]
  seccompProfile:
    type: RuntimeDefault
{{- end -}}

{{/* Writable scratch space for a read-only root filesystem. */}}
{{- define "pm.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 2Gi
{{- end -}}
{{- define "pm.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* Cache locations of Python libraries, so that nothing writes under a read-only $HOME. */}}
{{- define "pm.cacheEnv" -}}
- name: XDG_CACHE_HOME
  value: /tmp/.cache
- name: MPLCONFIGDIR
  value: /tmp/.matplotlib
{{- end -}}

{{/* ===================================================================================
Secrets generated once: reuse the value of an existing Secret (lookup), otherwise make a
random one. (list $ "secret-name" "key" length) -> base64 value.
==================================================================================== */}}
{{- define "pm.secretValue" -}}
{{- $ctx := index . 0 -}}
{{- $existing := lookup "v1" "Secret" $ctx.Release.Namespace (index . 1) -}}
{{- $value := dig "data" (index . 2) "" ($existing | default dict) -}}
{{- if $value -}}{{ $value }}{{- else -}}{{ randAlphaNum (index . 3) | b64enc }}{{- end -}}
{{- end -}}

{{/* ===================================================================================
Addresses and credentials
==================================================================================== */}}
{{- define "pm.trackingServer.url" -}}
http://{{ include "pm.trackingServer.name" . }}:{{ .Values.trackingServer.service.port }}
{{- end -}}

{{- define "pm.modelServer.url" -}}
http://{{ include "pm.modelServer.name" . }}:{{ .Values.modelServer.service.port }}
{{- end -}}

{{- define "pm.postgresql.secretName" -}}
{{- if .Values.postgresql.enabled -}}
{{- default (include "pm.postgresql.name" .) .Values.postgresql.auth.existingSecret -}}
{{- else -}}
{{- .Values.externalDatabase.existingSecret -}}
{{- end -}}
{{- end -}}

{{- define "pm.postgresql.passwordKey" -}}
{{- if .Values.postgresql.enabled -}}
{{- .Values.postgresql.auth.passwordKey -}}
{{- else -}}
{{- .Values.externalDatabase.passwordKey -}}
{{- end -}}
{{- end -}}

{{- define "pm.minio.secretName" -}}
{{- default (include "pm.minio.name" .) .Values.minio.auth.existingSecret -}}
{{- end -}}

{{- define "pm.auth.secretName" -}}
{{- default (printf "%s-auth" (include "pm.fullname" .)) .Values.trackingServer.auth.existingSecret -}}
{{- end -}}

{{/* S3 endpoint URL of the artifact store ("" = AWS). */}}
{{- define "pm.s3.endpoint" -}}
{{- if .Values.minio.enabled -}}
http://{{ include "pm.minio.name" . }}:9000
{{- else -}}
{{- .Values.externalS3.endpoint -}}
{{- end -}}
{{- end -}}

{{/* S3 env of the artifact store. (dict "ctx" $ "secret" "" ) - secret overrides the
credentials Secret (with AWS_* keys). */}}
{{- define "pm.s3.env" -}}
{{- $ := .ctx -}}
{{- with include "pm.s3.endpoint" $ }}
- name: MLFLOW_S3_ENDPOINT_URL
  value: {{ . | quote }}
{{- end }}
{{- if and (not $.Values.minio.enabled) $.Values.externalS3.region }}
- name: AWS_DEFAULT_REGION
  value: {{ $.Values.externalS3.region | quote }}
{{- end }}
{{- if .secret }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef: {name: {{ .secret | quote }}, key: AWS_ACCESS_KEY_ID}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef: {name: {{ .secret | quote }}, key: AWS_SECRET_ACCESS_KEY}
{{- else if $.Values.minio.enabled }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef: {name: {{ include "pm.minio.secretName" $ | quote }}, key: {{ $.Values.minio.auth.rootUserKey | quote }}}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef: {name: {{ include "pm.minio.secretName" $ | quote }}, key: {{ $.Values.minio.auth.rootPasswordKey | quote }}}
{{- else if $.Values.externalS3.existingSecret }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef: {name: {{ $.Values.externalS3.existingSecret | quote }}, key: {{ $.Values.externalS3.accessKeyIdKey | quote }}}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef: {name: {{ $.Values.externalS3.existingSecret | quote }}, key: {{ $.Values.externalS3.secretAccessKeyKey | quote }}}
{{- end }}
{{- end -}}

{{/* Env of an MLflow client: tracking URI and, with basic auth, the admin login. */}}
{{- define "pm.trackingClientEnv" -}}
- name: MLFLOW_TRACKING_URI
  value: {{ include "pm.trackingServer.url" . | quote }}
{{- if .Values.trackingServer.auth.enabled }}
- name: MLFLOW_TRACKING_USERNAME
  valueFrom:
    secretKeyRef: {name: {{ include "pm.auth.secretName" . | quote }}, key: admin-username}
- name: MLFLOW_TRACKING_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ include "pm.auth.secretName" . | quote }}, key: admin-password}
{{- end }}
{{- end -}}

{{/* Database env of the tracking server (and of its auth-config init container). */}}
{{- define "pm.databaseEnv" -}}
{{- if and (not .Values.postgresql.enabled) .Values.externalDatabase.uriSecret.name }}
- name: TRACKING_BACKEND_STORE_URI
  valueFrom:
    secretKeyRef: {name: {{ .Values.externalDatabase.uriSecret.name | quote }}, key: {{ .Values.externalDatabase.uriSecret.key | quote }}}
{{- else }}
{{- $db := ternary .Values.postgresql.auth .Values.externalDatabase .Values.postgresql.enabled }}
- name: TRACKING_DB_HOST
  value: {{ ternary (include "pm.postgresql.name" .) .Values.externalDatabase.host .Values.postgresql.enabled | quote }}
- name: TRACKING_DB_PORT
  value: {{ ternary 5432 .Values.externalDatabase.port .Values.postgresql.enabled | quote }}
- name: TRACKING_DB_NAME
  value: {{ $db.database | quote }}
- name: TRACKING_DB_USER
  value: {{ ternary .Values.postgresql.auth.username .Values.externalDatabase.user .Values.postgresql.enabled | quote }}
- name: TRACKING_DB_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ include "pm.postgresql.secretName" . | quote }}, key: {{ include "pm.postgresql.passwordKey" . | quote }}}
{{- end }}
{{- end -}}

{{/* Host header values the tracking server accepts (TRACKING_ALLOWED_HOSTS). */}}
{{- define "pm.allowedHosts" -}}
{{- $svc := include "pm.trackingServer.name" . -}}
{{- $ns := .Release.Namespace -}}
{{- $port := .Values.trackingServer.service.port | toString -}}
{{- $hosts := list -}}
{{- range (list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.%s" $svc $ns .Values.clusterDomain)) -}}
{{- $hosts = append $hosts . -}}
{{- $hosts = append $hosts (printf "%s:%s" . $port) -}}
{{- end -}}
{{/* kubectl port-forward and in-pod checks */}}
{{- $hosts = concat $hosts (list "localhost" "localhost:*" "127.0.0.1" "127.0.0.1:*") -}}
{{- if .Values.trackingServer.ingress.enabled -}}
{{- range .Values.trackingServer.ingress.hosts -}}
{{- $hosts = append $hosts .host -}}
{{- $hosts = append $hosts (printf "%s:*" .host) -}}
{{- end -}}
{{- end -}}
{{- if .Values.trackingServer.allowedHosts.privateIPs -}}
{{- $hosts = concat $hosts (list "10.*" "192.168.*") -}}
{{- range $i := untilStep 16 32 1 -}}
{{- $hosts = append $hosts (printf "172.%d.*" $i) -}}
{{- end -}}
{{- $hosts = concat $hosts (list "[[]fc*" "[[]fd*") -}}
{{- end -}}
{{- $hosts = concat $hosts .Values.trackingServer.allowedHosts.extra -}}
{{- join "," (uniq $hosts) -}}
{{- end -}}

{{/* ===================================================================================
Checks of value combinations the schema cannot express.
==================================================================================== */}}
{{- define "pm.validate" -}}
{{- if not .Values.postgresql.enabled -}}
{{- $e := .Values.externalDatabase -}}
{{- if $e.uriSecret.name -}}
{{- if not $e.uriSecret.key -}}{{ fail "externalDatabase.uriSecret.key is required with externalDatabase.uriSecret.name" }}{{- end -}}
{{- else -}}
{{- if not $e.host -}}{{ fail "postgresql.enabled=false needs externalDatabase.host (or externalDatabase.uriSecret)" }}{{- end -}}
{{- if not $e.existingSecret -}}{{ fail "postgresql.enabled=false needs externalDatabase.existingSecret holding the password (or externalDatabase.uriSecret)" }}{{- end -}}
{{- end -}}
{{- end -}}
{{- if and .Values.trackingServer.ingress.enabled (not .Values.trackingServer.ingress.hosts) -}}
{{ fail "trackingServer.ingress.enabled=true needs at least one trackingServer.ingress.hosts entry" }}
{{- end -}}
{{- if and .Values.modelServer.autoscaling.enabled (lt (int .Values.modelServer.autoscaling.maxReplicas) (int .Values.modelServer.autoscaling.minReplicas)) -}}
{{ fail "modelServer.autoscaling.maxReplicas must be >= minReplicas" }}
{{- end -}}
{{- end -}}

{{/* Admin login of MLflow's basic-auth app. */}}
{{- define "pm.authEnv" -}}
- name: MLFLOW_AUTH_CONFIG_PATH
  value: /etc/mlflow-auth/basic_auth.ini
- name: AUTH_DEFAULT_PERMISSION
  value: {{ .Values.trackingServer.auth.defaultPermission | quote }}
- name: MLFLOW_AUTH_ADMIN_USERNAME
  valueFrom:
    secretKeyRef: {name: {{ include "pm.auth.secretName" . | quote }}, key: admin-username}
- name: MLFLOW_AUTH_ADMIN_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ include "pm.auth.secretName" . | quote }}, key: admin-password}
{{- end -}}

{{/* ===================================================================================
Training Job spec, shared by the install Job and the CronJob's jobTemplate (and so by every
`kubectl create job --from=cronjob/...`): the trainer runs first (init container); when it
succeeds, the rollout step rolls the model server if the champion changed.
==================================================================================== */}}
{{- define "pm.trainer.jobSpec" -}}
{{- $t := .Values.training -}}
{{- $rollout := and $t.rolloutModelServer .Values.modelServer.enabled -}}
backoffLimit: {{ $t.backoffLimit }}
activeDeadlineSeconds: {{ $t.activeDeadlineSeconds }}
ttlSecondsAfterFinished: {{ $t.ttlSecondsAfterFinished }}
template:
  metadata:
    labels:
      {{- include "pm.labels" (dict "ctx" . "component" "trainer") | nindent 6 }}
      {{- include "pm.trackingClientLabel" . | nindent 6 }}
    annotations:
      checksum/config: {{ include "pm.trainer.configChecksum" . }}
      {{- with $t.podAnnotations }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
  spec:
    serviceAccountName: {{ include "pm.trainer.name" . }}
    automountServiceAccountToken: false
    restartPolicy: Never
    enableServiceLinks: false
    {{- with include "pm.imagePullSecrets" . | trim }}{{ . | nindent 4 }}{{- end }}
    {{- include "pm.podSecurityContext" (dict "uid" .Values.runAsUser) | nindent 4 }}
    {{- if $rollout }}
    initContainers:
      {{- include "pm.trainer.container" . | nindent 6 }}
    containers:
      - name: rollout-model-server
        image: {{ include "pm.image" (dict "ctx" . "image" "trainer") | quote }}
        imagePullPolicy: {{ .Values.image.pullPolicy }}
        command: ["python", "/opt/pycaret-mlops/scripts/rollout_model_server.py"]
        {{- include "pm.containerSecurityContext" . | nindent 8 }}
        env:
          {{- include "pm.trackingClientEnv" . | nindent 10 }}
          - name: SERVE_MODEL_NAME
            value: {{ .Values.model.name | quote }}
          - name: SERVE_ALIAS
            value: {{ .Values.modelServer.alias | quote }}
          - name: MODEL_SERVER_DEPLOYMENT
            value: {{ include "pm.modelServer.name" . | quote }}
        resources:
          requests: {cpu: 10m, memory: 32Mi}
          limits: {memory: 128Mi}
        volumeMounts:
          - name: scripts
            mountPath: /opt/pycaret-mlops/scripts
            readOnly: true
          # The API token is mounted into this container only, not into the trainer.
          - name: kube-api-access
            mountPath: /var/run/secrets/kubernetes.io/serviceaccount
            readOnly: true
          {{- include "pm.tmpMount" . | nindent 10 }}
    {{- else }}
    containers:
      {{- include "pm.trainer.container" . | nindent 6 }}
    {{- end }}
    volumes:
      - name: config
        configMap:
          name: {{ include "pm.trainer.name" . }}-config
      {{- include "pm.tmpVolume" . | nindent 6 }}
      {{- if $rollout }}
      - name: scripts
        configMap:
          name: {{ include "pm.scripts.name" . }}
          items:
            - {key: rollout_model_server.py, path: rollout_model_server.py}
      - name: kube-api-access
        projected:
          sources:
            - serviceAccountToken:
                path: token
                expirationSeconds: 3600
            - configMap:
                name: kube-root-ca.crt
                items:
                  - {key: ca.crt, path: ca.crt}
            - downwardAPI:
                items:
                  - path: namespace
                    fieldRef: {fieldPath: metadata.namespace}
      {{- end }}
    {{- with $t.nodeSelector }}
    nodeSelector:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- with $t.tolerations }}
    tolerations:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- with $t.affinity }}
    affinity:
      {{- toYaml . | nindent 6 }}
    {{- end }}
{{- end -}}

{{- define "pm.trainer.configChecksum" -}}
{{- $t := .Values.training -}}
{{- list $t.data $t.target $t.task $t.ignore $t.models $t.folds $t.metric $t.tune $t.budgetMinutes $t.seed $t.experiment .Values.model.name $t.promotionMargin $t.trackingTimeout | toJson | sha256sum | trunc 16 -}}
{{- end -}}

{{- define "pm.trainer.container" -}}
{{- $t := .Values.training -}}
- name: train
  image: {{ include "pm.image" (dict "ctx" . "image" "trainer") | quote }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  # No command: the image's entrypoint (tini -> mlops-train) runs the training.
  {{- include "pm.containerSecurityContext" . | nindent 2 }}
  env:
    {{- include "pm.trackingClientEnv" . | nindent 4 }}
    - name: TRAIN_CONFIG
      value: /etc/pycaret-mlops/train/config.yaml
    {{- if hasPrefix "s3://" $t.data }}
    {{- include "pm.s3.env" (dict "ctx" . "secret" $t.dataS3.existingSecret) | trim | nindent 4 }}
    {{- end }}
    {{- include "pm.cacheEnv" . | nindent 4 }}
    {{- with $t.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  resources:
    {{- toYaml $t.resources | nindent 4 }}
  volumeMounts:
    - name: config
      mountPath: /etc/pycaret-mlops/train
      readOnly: true
    {{- include "pm.tmpMount" . | nindent 4 }}
{{- end -}}
