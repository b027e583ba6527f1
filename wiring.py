"""From validated StackSettings to each component's Args, and from components to stack outputs.

Kept apart from __main__.py so that file reads like the architecture, and apart from the components
so each of them can be built and tested without the settings module.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

import pulumi

from components.alert_topic import AlertTopic, AlertTopicArgs
from components.bedrock_access import BedrockAccess
from components.cost_guardrails import CostGuardrails, CostGuardrailsArgs
from components.hermes_agent import (
    ContainerResources,
    RestoredClaim,
    HermesAgent,
    HermesAgentArgs,
    IngressConfig,
    ModelConfig,
    alb_ingress_annotations,
)
from components.hermes_cluster import (
    UNKNOWN_CREATOR,
    CreatorListedError,
    HermesCluster,
    HermesClusterArgs,
    cluster_creator,
    refuse_listed_creator,
)
from components.hermes_image import HermesImage, HermesImageArgs
from components.egress_policy import POD_IDENTITY_AGENT, POD_IDENTITY_AGENT_PORT, EgressPort
from components.messaging import MessagingWorkload, WebhookIngress, egress_ports, plain_env, secret_env_names
from components.restored_volume import RestoredVolume, RestoredVolumeArgs
from components.volume_backups import VolumeBackups, VolumeBackupsArgs, volume_tags
from components.observability import Observability, ObservabilityArgs, WatchedWorkload
from components.volume_metrics import VolumeMetrics
from components.operator_commands import command_line
from settings import DEFAULT_INSTANCE, PROJECT, ConfigError, StackSettings, config_key

PLATFORMS = {"x86_64": "linux/amd64", "arm64": "linux/arm64"}
CLOUDWATCH_ADDON = "cloudwatch-observability"  # its name in existingClusterAddons


@dataclass(frozen=True)
class Instance:
    """One Hermes instance as registered: its workload and, on a bedrock instance, its pod's role."""
    hermes: HermesAgent
    bedrock: BedrockAccess | None


def _secret(value) -> pulumi.Output[str] | None:
    return pulumi.Output.secret(value.get_secret_value()) if value is not None else None


def cluster_args(s: StackSettings, stack: str) -> HermesClusterArgs:
    """The cluster's Args. For a cluster still to be created, asks AWS who is creating it and refuses
    (before anything is registered, so `pulumi preview` already says so) a creator that
    clusterAdminPrincipalArns or clusterViewerPrincipalArns lists: its access entry would fail with 409 once
    the cluster exists."""
    name = cluster_name(s, stack)
    creator = cluster_creator(name) if s.cluster_source == "create" else ""
    for attribute in ("cluster_admin_principal_arns", "cluster_viewer_principal_arns"):
        try:
            refuse_listed_creator(creator, getattr(s, attribute), name)
        except CreatorListedError as error:
            key = config_key(attribute)
            raise ConfigError(stack, [
                f"{key} in Pulumi.{stack}.yaml lists {error.listed}, which is the principal running this first "
                f"`pulumi up` ({error.creator}); allowed: every principal that runs Pulumi or kubectl EXCEPT the "
                "cluster's creator, whom EKS already makes admin (a second access entry fails with 409 "
                "ResourceInUseException after the cluster exists). Remove it, or create the cluster as another principal"
            ]) from None
    return HermesClusterArgs(
        source=s.cluster_source,
        region=s.aws_region,
        kubernetes_version=s.kubernetes_version,
        identity_mode=s.pod_identity_mode,
        volume_reclaim_policy=s.volume_reclaim_policy,
        ssl_policy=s.ingress_ssl_policy,
        tags=(("project", PROJECT), ("stack", stack)),
        volume_tags=tuple(volume_tags(backup_vault_name(stack)).items()),
        cluster_name=name,
        admin_principal_arns=s.cluster_admin_principal_arns,
        viewer_principal_arns=s.cluster_viewer_principal_arns,
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
        node_zone_count=s.node_zone_count,
        creator=creator or UNKNOWN_CREATOR,
        addon_versions=tuple(sorted(s.addon_versions.items())),
        # `pulumi destroy` waits for the volumes of every instance's namespace (wait_for_released_volumes.sh).
        workload_namespace=s.agents[0].settings.namespace,
        more_workload_namespaces=tuple(agent.settings.namespace for agent in s.agents[1:]),
    )


def backup_vault_name(stack: str) -> str:
    """Names the stack's backup vault and plan, and tags the volumes they back up."""
    return f"{PROJECT}-{stack}"


