"""Observability: what an operator watches on an AWS stack, on AWS-native parts.

- Hermes' container logs in CloudWatch Logs: the `amazon-cloudwatch-observability` EKS add-on (its
  Fluent Bit ships every container's stdout/stderr; its CloudWatch agent publishes Container Insights
  metrics), with a least-privilege identity like the other add-ons (IRSA or Pod Identity, WorkloadRole).
  The stack creates the add-on's log groups first, with the configured retention, so Fluent Bit
  (`auto_create_group`) and the agent find them instead of creating groups that never expire.
  The same `auto_create_group` (helm-charts charts/amazon-cloudwatch-observability/values.yaml at
  tag amazon-cloudwatch-observability-4.10.3, every Fluent Bit output) means a Fluent Bit that still
  writes after `pulumi destroy` deleted a group creates it again, and the next `pulumi up` then fails
  on it (ResourceAlreadyExistsException). EKS reports the add-on deleted once its objects are, while
  its pods may still flush for up to terminationGracePeriodSeconds (10 s, templates/linux/
  fluent-bit-daemonset.yaml) with `Grace 30` (values.yaml): so between the add-on and its log groups
  sits a Command whose delete waits until no pod is left in the add-on's namespace.
- Alarms on the Hermes pod (not ready, restarted) and on its volume (nearly full), to an SNS topic
  with e-mail subscriptions.
- One CloudWatch dashboard: Hermes health, restarts, CPU and memory against the container's limits, the
  volume's fill level, and Bedrock invocations, tokens, latency and throttles for this stack's models.
  Container Insights has no fill level for a PersistentVolume: the Hermes pod's volume-metrics sidecar
  publishes it (components/volume_metrics.py).

The dashboard body and the alarms are pure functions of plain values (`dashboard_body`,
`alarm_specs`), so tests check them against AWS's published metric names without running Pulumi.
The control plane's own log group belongs to the cluster (components/hermes_cluster.py).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_command as command

from components.volume_metrics import METRIC_NAMESPACE, USED_PERCENT, metric_dimensions
from components.workload_identity import ClusterIdentity, WorkloadRole

ADDON = "amazon-cloudwatch-observability"
# Pinned, like the other add-ons. v4.10.3 (aws-observability/helm-charts RELEASE_NOTES, 2026-03-18) is the
# newest 4.x: v5.0.0 turns Application Signals AutoMonitor on by default (it would instrument the Hermes
# pod) and v6.0.0 replaces the Container Insights metrics below with OTel ones queried by PromQL. AWS's
# own demo pins the same build (aws-observability/application-signals-demo#334).
ADDON_VERSION = "v4.10.3-eksbuild.1"
# The add-on's CloudWatch agent AND its Fluent Bit run as this service account (helm-charts
# charts/amazon-cloudwatch-observability/templates/linux/fluent-bit-daemonset.yaml, serviceAccountName).
ADDON_NAMESPACE, ADDON_SERVICE_ACCOUNT = "amazon-cloudwatch", "cloudwatch-agent"
# The managed policy AWS documents for the add-on (CloudWatch user guide, install-CloudWatch-Observability-
# EKS-addon). AWSXrayWriteOnlyAccess is only for Application Signals traces, which this stack does not use.
AGENT_POLICY_ARN = "arn:{partition}:iam::aws:policy/CloudWatchAgentServerPolicy"

# Where the add-on writes: Fluent Bit's outputs (helm-charts values.yaml, log_group_name) and the agent's
# EMF performance events (aws/amazon-cloudwatch-agent awsemf_default_kubernetes.yaml, log_group_name).
LOG_GROUP_KINDS = ("application", "dataplane", "host", "performance")

CONTAINER_INSIGHTS = "ContainerInsights"
BEDROCK = "AWS/Bedrock"
PERIOD = 300
VOLUME_FULL_PERCENT = 85  # the volume-full alarm's threshold: time to grow storageSize before writes fail
# CloudWatch PutRetentionPolicy accepts exactly these (API reference, retentionInDays).
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                  2922, 3288, 3653)


# Run by `pulumi destroy` after the add-on is deleted and before its log groups: waits until every pod
# of the add-on's namespace is gone (Fluent Bit and the agent write to the groups, and create them).
# `kubectl wait --for=delete` succeeds when nothing matches (kubernetes/kubectl pkg/cmd/wait/wait.go,
# RunWait: errNoMatchingResources only when not waiting for delete). Needs kubectl where Pulumi runs,
# like the wait for released volumes (components/wait_for_released_volumes.sh).
WAIT_FOR_AGENTS = """set -eu
config=$(mktemp)
trap 'rm -f "$config"' EXIT
printf '%s' "$KUBECONFIG_JSON" > "$config"
kubectl --kubeconfig "$config" -n "$NAMESPACE" wait --for=delete pod --all --timeout="${TIMEOUT_SECONDS}s"
"""
AGENTS_GONE_TIMEOUT_SECONDS = 300


def log_group_name(cluster_name: str, kind: str) -> str:
    return f"/aws/containerinsights/{cluster_name}/{kind}"


def dashboard_url(region: str, dashboard_name: str) -> str:
    return f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#dashboards/dashboard/{dashboard_name}"


# ---------------------------------------------------------------------------------------------
# What is watched: plain values in, plain dicts out.
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Watched:
    """The Hermes workload as Container Insights and Bedrock name it."""

    cluster_name: str
    region: str
    namespace: str
    # Container Insights' PodName of a Deployment's pod is the Deployment's name (the receiver names a
    # pod after its owning workload; FullPodName is the pod's own name): open-telemetry/opentelemetry-
    # collector-contrib receiver/awscontainerinsightreceiver, k8sapiserver/podstore (addPodOwnersAndPodName).
    workload: str
    container: str = "hermes"
    cpu_limit: str = ""  # empty: no CPU limit, so no CPU-over-limit metric exists
    memory_limit: str = "4Gi"
    storage_size: str = "20Gi"
    bedrock_models: tuple[str, ...] = ()
    bedrock_region: str = ""
    volume_metrics: bool = False  # the Hermes pod publishes its volume's fill level (volume_metrics.py)

    def volume(self) -> list[str]:
        """The volume metrics' dimensions, exactly as the sidecar sends them."""
        dimensions = metric_dimensions(self.cluster_name, self.namespace, self.workload)
        return [item for pair in dimensions.items() for item in pair]

    def pod(self) -> list[str]:
        """The pod-level dimensions, as a CloudWatch metric array's name/value pairs."""
        return ["ClusterName", self.cluster_name, "Namespace", self.namespace, "PodName", self.workload]


