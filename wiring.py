"""From validated StackSettings to each component's Args, and from components to stack outputs.

Kept apart from __main__.py so that file reads like the architecture, and apart from the components
so each of them can be built and tested without the settings module.
"""

from __future__ import annotations

import pulumi

from components.bedrock_access import BedrockAccess
from components.hermes_agent import (
    ContainerResources,
    HermesAgent,
    HermesAgentArgs,
    IngressConfig,
    ModelConfig,
    alb_ingress_annotations,
)
from components.hermes_cluster import HermesCluster, HermesClusterArgs
from components.hermes_image import HermesImage, HermesImageArgs
from components.observability import Observability, ObservabilityArgs
from components.operator_commands import command_line
from settings import PROJECT, StackSettings

PLATFORMS = {"x86_64": "linux/amd64", "arm64": "linux/arm64"}
CLOUDWATCH_ADDON = "cloudwatch-observability"  # its name in existingClusterAddons


def _secret(value) -> pulumi.Output[str] | None:
    return pulumi.Output.secret(value.get_secret_value()) if value is not None else None


def cluster_args(s: StackSettings, stack: str) -> HermesClusterArgs:
    return HermesClusterArgs(
        source=s.cluster_source,
        region=s.aws_region,
        kubernetes_version=s.kubernetes_version,
        identity_mode=s.pod_identity_mode,
        volume_reclaim_policy=s.volume_reclaim_policy,
        ssl_policy=s.ingress_ssl_policy,
        tags=(("project", PROJECT), ("stack", stack)),
        cluster_name=f"hermes-{stack}",
        admin_principal_arns=s.cluster_admin_principal_arns,
        vpc_cidr=s.vpc_cidr,
        availability_zone_count=s.availability_zone_count,
        nat_gateways=s.nat_gateways,
        node_architecture=s.node_architecture,
        node_instance_types=s.node_instance_types,
        node_min_size=s.node_min_size,
        node_desired_size=s.node_desired_size,
        node_max_size=s.node_max_size,
        node_disk_size_gib=s.node_disk_size_gib,
        endpoint_public_access=s.endpoint_public_access,
        endpoint_public_access_cidrs=s.endpoint_public_access_cidrs,
        control_plane_log_types=s.control_plane_log_types,
        control_plane_log_retention_days=s.log_retention_days,
        protect=s.protect_infrastructure,
        existing_cluster_name=s.existing_cluster_name,
        # The CloudWatch add-on is the Observability component's (observability_args).
        existing_addons=tuple(a for a in s.existing_cluster_addons if a != CLOUDWATCH_ADDON),
    )


def image_args(s: StackSettings, stack: str) -> HermesImageArgs:
    return HermesImageArgs(
        source=s.image_source,
        upstream_image=s.hermes_image,
        git_repository=s.hermes_git_repository,
        git_commit=s.hermes_git_commit,
        platform=PLATFORMS[s.node_architecture],
        repository_name=f"{PROJECT}/{stack}/hermes-agent",
        force_delete=s.ecr_force_delete,
        max_images=s.ecr_max_images,
        protect=s.protect_infrastructure,
    )


def ingress_config(s: StackSettings) -> IngressConfig | None:
    if not s.ingress_enabled:
        return None
    annotations = {}
    if s.ingress_class_name == "alb":
        annotations = alb_ingress_annotations(
            scheme=s.ingress_scheme, ssl_policy=s.ingress_ssl_policy,
            certificate_arn=s.ingress_certificate_arn, group_name=s.ingress_group_name,
        )
    return IngressConfig(
        class_name=s.ingress_class_name, dashboard_host=s.dashboard_host, api_host=s.api_host,
        annotations={**annotations, **s.ingress_annotations},
    )


def kubeconfig_file(stack: str) -> str:
    """The AWS stacks' own kubeconfig, written by the `write_kubeconfig` output next to Pulumi.yaml:
    opening Hermes never switches the user's current context (the `local` stack deploys to it)."""
    return f"{PROJECT}-{stack}.kubeconfig"


def kubectl_flags(s: StackSettings, stack: str) -> tuple[str, ...]:
    """kubectl's flags that reach this stack's cluster, for the commands the stack exports."""
    if s.uses_aws:
        return ("--kubeconfig", kubeconfig_file(stack))
    if s.kubeconfig_context:
        return ("--context", s.kubeconfig_context)
    return ()


