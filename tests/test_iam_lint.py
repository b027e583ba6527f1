"""Every IAM policy document the program produces, linted by parliament (duo-labs/parliament 1.6.4).

parliament runs offline: its IAM database (iam_definition.json) ships in the package. It reads
identity (permissions) policies. A trust policy has no Resource element, so parliament reports it
MALFORMED and stops before looking at its actions or principals
(test_parliament_cannot_read_trust_policies pins that); trust policies are checked structurally here.

Every finding parliament reports must be listed below with why it is a false positive, or, for the
vendored AWS Load Balancer Controller policy, why it is accepted. A finding not listed fails the test,
and so does a listed one that no longer occurs.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import NamedTuple

import parliament
import pytest

from components.bedrock_access import INVOKE_ACTIONS, invoke_policy
from components.cost_guardrails import budgets_trust_policy, scheduler_trust_policy
from components.volume_metrics import put_metric_policy
from components.workload_identity import irsa_trust_policy, pod_identity_trust_policy

from tests import fake_cloud
from tests.conftest import stack_program

ACCOUNT = "123456789012"
LBC_POLICY = Path(__file__).resolve().parent.parent / "components/vendor/aws-load-balancer-controller-iam-policy.json"

BEDROCK_POLICIES = {
    "foundation model": invoke_policy(["anthropic.claude-sonnet-4-5-20250929-v1:0"], "us-east-1", ACCOUNT),
    "foundation model without a version suffix": invoke_policy(["anthropic.claude-sonnet-4-6"], "us-east-1", ACCOUNT),
    "us profile": invoke_policy(["us.anthropic.claude-sonnet-4-5-20250929-v1:0"], "us-east-1", ACCOUNT),
    "eu profile": invoke_policy(["eu.anthropic.claude-sonnet-4-6"], "eu-central-1", ACCOUNT),
    "global profile": invoke_policy(["global.anthropic.claude-sonnet-4-6"], "eu-central-1", ACCOUNT),
    "us-gov profile": invoke_policy(["us-gov.anthropic.claude-3-haiku-20240307-v1:0"], "us-gov-west-1", ACCOUNT,
                                    partition="aws-us-gov"),
    "mix": invoke_policy(
        ["amazon.nova-pro-v1:0", "us.amazon.nova-pro-v1:0", "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
         "global.anthropic.claude-haiku-4-5-20251001-v1:0"], "us-east-1", ACCOUNT),
    "mix with discovery": invoke_policy(
        ["amazon.nova-pro-v1:0", "us.amazon.nova-pro-v1:0", "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
         "global.anthropic.claude-haiku-4-5-20251001-v1:0"], "us-east-1", ACCOUNT, discovery=True),
    "foundation model with discovery": invoke_policy(["amazon.nova-pro-v1:0"], "us-east-1", ACCOUNT, discovery=True),
}


class Known(NamedTuple):
    issue: str  # parliament's issue code
    subject: str  # the action, "action required-resource-format", or "operator condition-key" it concerns
    reason: str


# --- Bedrock: false positives ----------------------------------------------------------------------

ONE_RESOURCE_PER_REQUEST = (
    "The Service Authorization Reference lists every resource type the action can act on, and a request "
    "acts on ONE of them (the model or profile it names); parliament demands a Resource of every type."
)
COLON_IN_ID = (
    "parliament rejects a ':' in a resource id (is_arn_strictly_valid) and Bedrock ids carry one (-v1:0); "
    "test_every_bedrock_arn_matches_parliaments_own_arn_format checks these ARNs instead."
)
MODEL_OR_PROFILE = ONE_RESOURCE_PER_REQUEST + " Also: " + COLON_IN_ID
BEDROCK_FALSE_POSITIVES = [
    *[Known("RESOURCE_MISMATCH", f"{action} {resource_format}", ONE_RESOURCE_PER_REQUEST)
      for action, resource_format in [
          ("bedrock:InvokeModel", "arn:*:bedrock:*:*:application-inference-profile/*"),
          ("bedrock:InvokeModel", "arn:*:bedrock:*:*:async-invoke/*"),
          ("bedrock:InvokeModel", "arn:*:bedrock:*:*:marketplace/model-endpoint/all-access"),
          ("bedrock:InvokeModel", "arn:*:bedrock:*:*:default-prompt-router/*"),
          ("bedrock:InvokeModel", "arn:*:bedrock:*:*:imported-model/*"),
          ("bedrock:InvokeModel", "arn:*:bedrock:*:*:provisioned-model/*"),
          ("bedrock:InvokeModelWithResponseStream", "arn:*:bedrock:*:*:application-inference-profile/*"),
          ("bedrock:InvokeModelWithResponseStream", "arn:*:bedrock:*:*:marketplace/model-endpoint/all-access"),
          ("bedrock:InvokeModelWithResponseStream", "arn:*:bedrock:*:*:default-prompt-router/*"),
          ("bedrock:InvokeModelWithResponseStream", "arn:*:bedrock:*:*:imported-model/*"),
          ("bedrock:InvokeModelWithResponseStream", "arn:*:bedrock:*:*:provisioned-model/*"),
          ("bedrock:GetInferenceProfile", "arn:*:bedrock:*:*:application-inference-profile/*"),
      ]],
    *[Known("RESOURCE_MISMATCH", f"{action} {resource_format}", MODEL_OR_PROFILE)
      for action, resource_format in [
          ("bedrock:InvokeModel", "arn:*:bedrock:*::foundation-model/*"),
          ("bedrock:InvokeModel", "arn:*:bedrock:*:*:inference-profile/*"),
          ("bedrock:InvokeModelWithResponseStream", "arn:*:bedrock:*::foundation-model/*"),
          ("bedrock:InvokeModelWithResponseStream", "arn:*:bedrock:*:*:inference-profile/*"),
      ]],
    Known("RESOURCE_MISMATCH", "bedrock:GetInferenceProfile arn:*:bedrock:*:*:inference-profile/*", COLON_IN_ID),
    Known("MISMATCHED_TYPE_BUT_USABLE", "StringEquals bedrock:InferenceProfileArn",
          "AWS's documented cross-Region inference policies use StringEquals; on an exact ARN without "
          "wildcards it matches exactly what ArnEquals matches."),
]

# --- AWS Load Balancer Controller: false positives, and upstream choices accepted as they are ----------

LBC_FALSE_POSITIVES = [
    Known("UNKNOWN_ACTION", "elasticloadbalancing:ModifyIpPools",
          "A real ELBv2 action (ModifyIpPools is in botocore 1.44.5's elbv2 model); parliament 1.6.4's IAM "
          "database predates it."),
    Known("UNKNOWN_CONDITION_FOR_ACTION", "elasticloadbalancing:CreateAction for action elasticloadbalancing:AddTags",
          "parliament's database holds two 'Elastic Load Balancing V2' entries; the newer lists this key "
          "for AddTags, the older one, which parliament also checks, does not."),
]

# The file is upstream's v3.5.0 docs/install/iam_policy.json byte for byte. Scoping it further is
# upstream's call: a local edit would fork the controller's policy and be lost on the next upgrade.
UPSTREAM = "Upstream's Resource '*' (vendored verbatim): "
LBC_ACCEPTED = [
    Known("RESOURCE_STAR", "iam:CreateServiceLinkedRole",
          UPSTREAM + "its iam:AWSServiceName condition limits it to the ELB service-linked role."),
    *[Known("RESOURCE_STAR", action, UPSTREAM + "read-only lookups of what the controller discovers at run time.")
      for action in ("ec2:GetCoipPoolUsage", "ec2:GetSecurityGroupsForVpc")],
    *[Known("RESOURCE_STAR", action,
            UPSTREAM + "certificates, user pools, Shield protections and web ACLs are named by users in "
                       "Ingress annotations, unknown when the policy is written.")
      for action in ("acm:DescribeCertificate", "cognito-idp:DescribeUserPoolClient", "iam:GetServerCertificate",
                     "shield:DeleteProtection", "shield:DescribeProtection", "waf-regional:AssociateWebACL",
                     "waf-regional:DisassociateWebACL", "waf-regional:GetWebACL", "waf-regional:GetWebACLForResource",
                     "wafv2:AssociateWebACL", "wafv2:GetWebACL", "wafv2:GetWebACLForResource")],
    *[Known("RESOURCE_STAR", action,
            UPSTREAM + "rules on security groups the controller did not create (the nodes'), and on its own "
                       "groups under a resource-tag condition.")
      for action in ("ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress")],
    Known("RESOURCE_STAR", "ec2:DeleteSecurityGroup",
          UPSTREAM + "only groups tagged elbv2.k8s.aws/cluster (Null condition on the resource tag)."),
    Known("RESOURCE_STAR", "ec2:CreateSecurityGroup",
          UPSTREAM + "the group has no ARN before it exists; tagging it on creation is limited separately."),
    Known("RESOURCE_STAR", "elasticloadbalancing:CreateTargetGroup",
          UPSTREAM + "the target group has no ARN before it exists; the request must carry the cluster tag."),
    *[Known("RESOURCE_STAR", action,
            UPSTREAM + "listeners and rules of load balancers whose ARNs AWS generates at creation.")
      for action in ("elasticloadbalancing:CreateRule", "elasticloadbalancing:DeleteListener",
                     "elasticloadbalancing:DeleteRule", "elasticloadbalancing:AddListenerCertificates",
                     "elasticloadbalancing:ModifyListener", "elasticloadbalancing:ModifyRule",
                     "elasticloadbalancing:RemoveListenerCertificates", "elasticloadbalancing:SetRulePriorities")],
]


# --- running parliament ------------------------------------------------------------------------------

def lint(document: dict) -> set[tuple[str, str]]:
    """parliament's findings as (issue, subject) pairs, community auditors included, nothing filtered."""
    policy = parliament.analyze_policy_string(
        json.dumps(document, indent=2),
        ignore_private_auditors=True,  # only what ships in the package; nothing from this machine
        include_community_auditors=True,
    )
    found = set()
    in_statements = set()
    for statement_json, statement in zip(document["Statement"], policy.statements, strict=True):
        for finding in statement.findings:
            in_statements.add(id(finding))
            found |= _subjects(finding, statement_json)
    for finding in policy.findings:
        if id(finding) not in in_statements:
            found |= _subjects(finding, {})
    return found