@dataclass(frozen=True)
class AlarmSpec:
    key: str  # names the Pulumi resource; the alarm is `<prefix>-<key>`
    name: str
    description: str
    metric: str
    statistic: str
    threshold: float
    comparison: str
    evaluation_periods: int
    datapoints_to_alarm: int
    treat_missing_data: str
    expression: str = ""  # metric math over `m1`, the metric above; empty: alarm on the metric itself
    dimensions: dict[str, str] = field(default_factory=dict)
    namespace: str = CONTAINER_INSIGHTS


def alarm_specs(w: Watched, prefix: str) -> list[AlarmSpec]:
    dimensions = {"ClusterName": w.cluster_name, "Namespace": w.namespace, "PodName": w.workload}
    specs = [
        AlarmSpec(
            key="pod-not-ready", name=f"{prefix}-pod-not-ready",
            description=(f"Hermes ({w.namespace}/{w.workload} on {w.cluster_name}) has not been Ready for 15 "
                         "minutes, or reports nothing (no pod, or no Container Insights data)."),
            metric="pod_status_ready", statistic="Minimum", threshold=1, comparison="LessThanThreshold",
            # 3 x 5 minutes: a release's Recreate rollout and first boot (image pull, seeding) stay under it.
            evaluation_periods=3, datapoints_to_alarm=3, treat_missing_data="breaching", dimensions=dimensions,
        ),
        AlarmSpec(
            key="pod-restarted", name=f"{prefix}-pod-restarted",
            description=(f"A container of the Hermes pod ({w.namespace}/{w.workload} on {w.cluster_name}) "
                         "restarted: a crash, an out-of-memory kill or a failed liveness probe."),
            # The metric is the pod's running total of container restarts; DIFF (CloudWatch metric math)
            # turns it into new restarts per period, so it needs two periods to compare, and a new pod
            # starting again from 0 never alarms.
            metric="pod_number_of_container_restarts", statistic="Maximum", threshold=0,
            comparison="GreaterThanThreshold", evaluation_periods=2, datapoints_to_alarm=1,
            treat_missing_data="notBreaching",
            expression="DIFF(m1)", dimensions=dimensions,
        ),
    ]
    if w.volume_metrics:
        specs.append(AlarmSpec(
            key="volume-full", name=f"{prefix}-volume-full",
            description=(f"The Hermes volume /opt/data ({w.namespace}/{w.workload} on {w.cluster_name}, "
                         f"{w.storage_size}) is more than {VOLUME_FULL_PERCENT}% used. Grow it with storageSize "
                         "before Hermes' writes fail."),
            namespace=METRIC_NAMESPACE, metric=USED_PERCENT, statistic="Maximum", threshold=VOLUME_FULL_PERCENT,
            comparison="GreaterThanThreshold", evaluation_periods=2, datapoints_to_alarm=2,
            # No data (the sidecar stopped publishing) is INSUFFICIENT_DATA, never a false OK on a full volume.
            treat_missing_data="missing",
            dimensions=metric_dimensions(w.cluster_name, w.namespace, w.workload),
        ))
    return specs


