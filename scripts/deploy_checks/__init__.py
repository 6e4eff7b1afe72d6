"""The offline deployment checks that scripts/check_deploy.py runs.

Modules, by what they check or provide:

* ``settings``       paths, Kubernetes versions, the ports and alerts the contract fixes
* ``problems``       the list every check appends to (``fail``) and the ``ok`` lines
* ``dockerfile``     the Dockerfile's stages and runtime stage
* ``build_context``  what .dockerignore leaves in the build context, and that Cargo loads from it
* ``kustomize``      rendering every kustomization and validating the objects
* ``crd_schemas``    schemas of the CRD objects: Prometheus Operator (ServiceMonitor,
  PrometheusRule) and KServe (ServingRuntime, InferenceService)
* ``k8s_objects``    reading rendered objects: names, selectors, container args, pod templates
* ``rendered``       one kustomization's objects by kind, and the gateway Deployment in them
* ``rules``          the deployment rules on one rendered kustomization, in order:
  ``pod_rules`` (every pod), ``gateway_rules`` (the gateway Deployment),
  ``mount_rules`` (routes and model repository mounts), ``service_rules``
  (Service, PodDisruptionBudget, ServiceMonitor) and ``alert_rules``
  (PrometheusRule, dashboard ConfigMap); ``kserve_rules`` instead for a
  kustomization of KServe objects (k8s/kserve)
* ``promql``         parsing PromQL and collecting the metric names it uses
* ``runbook``        the headings of docs/OPERATIONS.md that runbook links may name
* ``dashboard``      the Grafana dashboard JSON
"""
