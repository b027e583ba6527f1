"""Stack settings: the only module that reads Pulumi config.

It turns the stack's config (``Pulumi.<stack>.yaml`` over the defaults declared here and mirrored in
``Pulumi.yaml``) into one immutable, typed ``StackSettings`` object, and validates ALL of it before
``__main__`` registers a single resource. Every problem names the config key, the file the value came
from, the bad value (never a secret's value) and what is allowed; all problems are reported together.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

import pulumi
import yaml
from components.addon_versions import ADDON_VERSION_PATTERN, EKS_ADDONS, missing_versions
from components.bedrock_access import GEO_REGIONS, GLOBAL, check_models
from components.hermes_agent import env_file_problem
from components.messaging import (
    PLATFORMS,
    Messaging,
    completeness_problems,
    parse_messaging,
    plaintext_secret_paths,
    platform_map,
)
from components.observability import RETENTION_DAYS
from components.operator_commands import SHOWN_UNSAFE, UNSAFE_CHARACTERS
from components.restored_volume import AVAILABILITY_ZONE, SNAPSHOT_REFERENCE
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    SecretStr,
    ValidationError,
    create_model,
)
from pydantic.alias_generators import to_camel

PROJECT = "hermes-eks"

# The upstream release this program is built and tested against. The PyPI package of the same
# release runs in the contract tests (scripts/test.py pins hermes-agent==0.19.0); the image is that
# release's multi-arch manifest on Docker Hub, tag v2026.7.20 = "Hermes Agent v0.19.0 (2026.7.20)".
HERMES_RELEASE = "0.19.0"
HERMES_UPSTREAM_IMAGE = (
    "nousresearch/hermes-agent:v2026.7.20"
    "@sha256:f7b35053268f532f98955195c909f15a230470fbcbdacaa9fdecb95707dad04a"
)
HERMES_GIT_REPOSITORY = "https://github.com/NousResearch/hermes-agent.git"

# Kubernetes minors this program's manifests are validated against (kubernetes-validate 1.37 ships
# schemas for 1.25-1.37; EKS standard support covers the recent ones).
SUPPORTED_KUBERNETES_VERSIONS = tuple(f"1.{minor}" for minor in range(30, 38))

# Geography prefixes of Bedrock system-defined (cross-region) inference profiles: the ones
# components/bedrock_access.py knows the routing of.
BEDROCK_PROFILE_GEOS = (*GEO_REGIONS, GLOBAL)
# Model providers whose ids Bedrock serves as `<provider>.<model>`.
BEDROCK_MODEL_PROVIDERS = (
    "ai21", "amazon", "anthropic", "cohere", "deepseek", "luma", "meta", "minimax", "mistral",
    "moonshot", "openai", "qwen", "stability", "twelvelabs", "writer", "google", "nvidia",
)


# ---------------------------------------------------------------------------------------------
# Value types. A failing check raises ValueError(<what is allowed>), which becomes the message.
# ---------------------------------------------------------------------------------------------

DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
DNS_SUBDOMAIN = r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?"
HOSTNAME = r"(?=.{4,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]([-a-z0-9]{0,61}[a-z0-9])?"
AWS_REGION = r"(us|eu|ap|sa|ca|me|af|il|mx|us-gov)-[a-z]+-[1-9]"
IMAGE_REFERENCE = (
    r"([a-z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*"
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?@sha256:[a-f0-9]{64}"
)
BEDROCK_MODEL_ID = (
    r"((" + "|".join(BEDROCK_PROFILE_GEOS) + r")\.)?(" + "|".join(BEDROCK_MODEL_PROVIDERS) + r")"
    r"\.[a-z0-9][a-z0-9.-]*(:[0-9]+)?"
)
INSTANCE_TYPE = (
    r"[a-z][a-z0-9]*[0-9][a-z0-9]*(-flex)?\.(nano|micro|small|medium|large|[0-9]*xlarge|metal(-[0-9]+xl)?)"
)


def _pattern(regex: str, allowed: str, *, optional: bool = False) -> AfterValidator:
    """Accept strings matching `regex` whole (and "" when optional)."""
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if (optional and value == "") or compiled.fullmatch(value):
            return value
        raise ValueError(("empty or " if optional else "") + allowed)

    return AfterValidator(check)


def _between(low: int, high: int, unit: str = "") -> AfterValidator:
    def check(value: int) -> int:
        if low <= value <= high:
            return value
        raise ValueError(f"a whole number{unit} from {low} to {high}")

    return AfterValidator(check)


def _json_text(value: Any) -> Any:
    """The engine hands arrays and maps to the program as JSON text; tests may pass them parsed."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as error:
            raise ValueError("a YAML list or mapping") from error
    return value


def _scalars_as_text(value: Any) -> Any:
    """`pulumi config set --path 'map["k"]' true` stores a boolean (integers likewise): keep its text."""
    if isinstance(value, dict):
        return {k: json.dumps(v) if isinstance(v, (bool, int, float)) else v for k, v in value.items()}
    return value


def _instances_map(value: Any) -> Any:
    if not isinstance(value, Mapping):
        raise ValueError("a YAML mapping from instance name to that instance's own keys, e.g. "
                         "{hermes: {}, research: {namespace: hermes-research}}")
    return value


def _ipv4_cidr(value: str) -> str:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        network = None
    if network is None or network.version != 4:
        raise ValueError("an IPv4 CIDR block with no host bits set, e.g. 198.18.0.0/24")
    return value


def _vpc_cidr(value: str) -> str:
    network = ipaddress.ip_network(_ipv4_cidr(value))
    if not network.is_private or not 16 <= network.prefixlen <= 20:
        raise ValueError("a private (RFC 1918) IPv4 block from /16 to /20, e.g. 10.0.0.0/16")
    return value


def _no_latest(value: str) -> str:
    if re.search(r":latest@", value):
        raise ValueError("a release tag pinned by digest (name:TAG@sha256:<64 hex>), never :latest")
    return value


def _api_server_key(value: SecretStr) -> SecretStr:
    # Hermes refuses short or placeholder keys; 32 random bytes as hex is what we generate ourselves.
    if not re.fullmatch(r"[0-9a-f]{64}", value.get_secret_value()):
        raise ValueError("64 lowercase hex characters, e.g. the output of `openssl rand -hex 32`")
    return value


def _env_file_value(value: SecretStr) -> SecretStr:
    # The pod pins every credential into Hermes' .env, which Hermes reads back through python-dotenv.
    problem = env_file_problem(value.get_secret_value())
    if problem:
        raise ValueError(f"a value without {problem}: Hermes would read it from its .env changed")
    return value


# A credential the pod pins into $HERMES_HOME/.env (components/hermes_agent.py CONFIGURE_SCRIPT).
EnvFileSecret = Annotated[SecretStr, AfterValidator(_env_file_value)]


def _log_retention_days(value: int) -> int:
    if value not in RETENTION_DAYS:
        raise ValueError("one of CloudWatch Logs' retention periods: " + ", ".join(map(str, RETENTION_DAYS)) + " (days)")
    return value


def ListOf(item: Any) -> Any:  # noqa: N802 - reads as a type in the field declarations
    return Annotated[tuple[item, ...], BeforeValidator(_json_text)]


