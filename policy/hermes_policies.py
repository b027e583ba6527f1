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

Per-stack exceptions come from the policy config (policy/config/<stack>.json). The engine fills schema
defaults in; the code repeats each default (`_config`) so a rule is as strict without a config file.
"""

from __future__ import annotations

import fnmatch
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
BEDROCK_INVOKE_ACTIONS = ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream")
POD_IDENTITY_PRINCIPAL = "pods.eks.amazonaws.com"
POD_IDENTITY_ACTIONS = {"sts:AssumeRole", "sts:TagSession"}  # awsdocs amazon-eks-user-guide pod-id-role.adoc
# Session tags EKS Pod Identity sets that name the workload (awsdocs amazon-eks-user-guide pod-id-abac.adoc).
POD_IDENTITY_SESSION_TAGS = ("eks-cluster-arn", "kubernetes-namespace", "kubernetes-service-account")
EKS_OIDC_PROVIDER = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:oidc-provider/(oidc\.eks\.[^/]+/id/[A-Za-z0-9]+)$")
SERVICE_ACCOUNT_SUBJECT = re.compile(r"system:serviceaccount:[a-z0-9-]+:[a-z0-9.-]+")

# An env var whose name says it carries a credential must take it from a Secret (valueFrom).
SECRET_ENV_NAME = re.compile(r"(^|_)(KEY|SECRET|TOKEN|PASSWORD|PASSWD|PASS|CREDENTIALS?|PRIVATE)(_|$)")
# Values that are credentials whatever the variable is called.
SECRET_VALUE = re.compile(r"AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|\bsk-[A-Za-z0-9_-]{20,}")

# ECR private registry host (docs.aws.amazon.com/AmazonECR/latest/userguide/Registries.html).
ECR_IMAGE = re.compile(r"(\d{12})\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/([^@:\s]+)@sha256:[0-9a-f]{64}")

# What holds state a user cannot recreate: the Hermes volume and its namespace (deleting the namespace
# deletes the claim), the cluster and network it runs in, and the image repository prod deploys from.
STATEFUL_TYPES = (
    "kubernetes:core/v1:PersistentVolumeClaim",
    "kubernetes:core/v1:Namespace",
    "eks:index:Cluster",
    "awsx:ec2:Vpc",
    "aws:ecr/repository:Repository",
)


# ---------------------------------------------------------------------------------------------
# Helpers: plain functions of the props, shared by the rules
# ---------------------------------------------------------------------------------------------

def _config(args, key: str, default: Any) -> Any:
    """A config value; the schema's default when the engine did not fill it in (tests, old CLIs)."""
    return args.get_config().get(key, default)


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
    elif kind == "kubernetes:networking.k8s.io/v1:Ingress":
        if _is_alb_ingress(props):
            scheme = (_get(props, "metadata", "annotations") or {}).get(ALB_SCHEME, "internal")
            if scheme != "internal" and not allow_internet:
                report(f"Ingress {args.name} asks for an {scheme} ALB ({ALB_SCHEME}). Set ingressScheme to "
                       "`internal`, or have the platform team set allowInternetFacing in this stack's policy config.")
        elif _ingress_class(props) not in _config(args, "internalIngressClasses", []):
            report(f"Ingress {args.name} uses IngressClass {_ingress_class(props)!r}, which this policy cannot "
                   "tell is internal. List it in internalIngressClasses of this stack's policy config once "
                   "the platform team has confirmed its controller is not internet-facing.")
    elif kind in ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer"):
        if not props.get("internal", False) and not allow_internet:
            report(f"Load balancer {args.name} is internet-facing (internal is not true).")