def _subjects(finding, statement: dict) -> set[tuple[str, str]]:
    issue, detail = finding.issue, finding.detail
    if issue == "RESOURCE_MISMATCH":
        return {(issue, f"{d['action']} {d['required_format']}") for d in detail}
    if issue == "RESOURCE_STAR":
        return {(issue, action) for action in detail}
    if issue == "UNKNOWN_ACTION":
        return {(issue, finding.location["string"])}
    if issue == "UNKNOWN_CONDITION_FOR_ACTION":
        return {(issue, detail.removeprefix("Unknown condition "))}
    if issue in ("MISMATCHED_TYPE", "MISMATCHED_TYPE_BUT_USABLE"):
        # "Type mismatch: <operator or key> requires ...": parliament locates the operator's block only.
        named = detail.split()[2]
        block = statement.get("Condition", {}).get(named)
        if block is not None:
            return {(issue, f"{named} " + ",".join(sorted(k for k in block if not k.startswith("aws:"))))}
        return {(issue, named)}
    return {(issue, str(detail or finding.location.get("string", "")))}


def explained(known: list[Known]) -> set[tuple[str, str]]:
    return {(k.issue, k.subject) for k in known}


# --- permissions policies ------------------------------------------------------------------------

@pytest.mark.parametrize("name", BEDROCK_POLICIES)
def test_parliament_finds_nothing_but_listed_false_positives_in_the_bedrock_policy(name):
    assert lint(BEDROCK_POLICIES[name]) - explained(BEDROCK_FALSE_POSITIVES) == set()


