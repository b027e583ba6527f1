"""The hermes-eks policies: what no preview or update of this program may do, whatever the stack config says.

Importable on its own (policy/__main__.py is the only place that builds the PolicyPack, which starts a
gRPC server and blocks): the tests call each policy's `validate` with what the program registers.

What a policy sees (pulumi-policy 1.21.0, pulumi_policy/policy.py `_PolicyAnalyzerServicer`):
- a resource policy gets the resource's INPUTS, secrets already unwrapped, numbers as floats, and its
  options (`protect`, ...); a stack policy gets every resource's OUTPUTS at the end of the run;
- a remote component (eks:index:Cluster, awsx:ec2:Vpc) appears with its inputs only, so the rules read
  those inputs and also the custom resources the component creates, where they are known;
- during `pulumi preview` a value that depends on a resource not yet created is unknown; reading it
  raises UnknownValueError, which the SDK reports as an advisory "can't run policy during preview".
  Such a rule runs for real at `pulumi up`, before the resource is created or changed.

Per-stack exceptions come from the policy config (policy/config/<stack>.json), per Hermes instance under a
rule's `instances` (`_config`). The engine fills schema defaults in; the code repeats each default
(`_config`) so a rule is as strict without a config file.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

MANDATORY = EnforcementLevel.MANDATORY

# Modern TLS policies for ALB HTTPS listeners: TLS 1.2 and 1.3 only, forward-secret AEAD ciphers
# (docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html). Not the
# Ext/Ext0/Ext1/Ext2 variants (CBC ciphers) nor the pre-2021 policies; the Load Balancer Controller's
# own default, ELBSecurityPolicy-2016-08, allows TLS 1.0.
MODERN_SSL_POLICIES = [
    "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    "ELBSecurityPolicy-TLS13-1-3-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-PQ-2025-09",
    "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09",
    "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09",
    "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-2-Res-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-2-FIPS-PQ-2025-09",
    "ELBSecurityPolicy-TLS13-1-2-Res-FIPS-PQ-2025-09",
    "ELBSecurityPolicy-TLS13-1-3-FIPS-PQ-2025-09",
]

# AWS Load Balancer Controller annotations (docs/guide/ingress/annotations.md). An Ingress without a
# scheme gets an internal ALB.
ALB_SCHEME = "alb.ingress.kubernetes.io/scheme"
ALB_SSL_POLICY = "alb.ingress.kubernetes.io/ssl-policy"
ALB_LISTEN_PORTS = "alb.ingress.kubernetes.io/listen-ports"
ALB_CERTIFICATE = "alb.ingress.kubernetes.io/certificate-arn"
LOAD_BALANCER_CONTROLLER_CHART = "aws-load-balancer-controller"
ALB_INGRESS_CLASS_PARAMS = "kubernetes:elbv2.k8s.aws/v1beta1:IngressClassParams"

# Kinds whose spec holds a pod template, and where (Kubernetes API reference).
POD_TEMPLATE_PATHS = {
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "kubernetes:core/v1:Pod": ("spec",),
}

IAM_POLICY_DOCUMENTS = {  # resource type -> the input holding a JSON policy document
    "aws:iam/policy:Policy": "policy",
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
}
ROLE = "aws:iam/role:Role"
KUBERNETES_SECRET = "kubernetes:core/v1:Secret"
BEDROCK_INVOKE_ACTIONS = ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream")
POD_IDENTITY_PRINCIPAL = "pods.eks.amazonaws.com"
POD_IDENTITY_ACTIONS = {"sts:AssumeRole", "sts:TagSession"}  # awsdocs amazon-eks-user-guide pod-id-role.adoc
# Session tags EKS Pod Identity sets that name the workload (awsdocs amazon-eks-user-guide pod-id-abac.adoc).
POD_IDENTITY_SESSION_TAGS = ("eks-cluster-arn", "kubernetes-namespace", "kubernetes-service-account")
EKS_OIDC_PROVIDER = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:oidc-provider/(oidc\.eks\.[^/]+/id/[A-Za-z0-9]+)$")
SERVICE_ACCOUNT_SUBJECT = re.compile(r"system:serviceaccount:[a-z0-9-]+:[a-z0-9.-]+")

# An env var whose name says it carries a credential must take it from a Secret (valueFrom). Names are
# compared in UPPER_SNAKE form (_env_style: apiKey, slack_token -> API_KEY, SLACK_TOKEN); the longer words
# also count glued to what precedes them (OPENAI_APIKEY, DBPASSWORD).
SECRET_ENV_NAME = re.compile(
    r"(^|_)(KEY|SECRET|TOKEN|PASSWORD|PASSWD|PASS|CREDENTIALS?|PRIVATE)(_|$)"
    r"|(APIKEY|ACCESSKEY|PASSWORD|PASSWD|TOKEN|SECRET)(_|$)"
)
# Values that are credentials whatever the variable is called: AWS access key ids (long-term AKIA,
# temporary ASIA), PEM private keys, OpenAI-style sk- keys, GitHub tokens, Slack tokens, JWTs.
SECRET_VALUE = re.compile(
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b|-----BEGIN [A-Z ]*PRIVATE KEY-----|\bsk-[A-Za-z0-9_-]{20,}"
    r"|\b(?:ghp|gho|ghs|ghu|ghr)_[A-Za-z0-9]{36}\b|\bgithub_pat_[A-Za-z0-9_]{22,}|\bxox[abposr]-[A-Za-z0-9-]{10,}"
    r"|\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"
    # A password in a URL's userinfo (RFC 3986 section 3.2.1): postgres://user:password@host. A
    # Kubernetes reference $(VAR) in its place is expanded from the pod's env, so it is not a literal.
    r"|\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:]+:(?!\$\()[^\s/?#@]+@"
)
# A credential handed over as a literal in args, a command or an annotation: --password=..., token: ...
CREDENTIAL_ASSIGNMENT = re.compile(
    r"(?i)\b([\w.-]*(?:password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key))"
    r"\s*[=:]\s*['\"]?(?!\$)[^\s'\"]{6,}"
)

# ECR private registry host (docs.aws.amazon.com/AmazonECR/latest/userguide/Registries.html).
ECR_IMAGE = re.compile(r"(\d{12})\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/([^@:\s]+)@sha256:[0-9a-f]{64}")

# What holds state a user cannot recreate: the Hermes volume and its namespace (deleting the namespace
# deletes the claim), the cluster and network it runs in, the image repository prod deploys from, and
# the backup vaults holding the volume's recovery points (the copy Region's too).
STATEFUL_TYPES = (
    "kubernetes:core/v1:PersistentVolumeClaim",
    "kubernetes:core/v1:Namespace",
    "eks:index:Cluster",
    "awsx:ec2:Vpc",
    "aws:ecr/repository:Repository",
    "aws:backup/vault:Vault",  # the recovery points (its keys: backup_vault_keys_protected)
)


# ---------------------------------------------------------------------------------------------
# Helpers: plain functions of the props, shared by the rules
# ---------------------------------------------------------------------------------------------

# The components __main__.py creates once per Hermes instance, each named for its instance: everything
# they create is named `<instance>` or `<instance>-...` (the `hermes` instance's volume: hermes-data).
# A URN names the types of a resource's parents, not their names: urn:pulumi:<stack>::<project>::
# <parent type>$...$<type>::<name> (pulumi 3.x sdk/python/lib/pulumi/urn.py `_parse_urn`, resource.py `create_urn`).
INSTANCE_COMPONENTS = frozenset({
    "hermes-eks:index:HermesAgent", "hermes-eks:index:BedrockAccess", "hermes-eks:index:RestoredVolume",
})


def instance_of(urn: str, instances: Sequence[str]) -> str | None:
    """Which of `instances` created the resource at `urn`: one of its per-instance components is among
    the resource's types and its name is the instance's or starts with `<instance>-` (the longest such
    instance name wins). None for a stack-wide resource (cluster, add-ons, backups, alerts)."""
    parts = urn.split("::", 3)
    if len(parts) < 4 or not INSTANCE_COMPONENTS.intersection(parts[2].split("$")):
        return None
    name = parts[3]
    owners = [i for i in instances if name == i or name.startswith(f"{i}-")]
    return max(owners, key=len, default=None)


def _config(args, key: str, default: Any, resource: Any = None) -> Any:
    """A config value for `resource` (a resource rule's own resource unless given): the value under
    `instances.<instance>` of the rule's config where the resource belongs to that instance and the
    instance names the key, else the rule's value, else the schema's default when the engine did not
    fill it in (tests, old CLIs)."""
    config = args.get_config()
    urn = getattr(resource if resource is not None else args, "urn", None)
    instances = config.get("instances") or {}
    instance = instance_of(urn, list(instances)) if urn and instances else None
    if instance is not None and key in instances[instance]:
        return instances[instance][key]
    return config.get(key, default)


def _config_schema(properties: dict[str, dict], *, per_instance: bool = True) -> PolicyConfigSchema:
    """A rule's config schema; `instances` maps an instance name to exceptions, in the same keys and
    schema, for that instance's resources only (see `_config`)."""
    if per_instance:
        properties = {**properties, "instances": {
            "type": "object",
            "description": "instance name -> values of these keys for that Hermes instance's resources only",
            "additionalProperties": {"type": "object", "properties": dict(properties), "additionalProperties": False},
        }}
    return PolicyConfigSchema(properties=properties)


def _get(value: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _as_list(value: Any) -> list:
    # The engine hands policies lists as pulumi_policy's _ListProxy, a Sequence but not a list.
    if value is None:
        return []
    return list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value]


def _document(value: Any) -> dict:
    """An IAM policy document given as JSON text (the usual input) or as an object."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, Mapping) else {}


def _statements(document: Mapping) -> list[Mapping]:
    return [s for s in _as_list(document.get("Statement")) if isinstance(s, Mapping)]


def _allows(statement: Mapping) -> bool:
    return statement.get("Effect", "Allow") == "Allow"


def policy_documents(resource_type: str, props: Mapping) -> list[dict]:
    """Every permissions policy document a resource carries (not trust policies)."""
    if resource_type in IAM_POLICY_DOCUMENTS:
        return [_document(props.get(IAM_POLICY_DOCUMENTS[resource_type]))]
    if resource_type == ROLE:
        return [_document(p.get("policy")) for p in _as_list(props.get("inlinePolicies")) if isinstance(p, Mapping)]
    return []


def pod_spec(resource_type: str, props: Mapping) -> Mapping | None:
    path = POD_TEMPLATE_PATHS.get(resource_type)
    spec = _get(props, *path) if path else None
    return spec if isinstance(spec, Mapping) else None


def pod_annotations(resource_type: str, props: Mapping) -> Mapping:
    """The annotations of the pod (template) whose spec pod_spec returns."""
    path = POD_TEMPLATE_PATHS.get(resource_type)
    annotations = _get(props, *path[:-1], "metadata", "annotations") if path else None
    return annotations if isinstance(annotations, Mapping) else {}


def containers(spec: Mapping) -> Iterator[tuple[str, Mapping]]:
    """("container"|"initContainer", container) for every container of a pod spec."""
    for kind, key in (("initContainer", "initContainers"), ("container", "containers")):
        for container in _as_list(spec.get(key)):
            if isinstance(container, Mapping):
                yield kind, container


def _is_alb_ingress(props: Mapping) -> bool:
    annotations = _get(props, "metadata", "annotations") or {}
    return (_get(props, "spec", "ingressClassName") or annotations.get("kubernetes.io/ingress.class")) == "alb"


def _ingress_class(props: Mapping) -> str:
    annotations = _get(props, "metadata", "annotations") or {}
    return _get(props, "spec", "ingressClassName") or annotations.get("kubernetes.io/ingress.class") or ""


def _has_https_listener(annotations: Mapping) -> bool:
    return "HTTPS" in str(annotations.get(ALB_LISTEN_PORTS, "")) or bool(annotations.get(ALB_CERTIFICATE))


# ---------------------------------------------------------------------------------------------
# 1. The dashboard is never reachable from the internet
# ---------------------------------------------------------------------------------------------

def _dashboard_not_internet_facing(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props, kind = args.props, args.resource_type
    allow_internet = _config(args, "allowInternetFacing", False)
    if kind == "kubernetes:core/v1:Service":
        service_type = _get(props, "spec", "type") or "ClusterIP"
        if service_type in ("NodePort", "LoadBalancer"):
            report(f"Service {args.name} is of type {service_type}, which opens it on every node or on a "
                   "load balancer. The Hermes Services must be ClusterIP; expose them through the Ingress.")
        if _as_list(_get(props, "spec", "externalIPs")):
            report(f"Service {args.name} has externalIPs {list(_get(props, 'spec', 'externalIPs'))}: every node "
                   "accepts the Service's traffic on them.")
    elif kind == ALB_INGRESS_CLASS_PARAMS:
        # IngressClassParams' scheme overrides every Ingress annotation of its class (LBC docs,
        # guide/ingress/ingress_class.md, spec.scheme).
        scheme = _get(props, "spec", "scheme")
        if scheme not in (None, "internal") and not allow_internet:
            report(f"IngressClassParams {args.name} makes every ALB of its class {scheme}.")
    elif kind == "kubernetes:networking.k8s.io/v1:Ingress":
        if _is_alb_ingress(props):
            scheme = (_get(props, "metadata", "annotations") or {}).get(ALB_SCHEME, "internal")
            if scheme != "internal" and not allow_internet and not is_messaging_webhook_ingress(props):
                report(f"Ingress {args.name} asks for an {scheme} ALB ({ALB_SCHEME}). Set ingressScheme to "
                       "`internal`, or have the platform team set allowInternetFacing in this stack's policy config.")
        elif _ingress_class(props) not in _config(args, "internalIngressClasses", []):
            report(f"Ingress {args.name} uses IngressClass {_ingress_class(props)!r}, which this policy cannot "
                   "tell is internal. List it in internalIngressClasses of this stack's policy config once "
                   "the platform team has confirmed its controller is not internet-facing.")
    elif kind in ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer"):
        if not props.get("internal", False) and not allow_internet:
            report(f"Load balancer {args.name} is internet-facing (internal is not true).")


# --- the one exception: the messaging webhook Ingress (issue 15) ------------------------------------
# Platforms that deliver messages by webhook (WhatsApp Cloud, Twilio SMS) must reach the gateway from the
# internet. The program gives them an Ingress of its own (components/messaging.py webhook_rule): each rule
# path is exactly one webhook route (pathType Exact) to the named port of the `<name>-webhooks` Service,
# which has only those ports. Such an Ingress may be internet-facing; anything more (a prefix, `/`, another
# Service or port) is judged like every other Ingress. The routes, literally, from the 0.19.0 adapters:
# gateway/platforms/whatsapp_cloud.py DEFAULT_WEBHOOK_PATH and plugins/platforms/sms/adapter.py (line 126).
MESSAGING_WEBHOOK_ROUTES = {("/whatsapp/webhook", "whatsapp"), ("/webhooks/twilio", "twilio")}


def is_messaging_webhook_ingress(props: Mapping) -> bool:
    paths = [path for rule in _as_list(_get(props, "spec", "rules"))
             for path in _as_list(_get(rule, "http", "paths"))]
    if not paths or _get(props, "spec", "defaultBackend"):
        return False
    for path in paths:
        service = _get(path, "backend", "service") or {}
        if (path.get("pathType") != "Exact"
                or (path.get("path"), _get(service, "port", "name")) not in MESSAGING_WEBHOOK_ROUTES
                or not str(service.get("name", "")).endswith("-webhooks")):
            return False
    return True


# The webhook ports, literally: 0.19.0's gateway/platforms/whatsapp_cloud.py listens on 8090 (lines 89-91),
# plugins/platforms/sms/adapter.py on 8080 (lines 43-44); components/messaging.py names them whatsapp, twilio.
MESSAGING_WEBHOOK_PORTS = {"whatsapp": 8090, "twilio": 8080}
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
SERVICE = "kubernetes:core/v1:Service"


def webhook_service_problems(service: Mapping | None, name: str) -> Iterator[str]:
    """Why the Service a webhook Ingress routes to may reach more than the webhook adapters: every port
    is a webhook port name to its own port number (targetPort that name or number), and nothing else."""
    if service is None:
        yield f"Service {name!r} is not in this stack, so its ports cannot be checked"
        return
    if _get(service, "spec", "type") not in (None, "ClusterIP"):
        yield f"Service {name!r} is of type {_get(service, 'spec', 'type')}"
    for port in _as_list(_get(service, "spec", "ports")):
        port_name = port.get("name") if isinstance(port, Mapping) else None
        number = MESSAGING_WEBHOOK_PORTS.get(port_name)
        if number is None or port.get("port") != number or port.get("targetPort") not in (port_name, number):
            target = _get(port, "targetPort")
            yield (f"Service {name!r} port {port_name!r} ({_whole(_get(port, 'port'))} -> "
                   f"{_whole(target)}) is not a webhook port (allowed: "
                   f"{', '.join(f'{n!r} ({p} -> {n})' for n, p in MESSAGING_WEBHOOK_PORTS.items())})")


def _whole(value: Any) -> Any:
    # Numbers in outputs come back as floats (8090.0).
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _messaging_webhook_service_ports(args: StackValidationArgs, report: ReportViolation) -> None:
    """is_messaging_webhook_ingress trusts the Ingress's Service and port names; here the Service and the
    container ports those names resolve to are checked among the stack's resources."""
    services = {(_get(r.props, "metadata", "namespace"), _get(r.props, "metadata", "name")): r.props
                for r in args.resources if r.resource_type == SERVICE}
    for resource in args.resources:
        if resource.resource_type != INGRESS or not is_messaging_webhook_ingress(resource.props):
            continue
        namespace = _get(resource.props, "metadata", "namespace")
        names = {str(_get(path, "backend", "service", "name"))
                 for rule in _as_list(_get(resource.props, "spec", "rules"))
                 for path in _as_list(_get(rule, "http", "paths"))}
        for name in sorted(names):
            for problem in webhook_service_problems(services.get((namespace, name)), name):
                report(f"Webhook Ingress {resource.name}: {problem}.", resource.urn)
    for resource in args.resources:
        spec = pod_spec(resource.resource_type, resource.props)
        for kind, container in containers(spec or {}):
            for port in _as_list(container.get("ports")):
                if (isinstance(port, Mapping) and port.get("name") in MESSAGING_WEBHOOK_PORTS
                        and port.get("containerPort") != MESSAGING_WEBHOOK_PORTS[port.get("name")]):
                    report(f"{resource.name}: {kind} {container.get('name')!r} names port "
                           f"{_whole(port.get('containerPort'))} {port.get('name')!r}, the webhook port of "
                           f"{MESSAGING_WEBHOOK_PORTS[port.get('name')]}.", resource.urn)


messaging_webhook_service_ports = StackValidationPolicy(
    name="messaging-webhook-service-ports",
    description="The Service behind the internet-facing messaging webhook Ingress has only the webhook ports "
                "(whatsapp 8090, twilio 8080), and no container names another port after them.",
    enforcement_level=MANDATORY,
    validate=_messaging_webhook_service_ports,
)


dashboard_not_internet_facing = ResourceValidationPolicy(
    name="dashboard-not-internet-facing",
    description="The Hermes dashboard and API are never reachable from the internet: no NodePort, "
                "LoadBalancer or externalIPs Service, and only internal load balancers (Ingress annotation, "
                "IngressClassParams, ELB) unless the stack allows otherwise.",
    enforcement_level=MANDATORY,
    validate=_dashboard_not_internet_facing,
    config_schema=_config_schema({
        "allowInternetFacing": {
            "type": "boolean", "default": False,
            "description": "Allow an internet-facing ALB (e.g. behind OIDC login); a reviewed exception.",
        },
        "internalIngressClasses": {
            "type": "array", "items": {"type": "string"}, "default": [],
            "description": "IngressClasses other than alb whose controller is known to be internal-only.",
        },
    }),
)


# ---------------------------------------------------------------------------------------------
# 2. TLS listeners use a modern policy; the EKS endpoint is never open to the whole internet
# ---------------------------------------------------------------------------------------------

def _tls_modern_policy(args: ResourceValidationArgs, report: ReportViolation) -> None:
    allowed = _config(args, "allowedSslPolicies", MODERN_SSL_POLICIES)
    props, kind = args.props, args.resource_type

    def check(where: str, policy: Any) -> None:
        if policy not in allowed:
            report(f"{where} uses TLS policy {policy!r}; allowed: {', '.join(allowed)}.")

    if kind == "kubernetes:networking.k8s.io/v1:Ingress" and _is_alb_ingress(props):
        annotations = _get(props, "metadata", "annotations") or {}
        if _has_https_listener(annotations):
            check(f"Ingress {args.name} ({ALB_SSL_POLICY})", annotations.get(ALB_SSL_POLICY))
    elif kind in ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart"):
        if props.get("chart") == LOAD_BALANCER_CONTROLLER_CHART:
            # Used by every Ingress without its own ssl-policy annotation; the chart's default is weak.
            check(f"the Load Balancer Controller's defaultSSLPolicy (release {args.name})",
                  _get(props, "values", "defaultSSLPolicy"))
    elif kind in ("aws:lb/listener:Listener", "aws:alb/listener:Listener"):
        if props.get("protocol") in ("HTTPS", "TLS"):
            check(f"Listener {args.name}", props.get("sslPolicy"))


tls_modern_policy = ResourceValidationPolicy(
    name="tls-modern-policy",
    description="HTTPS listeners (ALB Ingress annotation, the Load Balancer Controller's default, ELB "
                "listeners) use a TLS 1.2+ policy with only modern ciphers.",
    enforcement_level=MANDATORY,
    validate=_tls_modern_policy,
    config_schema=_config_schema({
        "allowedSslPolicies": {
            "type": "array", "items": {"type": "string"}, "default": MODERN_SSL_POLICIES,
            "description": "ELB security policies a listener may use.",
        },
    }),
)


# How much of the internet the public endpoint may admit, all CIDRs together: at most one /8 of IPv4
# (2^24 addresses) and one /32 of IPv6 (2^96, one RIR allocation to a network). Egress ranges of
# offices, VPNs and runners are far smaller; anything wider is the internet cut into pieces
# (0.0.0.0/1 + 128.0.0.0/1 is 0.0.0.0/0).
MAX_ENDPOINT_ADDRESSES = {4: 2 ** 24, 6: 2 ** 96}
IPV4_MAPPED = ipaddress.ip_network("::ffff:0:0/96")


def endpoint_reach_problem(cidrs: list) -> str | None:
    """Why these public endpoint CIDRs admit too much of the internet (None: they do not).
    Unset means open: EKS's publicAccessCidrs default is 0.0.0.0/0 (EKS API VpcConfigRequest)."""
    if not cidrs:
        return "no CIDRs, which EKS takes as 0.0.0.0/0"
    networks: dict[int, list] = {4: [], 6: []}
    written: dict[int, list] = {4: [], 6: []}  # the CIDRs as given, for the message
    for cidr in cidrs:
        try:
            network = ipaddress.ip_network(str(cidr), strict=False)
        except ValueError:
            return f"{cidr!r}, which is not a CIDR"
        networks[network.version].append(network)
        written[network.version].append(str(cidr))
        # An IPv4-mapped IPv6 range (::ffff:0:0/96, RFC 4291 section 2.5.5.2) names IPv4 addresses: it counts
        # against the IPv4 budget, a range containing all of it as the whole IPv4 internet.
        if network.version == 6 and network.subnet_of(IPV4_MAPPED):
            networks[4].append(ipaddress.ip_network(
                (network.network_address.ipv4_mapped, network.prefixlen - 96)))
            written[4].append(str(cidr))
        elif network.version == 6 and network.supernet_of(IPV4_MAPPED):
            networks[4].append(ipaddress.ip_network("0.0.0.0/0"))
            written[4].append(str(cidr))
    for version, found in networks.items():
        covered = sum(n.num_addresses for n in ipaddress.collapse_addresses(found))
        if covered > MAX_ENDPOINT_ADDRESSES[version]:
            limit = "one /8" if version == 4 else "one /32"
            return (f"{written[version]}, together {covered} IPv{version} addresses "
                    f"({covered / 2 ** (32 if version == 4 else 128):.1%} of the space), more than {limit}")
    return None


def _eks_endpoint_restricted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if _config(args, "allowOpenPublicEndpoint", False):
        return
    props = args.props
    if args.resource_type == "eks:index:Cluster":  # pulumi-eks: endpointPublicAccess defaults to true
        public, cidrs = props.get("endpointPublicAccess", True), _as_list(props.get("publicAccessCidrs"))
    elif args.resource_type == "aws:eks/cluster:Cluster":  # the cluster pulumi-eks creates
        vpc = props.get("vpcConfig") or {}
        public, cidrs = vpc.get("endpointPublicAccess", True), _as_list(vpc.get("publicAccessCidrs"))
    else:
        return
    problem = endpoint_reach_problem(cidrs) if public is not False else None
    if problem:
        report(f"EKS cluster {args.name} has a public API endpoint open to {problem}. Set "
               "endpointPublicAccessCidrs to your egress ranges, or endpointPublicAccess to false.")


eks_endpoint_restricted = ResourceValidationPolicy(
    name="eks-endpoint-restricted",
    description="The EKS public API endpoint never admits the internet: its CIDRs together cover at most "
                "one IPv4 /8 and one IPv6 /32 (so no 0.0.0.0/0, ::/0 or pieces of them), unless the stack allows it.",
    enforcement_level=MANDATORY,
    validate=_eks_endpoint_restricted,
    config_schema=_config_schema(per_instance=False, properties={
        "allowOpenPublicEndpoint": {
            "type": "boolean", "default": False,
            "description": "Allow a public endpoint open to any address (throwaway stacks only).",
        },
    }),
)


# ---------------------------------------------------------------------------------------------
# 3. Hermes images come from the stack's ECR repository, by digest
# ---------------------------------------------------------------------------------------------

ECR_REPOSITORY = "aws:ecr/repository:Repository"
IMAGE_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def _image_from_stack_ecr(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Runs before the workload changes: the image is an ECR image by digest, of the configured
    repository. Which account and Region that repository is in only the stack knows
    (image_from_own_ecr_repository below)."""
    spec = pod_spec(args.resource_type, args.props)
    if spec is None or not _config(args, "requireEcrDigest", True):
        return
    repository = _config(args, "ecrRepository", "")
    for kind, container in containers(spec):
        image = str(container.get("image", ""))
        match = ECR_IMAGE.fullmatch(image)
        if match is None:
            report(f"{kind} {container.get('name')!r} of {args.name} runs {image!r}: not an ECR image pinned "
                   "by digest (<account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<64 hex>). "
                   "Use imageSource `mirror` or `git`.")
        elif repository and match.group(2) != repository:
            report(f"{kind} {container.get('name')!r} of {args.name} runs an image from ECR repository "
                   f"{match.group(2)!r}; this stack deploys only from {repository!r}.")


image_from_stack_ecr = ResourceValidationPolicy(
    name="image-from-stack-ecr",
    description="Hermes containers run an image from the stack's own ECR repository, pinned by digest.",
    enforcement_level=MANDATORY,
    validate=_image_from_stack_ecr,
    config_schema=_config_schema({
        "requireEcrDigest": {
            "type": "boolean", "default": True,
            "description": "Require <ECR repository>@sha256:<digest> images (false: stacks without ECR).",
        },
        "ecrRepository": {
            "type": "string", "default": "",
            "description": "The stack's ECR repository name (empty: any ECR repository).",
        },
    }),
)


def _image_from_own_ecr_repository(args: StackValidationArgs, report: ReportViolation) -> None:
    """The stack's own repository is one this stack registers: its repositoryUrl
    (<account>.dkr.ecr.<region>.amazonaws.com/<name>) names account, Region and repository at once, so
    an image is compared with it exactly; another account's or Region's registry with the same
    repository name, another repository, a tag or a look-alike host all differ from it. A stack that
    creates no repository is image-from-stack-ecr's alone."""
    own = sorted(str(r.props.get("repositoryUrl")) for r in args.resources if r.resource_type == ECR_REPOSITORY)
    if not own:
        return
    for resource in args.resources:
        spec = pod_spec(resource.resource_type, resource.props)
        if spec is None:
            continue
        for kind, container in containers(spec):
            image = str(container.get("image", ""))
            repository, _, digest = image.partition("@")
            if repository not in own or not IMAGE_DIGEST.fullmatch(digest):
                report(f"{kind} {container.get('name')!r} of {resource.name} runs {image!r}, not an image of the "
                       f"ECR repository this stack creates ({' or '.join(own)}@sha256:<64 hex>).", resource.urn)


image_from_own_ecr_repository = StackValidationPolicy(
    name="image-from-own-ecr-repository",
    description="Where the stack creates an ECR repository, every container runs an image of exactly that "
                "repository (same account, Region and name), pinned by digest.",
    enforcement_level=MANDATORY,
    validate=_image_from_own_ecr_repository,
)


# ---------------------------------------------------------------------------------------------
# 4. IAM: no wildcard actions, Bedrock invoke never on *, workload trust scoped to one service account
# ---------------------------------------------------------------------------------------------

# AWS managed policies choose their own actions (many with wildcards, e.g. AdministratorAccess' "*"):
# attaching one is granting whatever it holds, so only those reviewed for this program may be
# attached: the node role's three (EKS User Guide create-node-role), the EBS CSI driver's
# (ebs-csi.adoc), the CloudWatch agent's (install-CloudWatch-Observability-EKS-addon) and AWS
# Backup's (security-iam-awsmanpol). Written without partition.
REVIEWED_MANAGED_POLICIES = [
    "AmazonEKSWorkerNodePolicy",
    "AmazonEC2ContainerRegistryReadOnly",
    "AmazonEKS_CNI_Policy",
    "service-role/AmazonEBSCSIDriverPolicy",
    "CloudWatchAgentServerPolicy",
    "service-role/AWSBackupServiceRolePolicyForBackup",
]
AWS_MANAGED_POLICY = re.compile(r"arn:aws[a-z-]*:iam::aws:policy/(.+)")
POLICY_ATTACHMENTS = (
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
)


def _attached_policies(resource_type: str, props: Mapping) -> list:
    if resource_type in POLICY_ATTACHMENTS:
        return [props.get("policyArn")]
    if resource_type == ROLE:
        return _as_list(props.get("managedPolicyArns"))
    return []


def _iam_no_wildcard_actions(args: ResourceValidationArgs, report: ReportViolation) -> None:
    allowed = set(_config(args, "allowedActions", []))
    for document in policy_documents(args.resource_type, args.props):
        for statement in filter(_allows, _statements(document)):
            if "NotAction" in statement:
                report(f"{args.name} allows NotAction {statement['NotAction']!r}: every other action of AWS.")
            for action in _as_list(statement.get("Action")):
                if ("*" in action or "?" in action) and action not in allowed:
                    report(f"{args.name} allows the wildcard action {action!r}; list the actions it needs.")
    reviewed = set(_config(args, "allowedManagedPolicies", REVIEWED_MANAGED_POLICIES))
    for arn in _attached_policies(args.resource_type, args.props):
        match = AWS_MANAGED_POLICY.fullmatch(str(arn))
        if match and match.group(1) not in reviewed:
            report(f"{args.name} attaches the AWS managed policy {arn!r}, whose actions AWS chooses; attach one "
                   "of the reviewed policies or write the actions it needs.")


iam_no_wildcard_actions = ResourceValidationPolicy(
    name="iam-no-wildcard-actions",
    description="IAM permissions policies name their actions: no `*`, `service:*` or `Describe*`, no NotAction; "
                "AWS managed policies (whose actions AWS chooses) only from a reviewed list.",
    enforcement_level=MANDATORY,
    validate=_iam_no_wildcard_actions,
    config_schema=_config_schema({
        "allowedActions": {
            "type": "array", "items": {"type": "string"}, "default": [],
            "description": "Wildcard actions allowed as reviewed exceptions, e.g. a vendored policy's.",
        },
        "allowedManagedPolicies": {
            "type": "array", "items": {"type": "string"}, "default": REVIEWED_MANAGED_POLICIES,
            "description": "AWS managed policies that may be attached, as the path/name after "
                           "arn:<partition>:iam::aws:policy/.",
        },
    }),
)


# What a Bedrock invoke may name: one foundation model (no account) or one inference profile of an
# account (Service Authorization Reference, Amazon Bedrock resource types foundation-model,
# inference-profile, application-inference-profile). No `*`, `?` or ${policy variable} anywhere.
BEDROCK_MODEL_ARN = re.compile(
    r"arn:aws[a-z-]*:bedrock:[a-z]{2}(?:-[a-z]+)+-\d:"
    r"(?:(?P<account>\d{12}):(?:inference-profile|application-inference-profile)|:foundation-model)"
    r"/[A-Za-z0-9][A-Za-z0-9.:_-]*"
)


def _invoke_matches(patterns: list) -> bool:
    return any(fnmatch.fnmatchcase(invoke.lower(), str(pattern).lower())
               for pattern in patterns for invoke in BEDROCK_INVOKE_ACTIONS)


def _grants_bedrock_invoke(statement: Mapping) -> bool:
    """Action patterns are case-insensitive and may be wildcards (bedrock:Invoke*, *); NotAction grants
    every action it does not list."""
    if "NotAction" in statement:
        excluded = _as_list(statement.get("NotAction"))
        return any(not any(fnmatch.fnmatchcase(invoke.lower(), str(p).lower()) for p in excluded)
                   for invoke in BEDROCK_INVOKE_ACTIONS)
    return _invoke_matches(_as_list(statement.get("Action")))


def bedrock_invoke_statements(document: Mapping) -> list[Mapping]:
    return [s for s in filter(_allows, _statements(document)) if _grants_bedrock_invoke(s)]


def _bedrock_invoke_scoped(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for document in policy_documents(args.resource_type, args.props):
        for statement in bedrock_invoke_statements(document):
            if "NotResource" in statement:
                report(f"{args.name} allows Bedrock invoke on NotResource {statement['NotResource']!r}: "
                       "every other resource.")
            resources = _as_list(statement.get("Resource"))
            if not resources and "NotResource" not in statement:
                report(f"{args.name} allows Bedrock invoke without a Resource.")
            for resource in resources:
                if not BEDROCK_MODEL_ARN.fullmatch(str(resource)):
                    report(f"{args.name} allows Bedrock invoke on {resource!r}: grant the configured models "
                           "and inference profiles by their full ARNs, with no wildcard.")


bedrock_invoke_scoped = ResourceValidationPolicy(
    name="bedrock-invoke-scoped",
    description="Bedrock InvokeModel* (whatever action pattern grants it) is allowed only on named "
                "foundation-model and inference-profile ARNs: no `*` or `?` anywhere in an ARN, no NotResource.",
    enforcement_level=MANDATORY,
    validate=_bedrock_invoke_scoped,
)


def _arn_account(arn: Any) -> str | None:
    parts = str(arn or "").split(":")
    return parts[4] if len(parts) > 5 and re.fullmatch(r"\d{12}", parts[4]) else None


def _bedrock_invoke_own_account(args: StackValidationArgs, report: ReportViolation) -> None:
    """An inference profile routes requests and bills them to its account: a profile ARN of another
    account would let the workload spend (and send data) there. The stack's account is the one its
    roles are in; with roles in several accounts, the account of the role holding the policy (a
    RolePolicy names its role by name, which is the aws.iam.Role id)."""
    roles = [r for r in args.resources if r.resource_type == ROLE]
    accounts = {_arn_account(r.props.get("arn")) for r in roles} - {None}
    by_name = {str(r.props.get("name")): _arn_account(r.props.get("arn")) for r in roles}
    for resource in args.resources:
        if resource.resource_type not in (*IAM_POLICY_DOCUMENTS, ROLE):
            continue
        if len(accounts) == 1:
            account = next(iter(accounts))
        elif resource.resource_type == "aws:iam/rolePolicy:RolePolicy":
            account = by_name.get(str(resource.props.get("role")))
        else:
            account = _arn_account(resource.props.get("arn"))
        if not account:
            continue  # a role from outside this stack
        for document in policy_documents(resource.resource_type, resource.props):
            for statement in bedrock_invoke_statements(document):
                for arn in _as_list(statement.get("Resource")):
                    match = BEDROCK_MODEL_ARN.fullmatch(str(arn))
                    if match and match.group("account") and match.group("account") != account:
                        report(f"{resource.name} allows Bedrock invoke on {arn!r}, an inference profile of "
                               f"account {match.group('account')}; this stack's account is {account}.", resource.urn)


bedrock_invoke_own_account = StackValidationPolicy(
    name="bedrock-invoke-own-account",
    description="Bedrock inference profiles a role may invoke belong to the role's own account.",
    enforcement_level=MANDATORY,
    validate=_bedrock_invoke_own_account,
)


def trust_problems(document: Mapping) -> list[str]:
    """What is wrong with a role's trust policy for a Kubernetes workload identity (empty: nothing)."""
    problems = []
    for statement in filter(_allows, _statements(document)):
        principal = statement.get("Principal")
        if principal == "*" or (isinstance(principal, Mapping) and "*" in _as_list(principal.get("AWS"))):
            problems.append("trusts every AWS principal (Principal *)")
            continue
        if not isinstance(principal, Mapping):
            continue
        actions = set(_as_list(statement.get("Action")))
        services = _as_list(principal.get("Service"))
        if POD_IDENTITY_PRINCIPAL in services:
            others = sorted(set(services) - {POD_IDENTITY_PRINCIPAL}) + sorted(set(principal) - {"Service"})
            if others:
                problems.append(f"trusts {others} besides {POD_IDENTITY_PRINCIPAL} in its Pod Identity statement")
            if not actions <= POD_IDENTITY_ACTIONS:
                problems.append(f"lets EKS Pod Identity do {sorted(actions - POD_IDENTITY_ACTIONS)}; "
                                f"allowed: {sorted(POD_IDENTITY_ACTIONS)}")
            problems += _pod_identity_tag_problems(statement)
        for provider in _as_list(principal.get("Federated")):
            match = EKS_OIDC_PROVIDER.match(str(provider))
            if match is None:
                problems += _web_identity_problems(statement, str(provider))
                continue
            issuer = match.group(1)
            equals = _get(statement, "Condition", "StringEquals") or {}
            if equals.get(f"{issuer}:aud") != "sts.amazonaws.com":
                problems.append(f"IRSA trust without StringEquals {issuer}:aud = sts.amazonaws.com")
            subject = equals.get(f"{issuer}:sub")
            if not (isinstance(subject, str) and SERVICE_ACCOUNT_SUBJECT.fullmatch(subject)):
                problems.append(f"IRSA trust without StringEquals {issuer}:sub = "
                                f"system:serviceaccount:<namespace>:<name> (found {subject!r})")
            if actions != {"sts:AssumeRoleWithWebIdentity"}:
                problems.append(f"IRSA trust allows {sorted(actions)}; only sts:AssumeRoleWithWebIdentity")
    return problems


def _pod_identity_tag_problems(statement: Mapping) -> list[str]:
    """pods.eks.amazonaws.com alone admits every Pod Identity association in the account. EKS tags each
    session with the pod's cluster, namespace and service account (EKS User Guide pod-id-abac): the
    trust must pin each with StringEquals on one literal value. Another operator (StringLike,
    ForAnyValue:..., ...) or a second value would admit other workloads; extra keys only narrow."""
    equals = _get(statement, "Condition", "StringEquals") or {}
    problems = []
    for tag in POD_IDENTITY_SESSION_TAGS:
        key = f"aws:RequestTag/{tag}"
        values = _as_list(equals.get(key))
        if len(values) != 1 or not isinstance(values[0], str) or not values[0] or any(c in values[0] for c in "*?$"):
            problems.append(f"Pod Identity trust without StringEquals {key} = <one {tag}> (found {equals.get(key)!r})")
    return problems


def _web_identity_problems(statement: Mapping, provider: str) -> list[str]:
    """Any other OIDC issuer (GitHub Actions, Pulumi Cloud): conditions on both its aud and its sub.
    Without a sub condition every repository or organization on that issuer could assume the role
    (AWS IAM User Guide, id_roles_create_for-idp_oidc.html, "Configuring a role for GitHub OIDC")."""
    if "oidc-provider/" not in provider:
        return []
    issuer = provider.split("oidc-provider/", 1)[1]
    conditions: dict[str, list] = {}
    for operator in (statement.get("Condition") or {}).values():
        for key, value in (operator or {}).items():
            conditions.setdefault(key, []).extend(_as_list(value))
    problems = []
    for claim in ("aud", "sub"):
        values = conditions.get(f"{issuer}:{claim}", [])
        if not values or any(str(v).strip("*") == "" for v in values):
            problems.append(f"web identity trust of {issuer} without a condition on {issuer}:{claim} "
                            "naming who may assume it")
    return problems


def _workload_trust_scoped(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != ROLE:
        return
    for problem in trust_problems(_document(args.props.get("assumeRolePolicy"))):
        report(f"Role {args.name} {problem}.")


workload_trust_scoped = ResourceValidationPolicy(
    name="workload-trust-scoped",
    description="A role's trust names who may assume it: IRSA on both aud and one service account's sub, "
                "other OIDC issuers on both aud and sub, Pod Identity only pods.eks.amazonaws.com with "
                "StringEquals on the cluster, namespace and service account session tags, never Principal *.",
    enforcement_level=MANDATORY,
    validate=_workload_trust_scoped,
)


# The namespace each EKS add-on runs its Pod Identity service accounts in: aws-ebs-csi-driver in
# kube-system (EKS User Guide ebs-csi.adoc; chart values controller.serviceAccount ebs-csi-controller-sa),
# amazon-cloudwatch-observability in amazon-cloudwatch (aws-observability/helm-charts
# charts/amazon-cloudwatch-observability README, `--namespace amazon-cloudwatch`). An add-on not listed
# here is checked on its service account only.
ADDON_NAMESPACES = {"aws-ebs-csi-driver": "kube-system", "amazon-cloudwatch-observability": "amazon-cloudwatch"}


def _pod_identity_bindings(resource) -> list[tuple[Any, dict[str, Any]]]:
    """(role ARN, the session tags the bound pods carry) of every Pod Identity binding a resource makes."""
    props = resource.props
    if resource.resource_type == "aws:eks/podIdentityAssociation:PodIdentityAssociation":
        return [(props.get("roleArn"), {"eks-cluster-name": props.get("clusterName"),
                                        "kubernetes-namespace": props.get("namespace"),
                                        "kubernetes-service-account": props.get("serviceAccount")})]
    if resource.resource_type == "aws:eks/addon:Addon":
        namespace = ADDON_NAMESPACES.get(str(props.get("addonName")))
        return [(a.get("roleArn"), {"eks-cluster-name": props.get("clusterName"), "kubernetes-namespace": namespace,
                                    "kubernetes-service-account": a.get("serviceAccount")})
                for a in _as_list(props.get("podIdentityAssociations")) if isinstance(a, Mapping)]
    return []


def _pod_identity_roles(args: StackValidationArgs, report: ReportViolation) -> None:
    roles = {str(r.props.get("arn")): r for r in args.resources if r.resource_type == ROLE}
    for resource in args.resources:
        for arn, bound in _pod_identity_bindings(resource):
            role = roles.get(str(arn))
            if role is None:
                continue  # a role from outside this stack: its trust is not ours to read
            document = _document(role.props.get("assumeRolePolicy"))
            statements = list(filter(_allows, _statements(document)))
            trusted = {p for s in statements for p in _as_list(_get(s, "Principal", "Service"))}
            only_services = all(isinstance(s.get("Principal"), Mapping) and set(s["Principal"]) == {"Service"}
                                for s in statements)
            if trusted != {POD_IDENTITY_PRINCIPAL} or not only_services:
                report(f"Role {role.name} is bound through EKS Pod Identity ({resource.name}) but its trust "
                       f"policy does not trust exactly {POD_IDENTITY_PRINCIPAL}.", resource.urn)
                continue
            for problem in trust_problems(document):
                report(f"Role {role.name}, bound through EKS Pod Identity ({resource.name}), {problem}.", resource.urn)
            for statement in statements:
                tags = _get(statement, "Condition", "StringEquals") or {}
                admitted = {
                    "eks-cluster-name": str(tags.get("aws:RequestTag/eks-cluster-arn", "")).rpartition(":cluster/")[2],
                    "kubernetes-namespace": tags.get("aws:RequestTag/kubernetes-namespace"),
                    "kubernetes-service-account": tags.get("aws:RequestTag/kubernetes-service-account"),
                }
                for tag, value in bound.items():
                    if value is not None and admitted[tag] != value:
                        report(f"Role {role.name} admits {tag} {admitted[tag]!r} but {resource.name} binds it to "
                               f"{value!r}: the trust must name the workload the role is bound to.", resource.urn)


pod_identity_roles = StackValidationPolicy(
    name="pod-identity-roles-trust-only-eks-pods",
    description="Every role bound through EKS Pod Identity trusts pods.eks.amazonaws.com and nothing else, "
                "and only the cluster, namespace and service account it is bound to (StringEquals on the "
                "session tags aws:RequestTag/eks-cluster-arn, kubernetes-namespace, kubernetes-service-account).",
    enforcement_level=MANDATORY,
    validate=_pod_identity_roles,
)


# ---------------------------------------------------------------------------------------------
# 5. Containers: memory limits, probes, no credential as a plain env value
# ---------------------------------------------------------------------------------------------

def _memory_limits_and_probes(args: ResourceValidationArgs, report: ReportViolation) -> None:
    spec = pod_spec(args.resource_type, args.props)
    if spec is None:
        return
    for kind, container in containers(spec):
        name = container.get("name")
        if not _get(container, "resources", "limits", "memory"):
            report(f"{kind} {name!r} of {args.name} has no memory limit: one leak could starve the node.")
        if kind == "container":  # init containers cannot have probes (Kubernetes API validation)
            for probe in ("readinessProbe", "livenessProbe"):
                if not container.get(probe):
                    report(f"container {name!r} of {args.name} has no {probe}.")


memory_limits_and_probes = ResourceValidationPolicy(
    name="containers-have-memory-limits-and-probes",
    description="Every container has a memory limit; every long-running container a readiness and liveness probe.",
    enforcement_level=MANDATORY,
    validate=_memory_limits_and_probes,
)


def _strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, text) of every string in a manifest, keys included."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield f"{path}.{key}" if path else str(key), str(key)
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, Sequence):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def _literal_flag_or_annotation(path: str, text: str) -> bool:
    """An argument, command word or annotation value of one line. A multi-line string there is a script
    (sh -c, python -c), where `token = ...` is code, not a credential; credentials of a known shape
    in it are still found by SECRET_VALUE."""
    return "\n" not in text and ("].args[" in path or "].command[" in path or ".annotations." in path)


def _credential_problems(resource_type: str, props: Mapping, allowed_names: set) -> Iterator[str]:
    # A Secret's data is where credentials belong (the secret-outputs check is below).
    if resource_type != KUBERNETES_SECRET:
        for path, text in _strings(props):
            if SECRET_VALUE.search(text):
                yield f"{path} holds what looks like a credential"
            elif _literal_flag_or_annotation(path, text) and CREDENTIAL_ASSIGNMENT.search(text):
                yield f"{path} passes a credential as a literal ({CREDENTIAL_ASSIGNMENT.search(text).group(1)}=...)"
    if resource_type == "kubernetes:core/v1:ConfigMap":
        for field in ("data", "binaryData"):
            for key, value in (props.get(field) or {}).items():
                if value and SECRET_ENV_NAME.search(_env_style(key)) and key not in allowed_names:
                    yield f"{field}.{key} is named like a credential: ConfigMaps are not secret, use a Secret"
    spec = pod_spec(resource_type, props)
    if spec is None:
        return
    for kind, container in containers(spec):
        where = f"{kind} {container.get('name')!r}"
        for env in _as_list(container.get("env")):
            if not isinstance(env, Mapping) or env.get("name") in allowed_names:
                continue
            name = str(env.get("name", ""))
            if not SECRET_ENV_NAME.search(_env_style(name)):
                continue
            if env.get("value"):
                yield f"{where} sets {name} as a plain value; put it in a Secret and use valueFrom.secretKeyRef"
            elif _get(env, "valueFrom", "configMapKeyRef"):
                yield f"{where} takes {name} from a ConfigMap, which is not secret; use valueFrom.secretKeyRef"


def _env_style(key: str) -> str:
    """A key in UPPER_SNAKE form: apiKey, api-key, slack_token -> API_KEY, API_KEY, SLACK_TOKEN."""
    return re.sub(r"[^A-Za-z0-9]+", "_", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key)).upper()


def _no_plain_credentials(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not args.resource_type.startswith("kubernetes:"):
        return
    allowed = set(_config(args, "allowedPlainEnvNames", []))
    for problem in _credential_problems(args.resource_type, args.props, allowed):
        report(f"{args.resource_type} {args.name}: {problem}.")
    if args.resource_type == KUBERNETES_SECRET:
        # Pulumi stores inputs and outputs in its state; only secret outputs are encrypted there. The
        # pulumi-kubernetes SDKs list both fields for every core/v1 Secret (pulumi/pulumi-kubernetes#1194):
        # this catches a Secret registered some other way.
        present = {field for field in ("data", "stringData") if args.props.get(field)}
        missing = sorted(present - set(args.opts.additional_secret_outputs or []))
        if missing:
            report(f"Secret {args.name} does not mark {missing} as secret outputs (additional_secret_outputs): "
                   "its values would sit in plain text in the Pulumi state.")


no_plain_credentials = ResourceValidationPolicy(
    name="no-plain-credentials",
    description="No credential in plain text anywhere in a Kubernetes manifest: not in env values, "
                "args, commands, annotations or ConfigMaps (of any container, init containers too), no "
                "credential-named env var from a ConfigMap, and a Secret's data marked secret in the Pulumi state.",
    enforcement_level=MANDATORY,
    validate=_no_plain_credentials,
    config_schema=_config_schema({
        "allowedPlainEnvNames": {
            "type": "array", "items": {"type": "string"}, "default": [],
            "description": "Env or ConfigMap key names that look like credentials but are not (reviewed exceptions).",
        },
    }),
)


# ---------------------------------------------------------------------------------------------
# 5b. Pod Security baseline, with the Hermes image's documented capabilities
# ---------------------------------------------------------------------------------------------

# The capabilities each container may add (Kubernetes Pod Security Standards, baseline: a container
# adds only what it needs). hermes: s6-overlay's init drops to UID 10000 with s6-setuidgid and
# repairs HERMES_HOME (components/hermes_agent.py S6_CAPABILITIES); volume-owner: gives the volume's
# files to UID 10000 (VOLUME_OWNER_CAPABILITIES). Keyed by container name.
DOCUMENTED_CAPABILITIES = {
    "hermes": ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID", "KILL"],
    "volume-owner": ["CHOWN", "DAC_OVERRIDE"],
}


# Kubernetes Pod Security Standards, Baseline (kubernetes.io/docs/concepts/security/pod-security-standards/):
# "Sysctls" lists the only sysctls a pod may set; "SELinux" the only seLinuxOptions types (user and role
# must be unset); "AppArmor" the allowed profiles: appArmorProfile type RuntimeDefault or Localhost (or
# unset), annotation container.apparmor.security.beta.kubernetes.io/* runtime/default or localhost/* (or unset).
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
SELINUX_TYPES = {"container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
APPARMOR_PROFILE_TYPES = {None, "RuntimeDefault", "Localhost"}


def _confinement_problems(where: str, context: Mapping) -> Iterator[str]:
    """SELinux and AppArmor settings of a pod or container securityContext outside the baseline."""
    selinux = context.get("seLinuxOptions") or {}
    if selinux.get("type") not in (None, "", *SELINUX_TYPES):
        yield f"{where} sets seLinuxOptions type {selinux.get('type')!r} (allowed: {sorted(SELINUX_TYPES)})"
    for field in ("user", "role"):
        if selinux.get(field):
            yield f"{where} sets seLinuxOptions {field} {selinux.get(field)!r}"
    if _get(context, "appArmorProfile", "type") not in APPARMOR_PROFILE_TYPES:
        yield f"{where} has appArmorProfile {_get(context, 'appArmorProfile', 'type')}"


def pod_security_problems(spec: Mapping, allowed_capabilities: Mapping,
                          annotations: Mapping | None = None) -> Iterator[str]:
    """Where a pod spec breaks the Pod Security baseline (kubernetes.io/docs/concepts/security/
    pod-security-standards, "Baseline") or lets a process gain privileges (allowPrivilegeEscalation
    must be false: unset means true). Only pod templates the program registers are read: the pods of a
    Helm release (the Load Balancer Controller) or an EKS add-on are its chart's and not visible here."""
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            yield f"the pod sets {field}: true"
    for volume in _as_list(spec.get("volumes")):
        if isinstance(volume, Mapping) and "hostPath" in volume:
            yield f"volume {volume.get('name')!r} is a hostPath"
    if _get(spec, "securityContext", "seccompProfile", "type") == "Unconfined":
        yield "the pod's seccompProfile is Unconfined"
    if _get(spec, "securityContext", "windowsOptions", "hostProcess"):
        yield "the pod is a Windows HostProcess pod"
    for sysctl in _as_list(_get(spec, "securityContext", "sysctls")):
        if isinstance(sysctl, Mapping) and sysctl.get("name") not in SAFE_SYSCTLS:
            yield f"the pod sets sysctl {sysctl.get('name')!r}, outside the baseline's safe set"
    yield from _confinement_problems("the pod", spec.get("securityContext") or {})
    for key, value in (annotations or {}).items():
        if (str(key).startswith(APPARMOR_ANNOTATION_PREFIX) and value
                and value != "runtime/default" and not str(value).startswith("localhost/")):
            yield f"annotation {key} sets AppArmor profile {value!r}"
    for kind, container in containers(spec):
        name = str(container.get("name"))
        where = f"{kind} {name!r}"
        context = container.get("securityContext") or {}
        if context.get("privileged"):
            yield f"{where} is privileged"
        if context.get("allowPrivilegeEscalation") is not False:
            yield f"{where} does not set allowPrivilegeEscalation: false"
        added = {str(c).upper().removeprefix("CAP_") for c in _as_list(_get(context, "capabilities", "add"))}
        extra = sorted(added - set(allowed_capabilities.get(name, [])))
        if extra:
            yield f"{where} adds capabilities {extra} (allowed for it: {sorted(allowed_capabilities.get(name, []))})"
        if _get(context, "seccompProfile", "type") == "Unconfined":
            yield f"{where} has seccompProfile Unconfined"
        if context.get("procMount") not in (None, "Default"):
            yield f"{where} sets procMount {context.get('procMount')}"
        if _get(context, "windowsOptions", "hostProcess"):
            yield f"{where} is a Windows HostProcess container"
        yield from _confinement_problems(where, context)
        for port in _as_list(container.get("ports")):
            if isinstance(port, Mapping) and port.get("hostPort"):
                yield f"{where} binds hostPort {port.get('hostPort')}"


def _pod_security_baseline(args: ResourceValidationArgs, report: ReportViolation) -> None:
    spec = pod_spec(args.resource_type, args.props)
    if spec is None:
        return
    for problem in pod_security_problems(spec, _config(args, "allowedCapabilities", DOCUMENTED_CAPABILITIES),
                                         pod_annotations(args.resource_type, args.props)):
        report(f"{args.name}: {problem}.")


pod_security_baseline = ResourceValidationPolicy(
    name="pod-security-baseline",
    description="Pods meet the Pod Security baseline: no privileged container, no host network, PID or IPC "
                "namespace, no hostPath volume or hostPort, no Unconfined seccomp or unmasked /proc, no unsafe "
                "sysctl, SELinux type, user or role, no Unconfined AppArmor, no "
                "capability beyond each container's documented set, and allowPrivilegeEscalation false.",
    enforcement_level=MANDATORY,
    validate=_pod_security_baseline,
    config_schema=_config_schema({
        "allowedCapabilities": {
            "type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "default": DOCUMENTED_CAPABILITIES,
            "description": "Container name -> the Linux capabilities it may add (documented exceptions).",
        },
    }),
)


# ---------------------------------------------------------------------------------------------
# 5c. Encryption at rest, as the stack intends it
# ---------------------------------------------------------------------------------------------

EBS_PROVISIONERS = ("ebs.csi.aws.com", "kubernetes.io/aws-ebs")


def encryption_problem(resource_type: str, props: Mapping, log_groups_need_kms: bool) -> str | None:
    """Each kind's own encryption switch (AWS API references; the EBS CSI driver's `encrypted`
    StorageClass parameter, docs/parameters.md). CloudWatch Logs encrypts every log group at rest
    whatever its settings (CloudWatch Logs user guide, encrypt-log-data-kms): a customer key is only
    required where the stack's policy config asks for one."""
    if resource_type == "kubernetes:storage.k8s.io/v1:StorageClass":
        if props.get("provisioner") in EBS_PROVISIONERS:
            encrypted = str(_get(props, "parameters", "encrypted") or "")
            if encrypted.lower() != "true":
                return f"an EBS StorageClass without parameters.encrypted \"true\" (found {encrypted or 'unset'!r})"
    elif resource_type == "aws:ebs/volume:Volume":
        if props.get("encrypted") is not True:
            return "an EBS volume without encrypted: true"
    elif resource_type == ECR_REPOSITORY:
        configurations = [c for c in _as_list(props.get("encryptionConfigurations")) if isinstance(c, Mapping)]
        types = [c.get("encryptionType") for c in configurations]
        if not set(types) & {"KMS", "KMS_DSSE"}:
            return f"an ECR repository without a KMS encryptionConfiguration (found {types or 'none'})"
    elif resource_type == "aws:sns/topic:Topic":
        if not props.get("kmsMasterKeyId"):
            return "an SNS topic without kmsMasterKeyId"
    elif resource_type == "aws:backup/vault:Vault":
        if not props.get("kmsKeyArn"):
            return "a backup vault without kmsKeyArn (its own key)"
    elif resource_type == "aws:cloudwatch/logGroup:LogGroup":
        if log_groups_need_kms and not props.get("kmsKeyId"):
            return "a log group without kmsKeyId"
    return None


def _encryption_at_rest(args: ResourceValidationArgs, report: ReportViolation) -> None:
    problem = encryption_problem(args.resource_type, args.props, _config(args, "requireLogGroupKms", False))
    if problem:
        report(f"{args.name} is {problem}.")


encryption_at_rest = ResourceValidationPolicy(
    name="encryption-at-rest",
    description="Data at rest is encrypted as the stack intends: EBS StorageClasses and volumes encrypted, "
                "ECR repositories with KMS, SNS topics and backup vaults with a KMS key (log groups with a "
                "customer key only where the policy config asks; CloudWatch Logs encrypts them anyway).",
    enforcement_level=MANDATORY,
    validate=_encryption_at_rest,
    config_schema=_config_schema({
        "requireLogGroupKms": {
            "type": "boolean", "default": False,
            "description": "Also require a customer-managed KMS key (kmsKeyId) on every CloudWatch log group.",
        },
    }),
)


# ---------------------------------------------------------------------------------------------
# 6. Stateful resources are protected where the stack says they matter (prod)
# ---------------------------------------------------------------------------------------------

# A claim the program binds to a restored volume (restoreFromSnapshot) is registered retain_on_delete,
# not protect, so that clearing the key goes back without deleting it (components/restored_volume.py).
# Policies see `protect` only (pulumi_policy.PolicyResourceOptions), so the claim says what it is.
RESTORED_FROM_ANNOTATION = "hermes-eks/restored-from-snapshot"


def _stateful_resources_protected(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in STATEFUL_TYPES or not _config(args, "requireProtection", True):
        return
    if (args.resource_type == "kubernetes:core/v1:PersistentVolumeClaim"
            and RESTORED_FROM_ANNOTATION in (_get(args.props, "metadata", "annotations") or {})):
        return
    if not args.opts.protect:
        report(f"{args.resource_type} {args.name} is not protected: an update that deletes or replaces it "
               "would go through. Set protectInfrastructure: true in the stack file.")
    if args.resource_type == "aws:ecr/repository:Repository" and args.props.get("forceDelete"):
        report(f"ECR repository {args.name} has forceDelete: deleting it would delete every image (ecrForceDelete).")
    if args.resource_type == "eks:index:Cluster" and not args.props.get("deletionProtection"):
        report(f"EKS cluster {args.name} has no deletionProtection.")
    if args.resource_type == "aws:backup/vault:Vault" and args.props.get("forceDestroy"):
        report(f"Backup vault {args.name} has forceDestroy: deleting it deletes every recovery point.")


stateful_resources_protected = ResourceValidationPolicy(
    name="stateful-resources-protected",
    description="The Hermes volume, its namespace, the cluster, its VPC, the ECR repository and the backup "
                "vaults are protected (and the repository and vaults are not force-deleted, the cluster has "
                "deletion protection).",
    enforcement_level=MANDATORY,
    validate=_stateful_resources_protected,
    config_schema=_config_schema({
        "requireProtection": {
            "type": "boolean", "default": True,
            "description": "false only for stacks whose state may be lost (dev, local, review stacks).",
        },
    }),
)


def _volume_retained(args: StackValidationArgs, report: ReportViolation) -> None:
    classes = [r for r in args.resources if r.resource_type == "kubernetes:storage.k8s.io/v1:StorageClass"]
    by_name = {_get(c.props, "metadata", "name"): c for c in classes}
    default = [c for c in classes
               if (_get(c.props, "metadata", "annotations") or {}).get("storageclass.kubernetes.io/is-default-class") == "true"]
    for claim in args.resources:
        if claim.resource_type != "kubernetes:core/v1:PersistentVolumeClaim":
            continue
        if not _config(args, "requireRetain", True, claim):
            continue
        name = _get(claim.props, "spec", "storageClassName")
        storage_class = by_name.get(name) if name else (default[0] if default else None)
        if storage_class is None:
            continue  # a class this stack does not manage (an adopted cluster's): not ours to read
        policy = storage_class.props.get("reclaimPolicy") or "Delete"
        if policy != "Retain":
            report(f"Volume claim {claim.name} uses StorageClass {_get(storage_class.props, 'metadata', 'name')!r} "
                   f"with reclaimPolicy {policy}: deleting the claim would delete the disk. "
                   "Set volumeReclaimPolicy: Retain.", claim.urn)


volume_retained = StackValidationPolicy(
    name="hermes-volume-retained",
    description="The disk behind the Hermes volume outlives its claim: its StorageClass reclaims with Retain.",
    enforcement_level=MANDATORY,
    validate=_volume_retained,
    config_schema=_config_schema({
        "requireRetain": {
            "type": "boolean", "default": True,
            "description": "false only for stacks whose Hermes data may be lost.",
        },
    }),
)


BACKUP_VAULT = "aws:backup/vault:Vault"
KMS_KEY = "aws:kms/key:Key"
# Days KMS waits before deleting a key scheduled for deletion: 7 to 30 (KMS ScheduleKeyDeletion).
KMS_MAX_DELETION_WINDOW = 30


def _backup_vault_keys_protected(args: StackValidationArgs, report: ReportViolation) -> None:
    """A deleted key makes every recovery point it encrypts unreadable: the KMS key of each backup vault
    (found by the vault's kmsKeyArn, so a vault moved to another key is checked on that one) is
    protected like the vault, with the longest deletion window."""
    if not _config(args, "requireProtection", True):
        return
    keys = {str(r.props.get("arn")): r for r in args.resources if r.resource_type == KMS_KEY}
    for vault in args.resources:
        if vault.resource_type != BACKUP_VAULT:
            continue
        key = keys.get(str(vault.props.get("kmsKeyArn")))
        if key is None:
            continue  # an AWS-managed or another stack's key: not ours to delete
        if not key.opts.protect:
            report(f"KMS key {key.name} encrypts backup vault {vault.name} but is not protected.", key.urn)
        window = key.props.get("deletionWindowInDays") or KMS_MAX_DELETION_WINDOW
        if window < KMS_MAX_DELETION_WINDOW:
            report(f"KMS key {key.name} encrypts backup vault {vault.name} with a deletion window of "
                   f"{window:g} days; use {KMS_MAX_DELETION_WINDOW}.", key.urn)


backup_vault_keys_protected = StackValidationPolicy(
    name="backup-vault-keys-protected",
    description="The KMS keys that encrypt backup vaults (the copy Region's too) are protected like the "
                "vaults, with a 30-day deletion window.",
    enforcement_level=MANDATORY,
    validate=_backup_vault_keys_protected,
    config_schema=_config_schema(per_instance=False, properties={
        "requireProtection": {
            "type": "boolean", "default": True,
            "description": "false only for stacks whose recovery points may be lost (dev, local, review stacks).",
        },
    }),
)


POLICIES = [
    dashboard_not_internet_facing,
    messaging_webhook_service_ports,
    tls_modern_policy,
    eks_endpoint_restricted,
    image_from_stack_ecr,
    image_from_own_ecr_repository,
    iam_no_wildcard_actions,
    bedrock_invoke_scoped,
    bedrock_invoke_own_account,
    workload_trust_scoped,
    pod_identity_roles,
    memory_limits_and_probes,
    no_plain_credentials,
    pod_security_baseline,
    encryption_at_rest,
    stateful_resources_protected,
    volume_retained,
    backup_vault_keys_protected,
]
