"""BedrockAccess: the Hermes pod's IAM role, with which only that pod may invoke the configured Bedrock
models and publish its volume's fill level (components/volume_metrics.py). One role per stack for the
Hermes service account, so this is also where the volume-metrics grant lives; each grant is optional.

The permissions policy is built here from data, by pure functions, so every document can be checked
without Pulumi. Model ids come in three kinds (docs.aws.amazon.com/bedrock/latest/userguide/
inference-profiles-prereq.html):
- a foundation model id (`anthropic.claude-...`): invoked in the one Region Hermes calls;
- a geographic system inference profile (`us.`, `eu.`, ...): the profile, plus the foundation model in
  every Region the profile may route to, usable only through that profile
  (geographic-cross-region-inference.html, "IAM policy requirements");
- a global system inference profile (`global.`): AWS's three-part policy, including the Region-less
  foundation-model ARN that Bedrock evaluates with aws:RequestedRegion = "unspecified"
  (global-cross-region-inference.html, "IAM policy requirements for global cross-Region inference").

A geographic profile's destinations are resolved from Bedrock while the program runs
(resolve_destinations, via GetInferenceProfile), since AWS adds destination Regions over time and a
missing grant fails the first call routed there; GEO_REGIONS is only the offline fallback.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import pulumi
import pulumi_aws as aws

from components.volume_metrics import put_metric_policy
from components.workload_identity import ClusterIdentity, WorkloadRole

INVOKE_ACTIONS = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
GLOBAL = "global"

# Destination Regions of the system-defined (geographic) inference profiles, per geography prefix:
# the union over all models of https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html
# (snapshot of about Dec 2025) plus the newer Claude 4.6 profiles' lists. A profile's destinations depend
# on the model and on the source Region; granting the foundation model in the whole superset widens
# nothing, because those grants only apply through the profile (bedrock:InferenceProfileArn) and a
# profile only routes to its own destinations. `us.` includes Canada for newer models.
# In that page every Region a geography's profiles can be called from is also one of its destinations,
# so the same table says which source Regions each prefix accepts.
GEO_REGIONS: dict[str, tuple[str, ...]] = {
    "us": ("ca-central-1", "ca-west-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2"),
    "us-gov": ("us-gov-east-1", "us-gov-west-1"),
    "eu": ("eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1",
           "eu-west-2", "eu-west-3", "il-central-1"),
    "apac": ("ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-south-2",
             "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5",
             "ap-southeast-7", "me-central-1"),
    "jp": ("ap-northeast-1", "ap-northeast-3"),
    "au": ("ap-southeast-2", "ap-southeast-4"),
    "ca": ("ca-central-1", "ca-west-1"),
}

# Global profiles route to any commercial Region (not enumerable, and the list grows), which is why
# AWS's policy names the Region-less foundation-model ARN instead. They can be called from these
# source Regions (union over all models on the same page).
GLOBAL_SOURCE_REGIONS = (
    "af-south-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1",
    "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5",
    "ap-southeast-7", "ca-central-1", "ca-west-1", "eu-central-1", "eu-central-2", "eu-north-1",
    "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3", "il-central-1", "me-central-1",
    "me-south-1", "mx-central-1", "sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
)

# `<provider>.<model>[:<version>]`. Only characters model ids use: a `*` or `?` in an ARN would widen
# the grant to models nobody chose.
FOUNDATION_MODEL_ID = re.compile(r"[a-z0-9-]+\.[A-Za-z0-9][A-Za-z0-9._:-]*")

# IAM counts every inline policy of a role together, whitespace excluded, against 10,240 characters
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
ROLE_POLICY_MAX_CHARS = 10_240


class Model(NamedTuple):
    id: str  # as configured, e.g. eu.anthropic.claude-sonnet-4-6
    geo: str | None  # None: a foundation model invoked in-Region
    foundation_model: str


def parse_model_id(model_id: str) -> tuple[str | None, str]:
    """(geography prefix or None, foundation model id)."""
    prefix, _, rest = model_id.partition(".")
    geo, foundation_model = (prefix, rest) if prefix in GEO_REGIONS or prefix == GLOBAL else (None, model_id)
    if not FOUNDATION_MODEL_ID.fullmatch(foundation_model):
        raise ValueError(
            f"Bedrock model {model_id!r} is not a model id: expected <provider>.<model> such as "
            "anthropic.claude-sonnet-4-5-20250929-v1:0, optionally after a geography prefix ("
            + ", ".join(f"{g}." for g in (*GEO_REGIONS, GLOBAL)) + ")"
        )
    return geo, foundation_model


def check_models(models: Sequence[str], region: str) -> list[Model]:
    """The models, parsed, de-duplicated and sorted; raises ValueError for any that `region` cannot call."""
    if not region:
        raise ValueError("the Bedrock Region is empty: set bedrockRegion or aws:region")
    if not models:
        raise ValueError("no Bedrock model to grant: list at least one model or inference profile")
    parsed = []
    for model_id in sorted(set(models)):
        geo, foundation_model = parse_model_id(model_id)
        sources = GLOBAL_SOURCE_REGIONS if geo == GLOBAL else GEO_REGIONS.get(geo, ())
        if geo is not None and region not in sources:
            raise ValueError(
                f"Bedrock model {model_id!r} is a {geo}. cross-Region inference profile, which can be "
                f"called from {', '.join(sources)}; the Bedrock Region {region!r} is not one of them. "
                "Use the profile of the Region's own geography, or another Region."
            )
        parsed.append(Model(model_id, geo, foundation_model))
    sids = {}
    for model in parsed:
        other = sids.setdefault(_sid_suffix(model.id), model.id)
        if other != model.id:
            raise ValueError(f"Bedrock models {other!r} and {model.id!r} differ only in punctuation")
    return parsed


def _sid_suffix(model_id: str) -> str:
    # IAM Sids in identity policies allow only A-Z, a-z and 0-9 (reference_policies_elements_sid.html).
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+", model_id))


# --- what Bedrock itself says, asked while the program runs (during `pulumi preview` too) -----------

FOUNDATION_MODEL_ARN = re.compile(r"arn:(aws[a-z-]*):bedrock:([a-z0-9-]*)::foundation-model/(.+)")


class ModelUnavailable(Exception):
    """A configured model or inference profile that Bedrock does not offer in the Region."""

    def __init__(self, model_id: str, region: str, reason: str):
        self.model_id, self.region, self.reason = model_id, region, reason
        super().__init__(f"{model_id!r} is not available in {region}: {reason}")


def profile_destinations(profile_id: str, region: str, model_arns: Sequence[str]) -> tuple[str, ...]:
    """The foundation-model ARNs a geographic profile routes to, as GetInferenceProfile lists them:
    checked to be that one model (no wildcard, no other model) in named Regions."""
    _, foundation_model = parse_model_id(profile_id)
    arns = sorted(set(model_arns))
    if not arns:
        raise ModelUnavailable(profile_id, region, "the inference profile lists no destination model")
    for arn in arns:
        match = FOUNDATION_MODEL_ARN.fullmatch(arn)
        if not match or not match.group(2) or match.group(3) != foundation_model or "*" in arn or "?" in arn:
            raise ModelUnavailable(profile_id, region, f"the inference profile routes to {arn}, not a "
                                   f"Regional ARN of foundation model {foundation_model}")
    return tuple(arns)


def resolve_destinations(
    models: Sequence[str],
    region: str,
    get_profile_model_arns: Callable[[str, str], Sequence[str]],
    get_foundation_model: Callable[[str, str], object],
) -> dict[str, tuple[str, ...]]:
    """Destination model ARNs of every geographic system inference profile in `models`, from Bedrock.

    AWS adds destination Regions to profiles over time (GEO_REGIONS is a snapshot), and a grant that
    misses one fails the first call routed there. Every model is also checked to be offered in
    `region`: a foundation model through the foundation-model lookup, a global profile through the
    profile lookup. Raises ModelUnavailable for the first that is not. The lookups are injected so
    this stays testable without Pulumi; `bedrock_lookups()` gives the real ones.
    """
    destinations = {}
    for model in check_models(models, region):
        try:
            if model.geo is None:
                get_foundation_model(model.id, region)
                continue
            arns = get_profile_model_arns(model.id, region)
        except ModelUnavailable:
            raise
        except Exception as error:  # noqa: BLE001 - an invoke's failure: not found, not authorized
            raise ModelUnavailable(model.id, region, str(error).strip().splitlines()[-1][:300]) from None
        if model.geo != GLOBAL:
            destinations[model.id] = profile_destinations(model.id, region, arns)
    return destinations


def bedrock_lookups() -> tuple[Callable[[str, str], Sequence[str]], Callable[[str, str], object]]:
    """The lookups resolve_destinations needs, as plain (blocking) invokes of pulumi-aws 7.51.1:
    aws.bedrock.get_inference_profile(inference_profile_id=...) -> models[].model_arn, and
    aws.bedrockfoundation.get_model(model_id=...); both fail when the Region does not offer the id."""

    def profile_model_arns(profile_id: str, region: str) -> list[str]:
        profile = aws.bedrock.get_inference_profile(inference_profile_id=profile_id, region=region)
        if profile.status and profile.status != "ACTIVE":
            raise ModelUnavailable(profile_id, region, f"the inference profile's status is {profile.status}")
        return [m.model_arn for m in profile.models or []]

    def foundation_model(model_id: str, region: str) -> object:
        return aws.bedrockfoundation.get_model(model_id=model_id, region=region)

    return profile_model_arns, foundation_model


def invoke_policy(
    models: Sequence[str],
    region: str,
    account_id: str,
    partition: str = "aws",
    discovery: bool = False,
    destinations: Mapping[str, Sequence[str]] | None = None,
) -> dict:
    """The permissions policy that lets its holder invoke exactly `models` from `region`.

    `destinations`: each geographic profile's destination model ARNs as Bedrock reports them
    (resolve_destinations); a profile missing from it is granted GEO_REGIONS' snapshot instead.
    """
    parsed = check_models(models, region)
    destinations = destinations or {}

    def model_arn(model_region: str, foundation_model: str) -> str:
        return f"arn:{partition}:bedrock:{model_region}::foundation-model/{foundation_model}"

    def profile_arn(profile_id: str) -> str:
        return f"arn:{partition}:bedrock:{region}:{account_id}:inference-profile/{profile_id}"

    def allow(sid: str, actions: list[str], resources: list[str], condition: dict | None = None) -> dict:
        statement = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}
        if condition:
            statement["Condition"] = {"StringEquals": condition}
        return statement

    foundation = [m for m in parsed if m.geo is None]
    geographic = [m for m in parsed if m.geo not in (None, GLOBAL)]
    global_ = [m for m in parsed if m.geo == GLOBAL]

    statements = []
    if foundation:
        statements.append(allow("InvokeFoundationModels", INVOKE_ACTIONS,
                                [model_arn(region, m.foundation_model) for m in foundation]))
    if geographic:
        statements.append(allow("InvokeGeographicInferenceProfiles", INVOKE_ACTIONS,
                                [profile_arn(m.id) for m in geographic]))
    if global_:
        statements.append(allow("InvokeGlobalInferenceProfiles", INVOKE_ACTIONS,
                                [profile_arn(m.id) for m in global_], {"aws:RequestedRegion": region}))
    for m in geographic:
        resolved = destinations.get(m.id)
        statements.append(allow(
            f"ModelsBehind{_sid_suffix(m.id)}", INVOKE_ACTIONS,
            sorted(resolved) if resolved else [model_arn(r, m.foundation_model) for r in sorted(GEO_REGIONS[m.geo])],
            {"bedrock:InferenceProfileArn": profile_arn(m.id)},
        ))
    for m in global_:
        statements.append(allow(
            f"InRegionModelBehind{_sid_suffix(m.id)}", INVOKE_ACTIONS,
            [model_arn(region, m.foundation_model)],
            {"aws:RequestedRegion": region, "bedrock:InferenceProfileArn": profile_arn(m.id)},
        ))
        # Region and account left empty on purpose: "The global FM ARN has no AWS Region or account
        # specified, which is intentional and required" (global-cross-region-inference.html).
        statements.append(allow(
            f"GlobalModelBehind{_sid_suffix(m.id)}", INVOKE_ACTIONS,
            [model_arn("", m.foundation_model)],
            {"aws:RequestedRegion": "unspecified", "bedrock:InferenceProfileArn": profile_arn(m.id)},
        ))
    if discovery:
        # The List actions support no resource-level permissions (no resource type in
        # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonbedrock.html),
        # so "*" is the only Resource they accept.
        statements.append(allow("ListModelsAndInferenceProfiles",
                                ["bedrock:ListFoundationModels", "bedrock:ListInferenceProfiles"], ["*"]))
        profiles = [profile_arn(m.id) for m in geographic + global_]
        if profiles:
            statements.append(allow("GetInferenceProfiles", ["bedrock:GetInferenceProfile"], sorted(profiles)))

    document = {"Version": "2012-10-17", "Statement": statements}
    size = len(json.dumps(document, separators=(",", ":")))
    if size > ROLE_POLICY_MAX_CHARS:
        raise ValueError(
            f"the Bedrock permissions policy for {len(parsed)} models is {size} characters; IAM allows a "
            f"role {ROLE_POLICY_MAX_CHARS} characters of inline policy. Grant fewer models."
        )
    return document


@dataclass(frozen=True)
class BedrockAccessArgs:
    models: Sequence[str]
    region: str
    namespace: str
    service_account: str
    cluster: ClusterIdentity
    discovery: bool = False
    # Each geographic profile's destination model ARNs, resolved from Bedrock before anything is
    # registered (resolve_destinations); empty: GEO_REGIONS' snapshot.
    destinations: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Also allow cloudwatch:PutMetricData into this namespace (the volume-metrics sidecar); empty: no.
    metric_namespace: str = ""


class BedrockAccess(pulumi.ComponentResource):
    """An IAM role assumable only by `namespace/service_account`, allowed to invoke `models` in `region`
    (none: no invoke policy) and to publish metrics into `metric_namespace` (empty: no metrics policy)."""

    role: aws.iam.Role
    role_arn: pulumi.Output[str]
    policy: aws.iam.RolePolicy | None  # Bedrock invoke; None without models
    metrics_policy: aws.iam.RolePolicy | None
    association: aws.eks.PodIdentityAssociation | None
    service_account_annotations: dict[str, pulumi.Output[str]]
    workload_depends_on: tuple[pulumi.Resource, ...]

    def __init__(self, name: str, args: BedrockAccessArgs, opts: pulumi.ResourceOptions | None = None):
        if args.models or not args.metric_namespace:
            check_models(args.models, args.region)  # before anything is registered
        super().__init__("hermes-eks:index:BedrockAccess", name, None, opts)

        # Named `-bedrock` since before the role carried anything else: renaming it would replace it.
        workload = WorkloadRole(
            f"{name}-bedrock",
            cluster=args.cluster,
            namespace=args.namespace,
            service_account=args.service_account,
            parent=self,
        )
        self.role = workload.role
        self.role_arn = workload.role.arn
        self.association = workload.association
        self.service_account_annotations = workload.service_account_annotations

        self.policy = self._invoke_policy(name, args) if args.models else None
        self.metrics_policy = None
        if args.metric_namespace:
            self.metrics_policy = aws.iam.RolePolicy(
                f"{name}-volume-metrics",
                role=self.role.id,
                policy=json.dumps(put_metric_policy(args.metric_namespace)),
                opts=pulumi.ResourceOptions(parent=self),
            )
        # What the pod must wait for: without the policies its first Bedrock call (or metric) is denied,
        # and under Pod Identity without the association it gets no credentials at all.
        self.workload_depends_on = tuple(
            r for r in (self.policy, self.metrics_policy, self.association) if r is not None)

        self.register_outputs({"role_arn": self.role_arn})

    def _invoke_policy(self, name: str, args: BedrockAccessArgs) -> aws.iam.RolePolicy:
        invoke_opts = pulumi.InvokeOutputOptions(parent=self)
        account_id = aws.get_caller_identity_output(opts=invoke_opts).account_id
        partition = aws.get_partition_output(opts=invoke_opts).partition
        models, region, discovery, destinations = tuple(args.models), args.region, args.discovery, dict(args.destinations)
        return aws.iam.RolePolicy(
            f"{name}-bedrock-invoke",
            role=self.role.id,
            policy=pulumi.Output.all(account_id, partition).apply(
                lambda v: json.dumps(invoke_policy(models, region, v[0], v[1], discovery, destinations))
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