def test_every_listed_bedrock_false_positive_still_occurs():
    seen = set().union(*(lint(document) for document in BEDROCK_POLICIES.values()))
    assert explained(BEDROCK_FALSE_POSITIVES) - seen == set()


def test_parliament_finds_nothing_in_the_volume_metrics_policy():
    assert lint(put_metric_policy()) == set()


def test_positive_control_parliament_checks_the_volume_metrics_condition_key():
    document = put_metric_policy()
    document["Statement"][0]["Condition"] = {"StringEquals": {"cloudwatch:metricNamespace": "HermesEKS"}}
    assert ("UNKNOWN_CONDITION_FOR_ACTION", "cloudwatch:metricNamespace for action cloudwatch:PutMetricData") in lint(document)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_inline_policy_on_the_hermes_role_is_linted_clean_but_for_listed_false_positives(stack):
    """As the stack registers them (the budget action's own policies: tests/test_cost_guardrails.py)."""
    policies = [p for p in stack_program(stack).of_type("aws:iam/rolePolicy:RolePolicy")
                if p.plain["role"] == "hermes-bedrock-id"]
    assert {p.name for p in policies} == {"hermes-bedrock-invoke", "hermes-volume-metrics"}
    for policy in policies:
        assert lint(json.loads(policy.plain["policy"])) - explained(BEDROCK_FALSE_POSITIVES) == set(), policy.name