DnsLabel = Annotated[str, _pattern(DNS_LABEL, "a DNS-1123 label: lowercase letters, digits and '-', at most 63")]
ObjectName = Annotated[str, _pattern(DNS_SUBDOMAIN, "a Kubernetes object name (DNS-1123 subdomain)", optional=True)]
OptionalHostname = Annotated[str, _pattern(HOSTNAME, "a fully qualified lowercase DNS name such as hermes.corp-internal.net", optional=True)]
OptionalRegion = Annotated[str, _pattern(AWS_REGION, "an AWS region code such as eu-central-1", optional=True)]
ImageReference = Annotated[
    str,
    _pattern(IMAGE_REFERENCE, "an image reference pinned by digest: [registry/]name[:tag]@sha256:<64 hex>"),
    AfterValidator(_no_latest),
]
OptionalGitCommit = Annotated[str, _pattern(r"[0-9a-f]{40}", "a full 40-character lowercase commit SHA (short SHAs are ambiguous)", optional=True)]
HttpsUrl = Annotated[str, _pattern(r"https://[^\s/?#]+[^\s]*", "an https:// URL")]
OptionalHttpsUrl = Annotated[str, _pattern(r"https://[^\s/?#]+[^\s]*", "an https:// URL", optional=True)]
OptionalHttpUrl = Annotated[str, _pattern(r"https?://[^\s/?#]+[^\s]*", "an http(s):// URL of an OpenAI-compatible API", optional=True)]
StorageSize = Annotated[str, _pattern(r"[1-9][0-9]*(Gi|Ti)", "a whole number of Gi or Ti, e.g. 20Gi (EBS sizes volumes in GiB)")]
CpuQuantity = Annotated[str, _pattern(r"[1-9][0-9]*m|[0-9]+(\.[0-9]+)?", "a CPU quantity such as 250m or 1.5")]
OptionalCpuQuantity = Annotated[str, _pattern(r"[1-9][0-9]*m|[0-9]+(\.[0-9]+)?", "a CPU quantity such as 2 or 1500m (empty: no CPU limit)", optional=True)]
MemoryQuantity = Annotated[str, _pattern(r"[1-9][0-9]*(Mi|Gi)", "a memory quantity in Mi or Gi, e.g. 512Mi or 4Gi")]
KubernetesVersion = Annotated[str, _pattern("|".join(re.escape(v) for v in SUPPORTED_KUBERNETES_VERSIONS), "one of " + ", ".join(SUPPORTED_KUBERNETES_VERSIONS) + ' (quoted in YAML: an unquoted 1.30 is the number 1.3)')]
IamPrincipalArn = Annotated[str, _pattern(r"arn:aws(-[a-z]+)*:iam::[0-9]{12}:(role|user)/[A-Za-z0-9+=,.@_/-]{1,512}", "an IAM role or user ARN such as arn:aws:iam::<12-digit account id>:role/platform-admins")]
OptionalCertificateArn = Annotated[str, _pattern(r"arn:aws(-[a-z]+)*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]{36}", "an ACM certificate ARN (empty: the controller discovers one by host)", optional=True)]
InstanceType = Annotated[str, _pattern(INSTANCE_TYPE, "an EC2 instance type such as m7i.large or m7g.xlarge")]
BedrockModelId = Annotated[str, _pattern(BEDROCK_MODEL_ID, "a Bedrock model id such as anthropic.claude-sonnet-4-5-20250929-v1:0, or a system inference profile id with a geography prefix (" + ", ".join(g + "." for g in BEDROCK_PROFILE_GEOS) + ")")]
Cidr = Annotated[str, AfterValidator(_ipv4_cidr)]
VpcCidr = Annotated[str, AfterValidator(_vpc_cidr)]
NoSpaces = Annotated[str, _pattern(r"[^\s]{1,256}", "a value without spaces", optional=True)]
StringMap = Annotated[dict[str, str], BeforeValidator(_scalars_as_text), BeforeValidator(_json_text)]
AddonVersion = Annotated[str, _pattern(ADDON_VERSION_PATTERN, "an EKS add-on version such as v1.20.1-eksbuild.3")]
EmailAddress = Annotated[str, _pattern(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}", "an e-mail address such as oncall@example.com")]
CostExplorerService = Annotated[str, _pattern(r"[A-Za-z0-9][A-Za-z0-9 ().,&:/_-]{0,127}", "a service name as Cost Explorer shows it, e.g. Amazon Bedrock")]


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


def _agent(stack: StackSettings, name: str, raw: Mapping[str, Any]) -> Agent:
    own = InstanceSettings.model_validate(raw or {})
    values = {a: getattr(own, a) for a in own.model_fields_set}
    return Agent(name, stack.model_copy(update={**values, "instances": {}}), frozenset(values))


def instance_key(name: str, attribute: str) -> str:
    """The config path of an instance's own value, e.g. hermes-eks:instances.research.storageSize."""
    return f"{PROJECT}:instances.{name}.{to_camel(attribute)}"


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------

class Problem(NamedTuple):
    attribute: str
    value: Any
    allowed: str


class ConfigError(pulumi.RunError):
    """Raised before any resource is registered; RunError makes Pulumi print it without a traceback."""

    def __init__(self, stack: str, problems: list[str]):
        self.problems = problems
        header = (
            f"Stack '{stack}' has {len(problems)} configuration problem{'s' if len(problems) > 1 else ''}; "
            "nothing was created or changed:"
        )
        super().__init__("\n".join([header, *(f"  - {p}" for p in problems)]))


def _shown(attribute: str, value: Any) -> str:
    if attribute in SECRET_KEYS:
        return "<secret value hidden>"
    if attribute == "messaging":
        return "<hidden: it may hold secret values>"
    if attribute.startswith("messaging."):
        return "not set" if value is None else value  # components/messaging.py shows it, secrets hidden
    if attribute == "instances":
        return "<a value not shown: an instance may hold a credential>"
    if value is None or value == "":
        return "not set"
    if isinstance(value, str) and value[:1] in ("[", "{"):
        return value  # a list or map, as JSON text from the engine
    return json.dumps(value, default=str)


# ---------------------------------------------------------------------------------------------
# Cross-field rules: each returns problems naming the key a user should change. Split along the line
# INSTANCE_KEYS draws: the stack's rules run once per stack, an agent's once per instance, on that
# instance's settings (parse_settings); a stack without `instances` is one agent, checked by both.
# ---------------------------------------------------------------------------------------------

_GRAVITON_FAMILY = re.compile(r"^(a1|[a-z]+[0-9]+g[a-z]*)\.")


def _cross_field_problems(s: StackSettings) -> list[Problem]:
    """Every cross-field problem of one agent's settings: the stack's rules and the agent's."""
    return _stack_problems(s) + _instance_problems(s)


def _collector(s: StackSettings) -> tuple[list[Problem], Callable[[str, str], None]]:
    """A list of problems and `need`, which adds one naming a key of `s`. _stack_problems names only
    stack-wide keys, _instance_problems only INSTANCE_KEYS (tests/test_instances.py reads both)."""
    problems: list[Problem] = []

    def need(attribute: str, allowed: str) -> None:
        problems.append(Problem(attribute, getattr(s, attribute), allowed))

    return problems, need


def _stack_problems(s: StackSettings) -> list[Problem]:
    """The rules on the keys the whole stack shares: cluster, network, nodes, add-ons, image, backups,
    alerts, the Bedrock budget. They read an agent's keys only through the stack's (`uses_bedrock`)."""
    problems, need = _collector(s)

    if s.uses_aws and not s.aws_region:
        need("aws_region", f"an AWS region code (required when clusterSource is '{s.cluster_source}')")
    if s.cluster_source == "existing" and not s.existing_cluster_name:
        need("existing_cluster_name", "the name of the EKS cluster to adopt (required when clusterSource is 'existing')")
    if s.cluster_source != "existing" and s.existing_cluster_addons:
        need("existing_cluster_addons", "an empty list unless clusterSource is 'existing' (a created cluster gets every add-on)")
    both = sorted(set(s.cluster_admin_principal_arns) & set(s.cluster_viewer_principal_arns))
    if both:
        # EKS holds one access entry per principal: a second one fails with 409 ResourceInUse.
        need("cluster_viewer_principal_arns", f"principals not in clusterAdminPrincipalArns too ({', '.join(both)}): "
             "an IAM principal has one access entry, admin or view-only")
    if s.cluster_source != "kubeconfig" and s.kubeconfig_context:
        need("kubeconfig_context", "empty unless clusterSource is 'kubeconfig' (EKS stacks build their own kubeconfig)")

    if s.image_source in ("mirror", "git") and not s.uses_aws:
        need("image_source", "'reference' when clusterSource is 'kubeconfig' ('mirror' and 'git' push to ECR and need AWS)")
    if s.image_source == "git" and not s.hermes_git_commit:
        need("hermes_git_commit", "a full 40-character commit SHA of the Hermes repository (required when imageSource is 'git')")
    if s.image_source != "git" and s.hermes_git_commit:
        need("hermes_git_commit", "empty unless imageSource is 'git'")

    if s.uses_aws:
        if not s.node_min_size <= s.node_desired_size <= s.node_max_size:
            need("node_desired_size", f"between nodeMinSize ({s.node_min_size}) and nodeMaxSize ({s.node_max_size})")
        for instance_type in s.node_instance_types:
            arm = bool(_GRAVITON_FAMILY.match(instance_type))
            if arm != (s.node_architecture == "arm64"):
                need("node_instance_types", f"instance types of the {s.node_architecture} architecture "
                     f"({instance_type} is {'arm64' if arm else 'x86_64'}); change nodeArchitecture or the types")
                break
        if not s.endpoint_public_access and s.endpoint_public_access_cidrs != ("0.0.0.0/0",):
            need("endpoint_public_access_cidrs", "left at its default when endpointPublicAccess is false")

    # --- backups ---------------------------------------------------------------------------------
    if s.backup_copy_region and not s.uses_aws:
        need("backup_copy_region", "empty when clusterSource is 'kubeconfig' (backups are AWS Backup's)")
    if s.backup_copy_region and s.backup_copy_region == s.aws_region:
        need("backup_copy_region", f"a region other than aws:region ({s.aws_region}), or empty for no copy")
    # --- alerts and the Bedrock cost guardrails ----------------------------------------------
    if s.alert_emails and not s.uses_aws:
        need("alert_emails", "an empty list when clusterSource is 'kubeconfig' (alerts are SNS's)")
    if s.bedrock_budget_deny_invoke and not _any_bedrock(s):
        need("bedrock_budget_deny_invoke", "false unless modelProvider is 'bedrock'")

    # --- cluster network: node zones, add-on versions -----------------------------------------
    if s.cluster_source != "create" and s.node_zone_count != 1:
        need("node_zone_count", "left at 1 unless clusterSource is 'create' (it lays out the nodes of a created cluster)")
    if s.cluster_source == "create" and s.node_zone_count > s.availability_zone_count:
        need("node_zone_count", f"at most availabilityZoneCount ({s.availability_zone_count}): node groups go in the VPC's zones")
    if s.cluster_source == "kubeconfig" and s.addon_versions:
        need("addon_versions", "empty unless clusterSource is 'create' or 'existing' (EKS add-ons)")
    if s.cluster_source == "create":
        missing = missing_versions(s.kubernetes_version, s.created_cluster_addons, s.addon_versions)
        if missing:
            need("addon_versions", f"a version for {', '.join(missing)}: kubernetesVersion {s.kubernetes_version} has "
                 "no pinned add-on versions in components/addon_versions.py (see `aws eks describe-addon-versions`)")

    # --- commands the stack exports (run as `$(pulumi stack output ...)`, operator_commands.py) ---
    if UNSAFE_CHARACTERS.search(s.kubeconfig_context):
        need("kubeconfig_context", f"a context name without {SHOWN_UNSAFE} (the exported kubectl commands "
             "name it and run through $(...)); rename it with `kubectl config rename-context`")

    # --- the Bedrock budget's services -----------------------------------------------------------
    if len(set(s.bedrock_budget_services)) != len(s.bedrock_budget_services):
        need("bedrock_budget_services", "a list without duplicates")
    if not s.bedrock_budget_services:
        need("bedrock_budget_services", "at least one service name (the budget counts only their cost)")

    # --- messaging platforms (issue 15) -----------------------------------------------------------
    problems += _messaging_problems(s)

    # --- placeholders copied from examples (issue 6 item 11) ----------------------------------
    problems += _placeholder_problems(s, [a for a in StackSettings.model_fields if a not in INSTANCE_KEYS])
    return problems


def _instance_problems(s: StackSettings) -> list[Problem]:
    """The rules on the keys of one agent (INSTANCE_KEYS): its models and credentials, dashboard login,
    hosts, restore. `s` is that agent's settings: the stack's, with the instance's own values in place."""
    problems, need = _collector(s)

    if s.model_provider != "none" and not s.model_default:
        need("model_default", f"the default model id for provider '{s.model_provider}'")
    if s.model_provider == "none" and s.model_default:
        need("model_default", "empty while modelProvider is 'none' (set modelProvider too)")
    if s.model_provider == "bedrock":
        if not s.uses_aws:
            need("model_provider", "'none', 'openrouter' or 'custom' when clusterSource is 'kubeconfig' "
                 "(Bedrock credentials come from the pod's IAM role on EKS)")
        if s.model_default and not re.fullmatch(BEDROCK_MODEL_ID, s.model_default):
            need("model_default", "a Bedrock model or inference profile id, e.g. anthropic.claude-sonnet-4-5-20250929-v1:0 "
                 "or eu.anthropic.claude-sonnet-4-5-20250929-v1:0")
        elif s.effective_bedrock_region:
            try:
                check_models(s.effective_bedrock_models, s.effective_bedrock_region)
            except ValueError as error:
                need("bedrock_models" if s.bedrock_models else "model_default",
                     f"models and profiles callable from {s.effective_bedrock_region} ({error})")
    elif s.bedrock_models:
        need("bedrock_models", "an empty list unless modelProvider is 'bedrock'")
    if s.model_provider == "custom" and not s.model_base_url:
        need("model_base_url", "the base URL of the OpenAI-compatible API (required when modelProvider is 'custom')")
    if s.model_provider != "custom" and s.model_base_url:
        need("model_base_url", "empty unless modelProvider is 'custom'")
    if s.model_provider == "openrouter" and s.model_default and "/" not in s.model_default:
        need("model_default", "an OpenRouter model id of the form vendor/model, e.g. anthropic/claude-sonnet-4.5")
    if s.openrouter_api_key is not None and s.model_provider != "openrouter":
        need("openrouter_api_key", "unset unless modelProvider is 'openrouter'")
    if s.custom_model_api_key is not None and s.model_provider != "custom":
        need("custom_model_api_key", "unset unless modelProvider is 'custom'")

    if s.existing_secret_name:
        for attribute in ("api_server_key", "openrouter_api_key", "custom_model_api_key"):
            if getattr(s, attribute) is not None:
                need(attribute, "unset when existingSecretName is set (that Secret holds every credential)")

    if bool(s.dashboard_oidc_issuer) != bool(s.dashboard_oidc_client_id):
        need("dashboard_oidc_client_id" if s.dashboard_oidc_issuer else "dashboard_oidc_issuer",
             "set together with the other dashboardOidc* key (or leave both empty)")
    if s.dashboard_oidc_issuer and not s.dashboard_host:
        need("dashboard_host", "the dashboard's public host (the OIDC callback is https://<dashboardHost>/auth/callback)")

    if s.dashboard_host and s.dashboard_host == s.api_host:
        need("api_host", "a different host than dashboardHost (the dashboard and the API both serve /api/*)")
    if s.ingress_enabled and s.ingress_class_name != "alb":
        for attribute in ("ingress_certificate_arn", "ingress_group_name"):
            if getattr(s, attribute):
                need(attribute, "empty unless ingressClassName is 'alb' (an AWS Load Balancer Controller setting)")

    # --- a model provider and the credential it needs (issue 6 item 11) -----------------------
    # OpenRouter answers 401 to every call without a key. A `custom` endpoint may be an in-cluster
    # server that needs none (vLLM, Ollama), so its key is required only for the hosted APIs that
    # always need one. With existingSecretName the key is that Secret's business.
    if not s.existing_secret_name:
        if s.model_provider == "openrouter" and s.openrouter_api_key is None:
            need("openrouter_api_key", "an OpenRouter API key, set with `pulumi config set --secret openrouterApiKey "
                 "sk-or-...` (required when modelProvider is 'openrouter'), or existingSecretName")
        if s.model_provider == "custom" and s.custom_model_api_key is None and _hosted_api(s.model_base_url):
            need("custom_model_api_key", f"the API key of {_url_host(s.model_base_url)}, set with `pulumi config set "
                 "--secret customModelApiKey ...` (that hosted API refuses calls without one), or existingSecretName")

    # --- dashboard OIDC client secret (issue 7 item 9) ----------------------------------------
    if s.dashboard_oidc_client_secret is not None:
        if not (s.dashboard_oidc_issuer and s.dashboard_oidc_client_id):
            need("dashboard_oidc_client_secret", "unset unless dashboardOidcIssuer and dashboardOidcClientId are set "
                 "(it is the secret of that OIDC client)")
        if s.existing_secret_name:
            need("dashboard_oidc_client_secret", "unset when existingSecretName is set (that Secret holds every "
                 "credential: put HERMES_DASHBOARD_OIDC_CLIENT_SECRET into it)")

    # --- restore -------------------------------------------------------------------------------
    if s.restore_from_snapshot and not s.uses_aws:
        need("restore_from_snapshot", "empty when clusterSource is 'kubeconfig' (it restores an EBS snapshot)")
    if (s.restore_from_snapshot and s.cluster_source == "existing" and not s.storage_class_name
            and "gp3-storage-class" not in s.existing_cluster_addons):
        need("storage_class_name", "the StorageClass of the Hermes volume (the restored volume's PersistentVolume "
             "must name it) when restoreFromSnapshot is set on an adopted cluster without gp3-storage-class")
    # A recovery point ARN names its Region (arn:<partition>:ec2:<region>::snapshot/snap-...:
    # docs.aws.amazon.com/aws-backup/latest/devguide/restoring-ebs.html); EC2 makes a volume only from a
    # snapshot in its own Region, and the volume is made in aws:region.
    snapshot_region = s.restore_from_snapshot.split(":")[3] if s.restore_from_snapshot.startswith("arn:") else ""
    if snapshot_region and s.aws_region and snapshot_region != s.aws_region:
        need("restore_from_snapshot", f"a snapshot id or a recovery point ARN of aws:region {s.aws_region} (this one is "
             f"in {snapshot_region}; copy it to {s.aws_region} first with `aws backup start-copy-job`)")
    if s.restore_availability_zone and not s.restore_from_snapshot:
        need("restore_availability_zone", "empty unless restoreFromSnapshot is set")
    if s.restore_availability_zone and s.aws_region and not s.restore_availability_zone.startswith(s.aws_region):
        need("restore_availability_zone", f"a zone of aws:region {s.aws_region}, e.g. {s.aws_region}a")

    # --- placeholders copied from examples (issue 6 item 11) ----------------------------------
    problems += _placeholder_problems(s, INSTANCE_KEYS)
    return problems


def _messaging_problems(s: StackSettings) -> list[Problem]:
    m = s.messaging_config
    problems = [Problem(f"messaging.{p.path}", p.shown, p.allowed) for p in m.problems]
    problems += [Problem(f"messaging.{p.path}", None, p.allowed)
                 for p in completeness_problems(m, existing_secret=bool(s.existing_secret_name))]
    if s.existing_secret_name:
        for path in m.secret_paths:
            name, key = path.split(".")
            problems.append(Problem(f"messaging.{path}", "<secret value hidden>", "unset when existingSecretName is "
                                    f"set (that Secret holds every credential: put {PLATFORMS[name].fields[key].env} into it)"))
    # Hosts, URLs and addresses copied from examples (the placeholder rule below sees only top-level keys).
    for platform in m.platforms:
        keys = {item.env: key for key, item in platform.spec.fields.items()}
        # configure pins every messaging variable into .env, which Hermes reads back through python-dotenv.
        for env, text in (*platform.secrets, *platform.values):
            problem = env_file_problem(text)
            if problem:
                shown = "<secret value hidden>" if env in dict(platform.secrets) else json.dumps(text)
                problems.append(Problem(f"messaging.{platform.name}.{keys[env]}", shown,
                                        f"a value without {problem}: Hermes would read it from its .env changed"))
        for env, text in platform.values:
            for item in text.split(","):
                host = item.lower() if re.fullmatch(HOSTNAME, item.lower()) else _url_host(item)
                host = host or (item.rsplit("@", 1)[1].lower() if "@" in item and "." in item else "")
                domain = _reserved_domain(host, local_ok=s.cluster_source == "kubeconfig") if host else ""
                if domain:
                    problems.append(Problem(f"messaging.{platform.name}.{keys[env]}", json.dumps(item), (
                        f"a host name of your own: {domain} is reserved for documentation and testing (RFC 2606, "
                        "RFC 6761); replace the placeholder")))
                    break
    # Messaging is not yet an instance key: every instance would get the same bots, and two gateways
    # polling one bot token take each other's messages (Telegram answers the second getUpdates 409).
    if len(s.instances) > 1 and (m.given or s.messaging_webhook_host):
        problems.append(Problem("messaging", None, f"unset while instances holds several agents "
                                f"({', '.join(s.instances)}): each would answer on the same bots; messaging per "
                                "instance is not supported yet"))
    needs_webhook = [p.spec.title for p in m.platforms if p.spec.webhook]
    if needs_webhook and not s.messaging_webhook_host:
        problems.append(Problem("messaging_webhook_host", "", f"the public host {', '.join(needs_webhook)} call back "
                                "(they deliver messages by webhook; only the webhook paths are routed there)"))
    if s.messaging_webhook_host and not needs_webhook:
        problems.append(Problem("messaging_webhook_host", s.messaging_webhook_host,
                                "empty unless a platform that needs inbound webhooks (whatsappCloud, sms) is configured"))
    if s.messaging_webhook_host and s.messaging_webhook_host in (s.dashboard_host, s.api_host):
        problems.append(Problem("messaging_webhook_host", s.messaging_webhook_host,
                                "a host of its own, not dashboardHost or apiHost (it is internet-facing)"))
    return problems


# Names reserved for documentation and testing that can never be a deployment's own: RFC 2606
# section 3 (example.com/.net/.org) and RFC 6761 sections 6.2-6.5 (.test, .localhost, .invalid,
# .example). `.test` and `.localhost` are meant for local testing, so a `kubeconfig` stack may use
# them; on AWS no certificate or DNS record can ever exist for them.
RESERVED_DOMAINS = ("example.com", "example.net", "example.org", "example", "invalid")
LOCAL_ONLY_DOMAINS = ("test", "localhost")
# The account id in AWS's documentation examples (docs.aws.amazon.com, "123456789012").
DOCUMENTATION_ACCOUNT = "123456789012"
_DOCUMENTATION_ARN = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]*:[a-z0-9-]*:" + DOCUMENTATION_ACCOUNT + r":")
# Hosted OpenAI-compatible APIs that refuse every call without a key.
_KEYED_APIS = ("api.openai.com", "openai.azure.com", "openrouter.ai", "api.anthropic.com", "api.mistral.ai",
               "api.groq.com", "api.together.xyz", "api.deepseek.com", "generativelanguage.googleapis.com")


