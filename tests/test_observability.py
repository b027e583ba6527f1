"""Observability: the CloudWatch add-on, log groups, alarms and dashboard of the AWS stacks.

The dashboard and the alarms are checked against METRICS below, a table of the metrics AWS publishes
(names and the dimension sets each is published with), written from AWS's sources independently of
components/observability.py. A widget or alarm naming a metric, or a dimension set, that is not in the
table, or one this stack cannot produce (another cluster, namespace or workload; a Bedrock model the
stack does not allow; CPU over a limit the stack does not set), fails.
"""

from __future__ import annotations

import json
import re

import pytest

from components.addon_versions import ADDON_VERSION_PATTERN
from components.observability import ADDON, RETENTION_DAYS, Watched, alarm_specs, dashboard_body
from components.workload_identity import irsa_trust_policy, pod_identity_trust_policy
from tests import fake_cloud
from tests.conftest import stack_program
from tests.harness import Program, run_program
from tests.registration_diff import diff_registrations, render_change, summary

# --- what AWS publishes ------------------------------------------------------------------------------

POD_SETS = {
    frozenset({"ClusterName", "Namespace", "PodName"}), frozenset({"ClusterName"}),
    frozenset({"ClusterName", "Namespace", "PodName", "FullPodName"}), frozenset({"ClusterName", "Namespace", "Service"}),
}
POD_USAGE_SETS = POD_SETS | {frozenset({"ClusterName", "Namespace"})}
DEPLOYMENT_SETS = {frozenset({"ClusterName", "Namespace", "PodName"}), frozenset({"ClusterName"})}
BEDROCK_SETS = {frozenset({"ModelId"}), frozenset()}
METRICS: dict[tuple[str, str], set[frozenset[str]]] = {
    # ContainerInsights, enhanced (the add-on's default: helm-charts values.yaml, agent config
    # "enhanced_container_insights": true). aws/amazon-cloudwatch-agent,
    # translator/translate/otel/exporter/awsemf/kubernetes.go (getPodMetricDeclarations,
    # getDeploymentMetricDeclarations), as documented in the CloudWatch user guide's "Enhanced Container
    # Insights (Classic) metric reference" (container-insights-eks-classic-metrics.html).
    **{("ContainerInsights", m): POD_USAGE_SETS for m in (
        "pod_cpu_utilization", "pod_memory_utilization", "pod_network_rx_bytes", "pod_network_tx_bytes",
        "pod_cpu_utilization_over_pod_limit", "pod_memory_utilization_over_pod_limit")},
    **{("ContainerInsights", m): POD_SETS for m in (
        "pod_cpu_reserved_capacity", "pod_memory_reserved_capacity", "pod_number_of_container_restarts",
        "pod_number_of_containers", "pod_number_of_running_containers", "pod_status_ready", "pod_status_running",
        "pod_status_pending", "pod_status_failed", "pod_memory_limit", "pod_cpu_limit", "pod_cpu_request",
        "pod_memory_request", "pod_container_status_waiting_reason_crash_loop_back_off",
        "pod_container_status_terminated_reason_oom_killed")},
    **{("ContainerInsights", m): DEPLOYMENT_SETS for m in (
        "replicas_desired", "replicas_ready", "status_replicas_available", "status_replicas_unavailable")},
    # AWS/Bedrock runtime metrics, dimension ModelId (the model or inference profile id invoked):
    # docs.aws.amazon.com/bedrock/latest/userguide/monitoring-runtime-metrics.html.
    **{("AWS/Bedrock", m): BEDROCK_SETS for m in (
        "Invocations", "InvocationLatency", "InvocationClientErrors", "InvocationServerErrors",
        "InvocationThrottles", "InputTokenCount", "OutputTokenCount")},
    # Not AWS's: the Hermes pod's volume-metrics sidecar publishes these (components/volume_metrics.py),
    # and only when the rendered pod runs it with exactly this namespace and these dimensions
    # (sidecar_publishes below reads them from the rendered Deployment).
    **{("HermesEKS", m): {frozenset({"ClusterName", "Namespace", "PodName"})} for m in (
        "VolumeUsedPercent", "VolumeUsedBytes")},
}

DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ADDON_TYPE = "aws:eks/addon:Addon"
ROLE = "aws:iam/role:Role"


def body(program: Program) -> dict:
    return json.loads(program.one(DASHBOARD).plain["dashboardBody"])


def metric_lines(dashboard: dict) -> list[tuple[dict, list]]:
    """(widget properties, metric array) for every metric of every metric widget."""
    return [(w["properties"], line) for w in dashboard["widgets"] if w["type"] == "metric"
            for line in w["properties"]["metrics"]]


def dimensions_of(line: list) -> dict[str, str]:
    pairs = [item for item in line[2:] if not isinstance(item, dict)]
    assert len(pairs) % 2 == 0, line
    return dict(zip(pairs[::2], pairs[1::2], strict=True))


def producible(program: Program, namespace: str, metric: str, dimensions: dict[str, str]) -> list[str]:
    """Why this stack cannot produce the metric (empty: it can)."""
    problems = []
    allowed = METRICS.get((namespace, metric))
    if allowed is None:
        return [f"{namespace} {metric} is not a metric AWS publishes (METRICS)"]
    if frozenset(dimensions) not in allowed:
        problems.append(f"{namespace} {metric} is not published with dimensions {sorted(dimensions)}")
    cluster = program.outputs["cluster_name"]
    expected = {"ClusterName": cluster, "Namespace": program.outputs["namespace"], "PodName": "hermes"}
    for key, value in dimensions.items():
        if key in expected and value != expected[key]:
            problems.append(f"{metric}: {key}={value}, but this stack's is {expected[key]}")
    if namespace == "AWS/Bedrock" and dimensions.get("ModelId") not in invocable_models(program):
        problems.append(f"{metric}: ModelId {dimensions.get('ModelId')} is not a model this stack may invoke")
    if namespace == "HermesEKS":
        problems += sidecar_publishes(program, namespace, metric, dimensions)
    if metric == "pod_cpu_utilization_over_pod_limit":
        deployment = program.one("kubernetes:apps/v1:Deployment").plain
        if "cpu" not in deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]:
            problems.append("pod_cpu_utilization_over_pod_limit needs a CPU limit, and the Hermes container has none")
    return problems


def sidecar_publishes(program: Program, namespace: str, metric: str, dimensions: dict[str, str]) -> list[str]:
    """Why the rendered pod's volume-metrics sidecar does not send this metric with these dimensions."""
    pod = program.one("kubernetes:apps/v1:Deployment").plain["spec"]["template"]["spec"]
    sidecar = next((c for c in pod["containers"] if c["name"] == "volume-metrics"), None)
    if sidecar is None:
        return [f"{namespace} {metric}: the Hermes pod runs no volume-metrics sidecar"]
    env = {e["name"]: e.get("value") for e in sidecar["env"]}
    problems = []
    if env["METRIC_NAMESPACE"] != namespace or metric not in (env["USED_PERCENT"], env["USED_BYTES"]):
        problems.append(f"the sidecar sends {env['METRIC_NAMESPACE']} {env['USED_PERCENT']}/{env['USED_BYTES']}, "
                        f"not {namespace} {metric}")
    if json.loads(env["METRIC_DIMENSIONS"]) != dimensions:
        problems.append(f"{metric}: the sidecar sends dimensions {env['METRIC_DIMENSIONS']}, not {dimensions}")
    return problems


def invocable_models(program: Program) -> set[str]:
    """The model and profile ids the Hermes role's invoke policy names (components/bedrock_access.py)."""
    models = set()
    for policy in program.of_type("aws:iam/rolePolicy:RolePolicy"):
        for statement in json.loads(policy.plain["policy"])["Statement"]:
            if "bedrock:InvokeModel" in statement["Action"]:
                models |= {arn.split("/", 1)[1] for arn in statement["Resource"] if "/" in arn}
    return models