def test_parliament_finds_nothing_but_listed_findings_in_the_load_balancer_controller_policy():
    assert lint(json.loads(LBC_POLICY.read_text())) - explained(LBC_FALSE_POSITIVES + LBC_ACCEPTED) == set()


def test_every_listed_load_balancer_controller_finding_still_occurs():
    assert explained(LBC_FALSE_POSITIVES + LBC_ACCEPTED) - lint(json.loads(LBC_POLICY.read_text())) == set()


def test_vendored_load_balancer_controller_policy_is_upstreams_v3_5_0_byte_for_byte():
    # The findings above are accepted as upstream's only while the file is upstream's: its git blob id
    # equals `git rev-parse v3.5.0:docs/install/iam_policy.json` in kubernetes-sigs/aws-load-balancer-controller.
    data = LBC_POLICY.read_bytes()
    assert hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest() == "761d0e733c41089c91ea009dd29faf71918085e5"


def test_every_listed_finding_gives_a_reason_and_is_listed_once():
    for known in (BEDROCK_FALSE_POSITIVES, LBC_FALSE_POSITIVES + LBC_ACCEPTED):
        assert len(explained(known)) == len(known)
        assert all(k.reason.strip() for k in known)


def _bedrock_arn(resource_type: str, *, region_optional: bool) -> re.Pattern:
    """The ARN format parliament's own IAM database gives for a Bedrock resource type, as a regex whose
    resource id may hold ':' (which parliament's matcher refuses)."""
    service = next(s for s in parliament.iam_definition if s["prefix"] == "bedrock")
    template = next(r["arn"] for r in service["resources"] if r["resource"] == resource_type)
    region = r"[a-z]{2}(-gov)?-[a-z]+-[0-9]"
    values = {
        "${Partition}": r"aws(-[a-z]+)*",
        "${Region}": f"({region})?" if region_optional else region,
        "${Account}": r"[0-9]{12}",
        "${ResourceId}": r"[A-Za-z0-9._:-]+",
    }
    pattern = re.escape(template)
    for variable, value in values.items():
        pattern = pattern.replace(re.escape(variable), value)
    return re.compile(pattern)