def _url_host(value: str) -> str:
    match = re.match(r"[a-z][a-z0-9+.-]*://([^/:?#\s]+)", value, re.IGNORECASE)
    return match.group(1).lower() if match else ""


def _hosted_api(url: str) -> bool:
    host = _url_host(url)
    return any(host == api or host.endswith("." + api) for api in _KEYED_APIS)


def _reserved_domain(host: str, *, local_ok: bool) -> str:
    for domain in RESERVED_DOMAINS + (() if local_ok else LOCAL_ONLY_DOMAINS):
        if host == domain or host.endswith("." + domain):
            return domain
    return ""


def _placeholder_problems(s: StackSettings, attributes: Iterable[str] = tuple(StackSettings.model_fields)) -> list[Problem]:
    """Every plain value of `attributes` (lists and map values included) holding an example host or account."""
    problems = []
    for attribute in attributes:
        value = getattr(s, attribute)
        if attribute in SECRET_KEYS:
            continue
        items = value.values() if isinstance(value, Mapping) else value if isinstance(value, tuple) else (value,)
        for item in (i for i in items if isinstance(i, str)):
            host = item.lower() if re.fullmatch(HOSTNAME, item.lower()) else _url_host(item)
            if not host and "@" in item:  # an e-mail address: its domain
                host = item.rsplit("@", 1)[1].lower()
            domain = _reserved_domain(host, local_ok=s.cluster_source == "kubeconfig") if host else ""
            if _DOCUMENTATION_ARN.search(item):
                problems.append(Problem(attribute, value, (
                    f"an ARN in your own AWS account: {DOCUMENTATION_ACCOUNT} is the example account of AWS's "
                    "documentation; replace the placeholder with your account id")))
                break
            if domain:
                problems.append(Problem(attribute, value, (
                    f"a host name of your own: {domain} is reserved for documentation and testing (RFC 2606, "
                    "RFC 6761) and no certificate or DNS record can exist for it; replace the placeholder")))
                break
            if _documentation_network(item):
                problems.append(Problem(attribute, value, (
                    f"your own address range: {item} is reserved for documentation (RFC 5737) and no real "
                    "client ever comes from it; replace the placeholder")))
                break
    return problems