def test_positive_control_what_this_stack_cannot_produce_is_reported():
    program = stack_program("dev")
    pod = {"ClusterName": "hermes-dev", "Namespace": "hermes", "PodName": "hermes"}
    assert producible(program, "ContainerInsights", "pod_status_ready", pod) == []
    assert producible(program, "ContainerInsights", "pod_restarts", pod)
    assert producible(program, "ContainerInsights", "pod_status_ready", {**pod, "ContainerName": "hermes"})
    assert producible(program, "ContainerInsights", "pod_status_ready", {**pod, "ClusterName": "hermes-prod"})
    assert producible(program, "ContainerInsights", "pod_cpu_utilization_over_pod_limit", pod)
    assert producible(program, "AWS/Bedrock", "Invocations", {"ModelId": "eu.anthropic.claude-opus-4-1"})
    assert producible(program, "AWS/Bedrock", "Invocations", {"ModelId": "eu.anthropic.claude-sonnet-4-6"}) == []
    assert producible(program, "HermesEKS", "VolumeUsedPercent", pod) == []
    assert producible(program, "HermesEKS", "VolumeUsedPercent", {**pod, "PodName": "hermes-5d8f7c-x2x9z"})
    assert producible(program, "HermesEKS", "VolumeUsedPercent", {"ClusterName": "hermes-dev", "PodName": "hermes"})
    assert producible(program, "HermesEKS", "VolumeFreeBytes", pod)
    assert producible(run_program("dev", {"observability": False}), "HermesEKS", "VolumeUsedPercent", pod)


# --- config --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("config", "stack", "message"), [
    ({"logRetentionDays": "10"}, "dev", "hermes-eks:logRetentionDays in Pulumi.dev.yaml is \"10\"; allowed: one of CloudWatch Logs' retention periods"),
    ({"logRetentionDays": "0"}, "dev", "allowed: one of CloudWatch Logs' retention periods: 1, 3, 5"),
    ({"alertEmails": ["oncall"]}, "dev", "hermes-eks:alertEmails in Pulumi.dev.yaml is [\"oncall\"]; allowed: an e-mail address such as oncall@example.com"),
    ({"alertEmails": ["oncall@corp-internal.net"]}, "local", "hermes-eks:alertEmails in Pulumi.local.yaml is [\"oncall@corp-internal.net\"]; allowed: an empty list when clusterSource is 'kubeconfig'"),
    ({"alertEmails": ["oncall@example.com"]}, "dev", "allowed: a host name of your own: example.com is reserved"),
    ({"existingClusterAddons": ["cloudwatch-observability"]}, "dev", "hermes-eks:existingClusterAddons in Pulumi.dev.yaml is [\"cloudwatch-observability\"]; allowed: an empty list unless clusterSource is 'existing'"),
])
def test_every_observability_key_is_validated_before_anything_is_registered(config, stack, message):
    program = run_program(stack, config, raise_errors=False)
    assert program.error is not None and program.resources == []
    assert message in str(program.error), str(program.error)


# --- the dashboard -------------------------------------------------------------------------------

VARIANTS = {
    "dev": ("dev", {}),
    "prod": ("prod", {}),
    "dev with a CPU limit": ("dev", {"cpuLimit": "2"}),
    "dev without a model provider": ("dev", {"modelProvider": "none", "modelDefault": "", "bedrockModels": [],
                                             "bedrockBudgetDenyInvoke": False}),
    "dev on OpenRouter": ("dev", {"modelProvider": "openrouter", "modelDefault": "anthropic/claude-sonnet-4.5",
                                  "bedrockModels": [], "bedrockBudgetDenyInvoke": False}),
}
SECRETS = {"dev on OpenRouter": {"openrouterApiKey": "sk-or-test"}}