@pytest.mark.parametrize("name", BEDROCK_POLICIES)
def test_every_bedrock_arn_matches_parliaments_own_arn_format(name):
    # Region-less foundation-model ARNs are what AWS's global-profile policy requires.
    model = _bedrock_arn("foundation-model", region_optional=True)
    profile = _bedrock_arn("inference-profile", region_optional=False)
    for statement in BEDROCK_POLICIES[name]["Statement"]:
        if statement["Action"] == ["bedrock:ListFoundationModels", "bedrock:ListInferenceProfiles"]:
            assert statement["Resource"] == ["*"]
            continue
        allowed = (profile,) if statement["Action"] == ["bedrock:GetInferenceProfile"] else (model, profile)
        for arn in statement["Resource"]:
            assert any(p.fullmatch(arn) for p in allowed), arn


def test_positive_control_parliament_flags_an_unknown_action():
    document = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Typo", "Effect": "Allow", "Action": ["bedrock:InvokeModels"],
         "Resource": ["arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-sonnet-4-6"]},
    ]}
    assert ("UNKNOWN_ACTION", "bedrock:InvokeModels") in lint(document)


def test_positive_control_invoking_any_resource_is_a_finding_nobody_listed():
    document = {"Version": "2012-10-17", "Statement": [
        {"Sid": "TooBroad", "Effect": "Allow", "Action": INVOKE_ACTIONS, "Resource": "*"},
    ]}
    unexplained = lint(document) - explained(BEDROCK_FALSE_POSITIVES)
    assert unexplained == {("RESOURCE_STAR", "bedrock:InvokeModel"),
                           ("RESOURCE_STAR", "bedrock:InvokeModelWithResponseStream")}


# --- trust policies ------------------------------------------------------------------------------

OIDC_ISSUER = "oidc.eks.eu-central-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
OIDC_PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{OIDC_ISSUER}"
TRUST_POLICIES = {
    "irsa hermes": irsa_trust_policy(OIDC_PROVIDER_ARN, OIDC_ISSUER, "hermes", "hermes"),
    "irsa load balancer controller": irsa_trust_policy(
        OIDC_PROVIDER_ARN, "https://" + OIDC_ISSUER, "kube-system", "aws-load-balancer-controller"),
    "irsa cloudwatch agent": irsa_trust_policy(OIDC_PROVIDER_ARN, OIDC_ISSUER, "amazon-cloudwatch", "cloudwatch-agent"),
    "pod identity": pod_identity_trust_policy(f"arn:aws:eks:eu-central-1:{ACCOUNT}:cluster/hermes-prod", "hermes", "hermes"),
}


def test_parliament_cannot_read_trust_policies():
    for document in TRUST_POLICIES.values():
        assert ("MALFORMED", "Statement contains neither Resource nor NotResource") in lint(document)


@pytest.mark.parametrize("name", [n for n in TRUST_POLICIES if n.startswith("irsa")])
def test_irsa_trust_binds_exactly_one_service_account_of_one_cluster_with_no_pattern(name):
    document = TRUST_POLICIES[name]
    assert set(document) == {"Version", "Statement"} and document["Version"] == "2012-10-17"
    [statement] = document["Statement"]
    assert set(statement) == {"Effect", "Principal", "Action", "Condition"}
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Federated": OIDC_PROVIDER_ARN}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    # StringEquals only: a StringLike (or a '*' in the subject) would admit other service accounts.
    assert list(statement["Condition"]) == ["StringEquals"]
    condition = statement["Condition"]["StringEquals"]
    assert set(condition) == {f"{OIDC_ISSUER}:aud", f"{OIDC_ISSUER}:sub"}
    assert condition[f"{OIDC_ISSUER}:aud"] == "sts.amazonaws.com"
    assert re.fullmatch(r"system:serviceaccount:[a-z0-9-]+:[a-z0-9-]+", condition[f"{OIDC_ISSUER}:sub"])