# RFC 5737 section 3: TEST-NET-1, -2 and -3, for documentation only.
DOCUMENTATION_NETWORKS = tuple(ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))


def _documentation_network(item: str) -> bool:
    try:
        network = ipaddress.ip_network(item, strict=False)
    except ValueError:
        return False
    return any(network.version == 4 and network.subnet_of(doc) for doc in DOCUMENTATION_NETWORKS)


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------

def parse_settings(
    stack_config: Mapping[str, Any],
    *,
    stack: str,
    secret_keys: frozenset[str] | set[str] = frozenset(),
    stack_file_keys: frozenset[str] | set[str] | None = None,
    plaintext_paths: tuple[str, ...] = (),
) -> StackSettings:
    """Validate a stack's config (full keys such as 'hermes-eks:namespace' -> raw values).

    `stack_file_keys`: the keys the stack file itself sets (the CLI merges Pulumi.yaml's defaults in,
    so the rest came from there); None: every key given is the stack file's. `plaintext_paths`: secret
    settings inside the messaging map that the stack file holds unencrypted (components/messaging.py).
    Raises ConfigError listing every problem; returns the immutable settings otherwise.
    """
    stack_file = f"Pulumi.{stack}.yaml"
    by_key = {config_key(name): name for name in StackSettings.model_fields}
    values: dict[str, Any] = {}
    problems: list[str] = []

    for key, raw in stack_config.items():
        if key in by_key:
            values[by_key[key]] = raw
        elif key.startswith(PROJECT + ":"):
            close = difflib.get_close_matches(key, list(by_key), n=1)
            hint = f"did you mean {close[0]}?" if close else "see the README's configuration table"
            problems.append(f"{key} in {stack_file} is not a setting of this program; {hint}")
        else:
            problems += _misspelt_namespace(key, raw, stack_file, list(by_key), secret=key in secret_keys)

    def describe(attribute: str, value: Any, allowed: str) -> str:
        key = config_key(attribute)
        head = attribute.partition(".")[0]  # a path below a map key comes from where the map does
        in_stack_file = head in values and (stack_file_keys is None or config_key(head) in stack_file_keys)
        if not in_stack_file and value in (None, "", (), {}):
            return f"{key} is not set in {stack_file}; allowed: {allowed}"
        source = stack_file if in_stack_file else "Pulumi.yaml (default)"
        return f"{key} in {source} is {_shown(attribute, value)}; allowed: {allowed}"

    for attribute in sorted(SECRET_KEYS):
        if attribute in values and config_key(attribute) not in secret_keys:
            problems.append(
                f"{config_key(attribute)} in {stack_file} is stored in plain text; allowed: an encrypted value set "
                f"with `pulumi config set --secret {config_key(attribute).split(':', 1)[1]} ...`"
            )
    problems += _plaintext_messaging(values.get("messaging"), stack_file, secret_keys, plaintext_paths)

    try:
        settings = StackSettings.model_validate(values)
    except ValidationError as error:
        failed = set()
        for item in error.errors():
            attribute = str(item["loc"][0]) if item["loc"] else ""
            failed.add(attribute)
            allowed = str(item.get("ctx", {}).get("error", "")) or _pydantic_allowed(item)
            problems.append(describe(attribute, values.get(attribute), allowed))
        problems += [describe(p.attribute, p.value, p.allowed) for p in _independent_problems(values, failed)]
        raise ConfigError(stack, problems) from None

    if not settings.instances:
        problems += [describe(p.attribute, p.value, p.allowed) for p in _cross_field_problems(settings)]
    else:
        instance_problems = _instance_value_problems(settings, stack_file, secret_keys)
        problems += instance_problems
        if not instance_problems:  # with an invalid value, cross-field rules would only repeat it
            problems += [describe(p.attribute, p.value, p.allowed) for p in _stack_problems(settings)]
            problems += _instance_cross_field_problems(settings, stack_file, describe)
    if problems:
        raise ConfigError(stack, problems)
    return settings