dashboard_not_internet_facing = ResourceValidationPolicy(
    name="dashboard-not-internet-facing",
    description="The Hermes dashboard and API are never reachable from the internet: no NodePort or "
                "LoadBalancer Service, and only internal load balancers unless the stack allows otherwise.",
    enforcement_level=MANDATORY,
    validate=_dashboard_not_internet_facing,
    config_schema=PolicyConfigSchema(properties={
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
    config_schema=PolicyConfigSchema(properties={
        "allowedSslPolicies": {
            "type": "array", "items": {"type": "string"}, "default": MODERN_SSL_POLICIES,
            "description": "ELB security policies a listener may use.",
        },
    }),
)


def _open_to_world(cidrs: list) -> bool:
    # Unset means open: EKS's publicAccessCidrs default is 0.0.0.0/0 (EKS API VpcConfigRequest).
    return not cidrs or any(c in ("0.0.0.0/0", "::/0") for c in cidrs)


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
    if public is not False and _open_to_world(cidrs):
        report(f"EKS cluster {args.name} has a public API endpoint open to {cidrs or ['0.0.0.0/0 (default)']}. "
               "Set endpointPublicAccessCidrs to your egress ranges, or endpointPublicAccess to false.")


eks_endpoint_restricted = ResourceValidationPolicy(
    name="eks-endpoint-restricted",
    description="The EKS public API endpoint is never open to 0.0.0.0/0 (or ::/0) unless the stack allows it.",
    enforcement_level=MANDATORY,
    validate=_eks_endpoint_restricted,
    config_schema=PolicyConfigSchema(properties={
        "allowOpenPublicEndpoint": {
            "type": "boolean", "default": False,
            "description": "Allow a public endpoint open to any address (throwaway stacks only).",
        },
    }),
)


# ---------------------------------------------------------------------------------------------
# 3. Hermes images come from the stack's ECR repository, by digest
# ---------------------------------------------------------------------------------------------

def _image_from_stack_ecr(args: ResourceValidationArgs, report: ReportViolation) -> None:
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
    config_schema=PolicyConfigSchema(properties={
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


# ---------------------------------------------------------------------------------------------
# 4. IAM: no wildcard actions, Bedrock invoke never on *, workload trust scoped to one service account
# ---------------------------------------------------------------------------------------------

def _iam_no_wildcard_actions(args: ResourceValidationArgs, report: ReportViolation) -> None:
    allowed = set(_config(args, "allowedActions", []))
    for document in policy_documents(args.resource_type, args.props):
        for statement in filter(_allows, _statements(document)):
            if "NotAction" in statement:
                report(f"{args.name} allows NotAction {statement['NotAction']!r}: every other action of AWS.")
            for action in _as_list(statement.get("Action")):
                if ("*" in action or "?" in action) and action not in allowed:
                    report(f"{args.name} allows the wildcard action {action!r}; list the actions it needs.")


iam_no_wildcard_actions = ResourceValidationPolicy(
    name="iam-no-wildcard-actions",
    description="IAM permissions policies name their actions: no `*`, `service:*` or `Describe*`, no NotAction.",
    enforcement_level=MANDATORY,
    validate=_iam_no_wildcard_actions,
    config_schema=PolicyConfigSchema(properties={
        "allowedActions": {
            "type": "array", "items": {"type": "string"}, "default": [],
            "description": "Wildcard actions allowed as reviewed exceptions, e.g. a vendored policy's.",
        },
    }),
)


def _grants_bedrock_invoke(actions: list) -> bool:
    return any(fnmatch.fnmatchcase(invoke.lower(), str(action).lower())
               for action in actions for invoke in BEDROCK_INVOKE_ACTIONS)


def _bedrock_invoke_scoped(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for document in policy_documents(args.resource_type, args.props):
        for statement in filter(_allows, _statements(document)):
            if not _grants_bedrock_invoke(_as_list(statement.get("Action"))):
                continue
            if "NotResource" in statement:
                report(f"{args.name} allows Bedrock invoke on NotResource {statement['NotResource']!r}.")
            for resource in _as_list(statement.get("Resource")):
                if resource == "*" or str(resource).endswith("/*"):
                    report(f"{args.name} allows Bedrock invoke on {resource!r}: grant the configured models "
                           "and inference profiles by ARN.")


bedrock_invoke_scoped = ResourceValidationPolicy(
    name="bedrock-invoke-scoped",
    description="Bedrock InvokeModel* is granted on named models and inference profiles, never on `*`.",
    enforcement_level=MANDATORY,
    validate=_bedrock_invoke_scoped,
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


def _no_plain_secret_env(args: ResourceValidationArgs, report: ReportViolation) -> None:
    spec = pod_spec(args.resource_type, args.props)
    if spec is None:
        return
    allowed = set(_config(args, "allowedPlainEnvNames", []))
    for kind, container in containers(spec):
        for env in _as_list(container.get("env")):
            if not isinstance(env, Mapping) or "value" not in env or env.get("name") in allowed:
                continue
            name, value = str(env.get("name", "")), str(env.get("value") or "")
            if (value and SECRET_ENV_NAME.search(name)) or SECRET_VALUE.search(value):
                report(f"{kind} {container.get('name')!r} of {args.name} sets {name} as a plain value; "
                       "put it in a Secret and use valueFrom.secretKeyRef.")


no_plain_secret_env = ResourceValidationPolicy(
    name="no-plain-secret-env",
    description="Credentials reach containers through Secrets (valueFrom), never as plain env values in "
                "the manifest, where they would sit in the Deployment, its history and the Pulumi state.",
    enforcement_level=MANDATORY,
    validate=_no_plain_secret_env,
    config_schema=PolicyConfigSchema(properties={
        "allowedPlainEnvNames": {
            "type": "array", "items": {"type": "string"}, "default": [],
            "description": "Env names that look like credentials but are not (reviewed exceptions).",
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


stateful_resources_protected = ResourceValidationPolicy(
    name="stateful-resources-protected",
    description="The Hermes volume, its namespace, the cluster, its VPC and the ECR repository are protected "
                "(and the repository is not force-deleted, the cluster has deletion protection).",
    enforcement_level=MANDATORY,
    validate=_stateful_resources_protected,
    config_schema=PolicyConfigSchema(properties={
        "requireProtection": {
            "type": "boolean", "default": True,
            "description": "false only for stacks whose state may be lost (dev, local, review stacks).",
        },
    }),
)


def _volume_retained(args: StackValidationArgs, report: ReportViolation) -> None:
    if not _config(args, "requireRetain", True):
        return
    classes = [r for r in args.resources if r.resource_type == "kubernetes:storage.k8s.io/v1:StorageClass"]
    by_name = {_get(c.props, "metadata", "name"): c for c in classes}
    default = [c for c in classes
               if (_get(c.props, "metadata", "annotations") or {}).get("storageclass.kubernetes.io/is-default-class") == "true"]
    for claim in args.resources:
        if claim.resource_type != "kubernetes:core/v1:PersistentVolumeClaim":
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
    config_schema=PolicyConfigSchema(properties={
        "requireRetain": {
            "type": "boolean", "default": True,
            "description": "false only for stacks whose Hermes data may be lost.",
        },
    }),
)


POLICIES = [
    dashboard_not_internet_facing,
    tls_modern_policy,
    eks_endpoint_restricted,
    image_from_stack_ecr,
    iam_no_wildcard_actions,
    bedrock_invoke_scoped,
    workload_trust_scoped,
    pod_identity_roles,
    memory_limits_and_probes,
    no_plain_secret_env,
    stateful_resources_protected,
    volume_retained,
]
