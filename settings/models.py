"""The two typed models: StackSettings (every key) and InstanceSettings (one agent's keys, INSTANCE_KEYS)."""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, SecretStr, create_model
from pydantic.alias_generators import to_camel

from components.addon_versions import EKS_ADDONS
from components.messaging import Messaging, parse_messaging, platform_map
from components.restored_volume import AVAILABILITY_ZONE, SNAPSHOT_REFERENCE
from settings.values import (
    DNS_LABEL,
    HERMES_GIT_REPOSITORY,
    HERMES_UPSTREAM_IMAGE,
    PROJECT,
    AddonVersion,
    BedrockModelId,
    Cidr,
    CostExplorerService,
    CpuQuantity,
    DnsLabel,
    EmailAddress,
    EnvFileSecret,
    HttpsUrl,
    IamPrincipalArn,
    ImageReference,
    InstanceType,
    KubernetesVersion,
    ListOf,
    MemoryQuantity,
    NoSpaces,
    ObjectName,
    OptionalCertificateArn,
    OptionalCpuQuantity,
    OptionalGitCommit,
    OptionalHostname,
    OptionalHttpsUrl,
    OptionalHttpUrl,
    OptionalRegion,
    StorageSize,
    StringMap,
    VpcCidr,
    _api_server_key,
    _between,
    _instances_map,
    _json_text,
    _log_retention_days,
    _pattern,
)

# ---------------------------------------------------------------------------------------------
# The settings object. Attribute `snake_case` is config key `hermes-eks:camelCase`.
# Defaults here ARE the `local` stack; Pulumi.yaml declares the same keys, types and defaults
# (tests/test_settings.py keeps the two identical).
# ---------------------------------------------------------------------------------------------

class StackSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)

    # --- where Hermes runs -----------------------------------------------------------------
    cluster_source: Literal["kubeconfig", "create", "existing"] = "kubeconfig"
    kubeconfig_context: NoSpaces = ""
    existing_cluster_name: Annotated[str, _pattern(r"[0-9A-Za-z][A-Za-z0-9_-]{0,99}", "an EKS cluster name", optional=True)] = ""
    existing_cluster_addons: ListOf(Literal["ebs-csi-driver", "gp3-storage-class", "load-balancer-controller", "pod-identity-agent", "cloudwatch-observability"]) = ()
    kubernetes_version: KubernetesVersion = "1.34"

    # --- the Hermes image -------------------------------------------------------------------
    hermes_image: ImageReference = HERMES_UPSTREAM_IMAGE
    image_source: Literal["reference", "mirror", "git"] = "reference"
    hermes_git_repository: HttpsUrl = HERMES_GIT_REPOSITORY
    hermes_git_commit: OptionalGitCommit = ""
    ecr_force_delete: bool = False
    ecr_max_images: Annotated[int, _between(1, 1000)] = 20

    # --- the Hermes workload ----------------------------------------------------------------
    namespace: DnsLabel = "hermes"
    storage_class_name: ObjectName = ""
    storage_size: StorageSize = "20Gi"
    cpu_request: CpuQuantity = "500m"
    memory_request: MemoryQuantity = "1Gi"
    cpu_limit: OptionalCpuQuantity = ""
    memory_limit: MemoryQuantity = "4Gi"
    read_only_root_filesystem: bool = False
    existing_secret_name: ObjectName = ""
    api_server_key: Annotated[SecretStr, AfterValidator(_api_server_key)] | None = None
    dashboard_username: Annotated[str, _pattern(r"[A-Za-z0-9._@-]{1,64}", "1-64 letters, digits or . _ @ -")] = "admin"
    dashboard_oidc_issuer: OptionalHttpsUrl = ""
    dashboard_oidc_client_id: NoSpaces = ""

    # --- the model provider -----------------------------------------------------------------
    model_provider: Literal["none", "bedrock", "openrouter", "custom"] = "none"
    model_default: NoSpaces = ""
    model_base_url: OptionalHttpUrl = ""
    openrouter_api_key: EnvFileSecret | None = None
    custom_model_api_key: EnvFileSecret | None = None
    bedrock_region: OptionalRegion = ""
    bedrock_models: ListOf(BedrockModelId) = ()
    bedrock_discovery: bool = False
    pod_identity_mode: Literal["irsa", "pod-identity"] = "irsa"

    # --- ingress (created when dashboardHost or apiHost is set) -------------------------------
    dashboard_host: OptionalHostname = ""
    api_host: OptionalHostname = ""
    ingress_class_name: DnsLabel = "alb"
    ingress_scheme: Literal["internal", "internet-facing"] = "internal"
    ingress_certificate_arn: OptionalCertificateArn = ""
    ingress_ssl_policy: Annotated[str, _pattern(r"ELBSecurityPolicy-[A-Za-z0-9-]+", "an ELB security policy name such as ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09")] = "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
    ingress_group_name: Annotated[str, _pattern(DNS_LABEL, "a lowercase ALB group name", optional=True)] = ""
    ingress_annotations: StringMap = {}

    # --- the EKS cluster (clusterSource: create) ---------------------------------------------
    cluster_admin_principal_arns: ListOf(IamPrincipalArn) = ()
    cluster_viewer_principal_arns: ListOf(IamPrincipalArn) = ()
    vpc_cidr: VpcCidr = "10.0.0.0/16"
    availability_zone_count: Annotated[int, _between(2, 3)] = 2
    nat_gateways: Literal["single", "one-per-az"] = "single"
    node_architecture: Literal["x86_64", "arm64"] = "x86_64"
    node_instance_types: ListOf(InstanceType) = ("m7i.large",)
    node_min_size: Annotated[int, _between(1, 100)] = 1
    node_desired_size: Annotated[int, _between(1, 100)] = 1
    node_max_size: Annotated[int, _between(1, 100)] = 2
    node_disk_size_gib: Annotated[int, _between(30, 1000, " of GiB (the Hermes image alone is over 5 GB)")] = 50
    endpoint_public_access: bool = True
    endpoint_public_access_cidrs: ListOf(Cidr) = ("0.0.0.0/0",)
    control_plane_log_types: ListOf(Literal["api", "audit", "authenticator", "controllerManager", "scheduler"]) = ()
    protect_infrastructure: bool = False
    volume_reclaim_policy: Literal["Delete", "Retain"] = "Delete"

    # --- dashboard OIDC as a confidential client (issue 7 item 9) ------------------------------
    # Hermes 0.19.0 reads HERMES_DASHBOARD_OIDC_CLIENT_SECRET, "optional; set for a confidential
    # client" (plugins/dashboard_auth/self_hosted/__init__.py, register()).
    dashboard_oidc_client_secret: EnvFileSecret | None = None

    # --- backups and restore of the Hermes volume (AWS stacks) -------------------------------
    backup_schedule: Annotated[str, _pattern(r"cron\((\S+ ){5}\S+\)", "an AWS Backup cron expression in UTC with six fields, e.g. cron(0 3 * * ? *)")] = "cron(0 3 * * ? *)"
    backup_retention_days: Annotated[int, _between(1, 36500, " of days")] = 14
    backup_copy_region: OptionalRegion = ""
    backup_retain_on_destroy: bool = False
    restore_from_snapshot: Annotated[str, _pattern(SNAPSHOT_REFERENCE.pattern, "an EBS snapshot id (snap-...) or an AWS Backup EBS recovery point ARN (arn:aws:ec2:<region>::snapshot/snap-...)", optional=True)] = ""
    restore_availability_zone: Annotated[str, _pattern(AVAILABILITY_ZONE.pattern, "an availability zone such as eu-central-1a", optional=True)] = ""

    # --- alerts and the Bedrock cost guardrails (AWS stacks) ----------------------------------
    alert_emails: ListOf(EmailAddress) = ()
    bedrock_monthly_budget_usd: Annotated[int, _between(1, 10_000_000, " of US dollars")] = 100
    bedrock_budget_thresholds: ListOf(Annotated[int, _between(1, 1000, " percent")]) = (50, 80, 100)
    bedrock_budget_services: ListOf(CostExplorerService) = ("Amazon Bedrock",)
    bedrock_budget_all_marketplace: bool = True
    bedrock_budget_deny_invoke: bool = False
    bedrock_hourly_token_alarm: Annotated[int, _between(1000, 10_000_000_000, " of tokens")] = 1_000_000
    # --- cluster network: node zones, add-on versions, who may reach Hermes (issues 6 and 7) ----
    node_zone_count: Annotated[int, _between(1, 3, " of zones")] = 1
    addon_versions: Annotated[dict[Literal[EKS_ADDONS], AddonVersion], BeforeValidator(_json_text)] = {}
    ingress_source_cidrs: ListOf(Cidr) = ()

    # --- watching Hermes (AWS stacks): CloudWatch logs and metrics, alarms, a dashboard ----------
    observability: bool = True
    log_retention_days: Annotated[int, AfterValidator(_log_retention_days)] = 30

    # --- messaging platforms (issue 15): a map platform -> settings, validated by components/messaging.py
    # (tokens inside it are `pulumi config set --secret --path` values); the webhook Ingress's host.
    messaging: Annotated[dict[str, Any], AfterValidator(parse_messaging), BeforeValidator(platform_map),
                         BeforeValidator(_json_text)] = {}
    messaging_webhook_host: OptionalHostname = ""
    egress_policy: bool = False
    # --- several agents in one stack (issue 16): instance name -> its own INSTANCE_KEYS -----------
    instances: Annotated[dict[str, Any], BeforeValidator(_instances_map), BeforeValidator(_json_text)] = {}

    # --- the AWS provider's own `aws:region`, read here so one object carries every input ------
    aws_region: OptionalRegion = ""

    # -----------------------------------------------------------------------------------------
    @property
    def uses_aws(self) -> bool:
        return self.cluster_source != "kubeconfig"

    @property
    def ingress_enabled(self) -> bool:
        return bool(self.dashboard_host or self.api_host)

    @property
    def messaging_config(self) -> Messaging:
        """The validated platforms (the field holds the raw map only when left at its default)."""
        return self.messaging if isinstance(self.messaging, Messaging) else parse_messaging(self.messaging)

    @property
    def effective_bedrock_region(self) -> str:
        return self.bedrock_region or self.aws_region

    @property
    def created_cluster_addons(self) -> tuple[str, ...]:
        """The EKS add-ons a created cluster gets (the Pod Identity agent only in pod-identity mode)."""
        return tuple(a for a in EKS_ADDONS if a != "eks-pod-identity-agent" or self.pod_identity_mode == "pod-identity")

    @property
    def effective_bedrock_models(self) -> tuple[str, ...]:
        """The models the Bedrock role may invoke: the configured list, always including the default."""
        if self.model_provider != "bedrock":
            return ()
        models = list(self.bedrock_models)
        if self.model_default and self.model_default not in models:
            models.insert(0, self.model_default)
        return tuple(models)

    @property
    def agents(self) -> tuple[Agent, ...]:
        """The agents this stack runs: `hermes` first, then by name. Without `instances`, one named
        `hermes` that is the top-level settings themselves (the stack as it was before instances existed)."""
        if not self.instances:
            return (Agent(DEFAULT_INSTANCE, self, frozenset()),)
        return tuple(_agent(self, name, self.instances[name])
                     for name in sorted(self.instances, key=lambda n: (n != DEFAULT_INSTANCE, n)))

    @property
    def uses_bedrock(self) -> bool:
        return any(agent.settings.model_provider == "bedrock" for agent in self.agents)

    @property
    def all_bedrock_models(self) -> tuple[str, ...]:
        """Every model some agent may invoke: what the stack's budget alarms and dashboard watch."""
        return tuple(dict.fromkeys(m for agent in self.agents for m in agent.settings.effective_bedrock_models))