def _any_bedrock(s: StackSettings) -> bool:
    try:
        return s.uses_bedrock
    except (ValidationError, AttributeError, TypeError):
        return True  # an instance that does not validate is reported on its own


def _instance_value_problems(s: StackSettings, stack_file: str, secret_keys: frozenset[str] | set[str]) -> list[str]:
    """The instance names, the keys each instance sets and their values, one instance at a time."""
    problems: list[str] = []
    per_instance = {to_camel(a): a for a in INSTANCE_KEYS}
    stack_wide = {to_camel(a) for a in StackSettings.model_fields} - per_instance.keys()
    for name, raw in s.instances.items():
        if not (re.fullmatch(DNS_LABEL, name) and len(name) <= INSTANCE_NAME_MAX):
            problems.append(f"{PROJECT}:instances in {stack_file} names an instance {json.dumps(name)}; allowed: a DNS-1123 "
                            f"label of at most {INSTANCE_NAME_MAX} characters (lowercase letters, digits and '-'): it "
                            "names the instance's Kubernetes objects and IAM role")
            continue
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            problems.append(f"{PROJECT}:instances.{name} in {stack_file} is {json.dumps(raw, default=str)}; allowed: a "
                            "mapping of the instance's own keys ({} for every top-level default)")
            continue
        values: dict[str, Any] = {}
        for key, value in raw.items():
            if key in per_instance:
                values[per_instance[key]] = value
            elif key in stack_wide:
                problems.append(f"{PROJECT}:instances.{name}.{key} in {stack_file} is a setting of the whole stack, shared "
                                f"by every instance; allowed: the per-instance keys (README \"Add an agent\"); set "
                                f"{PROJECT}:{key} at the top level instead")
            else:
                close = difflib.get_close_matches(key, list(per_instance), n=1)
                hint = f"did you mean {close[0]}?" if close else "see README \"Add an agent\" for the per-instance keys"
                problems.append(f"{PROJECT}:instances.{name}.{key} in {stack_file} is not a setting of this program; {hint}")
        # The engine keeps a map with one secure value in it as one secret (`pulumi config set --secret
        # --path 'instances.<name>.<key>'` encrypts the value; the whole key is then secret to the program).
        for attribute in sorted(SECRET_KEYS & values.keys()):
            if f"{PROJECT}:instances" not in secret_keys:
                problems.append(f"{instance_key(name, attribute)} in {stack_file} is stored in plain text; allowed: an "
                                f"encrypted value set with `pulumi config set --secret --path "
                                f"'instances.{name}.{to_camel(attribute)}' ...`")
        try:
            InstanceSettings.model_validate(values)
        except ValidationError as error:
            for item in error.errors():
                attribute = str(item["loc"][0]) if item["loc"] else ""
                allowed = str(item.get("ctx", {}).get("error", "")) or _pydantic_allowed(item)
                problems.append(f"{instance_key(name, attribute)} in {stack_file} is "
                                f"{_shown(attribute, values.get(attribute))}; allowed: {allowed}")
    return problems