def variant(name: str) -> Program:
    stack, config = VARIANTS[name]
    return stack_program(stack) if not config else run_program(stack, config, secrets=SECRETS.get(name))


@pytest.mark.parametrize("name", VARIANTS)
def test_every_dashboard_metric_exists_and_this_stack_can_produce_it(name):
    program = variant(name)
    problems = []
    for properties, line in metric_lines(body(program)):
        problems += producible(program, line[0], line[1], dimensions_of(line))
    assert problems == []


@pytest.mark.parametrize("name", VARIANTS)
def test_the_dashboard_shows_health_restarts_memory_cpu_volume_and_logs(name):
    dashboard = body(variant(name))
    shown = {line[1] for _, line in metric_lines(dashboard)}
    assert {"pod_status_ready", "pod_number_of_container_restarts", "pod_memory_utilization_over_pod_limit"} <= shown
    assert shown & {"pod_cpu_utilization_over_pod_limit", "pod_cpu_utilization"}
    titles = " ".join(w["properties"].get("title", "") for w in dashboard["widgets"])
    assert "Volume /opt/data" in titles and "log lines" in titles
    assert any(w["type"] == "alarm" for w in dashboard["widgets"])


def test_bedrock_widgets_cover_every_allowed_model_and_only_bedrock_stacks_have_them():
    program = stack_program("dev")
    lines = [(p, line) for p, line in metric_lines(body(program)) if line[0] == "AWS/Bedrock"]
    models = {dimensions_of(line)["ModelId"] for _, line in lines}
    assert models == {"eu.anthropic.claude-sonnet-4-6", "eu.anthropic.claude-haiku-4-5-20251001-v1:0"}
    assert {line[1] for _, line in lines} == {
        "Invocations", "InputTokenCount", "OutputTokenCount", "InvocationLatency", "InvocationThrottles",
        "InvocationClientErrors", "InvocationServerErrors"}
    # Bedrock publishes in the region it is called in (bedrockRegion, else aws:region).
    assert {p["region"] for p, _ in lines} == {"eu-central-1"}
    for name in ("dev without a model provider", "dev on OpenRouter"):
        assert not [line for _, line in metric_lines(body(variant(name))) if line[0] == "AWS/Bedrock"]


def test_bedrock_widgets_follow_a_bedrock_region_other_than_the_stacks():
    dashboard = dashboard_body(Watched("c", "eu-central-1", "hermes", "hermes",
                                       bedrock_models=("us.amazon.nova-pro-v1:0",), bedrock_region="us-east-1"))
    regions = {w["properties"]["region"] for w in dashboard["widgets"]
               if w["type"] == "metric" and w["properties"]["metrics"][0][0] == "AWS/Bedrock"}
    assert regions == {"us-east-1"}


def test_cpu_against_its_limit_only_when_the_container_has_one():
    assert "pod_cpu_utilization_over_pod_limit" not in {l[1] for _, l in metric_lines(body(variant("dev")))}
    assert "pod_cpu_utilization_over_pod_limit" in {l[1] for _, l in metric_lines(body(variant("dev with a CPU limit")))}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_widgets_fit_the_24_column_grid_without_overlapping(stack):
    widgets = body(stack_program(stack))["widgets"]
    cells = set()
    for w in widgets:
        assert w["type"] in {"metric", "text", "log", "alarm"}
        assert 1 <= w["width"] and w["x"] + w["width"] <= 24 and w["height"] >= 1
        mine = {(x, y) for x in range(w["x"], w["x"] + w["width"]) for y in range(w["y"], w["y"] + w["height"])}
        assert not cells & mine, w["properties"].get("title")
        cells |= mine


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_log_widgets_query_this_clusters_application_logs_in_this_namespace(stack):
    program = stack_program(stack)
    queries = [w["properties"]["query"] for w in body(program)["widgets"] if w["type"] == "log"]
    assert queries
    for query in queries:
        assert query.startswith(f"SOURCE '/aws/containerinsights/hermes-{stack}/application' |")
        assert "filter kubernetes.namespace_name = 'hermes'" in query