def backup_args(s: StackSettings, stack: str) -> VolumeBackupsArgs:
    return VolumeBackupsArgs(
        vault_name=backup_vault_name(stack),
        schedule=s.backup_schedule,
        retention_days=s.backup_retention_days,
        copy_region=s.backup_copy_region,
        # Recovery points are what is left when everything else is gone: prod keeps them. Not tied to
        # protectInfrastructure, which the teardown steps switch off first (README "Tear down").
        keep_on_destroy=s.backup_retain_on_destroy,
        # While the stack lives the vaults and keys are protected like the volume (policy pack rules
        # stateful-resources-protected, backup-vault-keys-protected).
        protect=s.protect_infrastructure,
        tags=(("project", PROJECT), ("stack", stack)),
    )


def restore_args(s: StackSettings, stack: str) -> RestoredVolumeArgs:
    return RestoredVolumeArgs(
        snapshot=s.restore_from_snapshot,
        storage_size=s.storage_size,
        availability_zone=s.restore_availability_zone,
        # Tagged like the volumes the gp3 class makes, so the backup plan keeps backing Hermes up.
        tags=(("project", PROJECT), ("stack", stack), *volume_tags(backup_vault_name(stack)).items()),
    )


def alert_args(s: StackSettings, stack: str) -> AlertTopicArgs:
    return AlertTopicArgs(emails=s.alert_emails, tags=(("project", PROJECT), ("stack", stack)))


def guardrail_args(s: StackSettings, stack: str, alerts: AlertTopic, instances: dict[str, Instance]) -> CostGuardrailsArgs:
    """The stack's one Bedrock budget over every bedrock instance: AWS Budgets filters cost by service,
    account, Region, usage type and cost allocation tag, not by the IAM role that made the call (README
    "Add an agent")."""
    deny = s.bedrock_budget_deny_invoke
    roles = [(name, instance.bedrock) for name, instance in instances.items() if instance.bedrock is not None]
    (_, bedrock), others = roles[0], roles[1:]
    return CostGuardrailsArgs(
        budget_name=f"{PROJECT}-{stack}-bedrock",
        monthly_limit_usd=s.bedrock_monthly_budget_usd,
        actual_thresholds=s.bedrock_budget_thresholds,
        alert_topic_arn=alerts.arn,
        models=s.all_bedrock_models,
        hourly_token_limit=s.bedrock_hourly_token_alarm,
        alarm_prefix=f"hermes-{stack}",
        services=s.bedrock_budget_services,
        all_marketplace=s.bedrock_budget_all_marketplace,
        alarm_region=s.effective_bedrock_region if s.effective_bedrock_region != s.aws_region else "",
        alert_emails=s.alert_emails,
        hermes_role_name=bedrock.role.name if deny else None,
        hermes_role_arn=bedrock.role_arn if deny else None,
        other_roles=tuple((name, role.role.name, role.role_arn) for name, role in others) if deny else (),
        tags=(("project", PROJECT), ("stack", stack)),
    )


# An in-cluster ingress controller on a `kubeconfig` cluster connects from a pod address, and kind,
# minikube and Docker Desktop give pods private (RFC 1918) addresses: admit those, not the internet.
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


def webhook_source_cidrs(s: StackSettings, cluster: HermesCluster | None) -> pulumi.Input[list[str]]:
    """Where the webhook Ingress's internet-facing load balancer connects to the pod from."""
    if not s.messaging_config.webhooks:
        return []
    if cluster is None:
        return list(PRIVATE_RANGES)
    return cluster.load_balancer_source_cidrs("internet-facing")


def allowed_source_cidrs(s: StackSettings, cluster: HermesCluster | None) -> pulumi.Input[list[str]]:
    """Who may reach the Hermes ports and whose X-Forwarded-* Hermes trusts: ingressSourceCidrs when
    set; else, with an Ingress, where its load balancer connects from; else nobody (a port-forward
    enters through the pod's own loopback, which no NetworkPolicy filters)."""
    if s.ingress_source_cidrs:
        return list(s.ingress_source_cidrs)
    if not s.ingress_enabled:
        return []
    if cluster is None:
        return list(PRIVATE_RANGES)
    return cluster.load_balancer_source_cidrs(s.ingress_scheme)