def _instance_cross_field_problems(s: StackSettings, stack_file: str, describe) -> list[str]:
    """The cross-field rules on the keys that belong to one agent, for each instance, and what no two
    instances may share. A problem every instance has with the same top-level default is that key's."""
    agents = s.agents
    found = {a.name: _instance_problems(a.settings) for a in agents}
    messages: list[str] = []

    def name(agent: Agent, p: Problem) -> str:
        if p.attribute in agent.own_keys:
            return f"{instance_key(agent.name, p.attribute)} in {stack_file} is {_shown(p.attribute, p.value)}; allowed: {p.allowed}"
        if all(p in found[b.name] and p.attribute not in b.own_keys for b in agents):
            return describe(p.attribute, p.value, p.allowed)
        return (f"{instance_key(agent.name, p.attribute)} is not set in {stack_file}, so the top-level default applies: "
                + describe(p.attribute, p.value, p.allowed))

    for agent in agents:
        messages += [name(agent, p) for p in found[agent.name]]

    # Each instance's objects, Secret and NetworkPolicy live in its own namespace; an Ingress host
    # routes to one Service.
    taken: dict[str, str] = {}
    for agent in agents:
        for attribute in ("namespace", "dashboard_host", "api_host"):
            value = getattr(agent.settings, attribute)
            owner = taken.setdefault(f"{attribute == 'namespace'}:{value}", f"{agent.name}.{to_camel(attribute)}")
            if value and owner != f"{agent.name}.{to_camel(attribute)}":
                what = "namespace" if attribute == "namespace" else "host"
                messages.append(name(agent, Problem(attribute, value, (
                    f"a {what} no other instance uses ({PROJECT}:instances.{owner} is {json.dumps(value)} too): "
                    + ("each instance's objects, credentials and NetworkPolicy live in a namespace of its own"
                       if attribute == "namespace" else "a host routes to one instance's Service")))))
    return list(dict.fromkeys(messages))


def _independent_problems(values: Mapping[str, Any], failed: set[str]) -> list[Problem]:
    """The cross-field problems of the keys that passed, reported only when they hold whatever valid
    value each failed key was meant to have (an invalid modelProvider says nothing about modelDefault)."""
    rest = {k: v for k, v in values.items() if k not in failed}
    found = _cross_field_problems(StackSettings.model_validate(rest))
    for attribute in failed & set(StackSettings.model_fields):
        for stand_in in _stand_ins(attribute):
            with_stand_in = _cross_field_problems(StackSettings.model_validate({**rest, attribute: stand_in}))
            found = [p for p in found if p in with_stand_in]
    return [p for p in found if p.attribute not in failed]


def _stand_ins(attribute: str) -> list[Any]:
    """Valid values a key might have been meant to hold: its default, its documented example and,
    for a choice, every choice."""
    field = StackSettings.model_fields[attribute]
    candidates = [field.default, *_choices(field.annotation)]
    example = KEY_DOCS.get(attribute, ("", ""))[1]
    candidates.append(example)
    try:
        candidates.append(yaml.safe_load(example))  # an example is written as the stack file's YAML
    except yaml.YAMLError:
        pass
    valid = []
    for candidate in candidates:
        try:
            StackSettings.model_validate({attribute: candidate})
        except ValidationError:
            continue
        valid.append(candidate)
    return valid


def _choices(annotation: Any) -> tuple[Any, ...]:
    if annotation is bool:
        return (True, False)
    if typing.get_origin(annotation) is Literal:
        return typing.get_args(annotation)
    return ()


def _pydantic_allowed(item: Mapping[str, Any]) -> str:
    kind = item["type"]
    if kind == "literal_error":
        close = difflib.get_close_matches(str(item["input"]), re.findall(r"'([^']*)'", item["ctx"]["expected"]), n=1)
        return "one of " + item["ctx"]["expected"].replace("'", "") + (f"; did you mean {close[0]}?" if close else "")
    if kind in ("bool_parsing", "bool_type"):
        return "true or false"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "a whole number"
    if kind in ("tuple_type", "list_type"):
        return "a YAML list"
    if kind in ("dict_type",):
        return "a YAML mapping of strings to strings"
    if len(item["loc"]) > 1:
        return f"item {item['loc'][1]}: {item['msg']}"
    return item["msg"]


def _current_config() -> dict[str, Any]:
    """Every config value the engine handed this program.

    The Python SDK keeps config set by the language host (or by tests) in a context variable and
    falls back to the PULUMI_CONFIG environment variable; it has no public "list all keys" call, and
    listing them is what lets a typo such as `hermes-eks:namspace` be reported instead of ignored.
    """
    merged = dict(pulumi.runtime.get_config_env())
    merged.update(pulumi.runtime.config.CONFIG.get())
    return merged


def load_settings() -> StackSettings:
    """Read and validate the current stack's config. Call before registering any resource."""
    stack = pulumi.get_stack()
    # Every key, not only the project's: a key in a misspelt namespace (hermes_eks:storageSize) is
    # handed over like any provider's config and would otherwise be silently ignored.
    config = _current_config()
    secret_keys = {k for k in config if pulumi.runtime.is_config_secret(k)}
    secret_keys |= set(pulumi.runtime.get_config_secret_keys_env())
    return parse_settings(config, stack=stack, secret_keys=frozenset(secret_keys),
                          stack_file_keys=_stack_file_keys(stack, config),
                          plaintext_paths=_plaintext_messaging_paths(stack))


# --- where each value came from, and misspelt namespaces (issue 6 items 1 and 11) -------------

def _stack_file_keys(stack: str, config: Mapping[str, Any]) -> frozenset[str]:
    """The keys Pulumi.<stack>.yaml itself sets, so messages can tell them from Pulumi.yaml's defaults.

    The CLI runs the program in the project directory, next to the stack file. A value the file does
    not hold (it lives elsewhere: stackConfigDir, --config-file, an ESC environment) counts as the
    default when it equals the declared default.
    """
    path = Path.cwd() / f"Pulumi.{stack}.yaml"
    if path.is_file():
        document = yaml.safe_load(path.read_text()) or {}
        in_file = frozenset(k if ":" in k else f"{PROJECT}:{k}" for k in (document.get("config") or {}))
    else:
        in_file = frozenset()
    # A value from elsewhere (an ESC environment) that differs from the default is the stack's own too.
    by_key = {config_key(name): name for name in StackSettings.model_fields}
    return in_file | {k for k, v in config.items() if k not in by_key or not _is_default(by_key[k], v)}


def _plaintext_messaging_paths(stack: str) -> tuple[str, ...]:
    path = Path.cwd() / f"Pulumi.{stack}.yaml"
    document = (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}
    config = document.get("config") or {}
    return tuple(plaintext_secret_paths(config.get(config_key("messaging"), config.get("messaging"))))


def _plaintext_messaging(raw: Any, stack_file: str, secret_keys: Any, plaintext_paths: tuple[str, ...]) -> list[str]:
    """Tokens inside hermes-eks:messaging stored unencrypted. The engine marks the whole map secret when
    any leaf is encrypted, so a map it hands over unmarked holds every token in plain text; the stack
    file itself shows a plain token beside encrypted ones (components/messaging.py plaintext_secret_paths)."""
    if raw is None:
        return []
    try:
        given = parse_messaging(raw).secret_paths
    except ValueError:
        return []
    plain = given if config_key("messaging") not in secret_keys else tuple(p for p in plaintext_paths if p in given)
    return [f"{config_key('messaging.' + p)} in {stack_file} is stored in plain text; allowed: an encrypted value "
            f"set with `pulumi config set --secret --path 'messaging.{p}' ...`" for p in plain]