def test_the_dashboard_is_named_for_the_stack_and_its_url_is_an_output():
    program = stack_program("dev")
    assert program.one(DASHBOARD).plain["dashboardName"] == "hermes-dev"
    assert program.outputs["cloudwatch_dashboard_url"] == (
        "https://eu-central-1.console.aws.amazon.com/cloudwatch/home?region=eu-central-1#dashboards/dashboard/hermes-dev")


# --- alarms ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_alarm_watches_a_metric_this_stack_produces_and_notifies_the_topic(stack):
    """Every alarm of the stack (the pod's and the Bedrock guardrails') is producible and notifies the one topic."""
    program = stack_program(stack)
    alarms = program.of_type(ALARM)
    assert {f"hermes-{stack}-pod-not-ready", f"hermes-{stack}-pod-restarted", f"hermes-{stack}-volume-full"} <= {
        a.plain["name"] for a in alarms}
    topic = program.outputs["alert_topic_arn"]
    for alarm in alarms:
        spec = alarm.plain
        assert spec["name"].startswith(f"hermes-{stack}-")
        assert spec["alarmActions"] == [topic] and spec["okActions"] == [topic]
        metrics = [spec] if "metricName" in spec else [q["metric"] for q in spec["metricQueries"] if "metric" in q]
        for metric in metrics:
            assert producible(program, metric["namespace"], metric["metricName"], metric["dimensions"]) == []


def test_the_not_ready_alarm_fires_on_a_missing_pod_and_the_restart_alarm_on_new_restarts_only():
    specs = {s.key: s for s in alarm_specs(Watched("c", "r", "hermes", "hermes"), "p")}
    assert specs["pod-not-ready"].treat_missing_data == "breaching"
    assert (specs["pod-not-ready"].metric, specs["pod-not-ready"].comparison) == ("pod_status_ready", "LessThanThreshold")
    restarted = specs["pod-restarted"]
    assert restarted.expression == "DIFF(m1)" and restarted.comparison == "GreaterThanThreshold" and restarted.threshold == 0


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_volume_full_alarm_fires_above_85_percent_of_what_the_sidecar_sends(stack):
    program = stack_program(stack)
    alarm = next(a.plain for a in program.of_type(ALARM) if a.plain["name"] == f"hermes-{stack}-volume-full")
    assert (alarm["namespace"], alarm["metricName"], alarm["statistic"]) == ("HermesEKS", "VolumeUsedPercent", "Maximum")
    assert (alarm["comparisonOperator"], alarm["threshold"]) == ("GreaterThanThreshold", 85)
    # A sidecar that stopped publishing is "insufficient data", never a false OK.
    assert alarm["treatMissingData"] == "missing"
    assert sidecar_publishes(program, alarm["namespace"], alarm["metricName"], alarm["dimensions"]) == []


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_dashboard_charts_the_volume_fill_level_against_the_alarm_and_full(stack):
    program = stack_program(stack)
    [(properties, line)] = [(p, l) for p, l in metric_lines(body(program)) if l[1] == "VolumeUsedPercent"]
    assert line[0] == "HermesEKS" and sidecar_publishes(program, line[0], line[1], dimensions_of(line)) == []
    assert {a["value"] for a in properties["annotations"]["horizontal"]} == {85, 100}
    assert properties["yAxis"]["left"]["max"] == 100
    assert "no metric" not in json.dumps(body(program))