# Keys whose values must be stored encrypted (`pulumi config set --secret`).
def _holds_secret(annotation: Any) -> bool:
    return annotation is SecretStr or any(_holds_secret(arg) for arg in typing.get_args(annotation))


SECRET_KEYS = frozenset(name for name, field in StackSettings.model_fields.items() if _holds_secret(field.annotation))
# Keys read from another namespace than the project's.
FOREIGN_KEYS = {"aws_region": "aws:region"}


def config_key(attribute: str) -> str:
    """The full config key, as a user types it, for a StackSettings attribute (or a path below one:
    "messaging.telegram.botToken" is hermes-eks:messaging.telegram.botToken)."""
    attribute, dot, path = attribute.partition(".")
    return (FOREIGN_KEYS.get(attribute) or f"{PROJECT}:{to_camel(attribute)}") + dot + path


# ---------------------------------------------------------------------------------------------
# Several agents in one stack (issue 16). `hermes-eks:instances` maps an instance name to its own
# values of the keys below; a key an instance leaves out takes the top-level value, so the top-level
# keys are every instance's defaults. Everything else is the stack's, shared by every instance: the
# cluster, network, nodes, add-ons, image, backup plan, alerts and the Bedrock budget (README "Add an
# agent" says why the budget stays per stack). A key that belongs to one agent is declared in
# StackSettings (its type, default and docs) AND listed here.
# ---------------------------------------------------------------------------------------------