def dashboard_body(w: Watched, alarm_arns: list[str] | tuple[str, ...] = (), more: tuple[Watched, ...] = ()) -> dict:
    """The CloudWatch dashboard (dashboard body structure: CloudWatch API reference,
    CloudWatch-Dashboard-Body-Structure): a 24-column grid of widgets, each with x, y, width, height.
    `more`: further Hermes instances of the stack, each a section of its own rows below the first's."""
    widgets: list[dict] = []
    cursor = {"x": 0, "y": 0, "row_height": 0}

    def add(widget_type: str, width: int, height: int, properties: dict) -> None:
        """Left to right, a new row when the 24 columns are full."""
        if cursor["x"] + width > 24:
            cursor.update(x=0, y=cursor["y"] + cursor["row_height"], row_height=0)
        widgets.append({"type": widget_type, "x": cursor["x"], "y": cursor["y"], "width": width,
                        "height": height, "properties": properties})
        cursor["x"] += width
        cursor["row_height"] = max(cursor["row_height"], height)

    def metrics(title: str, lines: list[list], *, stat: str, width: int = 8, region: str = "",
                y_axis: dict | None = None, annotations: dict | None = None) -> None:
        properties = {"title": title, "view": "timeSeries", "region": region or w.region, "stat": stat,
                      "period": PERIOD, "metrics": lines}
        if y_axis:
            properties["yAxis"] = y_axis
        if annotations:
            properties["annotations"] = annotations
        add("metric", width, 6, properties)

    add("text", 24, 2, {"markdown": (
        f"# Hermes on {w.cluster_name}\n"
        f"Namespace `{w.namespace}`, Deployment `{w.workload}`. Container Insights metrics and logs come from "
        f"the `{ADDON}` add-on; Bedrock metrics from {w.bedrock_region or 'no Bedrock'}.")})
    if alarm_arns:
        add("alarm", 24, 2, {"title": "Alarms", "alarms": list(alarm_arns)})

    percent = {"left": {"min": 0, "max": 100, "label": "%", "showUnits": False}}
    at_limit = {"horizontal": [{"label": "limit", "value": 100}]}
    application_logs = log_group_name(w.cluster_name, "application")

    def pod_rows(w: Watched) -> None:
        """One instance's pod: health, restarts, memory, CPU and its volume."""
        pod = w.pod()
        metrics("Health: pod Ready (1) and replicas available", [
            [CONTAINER_INSIGHTS, "pod_status_ready", *pod, {"label": "pod Ready", "stat": "Minimum"}],
            [CONTAINER_INSIGHTS, "status_replicas_available", *pod, {"label": "replicas available", "stat": "Minimum"}],
        ], stat="Minimum")
        metrics("Container restarts (running total of the current pod)", [
            [CONTAINER_INSIGHTS, "pod_number_of_container_restarts", *pod, {"label": "restarts"}],
        ], stat="Maximum")
        metrics(f"Memory against its limit ({w.memory_limit})", [
            [CONTAINER_INSIGHTS, "pod_memory_utilization_over_pod_limit", *pod, {"label": "% of limit"}],
        ], stat="Maximum", y_axis=percent, annotations=at_limit)
        if w.cpu_limit:
            metrics(f"CPU against its limit ({w.cpu_limit})", [
                [CONTAINER_INSIGHTS, "pod_cpu_utilization_over_pod_limit", *pod, {"label": "% of limit"}],
            ], stat="Maximum", y_axis=percent, annotations=at_limit)
        else:
            # No CPU limit (cpuLimit empty), so Container Insights has no over-limit figure: usage and the
            # request, both as a share of the node.
            metrics("CPU (no limit set): usage and request, % of the node", [
                [CONTAINER_INSIGHTS, "pod_cpu_utilization", *pod, {"label": "usage"}],
                [CONTAINER_INSIGHTS, "pod_cpu_reserved_capacity", *pod, {"label": "request"}],
            ], stat="Maximum", y_axis=percent)
        # What the logs show is the moment the volume is full (SQLite: "database or disk is full", the
        # kernel: "No space left on device"): the fill level below says when it is getting there.
        add("log", 16, 6, {
            "title": f"Volume /opt/data ({w.storage_size}): full-disk errors in Hermes' logs",
            "region": w.region, "view": "timeSeries", "stacked": False,
            "query": (f"SOURCE '{application_logs}' | filter kubernetes.namespace_name = '{w.namespace}' "
                      "| filter log like /No space left on device|database or disk is full/ "
                      "| stats count(*) as full_disk_errors by bin(5m)"),
        })
        if w.volume_metrics:
            metrics(f"Volume /opt/data used, % of {w.storage_size} (grow with storageSize)", [
                [METRIC_NAMESPACE, USED_PERCENT, *w.volume(), {"label": "used"}],
            ], stat="Maximum", y_axis=percent, annotations={"horizontal": [
                {"label": "alarm", "value": VOLUME_FULL_PERCENT}, {"label": "full", "value": 100}]})
        else:
            add("text", 8, 6, {"markdown": (
                "**Volume fill level.** Container Insights has no metric for it; check with\n\n"
                f"`kubectl -n {w.namespace} exec deploy/{w.workload} -c {w.container} -- df -h /opt/data`\n\n"
                "and grow it with `storageSize` (never shrinks).")})

    pod_rows(w)

    if w.bedrock_models:
        def per_model(metric: str, label: str, **options) -> list[list]:
            return [[BEDROCK, metric, "ModelId", model, {"label": f"{label} {model}", **options}]
                    for model in w.bedrock_models]

        metrics("Bedrock invocations per model", per_model("Invocations", "invocations"),
                stat="Sum", region=w.bedrock_region)
        metrics("Bedrock tokens per model", [
            *per_model("InputTokenCount", "input"), *per_model("OutputTokenCount", "output"),
        ], stat="Sum", region=w.bedrock_region)
        metrics("Bedrock latency per model (p90, ms)", per_model("InvocationLatency", "p90"),
                stat="p90", region=w.bedrock_region)
        metrics("Bedrock throttles and errors per model", [
            *per_model("InvocationThrottles", "throttled"),
            *per_model("InvocationClientErrors", "client errors"),
            *per_model("InvocationServerErrors", "server errors"),
        ], stat="Sum", width=24, region=w.bedrock_region)

    add("log", 24, 6, {
        "title": "Hermes' latest log lines",
        "region": w.region, "view": "table",
        "query": (f"SOURCE '{application_logs}' | fields @timestamp, kubernetes.container_name, log "
                  f"| filter kubernetes.namespace_name = '{w.namespace}' | sort @timestamp desc | limit 100"),
    })

    for other in more:
        add("text", 24, 2, {"markdown": (
            f"## Hermes instance `{other.workload}`\n"
            f"Namespace `{other.namespace}`, Deployment `{other.workload}`.")})
        pod_rows(other)
        add("log", 24, 6, {
            "title": f"{other.workload}: latest log lines",
            "region": w.region, "view": "table",
            "query": (f"SOURCE '{application_logs}' | fields @timestamp, kubernetes.container_name, log "
                      f"| filter kubernetes.namespace_name = '{other.namespace}' | sort @timestamp desc | limit 100"),
        })
    return {"widgets": widgets}