def _is_default(attribute: str, raw: Any) -> bool:
    default = StackSettings.model_fields[attribute].default
    try:
        value = _json_text(raw) if isinstance(default, (tuple, dict)) else raw
    except ValueError:
        return False
    if isinstance(default, tuple):
        return isinstance(value, (list, tuple)) and tuple(value) == default
    if isinstance(default, bool):
        return str(value).lower() == str(default).lower()
    return default is not None and str(value) == str(default)


def _edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ca != cb))
    return row[-1]


def _misspelt_namespace(key: str, raw: Any, stack_file: str, known: list[str], *, secret: bool) -> list[str]:
    """A key whose namespace looks like a typo of the project's (hermes_eks:, hermeseks:, hermes-eks2:)."""
    namespace, _, name = key.partition(":")
    squashed = re.sub(r"[^a-z0-9]", "", namespace.lower())
    if namespace == PROJECT or not (squashed == re.sub(r"[^a-z0-9]", "", PROJECT)
                                    or _edit_distance(namespace.lower(), PROJECT) <= 2):
        return []
    close = difflib.get_close_matches(f"{PROJECT}:{name}", known, n=1)
    hint = f"did you mean {close[0]}?" if close else f"this program's keys are {PROJECT}:<name> (README, Configuration)"
    shown = "<secret value hidden>" if secret else (raw if isinstance(raw, str) and raw[:1] in "[{" else json.dumps(raw, default=str))
    return [f"{key} in {stack_file} is {shown}, but namespace '{namespace}' is not this program's and would be "
            f"ignored; allowed: keys in namespace '{PROJECT}'; {hint}"]


# ---------------------------------------------------------------------------------------------
# Operator documentation for every key: (what it means, an example value). Rendered into the
# Pulumi.yaml `config:` block and the README table by scripts/config_reference.py.
# ---------------------------------------------------------------------------------------------

