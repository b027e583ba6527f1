"""BedrockAccess: the trust and permissions documents, exactly, and the role as the component registers it.

The expected documents are written out by hand from AWS's own examples
(geographic-cross-region-inference.html, global-cross-region-inference.html), not computed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pytest
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from components.bedrock_access import BedrockAccess, BedrockAccessArgs, invoke_policy, parse_model_id
from components.workload_identity import ClusterIdentity, irsa_trust_policy, pod_identity_trust_policy
from tests import fake_cloud
from tests.harness import FakeCloudMocks, RecordingMonitor, Registered

ACCOUNT = fake_cloud.ACCOUNT
INVOKE = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
SONNET_45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
US_SONNET_45 = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/us.{SONNET_45}"
EU_SONNET_46 = f"arn:aws:bedrock:eu-central-1:{ACCOUNT}:inference-profile/eu.anthropic.claude-sonnet-4-6"
GLOBAL_SONNET_46 = f"arn:aws:bedrock:eu-central-1:{ACCOUNT}:inference-profile/global.anthropic.claude-sonnet-4-6"

COMPONENT = "hermes-eks:index:BedrockAccess"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
OIDC_PROVIDER_ARN = f"arn:aws:iam::{fake_cloud.ACCOUNT}:oidc-provider/{fake_cloud.OIDC_ISSUER}"


# --- trust policies --------------------------------------------------------------------------------

IRSA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/"
                                   "oidc.eks.eu-central-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {
            "oidc.eks.eu-central-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE:aud": "sts.amazonaws.com",
            "oidc.eks.eu-central-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE:sub":
                "system:serviceaccount:hermes:hermes",
        }},
    }],
}

CLUSTER_ARN = f"arn:aws:eks:us-east-1:{ACCOUNT}:cluster/hermes-dev"
# Without the three session-tag conditions any Pod Identity association in the account could assume
# the role (EKS User Guide pod-id-abac, pod-id-role).
POD_IDENTITY_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Principal": {"Service": "pods.eks.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:TagSession"],
        "Condition": {"StringEquals": {
            "aws:RequestTag/eks-cluster-arn": f"arn:aws:eks:us-east-1:{ACCOUNT}:cluster/hermes-dev",
            "aws:RequestTag/kubernetes-namespace": "hermes",
            "aws:RequestTag/kubernetes-service-account": "hermes",
        }},
    }],
}


def test_irsa_trust_lets_only_the_one_service_account_assume_the_role_with_sts_audience():
    assert irsa_trust_policy(OIDC_PROVIDER_ARN, fake_cloud.OIDC_ISSUER, "hermes", "hermes") == IRSA_TRUST


def test_irsa_trust_strips_https_from_the_issuer_because_condition_keys_carry_none():
    issuer = "https://" + fake_cloud.OIDC_ISSUER
    assert irsa_trust_policy(OIDC_PROVIDER_ARN, issuer, "hermes", "hermes") == IRSA_TRUST


def test_pod_identity_trust_admits_only_the_one_service_account_of_the_one_cluster():
    assert pod_identity_trust_policy(CLUSTER_ARN, "hermes", "hermes") == POD_IDENTITY_TRUST


# --- permissions policy, one model kind at a time ----------------------------------------------------

def test_a_foundation_model_is_granted_in_the_one_region_only():
    assert invoke_policy([SONNET_45], "us-east-1", ACCOUNT) == {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "InvokeFoundationModels",
            "Effect": "Allow",
            "Action": INVOKE,
            "Resource": [f"arn:aws:bedrock:us-east-1::foundation-model/{SONNET_45}"],
        }],
    }


US_PROFILE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "InvokeGeographicInferenceProfiles",
            "Effect": "Allow",
            "Action": INVOKE,
            "Resource": [US_SONNET_45],
        },
        {
            "Sid": "ModelsBehindUsAnthropicClaudeSonnet4520250929V10",
            "Effect": "Allow",
            "Action": INVOKE,
            "Resource": [
                f"arn:aws:bedrock:ca-central-1::foundation-model/{SONNET_45}",
                f"arn:aws:bedrock:ca-west-1::foundation-model/{SONNET_45}",
                f"arn:aws:bedrock:us-east-1::foundation-model/{SONNET_45}",
                f"arn:aws:bedrock:us-east-2::foundation-model/{SONNET_45}",
                f"arn:aws:bedrock:us-west-1::foundation-model/{SONNET_45}",
                f"arn:aws:bedrock:us-west-2::foundation-model/{SONNET_45}",
            ],
            "Condition": {"StringEquals": {"bedrock:InferenceProfileArn": US_SONNET_45}},
        },
    ],
}


def test_a_us_profile_grants_the_profile_and_the_model_in_every_us_destination_only_through_it():
    assert invoke_policy([f"us.{SONNET_45}"], "us-east-1", ACCOUNT) == US_PROFILE_POLICY


def test_an_eu_profile_grants_the_model_in_every_eu_destination_including_israel():
    assert invoke_policy(["eu.anthropic.claude-sonnet-4-6"], "eu-central-1", ACCOUNT) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "InvokeGeographicInferenceProfiles",
                "Effect": "Allow",
                "Action": INVOKE,
                "Resource": [EU_SONNET_46],
            },
            {
                "Sid": "ModelsBehindEuAnthropicClaudeSonnet46",
                "Effect": "Allow",
                "Action": INVOKE,
                "Resource": [
                    "arn:aws:bedrock:eu-central-1::foundation-model/anthropic.claude-sonnet-4-6",
                    "arn:aws:bedrock:eu-central-2::foundation-model/anthropic.claude-sonnet-4-6",
                    "arn:aws:bedrock:eu-north-1::foundation-model/anthropic.claude-sonnet-4-6",
                    "arn:aws:bedrock:eu-south-1::foundation-model/anthropic.claude-sonnet-4-6",
                    "arn:aws:bedrock:eu-south-2::foundation-model/anthropic.claude-sonnet-4-6",
                    "arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-sonnet-4-6",
                    "arn:aws:bedrock:eu-west-2::foundation-model/anthropic.claude-sonnet-4-6",
                    "arn:aws:bedrock:eu-west-3::foundation-model/anthropic.claude-sonnet-4-6",
                    "arn:aws:bedrock:il-central-1::foundation-model/anthropic.claude-sonnet-4-6",
                ],
                "Condition": {"StringEquals": {"bedrock:InferenceProfileArn": EU_SONNET_46}},
            },
        ],
    }


def test_a_global_profile_gets_awss_three_part_policy_with_the_region_less_model_arn():
    assert invoke_policy(["global.anthropic.claude-sonnet-4-6"], "eu-central-1", ACCOUNT) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "InvokeGlobalInferenceProfiles",
                "Effect": "Allow",
                "Action": INVOKE,
                "Resource": [GLOBAL_SONNET_46],
                "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-central-1"}},
            },
            {
                "Sid": "InRegionModelBehindGlobalAnthropicClaudeSonnet46",
                "Effect": "Allow",
                "Action": INVOKE,
                "Resource": ["arn:aws:bedrock:eu-central-1::foundation-model/anthropic.claude-sonnet-4-6"],
                "Condition": {"StringEquals": {
                    "aws:RequestedRegion": "eu-central-1",
                    "bedrock:InferenceProfileArn": GLOBAL_SONNET_46,
                }},
            },
            {
                "Sid": "GlobalModelBehindGlobalAnthropicClaudeSonnet46",
                "Effect": "Allow",
                "Action": INVOKE,
                "Resource": ["arn:aws:bedrock:::foundation-model/anthropic.claude-sonnet-4-6"],
                "Condition": {"StringEquals": {
                    "aws:RequestedRegion": "unspecified",
                    "bedrock:InferenceProfileArn": GLOBAL_SONNET_46,
                }},
            },
        ],
    }


def test_the_partition_is_used_in_every_arn():
    document = invoke_policy(["us-gov.anthropic.claude-3-haiku-20240307-v1:0"], "us-gov-west-1", ACCOUNT,
                             partition="aws-us-gov")
    profile = f"arn:aws-us-gov:bedrock:us-gov-west-1:{ACCOUNT}:inference-profile/us-gov.anthropic.claude-3-haiku-20240307-v1:0"
    assert document["Statement"] == [
        {"Sid": "InvokeGeographicInferenceProfiles", "Effect": "Allow", "Action": INVOKE, "Resource": [profile]},
        {
            "Sid": "ModelsBehindUsGovAnthropicClaude3Haiku20240307V10",
            "Effect": "Allow",
            "Action": INVOKE,
            "Resource": [
                "arn:aws-us-gov:bedrock:us-gov-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
                "arn:aws-us-gov:bedrock:us-gov-west-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
            ],
            "Condition": {"StringEquals": {"bedrock:InferenceProfileArn": profile}},
        },
    ]


# --- a mix of kinds, with and without discovery ----------------------------------------------------

MIX = ["us.amazon.nova-pro-v1:0", f"us.{SONNET_45}", "global.anthropic.claude-haiku-4-5-20251001-v1:0",
       "amazon.nova-pro-v1:0"]
US_NOVA = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/us.amazon.nova-pro-v1:0"
GLOBAL_HAIKU = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/global.anthropic.claude-haiku-4-5-20251001-v1:0"
MIX_INVOKE_STATEMENTS = [
    {
        "Sid": "InvokeFoundationModels",
        "Effect": "Allow",
        "Action": INVOKE,
        "Resource": ["arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0"],
    },
    {
        "Sid": "InvokeGeographicInferenceProfiles",
        "Effect": "Allow",
        "Action": INVOKE,
        "Resource": [US_NOVA, US_SONNET_45],
    },
    {
        "Sid": "InvokeGlobalInferenceProfiles",
        "Effect": "Allow",
        "Action": INVOKE,
        "Resource": [GLOBAL_HAIKU],
        "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}},
    },
    {
        "Sid": "ModelsBehindUsAmazonNovaProV10",
        "Effect": "Allow",
        "Action": INVOKE,
        "Resource": [
            "arn:aws:bedrock:ca-central-1::foundation-model/amazon.nova-pro-v1:0",
            "arn:aws:bedrock:ca-west-1::foundation-model/amazon.nova-pro-v1:0",
            "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0",
            "arn:aws:bedrock:us-east-2::foundation-model/amazon.nova-pro-v1:0",
            "arn:aws:bedrock:us-west-1::foundation-model/amazon.nova-pro-v1:0",
            "arn:aws:bedrock:us-west-2::foundation-model/amazon.nova-pro-v1:0",
        ],
        "Condition": {"StringEquals": {"bedrock:InferenceProfileArn": US_NOVA}},
    },
    {
        "Sid": "ModelsBehindUsAnthropicClaudeSonnet4520250929V10",
        "Effect": "Allow",
        "Action": INVOKE,
        "Resource": [
            f"arn:aws:bedrock:ca-central-1::foundation-model/{SONNET_45}",
            f"arn:aws:bedrock:ca-west-1::foundation-model/{SONNET_45}",
            f"arn:aws:bedrock:us-east-1::foundation-model/{SONNET_45}",
            f"arn:aws:bedrock:us-east-2::foundation-model/{SONNET_45}",
            f"arn:aws:bedrock:us-west-1::foundation-model/{SONNET_45}",
            f"arn:aws:bedrock:us-west-2::foundation-model/{SONNET_45}",
        ],
        "Condition": {"StringEquals": {"bedrock:InferenceProfileArn": US_SONNET_45}},
    },
    {
        "Sid": "InRegionModelBehindGlobalAnthropicClaudeHaiku4520251001V10",
        "Effect": "Allow",
        "Action": INVOKE,
        "Resource": ["arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0"],
        "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1", "bedrock:InferenceProfileArn": GLOBAL_HAIKU}},
    },
    {
        "Sid": "GlobalModelBehindGlobalAnthropicClaudeHaiku4520251001V10",
        "Effect": "Allow",
        "Action": INVOKE,
        "Resource": ["arn:aws:bedrock:::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0"],
        "Condition": {"StringEquals": {"aws:RequestedRegion": "unspecified", "bedrock:InferenceProfileArn": GLOBAL_HAIKU}},
    },
]
LIST_STATEMENT = {
    "Sid": "ListModelsAndInferenceProfiles",
    "Effect": "Allow",
    "Action": ["bedrock:ListFoundationModels", "bedrock:ListInferenceProfiles"],
    "Resource": ["*"],
}


def test_a_mix_without_discovery_grants_invocation_only():
    assert invoke_policy(MIX, "us-east-1", ACCOUNT) == {"Version": "2012-10-17", "Statement": MIX_INVOKE_STATEMENTS}


def test_discovery_adds_listing_and_reading_exactly_the_profiles_in_use():
    assert invoke_policy(MIX, "us-east-1", ACCOUNT, discovery=True) == {
        "Version": "2012-10-17",
        "Statement": [
            *MIX_INVOKE_STATEMENTS,
            LIST_STATEMENT,
            {
                "Sid": "GetInferenceProfiles",
                "Effect": "Allow",
                "Action": ["bedrock:GetInferenceProfile"],
                "Resource": [GLOBAL_HAIKU, US_NOVA, US_SONNET_45],
            },
        ],
    }


def test_discovery_with_foundation_models_only_reads_no_profile():
    assert invoke_policy([SONNET_45], "us-east-1", ACCOUNT, discovery=True)["Statement"][1:] == [LIST_STATEMENT]


def test_order_and_duplicates_of_the_model_list_do_not_change_the_document():
    shuffled = [*reversed(MIX), MIX[0], MIX[3]]
    assert json.dumps(invoke_policy(shuffled, "us-east-1", ACCOUNT, discovery=True)) == json.dumps(
        invoke_policy(MIX, "us-east-1", ACCOUNT, discovery=True))


ALL_DOCUMENTS = [
    invoke_policy([SONNET_45], "us-east-1", ACCOUNT),
    invoke_policy([f"us.{SONNET_45}"], "us-east-1", ACCOUNT, discovery=True),
    invoke_policy(["eu.anthropic.claude-sonnet-4-6"], "eu-central-1", ACCOUNT, discovery=True),
    invoke_policy(["global.anthropic.claude-sonnet-4-6"], "eu-central-1", ACCOUNT, discovery=True),
    invoke_policy(MIX, "us-east-1", ACCOUNT, discovery=True),
]


@pytest.mark.parametrize("document", ALL_DOCUMENTS)
def test_no_action_is_a_wildcard_and_invocation_only_names_models(document):
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        assert not any("*" in action or "?" in action for action in statement["Action"]), statement
        if statement["Sid"] == "ListModelsAndInferenceProfiles":
            continue
        assert not any("*" in arn or "?" in arn for arn in statement["Resource"]), statement
        assert set(statement["Action"]) <= {*INVOKE, "bedrock:GetInferenceProfile"}


@pytest.mark.parametrize("document", ALL_DOCUMENTS)
def test_sids_are_unique_and_alphanumeric_as_iam_requires(document):
    sids = [statement["Sid"] for statement in document["Statement"]]
    assert len(sids) == len(set(sids))
    assert all(sid.isascii() and sid.isalnum() for sid in sids)


# --- validation --------------------------------------------------------------------------------------

def test_model_ids_split_into_geography_and_foundation_model():
    assert parse_model_id(SONNET_45) == (None, SONNET_45)
    assert parse_model_id(f"us.{SONNET_45}") == ("us", SONNET_45)
    assert parse_model_id("us-gov.anthropic.claude-3-haiku-20240307-v1:0") == (
        "us-gov", "anthropic.claude-3-haiku-20240307-v1:0")
    assert parse_model_id("apac.amazon.nova-lite-v1:0") == ("apac", "amazon.nova-lite-v1:0")
    assert parse_model_id("global.anthropic.claude-sonnet-4-6") == ("global", "anthropic.claude-sonnet-4-6")


@pytest.mark.parametrize("model_id", [
    "anthropic.*", "anthropic.claude-?", "claude-sonnet", "us.claude", "eu.", "",
    "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-sonnet-4-6",
])
def test_anything_but_a_model_id_is_rejected_so_no_wildcard_reaches_an_arn(model_id):
    with pytest.raises(ValueError, match="is not a model id"):
        parse_model_id(model_id)


@pytest.mark.parametrize(("model_id", "region"), [
    ("eu.anthropic.claude-sonnet-4-6", "us-east-1"),
    (f"us.{SONNET_45}", "eu-central-1"),
    ("apac.amazon.nova-lite-v1:0", "us-west-2"),
    (f"jp.{SONNET_45}", "ap-northeast-2"),
    (f"au.{SONNET_45}", "ap-southeast-1"),
    ("ca.amazon.nova-lite-v1:0", "us-east-1"),
    ("us-gov.anthropic.claude-3-haiku-20240307-v1:0", "us-east-1"),
    ("global.anthropic.claude-sonnet-4-6", "us-gov-west-1"),
])
def test_a_profile_the_region_cannot_call_is_rejected_naming_both(model_id, region):
    with pytest.raises(ValueError, match=rf"{model_id.split('.')[0]}\. cross-Region inference profile.*'{region}'"):
        invoke_policy([model_id], region, ACCOUNT)


@pytest.mark.parametrize(("model_id", "region"), [
    (f"us.{SONNET_45}", "ca-central-1"),
    ("eu.anthropic.claude-sonnet-4-20250514-v1:0", "il-central-1"),
    ("apac.amazon.nova-lite-v1:0", "me-central-1"),
    (f"jp.{SONNET_45}", "ap-northeast-3"),
    (f"au.{SONNET_45}", "ap-southeast-4"),
    ("global.anthropic.claude-haiku-4-5-20251001-v1:0", "sa-east-1"),
])
def test_source_regions_outside_the_geographys_namesake_are_accepted_where_aws_lists_them(model_id, region):
    assert invoke_policy([model_id], region, ACCOUNT)["Statement"]


def test_an_empty_model_list_or_region_is_rejected():
    with pytest.raises(ValueError, match="no Bedrock model"):
        invoke_policy([], "us-east-1", ACCOUNT)
    with pytest.raises(ValueError, match="Region is empty"):
        invoke_policy([SONNET_45], "", ACCOUNT)


def test_a_policy_over_the_role_inline_quota_is_rejected():
    models = [f"eu.anthropic.claude-model-{i}-v1:0" for i in range(10)]
    with pytest.raises(ValueError, match="10240 characters"):
        invoke_policy(models, "eu-central-1", ACCOUNT)
    assert invoke_policy(models[:5], "eu-central-1", ACCOUNT)


# --- the component under mocks -------------------------------------------------------------------

@dataclass
class Registration:
    resources: list[Registered]
    invokes: list[tuple[str, dict]]
    built: Any
    error: BaseException | None

    def one(self, type_: str) -> Registered:
        found = [r for r in self.resources if r.type == type_]
        assert len(found) == 1, [r.name for r in found]
        return found[0]

    def resolve(self, value: Any) -> Any:
        return _sync_await(pulumi.Output.from_input(value).future())


def register(build: Callable[[], Any]) -> Registration:
    """Run `build` as a one-function Pulumi program under the fake cloud; return what it registered."""
    mocks = FakeCloudMocks()
    monitor = RecordingMonitor(mocks)
    pulumi_settings.set_root_resource(None)
    pulumi.runtime.set_all_config({}, [])
    pulumi.runtime.set_mocks(mocks, project="hermes-eks", stack="test", preview=False, monitor=monitor)
    built, error = [], None
    try:
        _sync_await(run_pulumi_func(lambda: built.append(build())))
    except Exception as caught:  # noqa: BLE001 - returned to the test
        error = caught
    return Registration(monitor.registered, mocks.invokes, built[0] if built else None, error)


def bedrock_access(mode: str, models=(f"us.{SONNET_45}",), region="us-east-1") -> Callable[[], BedrockAccess]:
    cluster = ClusterIdentity(name=fake_cloud.CLUSTER_NAME, arn=CLUSTER_ARN, oidc_provider_arn=OIDC_PROVIDER_ARN,
                              oidc_issuer=fake_cloud.OIDC_ISSUER, mode=mode)
    return lambda: BedrockAccess("hermes", BedrockAccessArgs(
        models=models, region=region, namespace="hermes", service_account="hermes", cluster=cluster))


@pytest.fixture(scope="module")
def irsa() -> Registration:
    return register(bedrock_access("irsa"))


@pytest.fixture(scope="module")
def pod_identity() -> Registration:
    return register(bedrock_access("pod-identity"))


def test_component_registers_the_role_and_its_inline_policy_as_named_children(irsa):
    component = irsa.one(COMPONENT)
    assert (component.name, irsa.error) == ("hermes", None)
    children = {(r.type, r.name) for r in irsa.resources if r.parent == component.urn}
    assert children == {(ROLE, "hermes-bedrock"), (ROLE_POLICY, "hermes-bedrock-invoke")}
    assert len(irsa.resources) == 3


def test_component_role_trusts_the_service_account_through_irsa(irsa):
    assert json.loads(irsa.one(ROLE).plain["assumeRolePolicy"]) == IRSA_TRUST
    assert irsa.one(ROLE).plain["maxSessionDuration"] == 3600


def test_component_attaches_the_policy_for_the_deploying_account_and_partition(irsa, monkeypatch):
    policy = irsa.one(ROLE_POLICY).plain
    assert policy["role"] == "hermes-bedrock-id"  # the role's id, as tests/fake_cloud.py answers it
    assert json.loads(policy["policy"]) == US_PROFILE_POLICY  # written for account 210987654321 in `aws`
    assert {token for token, _ in irsa.invokes} == {
        "aws:index/getCallerIdentity:getCallerIdentity", "aws:index/getPartition:getPartition"}

    # Deployed by another account in another partition, the same policy names that account and partition.
    answer = fake_cloud.invoke

    def gov_cloud(token, args, ecr=None):
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws-us-gov", "dnsSuffix": "amazonaws.com", "id": "aws-us-gov"}
        return answer(token, args, ecr)

    monkeypatch.setattr(fake_cloud, "ACCOUNT", "109876543210")
    monkeypatch.setattr(fake_cloud, "invoke", gov_cloud)
    elsewhere = json.loads(register(bedrock_access("irsa")).one(ROLE_POLICY).plain["policy"])
    assert elsewhere == json.loads(json.dumps(US_PROFILE_POLICY).replace("arn:aws:", "arn:aws-us-gov:")
                                   .replace(":210987654321:", ":109876543210:"))
    assert ":109876543210:" in json.dumps(elsewhere) and "arn:aws:" not in json.dumps(elsewhere)


def test_under_irsa_the_service_account_carries_the_role_arn_and_there_is_no_association(irsa):
    role_arn = irsa.one(ROLE).outputs["arn"]
    assert irsa.resolve(irsa.built.service_account_annotations) == {"eks.amazonaws.com/role-arn": role_arn}
    assert irsa.resolve(irsa.built.role_arn) == role_arn
    assert irsa.built.association is None
    assert irsa.built.workload_depends_on == (irsa.built.policy,)


def test_component_role_trusts_eks_pod_identity_and_binds_the_service_account(pod_identity):
    component = pod_identity.one(COMPONENT)
    assert json.loads(pod_identity.one(ROLE).plain["assumeRolePolicy"]) == POD_IDENTITY_TRUST
    association = pod_identity.one(ASSOCIATION)
    assert (association.name, association.parent) == ("hermes-bedrock", component.urn)
    assert association.plain == {
        "clusterName": fake_cloud.CLUSTER_NAME,
        "namespace": "hermes",
        "serviceAccount": "hermes",
        "roleArn": pod_identity.one(ROLE).outputs["arn"],
    }


def test_under_pod_identity_no_annotation_and_the_pod_waits_for_the_association(pod_identity):
    assert pod_identity.resolve(pod_identity.built.service_account_annotations) == {}
    assert pod_identity.built.workload_depends_on == (pod_identity.built.policy, pod_identity.built.association)


def test_a_profile_the_region_cannot_call_fails_before_anything_is_registered():
    result = register(bedrock_access("irsa", models=("eu.anthropic.claude-sonnet-4-6",), region="us-east-1"))
    assert isinstance(result.error, ValueError)
    assert "'us-east-1' is not one of them" in str(result.error)
    assert result.resources == []