# ---------------------------------------------------------------------------------------------
# The component
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class WatchedWorkload:
    """A further Hermes instance: what differs from the first in Watched."""

    namespace: str
    workload: str
    cpu_limit: str = ""
    memory_limit: str = "4Gi"
    storage_size: str = "20Gi"


@dataclass(frozen=True)
class ObservabilityArgs:
    cluster: ClusterIdentity  # for the add-on's identity; its name output makes the add-on wait for the cluster
    cluster_name: str  # the same name, known before the cluster exists (metric dimensions, log groups)
    region: str
    namespace: str
    workload: str
    dashboard_name: str
    cpu_limit: str = ""
    memory_limit: str = "4Gi"
    storage_size: str = "20Gi"
    bedrock_models: tuple[str, ...] = ()
    bedrock_region: str = ""
    install_addon: bool = True  # False on an adopted cluster that runs it already (or should not get it)
    log_retention_days: int = 30
    alert_topic_arn: pulumi.Input[str] = ""  # the stack's AlertTopic (components/alert_topic.py)
    volume_metrics: bool = False  # the Hermes pod runs the volume-metrics sidecar: chart and alarm on it
    tags: tuple[tuple[str, str], ...] = ()
    addon_depends_on: tuple[pulumi.Resource, ...] = ()  # nodes and the Pod Identity agent
    # The cluster's kubeconfig: `pulumi destroy` waits with it until the add-on's pods are gone before
    # deleting the log groups they write to. None: no wait (the add-on still goes first).
    kubeconfig: pulumi.Input[str] | None = None
    # Further Hermes instances of the stack: alarms of their own (named for the instance) and a section
    # of the dashboard each. The instance above keeps the names it had alone.
    more_workloads: tuple[WatchedWorkload, ...] = ()