def test_pod_identity_trust_admits_only_the_eks_pods_service_with_only_its_two_actions():
    document = TRUST_POLICIES["pod identity"]
    [statement] = document["Statement"]
    assert document["Version"] == "2012-10-17"
    assert set(statement) == {"Effect", "Principal", "Action", "Condition"}
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert sorted(statement["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    # The session tags EKS sets name the pod's cluster, namespace and service account (pod-id-abac).
    assert statement["Condition"] == {"StringEquals": {
        "aws:RequestTag/eks-cluster-arn": f"arn:aws:eks:eu-central-1:{ACCOUNT}:cluster/hermes-prod",
        "aws:RequestTag/kubernetes-namespace": "hermes",
        "aws:RequestTag/kubernetes-service-account": "hermes",
    }}


# --- every role the program registers --------------------------------------------------------------

# The exact trust policy each service-assumed role may have. A role whose trust is none of these (a new
# service, a second principal, a missing condition) fails until it is reviewed and listed here.
SERVICE_TRUST = {
    "ec2.amazonaws.com": lambda: {  # the node group's instance role
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    },
    "backup.amazonaws.com": lambda: {  # components/volume_backups.py
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "backup.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    },
    # components/cost_guardrails.py; aws:SourceAccount is the confused-deputy guard (IAM user guide,
    # confused-deputy.html): the service may assume the role only on behalf of this account.
    "budgets.amazonaws.com": lambda: {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "budgets.amazonaws.com"}, "Action": "sts:AssumeRole",
                       "Condition": {"StringEquals": {"aws:SourceAccount": "210987654321"}}}],
    },
    "scheduler.amazonaws.com": lambda: {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"}, "Action": "sts:AssumeRole",
                       "Condition": {"StringEquals": {"aws:SourceAccount": "210987654321"}}}],
    },
}


@pytest.mark.parametrize("service", ["budgets.amazonaws.com", "scheduler.amazonaws.com"])
def test_the_budgets_and_scheduler_roles_trust_their_service_only_for_this_account(service):
    build = {"budgets.amazonaws.com": budgets_trust_policy, "scheduler.amazonaws.com": scheduler_trust_policy}[service]
    assert build("210987654321") == SERVICE_TRUST[service]()


def _trust_kind(document: dict) -> str:
    [statement] = document["Statement"]
    principal = statement["Principal"]
    if principal == {"Service": "pods.eks.amazonaws.com"}:
        tags = statement["Condition"]["StringEquals"]
        assert tags["aws:RequestTag/eks-cluster-arn"] == f"arn:aws:eks:eu-central-1:{fake_cloud.ACCOUNT}:cluster/hermes-prod"
        assert document == pod_identity_trust_policy(tags["aws:RequestTag/eks-cluster-arn"],
                                                     tags["aws:RequestTag/kubernetes-namespace"],
                                                     tags["aws:RequestTag/kubernetes-service-account"])
        return "pod identity"
    if "Federated" in principal:
        issuer = next(iter(statement["Condition"]["StringEquals"])).rsplit(":", 1)[0]
        sub = statement["Condition"]["StringEquals"][f"{issuer}:sub"]
        namespace, service_account = sub.split(":")[2:]
        assert document == irsa_trust_policy(principal["Federated"], issuer, namespace, service_account)
        return "irsa"
    service = principal["Service"]
    assert service in SERVICE_TRUST, f"no reviewed trust for service {service}"
    assert document == SERVICE_TRUST[service]()
    return service


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_role_any_stack_registers_has_a_reviewed_trust_policy(stack):
    roles = stack_program(stack).of_type("aws:iam/role:Role")
    kinds = {role.name: _trust_kind(json.loads(role.plain["assumeRolePolicy"])) for role in roles}
    assert kinds["hermes-nodes"] == "ec2.amazonaws.com"
    assert kinds["hermes-backups"] == "backup.amazonaws.com"
    if stack == "dev":  # bedrockBudgetDenyInvoke
        assert kinds["hermes-bedrock-budget-action"] == "budgets.amazonaws.com"
        assert kinds["hermes-bedrock-budget-lift"] == "scheduler.amazonaws.com"