def agent_args(
    s: StackSettings,
    *,
    stack: str,
    image: pulumi.Input[str],
    app_version: str,
    cluster: HermesCluster | None,
    bedrock: BedrockAccess | None,
) -> HermesAgentArgs:
    storage_class = s.storage_class_name or (cluster.storage_class_name if cluster else None)
    return HermesAgentArgs(
        image=image,
        app_version=app_version,
        namespace=s.namespace,
        kubernetes_version=s.kubernetes_version,
        storage_size=s.storage_size,
        storage_class_name=storage_class,
        resources=ContainerResources(s.cpu_request, s.memory_request, s.memory_limit, s.cpu_limit),
        read_only_root_filesystem=s.read_only_root_filesystem,
        model=ModelConfig(
            provider=s.model_provider, default=s.model_default, base_url=s.model_base_url,
            bedrock_region=s.effective_bedrock_region if s.model_provider == "bedrock" else "",
        ),
        provider_api_key=_secret(s.openrouter_api_key or s.custom_model_api_key),
        api_server_key=_secret(s.api_server_key),
        existing_secret_name=s.existing_secret_name,
        dashboard_username=s.dashboard_username,
        dashboard_oidc_issuer=s.dashboard_oidc_issuer,
        dashboard_oidc_client_id=s.dashboard_oidc_client_id,
        service_account_annotations=bedrock.service_account_annotations if bedrock else {},
        ingress=ingress_config(s),
        # The PVC's provider must read its StorageClass (WaitForFirstConsumer) to await it correctly,
        # and the Ingress needs the controller's webhook: both must exist first.
        platform_depends_on=tuple(cluster.addons.ready_for_workloads) if cluster else (),
        # The pod must not start before its role may invoke Bedrock (and, under Pod Identity, is bound).
        workload_depends_on=bedrock.workload_depends_on if bedrock else (),
        kubectl_flags=kubectl_flags(s, stack),
    )


def cluster_name(s: StackSettings, stack: str) -> str:
    return s.existing_cluster_name if s.cluster_source == "existing" else f"hermes-{stack}"


def observability_args(s: StackSettings, stack: str, cluster: HermesCluster, workload: str) -> ObservabilityArgs:
    return ObservabilityArgs(
        cluster=cluster.identity,
        cluster_name=cluster_name(s, stack),
        region=s.aws_region,
        namespace=s.namespace,
        workload=workload,
        dashboard_name=f"hermes-{stack}",
        cpu_limit=s.cpu_limit,
        memory_limit=s.memory_limit,
        storage_size=s.storage_size,
        bedrock_models=s.effective_bedrock_models,
        bedrock_region=s.effective_bedrock_region if s.model_provider == "bedrock" else "",
        # A created cluster gets it; an adopted one only when its stack lists it (it may run it already).
        install_addon=s.cluster_source == "create" or CLOUDWATCH_ADDON in s.existing_cluster_addons,
        log_retention_days=s.log_retention_days,
        alarm_emails=s.alarm_emails,
        tags=(("project", PROJECT), ("stack", stack)),
        # The agent's pods need nodes, and under Pod Identity the agent that hands out credentials.
        addon_depends_on=tuple(cluster.addons.ready),
    )


def stack_outputs(
    s: StackSettings,
    hermes: HermesAgent,
    cluster: HermesCluster | None,
    image: HermesImage | None,
    bedrock: BedrockAccess | None,
    *,
    stack: str,
    observability: Observability | None = None,
) -> dict:
    """Every command among the outputs runs as `$(pulumi stack output <name>)` (operator_commands.py)."""
    outputs = dict(hermes.outputs)
    outputs["image"] = image.image_ref if image else s.hermes_image
    if s.dashboard_host:
        outputs["open_dashboard"] = hermes.outputs["dashboard_url"].apply(
            lambda url: command_line(["python3", "-m", "webbrowser", url])
        )
    else:
        outputs["open_dashboard"] = hermes.outputs["port_forward_commands"].apply(lambda commands: commands[0])
    if cluster is not None:
        outputs["cluster_name"] = cluster.name
        outputs["kubeconfig"] = cluster.kubeconfig
        # Into its own file (`--kubeconfig`): without it the AWS CLI writes ~/.kube/config (or the
        # first file in KUBECONFIG) and switches its current context to this cluster.
        outputs["write_kubeconfig"] = cluster.name.apply(lambda name: command_line([
            "aws", "eks", "update-kubeconfig", "--region", s.aws_region, "--name", name,
            "--kubeconfig", kubeconfig_file(stack),
        ]))
    if bedrock is not None:
        outputs["bedrock_role_arn"] = bedrock.role_arn
    if observability is not None:
        outputs["cloudwatch_dashboard_url"] = observability.dashboard_url
        outputs["alarm_topic_arn"] = observability.alarm_topic.arn
    return outputs
