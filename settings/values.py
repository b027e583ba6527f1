"""Constants and the value types of the settings: a failing check raises ValueError(<what is allowed>)."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, SecretStr

from components.addon_versions import ADDON_VERSION_PATTERN
from components.bedrock_access import GEO_REGIONS, GLOBAL
from components.hermes_agent import env_file_problem
from components.observability import RETENTION_DAYS

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