def test_alert_emails_are_subscribed_to_the_one_alert_topic():
    program = run_program("dev", {"alertEmails": ["a@corp-internal.net", "b@corp-internal.org"]})
    subscriptions = program.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert sorted((s.plain["protocol"], s.plain["endpoint"]) for s in subscriptions) == [
        ("email", "a@corp-internal.net"), ("email", "b@corp-internal.org")]
    assert len(program.of_type("aws:sns/topic:Topic")) == 1  # budgets and alarms share it
    assert not stack_program("dev").of_type("aws:sns/topicSubscription:TopicSubscription")


def test_removing_one_alert_address_leaves_the_other_subscriptions_alone():
    before, after = render_change("dev", {"alertEmails": ["b@corp-internal.org"]},
                                  base={"alertEmails": ["a@corp-internal.net", "b@corp-internal.org"]})
    assert summary(diff_registrations(before, after)) == [
        "delete aws:sns/topicSubscription:TopicSubscription hermes-alerts-a@corp-internal.net"]


# --- the add-on, its identity and its log groups -----------------------------------------------------

def addon(program: Program):
    return next(r for r in program.of_type(ADDON_TYPE) if r.plain["addonName"] == ADDON)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_add_on_is_pinned_and_never_resolved_at_run_time(stack):
    program = stack_program(stack)
    # A concrete eksbuild release (never "latest" or empty, which EKS would resolve itself).
    assert re.fullmatch(ADDON_VERSION_PATTERN, addon(program).plain["addonVersion"])
    assert addon(program).plain["addonVersion"] == "v4.10.3-eksbuild.1"
    assert not [args for token, args in program.invokes
                if token == "aws:eks/getAddonVersion:getAddonVersion" and args["addonName"] == ADDON]


def role_for(program: Program, name: str):
    return program.one(ROLE, name)


def test_dev_binds_the_agent_by_irsa_to_exactly_its_service_account():
    program = stack_program("dev")
    role = role_for(program, "hermes-cloudwatch-agent")
    assert json.loads(role.plain["assumeRolePolicy"]) == irsa_trust_policy(
        f"arn:aws:iam::{fake_cloud.ACCOUNT}:oidc-provider/{fake_cloud.OIDC_ISSUER}", fake_cloud.OIDC_ISSUER,
        "amazon-cloudwatch", "cloudwatch-agent")
    assert addon(program).plain["serviceAccountRoleArn"] == role.outputs["arn"]


def test_prod_binds_the_agent_by_pod_identity_through_the_add_on():
    program = stack_program("prod")
    role = role_for(program, "hermes-cloudwatch-agent")
    assert json.loads(role.plain["assumeRolePolicy"]) == {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            # The add-on's agent and Fluent Bit run as amazon-cloudwatch/cloudwatch-agent
            # (aws-observability/helm-charts, templates/_helpers.tpl cloudwatch-agent.serviceAccountName).
            "Condition": {"StringEquals": {
                "aws:RequestTag/eks-cluster-arn": f"arn:aws:eks:eu-central-1:{fake_cloud.ACCOUNT}:cluster/hermes-prod",
                "aws:RequestTag/kubernetes-namespace": "amazon-cloudwatch",
                "aws:RequestTag/kubernetes-service-account": "cloudwatch-agent",
            }},
        }],
    }
    assert addon(program).plain["podIdentityAssociations"] == [
        {"roleArn": role.outputs["arn"], "serviceAccount": "cloudwatch-agent"}]
    pod_identity_agent = next(r for r in program.of_type(ADDON_TYPE) if r.plain["addonName"] == "eks-pod-identity-agent")
    assert pod_identity_agent.urn in addon(program).dependencies


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_agent_role_holds_only_awss_managed_agent_policy(stack):
    program = stack_program(stack)
    role = role_for(program, "hermes-cloudwatch-agent")
    attached = [a.plain["policyArn"] for a in program.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                if a.plain["role"] == role.outputs["name"]]
    assert attached == ["arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"]
    assert not [p for p in program.of_type("aws:iam/rolePolicy:RolePolicy") if p.plain["role"] == role.outputs["name"]]


