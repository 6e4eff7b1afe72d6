"""Schemas of the CRDs the manifests use (jsonschema).

Small, hand-written subsets of the Prometheus Operator CRDs (monitoring.coreos.com/v1:
ServiceMonitor, PrometheusRule) and of KServe's (serving.kserve.io: ServingRuntime
v1alpha1, InferenceService v1beta1, as in KServe 0.20's config/crd/full and the Go
types in pkg/apis/serving): the fields that exist (unknown ones are rejected, as
kubectl would with a structural CRD schema), their types, and what is required.
The containers inside a ServingRuntime are validated as Kubernetes containers
by kserve_rules (kubernetes-validate), not here.
"""

from __future__ import annotations

DURATION = {"type": "string", "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"}
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
LABEL_SELECTOR = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "matchLabels": STRING_MAP,
        "matchExpressions": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["key", "operator"],
                "properties": {
                    "key": {"type": "string"},
                    "operator": {"enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                    "values": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}
OBJECT_META = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253},
        "namespace": {"type": "string"},
        "labels": STRING_MAP,
        "annotations": STRING_MAP,
    },
}
ANY_OBJECT = {"type": "object"}
ANY_ARRAY = {"type": "array"}
SERVICE_MONITOR_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": OBJECT_META,
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["selector"],
            "properties": {
                "selector": LABEL_SELECTOR,
                "namespaceSelector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"any": {"type": "boolean"}, "matchNames": {"type": "array", "items": {"type": "string"}}},
                },
                "jobLabel": {"type": "string"},
                "targetLabels": {"type": "array", "items": {"type": "string"}},
                "podTargetLabels": {"type": "array", "items": {"type": "string"}},
                "sampleLimit": {"type": "integer", "minimum": 0},
                "targetLimit": {"type": "integer", "minimum": 0},
                "labelLimit": {"type": "integer", "minimum": 0},
                "labelNameLengthLimit": {"type": "integer", "minimum": 0},
                "labelValueLengthLimit": {"type": "integer", "minimum": 0},
                "keepDroppedTargets": {"type": "integer", "minimum": 0},
                "attachMetadata": ANY_OBJECT,
                "scrapeClass": {"type": "string"},
                "scrapeProtocols": {"type": "array", "items": {"type": "string"}},
                "fallbackScrapeProtocol": {"type": "string"},
                "bodySizeLimit": {"type": "string"},
                "selectorMechanism": {"enum": ["RelabelConfig", "RoleSelector"]},
                "serviceDiscoveryRole": {"enum": ["Endpoints", "EndpointSlice"]},
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "targetPort": {"type": ["string", "integer"]},
                            "path": {"type": "string", "pattern": "^/"},
                            "scheme": {"enum": ["http", "https", "HTTP", "HTTPS"]},
                            "params": ANY_OBJECT,
                            "interval": DURATION,
                            "scrapeTimeout": DURATION,
                            "honorLabels": {"type": "boolean"},
                            "honorTimestamps": {"type": "boolean"},
                            "trackTimestampsStaleness": {"type": "boolean"},
                            "tlsConfig": ANY_OBJECT,
                            "authorization": ANY_OBJECT,
                            "basicAuth": ANY_OBJECT,
                            "oauth2": ANY_OBJECT,
                            "bearerTokenSecret": ANY_OBJECT,
                            "bearerTokenFile": {"type": "string"},
                            "metricRelabelings": ANY_ARRAY,
                            "relabelings": ANY_ARRAY,
                            "proxyUrl": {"type": "string"},
                            "noProxy": {"type": "string"},
                            "proxyFromEnvironment": {"type": "boolean"},
                            "proxyConnectHeader": ANY_OBJECT,
                            "followRedirects": {"type": "boolean"},
                            "enableHttp2": {"type": "boolean"},
                            "filterRunning": {"type": "boolean"},
                        },
                    },
                },
            },
        },
    },
}
RULE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["expr"],
    "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
    "properties": {
        "alert": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
        "record": {"type": "string", "pattern": "^[a-zA-Z_:][a-zA-Z0-9_:]*$"},
        "expr": {"type": ["string", "integer"]},
        "for": DURATION,
        "keep_firing_for": DURATION,
        "labels": STRING_MAP,
        "annotations": STRING_MAP,
    },
}
PROMETHEUS_RULE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "PrometheusRule"},
        "metadata": OBJECT_META,
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "groups": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name", "rules"],
                        "properties": {
                            "name": {"type": "string", "minLength": 1},
                            "interval": DURATION,
                            "query_offset": DURATION,
                            "limit": {"type": "integer"},
                            "labels": STRING_MAP,
                            "partial_response_strategy": {"type": "string"},
                            "rules": {"type": "array", "items": RULE},
                        },
                    },
                }
            },
        },
    },
}
# KServe. protocolVersions and protocolVersion are plain strings in the CRD;
# the values are the four KServe knows (constants.InferenceServiceProtocol).
KSERVE_PROTOCOL = {"enum": ["v1", "v2", "grpc-v1", "grpc-v2"]}
KSERVE_OBJECT_META = {
    **OBJECT_META,
    # InferenceService names: KServe's webhook (IsvcNameFmt) and DNS labels.
    "properties": {**OBJECT_META["properties"], "name": {"type": "string", "pattern": r"^[a-z]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63}},
}
SERVING_RUNTIME_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "serving.kserve.io/v1alpha1"},
        "kind": {"const": "ServingRuntime"},
        "metadata": OBJECT_META,
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["containers"],
            "properties": {
                "supportedModelFormats": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string", "minLength": 1},
                            "version": {"type": "string"},
                            "autoSelect": {"type": "boolean"},
                            "priority": {"type": "integer", "minimum": 1},
                        },
                    },
                },
                "protocolVersions": {"type": "array", "items": KSERVE_PROTOCOL},
                "multiModel": {"type": "boolean"},
                "disabled": {"type": "boolean"},
                "containers": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["name"]}},
                "volumes": ANY_ARRAY,
                "nodeSelector": STRING_MAP,
                "affinity": ANY_OBJECT,
                "tolerations": ANY_ARRAY,
                "labels": STRING_MAP,
                "annotations": STRING_MAP,
                "imagePullSecrets": ANY_ARRAY,
                "hostIPC": {"type": "boolean"},
                "schedulerName": {"type": "string"},
                "workerSpec": ANY_OBJECT,
                "replicas": {"type": "integer", "minimum": 0},
                "storageHelper": {"type": "object", "additionalProperties": False, "properties": {"disabled": {"type": "boolean"}}},
                "builtInAdapter": ANY_OBJECT,
                "grpcEndpoint": {"type": "string"},
                "grpcDataEndpoint": {"type": "string"},
                "httpDataEndpoint": {"type": "string"},
            },
        },
    },
}
# predictor.model: a Kubernetes container (inline) plus what KServe adds.
CONTAINER_FIELDS = (
    "args command env envFrom image imagePullPolicy lifecycle livenessProbe name ports readinessProbe "
    "resizePolicy resources restartPolicy restartPolicyRules securityContext startupProbe stdin stdinOnce "
    "terminationMessagePath terminationMessagePolicy tty volumeDevices volumeMounts workingDir"
).split()
MODEL_SPEC = {
    "type": "object",
    "additionalProperties": False,
    "required": ["modelFormat"],  # +required in ModelSpec; the webhook rejects a model without it
    "properties": {
        **{f: {} for f in CONTAINER_FIELDS},
        "modelFormat": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name"],
            "properties": {"name": {"type": "string", "minLength": 1}, "version": {"type": "string"}},
        },
        "runtime": {"type": "string", "minLength": 1},
        "runtimeVersion": {"type": "string"},
        "protocolVersion": KSERVE_PROTOCOL,
        "storageUri": {"type": "string", "minLength": 1},
        "storage": ANY_OBJECT,
        "confidential": ANY_OBJECT,
    },
}
# The predictor: a pod spec (inline), the component extension and the predictors.
PREDICTOR_FIELDS = (
    "activeDeadlineSeconds affinity annotations autoScaling automountServiceAccountToken batcher "
    "canaryTrafficPercent containers deploymentStrategy dnsConfig dnsPolicy enableServiceLinks hostAliases "
    "hostIPC hostNetwork hostPID hostUsers hostname hostnameOverride huggingface imagePullSecrets "
    "initContainers labels lightgbm logger name nodeName nodeSelector onnx os overhead paddle pmml "
    "preemptionPolicy priority priorityClassName pytorch readinessGates resourceClaims resources "
    "restartPolicy runtimeClassName scaleMetricType schedulerName schedulingGates securityContext "
    "serviceAccount setHostnameAsFQDN shareProcessNamespace sklearn storageContainerName storageUris "
    "subdomain tensorflow terminationGracePeriodSeconds tolerations topologySpreadConstraints triton "
    "volumes workerSpec xgboost"
).split()
INFERENCE_SERVICE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "serving.kserve.io/v1beta1"},
        "kind": {"const": "InferenceService"},
        "metadata": KSERVE_OBJECT_META,
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["predictor"],
            "properties": {
                "predictor": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        **{f: {} for f in PREDICTOR_FIELDS},
                        "model": MODEL_SPEC,
                        "minReplicas": {"type": "integer", "minimum": 0},
                        "maxReplicas": {"type": "integer", "minimum": 0},
                        "scaleTarget": {"type": "integer"},
                        "scaleMetric": {"enum": ["cpu", "memory", "concurrency", "rps"]},
                        "containerConcurrency": {"type": "integer", "minimum": 0},
                        "timeout": {"type": "integer", "minimum": 0},
                        "serviceAccountName": {"type": "string"},
                    },
                },
                "transformer": ANY_OBJECT,
                "explainer": ANY_OBJECT,
                "canary": ANY_ARRAY,
            },
        },
    },
}
CRD_SCHEMAS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): SERVICE_MONITOR_SCHEMA,
    ("monitoring.coreos.com/v1", "PrometheusRule"): PROMETHEUS_RULE_SCHEMA,
    ("serving.kserve.io/v1alpha1", "ServingRuntime"): SERVING_RUNTIME_SCHEMA,
    ("serving.kserve.io/v1beta1", "InferenceService"): INFERENCE_SERVICE_SCHEMA,
}