class Observability(pulumi.ComponentResource):
    dashboard: aws.cloudwatch.Dashboard
    dashboard_url: pulumi.Output[str]

    def __init__(self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None):
        if args.log_retention_days not in RETENTION_DAYS:
            raise ValueError(f"ObservabilityArgs.log_retention_days is {args.log_retention_days}; allowed: "
                             + ", ".join(map(str, RETENTION_DAYS)))
        super().__init__("hermes-eks:index:Observability", name, None, opts)
        self._name, self._args = name, args
        tags = dict(args.tags)
        child = pulumi.ResourceOptions(parent=self)

        self.addon = self._addon(tags) if args.install_addon else None

        watched = Watched(
            cluster_name=args.cluster_name, region=args.region, namespace=args.namespace, workload=args.workload,
            cpu_limit=args.cpu_limit, memory_limit=args.memory_limit, storage_size=args.storage_size,
            bedrock_models=args.bedrock_models, bedrock_region=args.bedrock_region,
            volume_metrics=args.volume_metrics,
        )
        more = tuple(dataclasses.replace(watched, namespace=m.namespace, workload=m.workload, cpu_limit=m.cpu_limit,
                                         memory_limit=m.memory_limit, storage_size=m.storage_size, bedrock_models=())
                     for m in args.more_workloads)
        self.alarms = [self._alarm(spec, tags) for spec in alarm_specs(watched, args.dashboard_name)]
        for other in more:
            self.alarms += [self._alarm(spec, tags, f"{name}-{other.workload}")
                            for spec in alarm_specs(other, f"{args.dashboard_name}-{other.workload}")]
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=args.dashboard_name,
            dashboard_body=pulumi.Output.all(*[a.arn for a in self.alarms]).apply(
                lambda arns: json.dumps(dashboard_body(watched, arns, more))
            ),
            opts=child,
        )
        self.dashboard_url = self.dashboard.dashboard_name.apply(lambda n: dashboard_url(args.region, n))
        self.register_outputs({"dashboard_url": self.dashboard_url})

    def _addon(self, tags: dict) -> aws.eks.Addon:
        args, name = self._args, self._name
        log_groups = [
            aws.cloudwatch.LogGroup(
                f"{name}-{kind}",
                name=log_group_name(args.cluster_name, kind),
                retention_in_days=args.log_retention_days,
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for kind in LOG_GROUP_KINDS
        ]
        # On destroy: the add-on, then this (its pods gone), then the log groups. A no-op on create.
        writers_gone = list(log_groups)
        if args.kubeconfig is not None:
            writers_gone = [command.local.Command(
                f"{name}-cloudwatch-agents-gone",
                delete=WAIT_FOR_AGENTS,
                interpreter=["/bin/sh", "-c"],
                environment={
                    "KUBECONFIG_JSON": pulumi.Output.secret(args.kubeconfig),
                    "NAMESPACE": ADDON_NAMESPACE,
                    "TIMEOUT_SECONDS": str(AGENTS_GONE_TIMEOUT_SECONDS),
                },
                opts=pulumi.ResourceOptions(parent=self, depends_on=log_groups,
                                            custom_timeouts=pulumi.CustomTimeouts(delete="10m")),
            )]
        identity = WorkloadRole(
            f"{name}-cloudwatch-agent", cluster=args.cluster, namespace=ADDON_NAMESPACE,
            service_account=ADDON_SERVICE_ACCOUNT, parent=self, create_association=False,
        )
        partition = aws.get_partition_output().partition
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-cloudwatch-agent",
            role=identity.role.name,
            policy_arn=partition.apply(lambda p: AGENT_POLICY_ARN.format(partition=p)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return aws.eks.Addon(
            f"{name}-{ADDON}",
            cluster_name=args.cluster.name,
            addon_name=ADDON,
            addon_version=ADDON_VERSION,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=tags,
            **identity.addon_binding,
            # The log groups first (with retention), and the role's policy before the agent starts;
            # on destroy the add-on goes first, then its pods (writers_gone), then the log groups.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*log_groups, *writers_gone, attachment,
                                                                  *args.addon_depends_on]),
        )

    def _alarm(self, spec: AlarmSpec, tags: dict, prefix: str = "") -> aws.cloudwatch.MetricAlarm:
        prefix = prefix or self._name
        actions = [self._args.alert_topic_arn]
        common = dict(
            name=spec.name, alarm_description=spec.description, comparison_operator=spec.comparison,
            threshold=spec.threshold, evaluation_periods=spec.evaluation_periods,
            datapoints_to_alarm=spec.datapoints_to_alarm, treat_missing_data=spec.treat_missing_data,
            alarm_actions=actions, ok_actions=actions, tags=tags,
        )
        dimensions = spec.dimensions
        opts = pulumi.ResourceOptions(parent=self)
        if not spec.expression:
            return aws.cloudwatch.MetricAlarm(
                f"{prefix}-{spec.key}", namespace=spec.namespace, metric_name=spec.metric, statistic=spec.statistic,
                period=PERIOD, dimensions=dimensions, **common, opts=opts,
            )
        return aws.cloudwatch.MetricAlarm(
            f"{prefix}-{spec.key}",
            metric_queries=[
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="m1", return_data=False,
                    metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                        namespace=spec.namespace, metric_name=spec.metric, stat=spec.statistic,
                        period=PERIOD, dimensions=dimensions,
                    ),
                ),
                aws.cloudwatch.MetricAlarmMetricQueryArgs(id="e1", expression=spec.expression, return_data=True),
            ],
            **common,
            opts=opts,
        )