INSTANCE_KEYS = (
    # where the agent runs, its volume and container
    "namespace", "storage_class_name", "storage_size", "cpu_request", "memory_request", "cpu_limit",
    "memory_limit", "read_only_root_filesystem",
    # its credentials and dashboard login
    "existing_secret_name", "api_server_key", "dashboard_username", "dashboard_oidc_issuer",
    "dashboard_oidc_client_id", "dashboard_oidc_client_secret",
    # its models (one Bedrock region per stack: the budget's token alarms watch it)
    "model_provider", "model_default", "model_base_url", "openrouter_api_key", "custom_model_api_key",
    "bedrock_models", "bedrock_discovery",
    # its hosts and who may reach them
    "dashboard_host", "api_host", "ingress_class_name", "ingress_scheme", "ingress_certificate_arn",
    "ingress_group_name", "ingress_annotations", "ingress_source_cidrs",
    # its volume restored from a snapshot, one instance at a time
    "restore_from_snapshot", "restore_availability_zone",
    # its messaging bots (tokens in its own Secret), their webhook host and its egress policy
    "messaging", "messaging_webhook_host", "egress_policy",
)
# The instance a stack without `instances` runs: its components keep the names they had before
# instances existed, so moving a stack to `instances: {hermes: {}}` renames nothing.
DEFAULT_INSTANCE = "hermes"
# Names the instance's components, Kubernetes objects and IAM roles: `<name>-volume-metrics` plus
# Pulumi's 8-character suffix must stay within IAM's 64-character role names.
INSTANCE_NAME_MAX = 40

InstanceSettings = create_model(
    "InstanceSettings",
    __config__=StackSettings.model_config,
    **{a: (StackSettings.model_fields[a].annotation, StackSettings.model_fields[a]) for a in INSTANCE_KEYS},
)


class Agent(NamedTuple):
    """One Hermes instance: the stack's settings with the instance's own values in place of the defaults."""
    name: str
    settings: StackSettings
    own_keys: frozenset[str]  # the attributes the instance sets itself

    def key(self, attribute: str) -> str:
        """Where this agent's value of `attribute` (or a path below it) is set: its own key or the top-level one."""
        own = attribute.partition(".")[0] in self.own_keys
        return instance_key(self.name, attribute) if own else config_key(attribute)


def _agent(stack: StackSettings, name: str, raw: Mapping[str, Any]) -> Agent:
    own = InstanceSettings.model_validate(raw or {})
    values = {a: getattr(own, a) for a in own.model_fields_set}
    return Agent(name, stack.model_copy(update={**values, "instances": {}}), frozenset(values))


def instance_key(name: str, attribute: str) -> str:
    """The config path of an instance's own value, e.g. hermes-eks:instances.research.storageSize (or a
    path below one: hermes-eks:instances.research.messaging.telegram.botToken)."""
    attribute, dot, path = attribute.partition(".")
    return f"{PROJECT}:instances.{name}.{to_camel(attribute)}" + dot + path