def messaging_workload(s: StackSettings, key: str) -> MessagingWorkload:
    """The configured messaging platforms as the pod's env, Secret keys and webhook Ingress (issue 15);
    `key`: the config key they are set under (the instance's own or the top-level one)."""
    m = s.messaging_config
    for platform in m.platforms:
        if platform.allow_all_users:
            pulumi.warn(f"{key}.{platform.name}.allowAllUsers is true: EVERY "
                        f"{platform.spec.title} user who finds the bot can talk to the agent, and the agent runs "
                        f"tools with this pod's credentials ({platform.spec.allow_all_env}=true)")
    webhooks = tuple(webhook for _, webhook in m.webhooks)
    webhook_ingress = None
    if webhooks:
        # Internet-facing by nature (the platform's servers call it), on its own load balancer (no
        # ingressGroupName: an internal group cannot hold it), with the stack's TLS policy.
        annotations = alb_ingress_annotations(
            scheme="internet-facing", ssl_policy=s.ingress_ssl_policy, certificate_arn=s.ingress_certificate_arn,
        ) if s.ingress_class_name == "alb" else {}
        webhook_ingress = WebhookIngress(s.messaging_webhook_host, s.ingress_class_name, annotations)
    return MessagingWorkload(
        env=tuple(plain_env(m, s.messaging_webhook_host)),
        secret_values={env: pulumi.Output.secret(value) for p in m.platforms for env, value in p.secrets},
        secret_names=tuple(secret_env_names(m, existing_secret=bool(s.existing_secret_name))),
        webhooks=webhooks,
        webhook_ingress=webhook_ingress,
    )


def egress_policy_ports(s: StackSettings) -> tuple[EgressPort, ...] | None:
    """The ports beyond DNS and 443 the pod must reach, when egressPolicy is on (components/egress_policy.py)."""
    if not s.egress_policy:
        return None
    ports = [EgressPort(port) for port in egress_ports(s.messaging_config)]
    if s.model_base_url:
        port = urlparse(s.model_base_url).port or (443 if s.model_base_url.startswith("https") else 80)
        ports.append(EgressPort(port))
    if s.uses_aws and s.pod_identity_mode == "pod-identity":
        ports.append(EgressPort(POD_IDENTITY_AGENT_PORT, POD_IDENTITY_AGENT))
    return tuple(ports)


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
    restored: RestoredVolume | None = None,
    volume_metrics: bool = False,
    messaging_key: str = config_key("messaging"),
) -> HermesAgentArgs:
    """`bedrock`: the Hermes pod's role (BedrockAccess), also when it only publishes volume metrics.
    `messaging_key`: where the agent's messaging is set (Agent.key), named by the preview's warnings."""
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
        dashboard_oidc_client_secret=_secret(s.dashboard_oidc_client_secret),
        service_account_annotations=bedrock.service_account_annotations if bedrock else {},
        ingress=ingress_config(s),
        restored=RestoredClaim(
            snapshot_id=restored.snapshot_id, volume_id=restored.volume_id,
            availability_zone=restored.availability_zone, size_gib=restored.size_gib,
        ) if restored else None,
        allowed_source_cidrs=allowed_source_cidrs(s, cluster),
        messaging=messaging_workload(s, messaging_key),
        webhook_source_cidrs=webhook_source_cidrs(s, cluster),
        egress_ports=egress_policy_ports(s),
        # The PVC's provider must read its StorageClass (WaitForFirstConsumer) to await it correctly,
        # and the Ingress needs the controller's webhook: both must exist first. On `pulumi destroy`
        # the controllers, their credentials and nodes must outlive what they clean up.
        platform_depends_on=tuple(cluster.addons.ready_for_workloads) if cluster else (),
        # The pod must not start before its role may invoke Bedrock (and, under Pod Identity, is bound).
        workload_depends_on=bedrock.workload_depends_on if bedrock else (),
        kubectl_flags=kubectl_flags(s, stack),
        # The fill level of the volume, for the dashboard and the volume-full alarm (observability_args).
        volume_metrics=VolumeMetrics(cluster_name=cluster_name(s, stack), region=s.aws_region)
        if volume_metrics else None,
    )


def cluster_name(s: StackSettings, stack: str) -> str:
    return s.existing_cluster_name if s.cluster_source == "existing" else f"hermes-{stack}"