@pytest.mark.parametrize(("stack", "days"), [("dev", 14), ("prod", 90)])
def test_the_add_ons_log_groups_exist_first_with_the_configured_retention(stack, days):
    program = stack_program(stack)
    groups = {g.plain["name"]: g for g in program.of_type(LOG_GROUP) if "containerinsights" in g.plain["name"]}
    assert set(groups) == {f"/aws/containerinsights/hermes-{stack}/{kind}"
                           for kind in ("application", "dataplane", "host", "performance")}
    assert {g.plain["retentionInDays"] for g in groups.values()} == {days}
    assert {g.urn for g in groups.values()} <= set(addon(program).dependencies)


def test_an_adopted_cluster_gets_the_add_on_only_when_its_stack_lists_it():
    adopted = {"clusterSource": "existing", "existingClusterName": "platform"}
    listed = run_program("dev", {**adopted, "existingClusterAddons": ["cloudwatch-observability"]})
    assert addon(listed).plain["clusterName"] == "platform"
    assert {g.plain["name"] for g in listed.of_type(LOG_GROUP)} == {
        f"/aws/containerinsights/platform/{kind}" for kind in ("application", "dataplane", "host", "performance")}

    program = run_program("dev", adopted)
    assert not [r for r in program.of_type(ADDON_TYPE) if r.plain["addonName"] == ADDON]
    assert not program.of_type(LOG_GROUP)
    assert program.of_type(DASHBOARD) and len([a for a in program.of_type(ALARM) if "-pod-" in a.plain["name"]]) == 2
    assert {a.plain["name"] for a in program.of_type(ALARM) if "-pod-" in a.plain["name"]} == {
        "hermes-dev-pod-not-ready", "hermes-dev-pod-restarted"}
    dims = {dimensions_of(line).get("ClusterName") for _, line in metric_lines(body(program))} - {None}
    assert dims == {"platform"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_add_on_goes_before_its_role_policy_on_destroy_and_every_child_is_the_components(stack):
    program = stack_program(stack)
    [component] = program.of_type("hermes-eks:index:Observability")
    attachment = next(a for a in program.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                      if a.name == "hermes-cloudwatch-agent")
    # The engine deletes in reverse dependency order: the add-on (its agent still shipping) first.
    assert attachment.urn in addon(program).dependencies
    children = [r for r in program.resources if r.parent == component.urn]
    assert {r.type for r in children} >= {ADDON_TYPE, LOG_GROUP, ALARM, DASHBOARD, ROLE}
    assert all(r.name.startswith("hermes-") for r in children)


# --- the control plane's log group ---------------------------------------------------------------------

def test_prod_creates_the_control_plane_log_group_with_retention_before_the_cluster():
    program = stack_program("prod")
    group = next(g for g in program.of_type(LOG_GROUP) if g.plain["name"] == "/aws/eks/hermes-prod/cluster")
    assert group.plain["retentionInDays"] == 90
    assert group.urn in program.one("eks:index:Cluster").dependencies
    assert group.protect  # prod's audit logs go with the protected cluster, not with an ordinary update


def test_without_control_plane_logs_no_control_plane_log_group_is_made():
    assert not [g for g in stack_program("dev").of_type(LOG_GROUP) if g.plain["name"].startswith("/aws/eks/")]


# --- what stays as it was -----------------------------------------------------------------------------

def test_the_local_stack_is_unaffected():
    program = stack_program("local")
    assert not [r for r in program.resources if r.type.startswith("aws:") or "Observability" in r.type]
    assert "cloudwatch_dashboard_url" not in program.outputs


def test_observability_off_leaves_the_cluster_without_add_on_alarms_or_dashboard():
    program = run_program("prod", {"observability": False})
    assert not program.of_type(DASHBOARD) and not program.of_type("hermes-eks:index:Observability")
    assert not [a for a in program.of_type(ALARM) if "-pod-" in a.plain["name"] or "-volume-" in a.plain["name"]]
    assert not [r for r in program.of_type(ADDON_TYPE) if r.plain["addonName"] == ADDON]
    # The control plane's own log group still gets its retention.
    assert [g for g in program.of_type(LOG_GROUP) if g.plain["name"] == "/aws/eks/hermes-prod/cluster"]


def test_retention_days_are_cloudwatchs_own_list():
    # pulumi_aws cloudwatch/log_group.py, retention_in_days: "Possible values are: 1, 3, ... 3653, and 0"
    # (0: never expire, which this stack does not offer).
    assert RETENTION_DAYS == (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                              2557, 2922, 3288, 3653)


# --- teardown: Fluent Bit must not outlive its log groups ---------------------------------------------

def test_destroy_deletes_the_add_on_then_waits_for_its_pods_then_deletes_its_log_groups():
    """Fluent Bit creates a missing log group itself (auto_create_group), and EKS reports the add-on
    deleted while its pods may still flush for up to 10 s."""
    from tests.delete_order import forced_before  # noqa: PLC0415 - the engine's delete rule, ported

    program = stack_program("prod")
    addon = next(r for r in program.of_type(ADDON_TYPE) if r.plain["addonName"] == ADDON)
    wait = program.one("command:local:Command", "hermes-cloudwatch-agents-gone")
    assert "create" not in wait.plain  # nothing runs on `pulumi up`
    assert ('kubectl --kubeconfig "$config" -n "$NAMESPACE" wait --for=delete pod --all --timeout="${TIMEOUT_SECONDS}s"'
            in wait.plain["delete"])
    assert {k: v for k, v in wait.plain["environment"].items() if k != "KUBECONFIG_JSON"} == {
        "NAMESPACE": "amazon-cloudwatch", "TIMEOUT_SECONDS": "300"}
    assert forced_before(program.resources, addon, wait)
    groups = [g for g in program.of_type(LOG_GROUP) if g.plain["name"].startswith("/aws/containerinsights/")]
    assert len(groups) == 4
    assert all(forced_before(program.resources, wait, group) for group in groups)


ADOPTED_WITH_CLOUDWATCH = {"clusterSource": "existing", "existingClusterName": "platform",
                           "existingClusterAddons": ["ebs-csi-driver", "gp3-storage-class", "cloudwatch-observability"]}
TEARDOWN_VARIANTS = {"dev": ("dev", {}), "prod": ("prod", {}), "adopted": ("dev", ADOPTED_WITH_CLOUDWATCH)}


def containerinsights_groups(account: fake_cloud.FakeAccount) -> list[str]:
    return [n for _, n in account.kept(LOG_GROUP) if n.startswith("/aws/containerinsights/")]


@pytest.mark.parametrize("variant", sorted(TEARDOWN_VARIANTS))
def test_a_teardown_leaves_no_log_group_behind_for_the_next_up_to_meet(variant, monkeypatch):
    """On an adopted cluster the nodes outlive the stack, so only the wait stops Fluent Bit in time."""
    name, config = TEARDOWN_VARIANTS[variant]
    account = fake_cloud.FakeAccount()
    first = run_program(name, config)
    account.up(first)
    account.destroy(first)
    assert containerinsights_groups(account) == []
    monkeypatch.setattr(fake_cloud, "DEPLOYMENT", 1)
    account.up(run_program(name, config))  # no ResourceAlreadyExistsException


def test_the_fake_fluent_bit_recreates_a_group_deleted_while_it_still_runs():
    """The fake account's model, checked on the adopted stack without the wait."""
    program = run_program("dev", ADOPTED_WITH_CLOUDWATCH)
    without_wait = Program(program.stack, [r for r in program.resources if r.name != "hermes-cloudwatch-agents-gone"],
                           program.outputs, program.invokes)
    account = fake_cloud.FakeAccount()
    account.up(without_wait)
    account.destroy(without_wait)
    assert len(containerinsights_groups(account)) == 4
