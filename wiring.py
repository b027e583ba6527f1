"""From validated StackSettings to each component's Args, and from components to stack outputs.

Kept apart from __main__.py so that file reads like the architecture, and apart from the components
so each of them can be built and tested without the settings module.
"""

from __future__ import annotations

import pulumi

from components.bedrock_access import BedrockAccess
from components.cost_guardrails import CostGuardrailsArgs
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
from settings import PROJECT, StackSettings

PLATFORMS = {"x86_64": "linux/amd64", "arm64": "linux/arm64"}


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
        protect=s.protect_infrastructure,
        existing_cluster_name=s.existing_cluster_name,
        existing_addons=s.existing_cluster_addons,
        workload_namespace=s.namespace,
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


def agent_args(
    s: StackSettings,
    *,
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
        # and the Ingress needs the controller's webhook: both must exist first. On `pulumi destroy`
        # the controllers, their credentials and nodes must outlive what they clean up.
        platform_depends_on=tuple(cluster.addons.ready_for_workloads) if cluster else (),
        # The pod must not start before its role may invoke Bedrock (and, under Pod Identity, is bound).
        workload_depends_on=bedrock.workload_depends_on if bedrock else (),
    )


def stack_outputs(
    s: StackSettings,
    hermes: HermesAgent,
    cluster: HermesCluster | None,
    image: HermesImage | None,
    bedrock: BedrockAccess | None,
) -> dict:
    outputs = dict(hermes.outputs)
    outputs["image"] = image.image_ref if image else s.hermes_image
    # The component's own dashboard port-forward, made runnable from wherever `pulumi up` ran.
    port_forward = hermes.outputs["port_forward_commands"].apply(lambda commands: commands[0])
    if s.dashboard_host:
        outputs["open_dashboard"] = hermes.outputs["dashboard_url"].apply(lambda url: f"python3 -m webbrowser {url}")
    elif cluster is not None:
        outputs["open_dashboard"] = pulumi.Output.all(cluster.name, port_forward).apply(
            lambda v: f"aws eks update-kubeconfig --region {s.aws_region} --name {v[0]} && {v[1]}"
        )
    elif s.kubeconfig_context:
        outputs["open_dashboard"] = port_forward.apply(
            lambda command: command.replace("kubectl ", f"kubectl --context {s.kubeconfig_context} ", 1)
        )
    else:
        outputs["open_dashboard"] = port_forward
    if cluster is not None:
        outputs["cluster_name"] = cluster.name
        outputs["kubeconfig"] = cluster.kubeconfig
    if bedrock is not None:
        outputs["bedrock_role_arn"] = bedrock.role_arn
    return outputs


def cost_guardrails_args(s: StackSettings, stack: str, bedrock: BedrockAccess) -> CostGuardrailsArgs:
    return CostGuardrailsArgs(
        budget_name=f"{PROJECT}-{stack}-bedrock",
        region=s.effective_bedrock_region,
        models=s.effective_bedrock_models,
        hermes_role_name=bedrock.role.name,
        hermes_role_arn=bedrock.role_arn,
        monthly_budget_usd=s.bedrock_budget_usd,
        actual_thresholds=s.bedrock_budget_actual_thresholds,
        forecast_thresholds=s.bedrock_budget_forecast_thresholds,
        services=s.bedrock_budget_services,
        emails=s.bedrock_budget_emails,
        deny_invoke_when_exhausted=s.bedrock_budget_deny_invoke,
        tokens_per_hour=s.bedrock_alarm_tokens_per_hour,
        throttles_per_5_minutes=s.bedrock_alarm_throttles,
    )