def observability_args(s: StackSettings, stack: str, cluster: HermesCluster, alerts: AlertTopic) -> ObservabilityArgs:
    first = s.agents[0]
    return ObservabilityArgs(
        cluster=cluster.identity,
        cluster_name=cluster_name(s, stack),
        region=s.aws_region,
        namespace=first.settings.namespace,
        workload=first.name,
        dashboard_name=f"hermes-{stack}",
        cpu_limit=first.settings.cpu_limit,
        memory_limit=first.settings.memory_limit,
        storage_size=first.settings.storage_size,
        bedrock_models=s.all_bedrock_models,
        bedrock_region=s.effective_bedrock_region if s.uses_bedrock else "",
        # A created cluster gets it; an adopted one only when its stack lists it (it may run it already).
        install_addon=s.cluster_source == "create" or CLOUDWATCH_ADDON in s.existing_cluster_addons,
        log_retention_days=s.log_retention_days,
        alert_topic_arn=alerts.arn,
        volume_metrics=True,  # the Hermes pod's sidecar publishes them on every AWS stack with observability on
        tags=(("project", PROJECT), ("stack", stack)),
        # The agent's pods need nodes, and under Pod Identity the agent that hands out credentials.
        addon_depends_on=tuple(cluster.addons.ready),
        kubeconfig=cluster.kubeconfig,
        more_workloads=tuple(
            WatchedWorkload(namespace=a.settings.namespace, workload=a.name, cpu_limit=a.settings.cpu_limit,
                            memory_limit=a.settings.memory_limit, storage_size=a.settings.storage_size)
            for a in s.agents[1:]),
    )


CREDENTIAL_OUTPUTS = ("api_server_key", "dashboard_password")  # absent with existingSecretName


def instance_outputs(s: StackSettings, instance: Instance) -> dict:
    """One instance's outputs: its URLs, port-forward commands and credentials, and its Bedrock role."""
    hermes = instance.hermes
    outputs = dict(hermes.outputs)
    if s.dashboard_host:
        outputs["open_dashboard"] = hermes.outputs["dashboard_url"].apply(
            lambda url: command_line(["python3", "-m", "webbrowser", url])
        )
    else:
        outputs["open_dashboard"] = hermes.outputs["port_forward_commands"].apply(lambda commands: commands[0])
    if instance.bedrock is not None:
        outputs["bedrock_role_arn"] = instance.bedrock.role_arn
    return outputs


def stack_outputs(
    s: StackSettings,
    instances: dict[str, Instance],
    cluster: HermesCluster | None,
    image: HermesImage | None,
    backups: VolumeBackups | None = None,
    alerts: AlertTopic | None = None,
    guardrails: CostGuardrails | None = None,
    *,
    stack: str,
    observability: Observability | None = None,
) -> dict:
    """Every command among the outputs runs as `$(pulumi stack output <name>)` (operator_commands.py).

    `instances`: each instance's outputs by instance name (`pulumi stack output instances --json`), and
    `instance_credentials` their generated credentials, a secret of its own so the rest stays readable.
    The `hermes` instance's are also the flat outputs a one-agent stack has always had."""
    per_instance = {agent.name: instance_outputs(agent.settings, instances[agent.name]) for agent in s.agents}
    outputs = dict(per_instance.get(DEFAULT_INSTANCE, {}))
    outputs["instances"] = {name: {k: v for k, v in o.items() if k not in CREDENTIAL_OUTPUTS}
                            for name, o in per_instance.items()}
    outputs["instance_credentials"] = pulumi.Output.secret(
        {name: {k: v for k, v in o.items() if k in CREDENTIAL_OUTPUTS} for name, o in per_instance.items()})
    outputs["image"] = image.image_ref if image else s.hermes_image
    if cluster is not None:
        outputs["cluster_name"] = cluster.name
        outputs["kubeconfig"] = cluster.kubeconfig
        # Into its own file (`--kubeconfig`): without it the AWS CLI writes ~/.kube/config (or the
        # first file in KUBECONFIG) and switches its current context to this cluster.
        outputs["write_kubeconfig"] = cluster.name.apply(lambda name: command_line([
            "aws", "eks", "update-kubeconfig", "--region", s.aws_region, "--name", name,
            "--kubeconfig", kubeconfig_file(stack),
        ]))
    if backups is not None:
        outputs["backup_vault_name"] = backups.vault.name
    if alerts is not None:
        outputs["alert_topic_arn"] = alerts.arn
    if guardrails is not None and guardrails.deny_policy is not None:
        outputs["bedrock_budget_deny_policy_arn"] = guardrails.deny_policy.arn
        # What `aws budgets execute-budget-action` needs to reverse the deny early (README "Costs").
        outputs["bedrock_budget_name"] = guardrails.budget.name
        outputs["bedrock_budget_action_id"] = guardrails.action.action_id
    if observability is not None:
        outputs["cloudwatch_dashboard_url"] = observability.dashboard_url
    return outputs