KEY_DOCS: dict[str, tuple[str, str]] = {
    "cluster_source": ("Where Hermes runs: `kubeconfig` (the current kubeconfig's cluster, no AWS), `create` (a new EKS cluster), `existing` (an EKS cluster adopted by name).", "create"),
    "kubeconfig_context": ("kubeconfig context to deploy into (`kubeconfig` only); empty: the current context.", "kind-hermes"),
    "existing_cluster_name": ("Name of the EKS cluster to adopt (`existing` only).", "platform-prod"),
    "existing_cluster_addons": ("Cluster-wide pieces to install on an adopted cluster; leave out what it already has.", "[ebs-csi-driver, gp3-storage-class]"),
    "kubernetes_version": ("Kubernetes minor version: the EKS version created, and the schema every manifest is validated against.", "1.34"),
    "hermes_image": ("Upstream Hermes release image, pinned by digest; its default is the release this program is tested with. Set it on one stack to try a release (README \"Upgrading Hermes\").", HERMES_UPSTREAM_IMAGE),
    "image_source": ("`reference`: run hermesImage as-is. `mirror`: push it to a new ECR repository (small build) and run it by digest. `git`: build upstream's Dockerfile at hermesGitCommit into ECR.", "mirror"),
    "hermes_git_repository": ("Git repository built when imageSource is `git`.", HERMES_GIT_REPOSITORY),
    "hermes_git_commit": ("Full 40-character commit built when imageSource is `git`.", "3ef6bbd2" + "0" * 32),
    "ecr_force_delete": ("Let `pulumi destroy` delete the ECR repository with its images in it.", "true"),
    "ecr_max_images": ("Image manifests the ECR lifecycle policy keeps (ECR counts each platform and attestation manifest of a build, so fewer builds than this).", "30"),
    "namespace": ("Kubernetes namespace for Hermes (created, labelled for Pod Security).", "hermes"),
    "storage_class_name": ("StorageClass of the HERMES_HOME volume; empty: the created gp3 class on EKS, else the cluster default.", "gp3-encrypted"),
    "storage_size": ("Size of the HERMES_HOME volume (skills, memory, sessions). Can grow later, never shrink.", "50Gi"),
    "cpu_request": ("CPU request of the Hermes container (gateway and dashboard together).", "1"),
    "memory_request": ("Memory request of the Hermes container.", "2Gi"),
    "cpu_limit": ("CPU limit of the Hermes container; empty: none (throttling an agent loop only adds latency).", "2"),
    "memory_limit": ("Memory limit of the Hermes container.", "8Gi"),
    "read_only_root_filesystem": ("Run the Hermes container with a read-only root (S6_READ_ONLY_ROOT=1, /run and /tmp in memory). Off by default: upstream does not test it; try it in dev first.", "true"),
    "existing_secret_name": ("Use this externally managed Secret (e.g. from External Secrets Operator) instead of creating one; see README \"Bring your own Secret\".", "hermes-credentials"),
    "api_server_key": ("Secret. API server key (64 hex chars); empty: generated and kept in state.", "`pulumi config set --secret apiServerKey $(openssl rand -hex 32)`"),
    "dashboard_username": ("Dashboard basic-auth user name (the password is generated: output `dashboard_password`).", "admin"),
    "dashboard_oidc_issuer": ("OIDC issuer URL for dashboard single sign-on (with dashboardOidcClientId and dashboardHost).", "https://login.corp-internal.net/realms/main"),
    "dashboard_oidc_client_id": ("OIDC client id for the dashboard.", "hermes-dashboard"),
    "model_provider": ("Model provider written into config.yaml: `none` (choose in the dashboard), `bedrock`, `openrouter` or `custom` (any OpenAI-compatible API).", "bedrock"),
    "model_default": ("Default model id for the provider.", "eu.anthropic.claude-sonnet-4-6"),
    "model_base_url": ("Base URL of the OpenAI-compatible API (`custom` only).", "http://vllm.models.svc:8000/v1"),
    "openrouter_api_key": ("Secret. OpenRouter API key (`openrouter` only).", "`pulumi config set --secret openrouterApiKey sk-or-...`"),
    "custom_model_api_key": ("Secret. API key of the custom endpoint (`custom` only), passed as OPENAI_API_KEY.", "`pulumi config set --secret customModelApiKey ...`"),
    "bedrock_region": ("Region Hermes calls Bedrock in; empty: aws:region.", "eu-central-1"),
    "bedrock_models": ("Every model or inference profile the pod's IAM role may invoke (modelDefault is always included).", "[eu.anthropic.claude-sonnet-4-6, eu.anthropic.claude-haiku-4-5-20251001-v1:0]"),
    "bedrock_discovery": ("Also grant the read-only Bedrock list/get actions Hermes uses to discover models.", "true"),
    "pod_identity_mode": ("How the pod gets its AWS role: `irsa` (OIDC, service-account annotation) or `pod-identity` (EKS Pod Identity association).", "pod-identity"),
    "dashboard_host": ("Host name routed to the dashboard (all paths); with apiHost, setting either creates the Ingress.", "hermes.corp-internal.net"),
    "api_host": ("Host name routed to the OpenAI-compatible API (base URL https://<apiHost>/v1).", "hermes-api.corp-internal.net"),
    "ingress_class_name": ("IngressClass; the ALB defaults below apply only to `alb`.", "alb"),
    "ingress_scheme": ("ALB scheme: `internal` (VPC only) or `internet-facing`.", "internal"),
    "ingress_certificate_arn": ("ACM certificate for the ALB's HTTPS listener; empty: discovered by host.", "arn:aws:acm:eu-central-1:210987654321:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"),
    "ingress_ssl_policy": ("TLS policy of the ALB's HTTPS listener.", "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"),
    "ingress_group_name": ("ALB group to share one load balancer between Ingresses.", "internal-tools"),
    "ingress_annotations": ("Extra Ingress annotations; they override the ALB defaults.", "{alb.ingress.kubernetes.io/inbound-cidrs: 10.0.0.0/8}"),
    "cluster_admin_principal_arns": ("IAM roles/users given cluster-admin access entries: engineers, CI, Pulumi Deployments; never the principal that runs the first `pulumi up` (EKS makes it admin itself; README \"Cluster access\").", "[arn:aws:iam::210987654321:role/platform-admins]"),
    "cluster_viewer_principal_arns": ("IAM roles/users given view-only access entries (AmazonEKSViewPolicy: read, no Secrets, no writes), e.g. the GitHub Actions preview roles; never listed in clusterAdminPrincipalArns too.", "[arn:aws:iam::210987654321:role/hermes-eks-deploy-github-preview-prod]"),
    "vpc_cidr": ("CIDR of the created VPC.", "10.42.0.0/16"),
    "availability_zone_count": ("Availability zones the VPC and nodes span.", "3"),
    "nat_gateways": ("NAT gateways for the private subnets: `single` (cheaper) or `one-per-az` (survives an AZ outage).", "one-per-az"),
    "node_architecture": ("CPU architecture of the nodes and of the image build: `x86_64` or `arm64` (Graviton).", "arm64"),
    "node_instance_types": ("Instance types of the managed node group (must match nodeArchitecture).", "[m7g.large, m7g.xlarge]"),
    "node_min_size": ("Minimum node count of each zone's node group (see nodeZoneCount).", "1"),
    "node_desired_size": ("Desired node count of each zone's node group at creation.", "1"),
    "node_max_size": ("Maximum node count of each zone's node group.", "2"),
    "node_disk_size_gib": ("Root volume of each node in GiB (the Hermes image is over 5 GB).", "80"),
    "endpoint_public_access": ("Whether the EKS API endpoint is reachable from the internet (needed by Pulumi Deployments' hosted runners).", "false"),
    "endpoint_public_access_cidrs": ("CIDRs allowed to reach the public EKS endpoint: the egress ranges of whatever runs `pulumi up`.", "[198.18.0.0/24]"),
    "control_plane_log_types": ("EKS control plane log types sent to CloudWatch.", "[api, audit, authenticator]"),
    "protect_infrastructure": ("Protect the cluster, its VPC, the ECR repository and the backup vaults with their keys from deletion and replacement.", "true"),
    "volume_reclaim_policy": ("Reclaim policy of the created gp3 StorageClass: `Retain` keeps the EBS volume when its claim is deleted.", "Retain"),
    "aws_region": ("The AWS provider's region (`aws:region`); required by every AWS stack.", "eu-central-1"),
    "dashboard_oidc_client_secret": ("Secret. OIDC client secret, for an identity provider that treats the dashboard as a confidential client (with dashboardOidcIssuer and dashboardOidcClientId).", "`pulumi config set --secret dashboardOidcClientSecret ...`"),
    "backup_schedule": ("When AWS Backup snapshots the Hermes volume (AWS stacks): an AWS Backup cron expression, UTC.", "cron(0 */6 * * ? *)"),
    "backup_retention_days": ("Days each recovery point is kept (and its cross-region copy).", "35"),
    "backup_copy_region": ("Second region every recovery point is copied to; empty: no copy.", "eu-west-1"),
    "backup_retain_on_destroy": ("Keep the backup vaults, their keys and every recovery point when the stack is destroyed (a separate decision from protectInfrastructure, which teardown switches off).", "true"),
    "restore_from_snapshot": ("Run Hermes on a new volume made from this EBS snapshot or AWS Backup recovery point; the old volume is kept. Empty: the normal volume. See README \"Backups and restore\".", "snap-0123456789abcdef0"),
    "restore_availability_zone": ("Zone of the restored volume; empty: the zone of the snapshot's source volume.", "eu-central-1a"),
    "alert_emails": ("Email addresses the stack's alert topic notifies (budgets, alarms); each confirms by mail first.", "[platform-oncall@corp-internal.net]"),
    "bedrock_monthly_budget_usd": ("Monthly AWS Budget for Amazon Bedrock in US dollars (bedrock stacks).", "1000"),
    "bedrock_budget_thresholds": ("Percentages of the budget at which actual spend notifies (forecast notifies at 100).", "[50, 80, 100]"),
    "bedrock_budget_deny_invoke": ("When the budget is spent, deny the Hermes role Bedrock invokes until the 1st of the next month.", "true"),
    "bedrock_hourly_token_alarm": ("Alarm when one model uses more tokens (input + output) than this in an hour.", "5000000"),
    "node_zone_count": ("Zones that get a node group of their own, the first N of the VPC's; the Hermes volume is only created in them (README \"Node layout\").", "2"),
    "addon_versions": ("EKS add-on versions overriding the table pinned per Kubernetes version in components/addon_versions.py (vpc-cni, kube-proxy, aws-ebs-csi-driver, eks-pod-identity-agent).", "{aws-ebs-csi-driver: v1.65.0-eksbuild.1}"),
    "ingress_source_cidrs": ("Where traffic to the Hermes ports may come from, trusted for X-Forwarded-* headers; empty: the load balancer subnets (created cluster), the cluster's VPC (adopted), the private address ranges (`kubeconfig`). See README \"Network policy\".", "[10.244.0.0/16]"),
    "observability": ("AWS stacks: Hermes' logs in CloudWatch Logs, Container Insights metrics, pod alarms and a CloudWatch dashboard (README \"Watching Hermes\"; an adopted cluster gets the add-on only if existingClusterAddons lists cloudwatch-observability). No effect on `kubeconfig` stacks.", "true"),
    "log_retention_days": ("Days CloudWatch Logs keeps Hermes' container logs and the EKS control plane logs.", "90"),
    "messaging": ("Messaging platforms Hermes answers on: a map from platform (telegram, slack, discord, matrix, email, signal, whatsappCloud, sms) to its settings; tokens are `--secret --path` values. See README \"Talk to Hermes on Slack, Telegram, ...\".", "{telegram: {allowedUsers: [123456789]}}"),
    "messaging_webhook_host": ("Public host of the webhook Ingress (internet-facing) for platforms that call Hermes back: whatsappCloud, sms. Only their webhook paths are routed.", "hermes-hooks.corp-internal.net"),
    "egress_policy": ("Add an egress NetworkPolicy: the pod may reach DNS, TCP 443 anywhere but the instance metadata service, and only the other ports its settings need (e-mail, Signal, a custom model endpoint, the Pod Identity agent). Enforced where the network plugin implements NetworkPolicy; README \"Network policy\".", "true"),
    "bedrock_budget_services": ("Cost Explorer service names the budget counts; third-party models (Anthropic's among them) bill under their AWS Marketplace product names, e.g. `Claude Sonnet 4.6 (Amazon Bedrock Edition)`: list yours with `aws ce get-dimension-values --dimension SERVICE` (README \"Costs\").", "[Amazon Bedrock, Claude Sonnet 4.6 (Amazon Bedrock Edition)]"),
    "instances": ("Several Hermes agents in one stack: instance name -> its own values of the per-agent keys (namespace, storage, resources, credentials, models, hosts, restoreFromSnapshot; settings.INSTANCE_KEYS); what an instance leaves out it takes from the top-level key. Empty: one instance named `hermes` (README \"Add an agent\").", "{hermes: {}, research: {namespace: hermes-research, dashboardHost: research.hermes.corp-internal.net}}"),
    "bedrock_budget_all_marketplace": ("The budget also counts every AWS Marketplace charge of the account (billing entity `AWS Marketplace`), where third-party models on Bedrock bill; false: only bedrockBudgetServices (list the Marketplace names there).", "false"),
}
