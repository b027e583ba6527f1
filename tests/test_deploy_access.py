"""deployments/deploy_access.py: the deploy roles' trust (exact conditions) and permissions (parliament).

Linted like tests/test_iam_lint.py lints the main program's policies: every parliament finding is
listed with its reason, a finding not listed fails, and so does a listed one that no longer occurs.
"""

from __future__ import annotations

import fnmatch
import json

import parliament
import pytest

from tests import fake_cloud
from tests.deployments_harness import import_program_module, run_deployments
from tests.test_iam_lint import Known, explained, lint

access = import_program_module("deploy_access")
plan_module = import_program_module("delivery_plan")
PLANS = {plan.stack: plan for plan in plan_module.PLANS}
ACCOUNT = fake_cloud.ACCOUNT
PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/api.pulumi.com/oidc"
ORG, PROJECT = "Example-Org", "hermes-eks"


def subject(stack: str, operation: str) -> str:
    # The organization in lowercase, as Deployments writes it in the token (and in the audience).
    return f"pulumi:deploy:org:example-org:project:{PROJECT}:stack:{stack}:operation:{operation}:scope:write"


def trust(stack: str, pattern: str = "pr-*") -> dict:
    return access.trust_policy(PROVIDER, ORG, PROJECT, PLANS[stack], pattern)


# --- trust ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("stack, operations", [
    ("dev", ["preview", "update", "refresh", "destroy"]),
    ("prod", ["preview", "update", "refresh", "detect-drift", "remediate-drift"]),
])
def test_a_stacks_role_trusts_exactly_its_org_project_stack_and_operations(stack, operations):
    document = trust(stack)
    assert set(document) == {"Version", "Statement"} and document["Version"] == "2012-10-17"
    [statement] = document["Statement"]
    assert statement == {
        "Effect": "Allow",
        "Principal": {"Federated": PROVIDER},
        "Action": "sts:AssumeRoleWithWebIdentity",
        # StringEquals only: no pattern admits another stack, project or organization.
        "Condition": {"StringEquals": {
            "api.pulumi.com/oidc:aud": "example-org",  # the organization name, lowercase
            "api.pulumi.com/oidc:sub": [subject(stack, op) for op in operations],
        }},
    }


def test_the_subject_names_the_organization_in_lowercase_like_the_audience():
    condition = trust("dev")["Statement"][0]["Condition"]["StringEquals"]
    assert condition["api.pulumi.com/oidc:aud"] == "example-org"
    assert condition["api.pulumi.com/oidc:sub"][0] == (
        "pulumi:deploy:org:example-org:project:hermes-eks:stack:dev:operation:preview:scope:write")
    assert not [s for s in condition["api.pulumi.com/oidc:sub"] if "Example-Org" in s]


def test_prod_admits_the_drift_runs_its_drift_schedule_starts():
    """Drift runs are operations detect-drift and remediate-drift (pulumi/pulumi apitype/deployments.go);
    the subject they present is undocumented, so both the drift name and the CLI operation are admitted."""
    subjects = trust("prod")["Statement"][0]["Condition"]["StringEquals"]["api.pulumi.com/oidc:sub"]
    for operation in ("detect-drift", "remediate-drift", "refresh", "update"):
        assert subject("prod", operation) in subjects
    assert PLANS["prod"].drift_detection


def test_prod_cannot_be_destroyed_by_a_deployment():
    assert not any(":operation:destroy:" in s for s in trust("prod")["Statement"][0]["Condition"]["StringEquals"]["api.pulumi.com/oidc:sub"])


def test_the_review_stack_role_trusts_only_stacks_matching_the_pattern():
    [statement] = trust("pr", "pr-*")["Statement"]
    assert statement["Condition"] == {
        "StringEquals": {"api.pulumi.com/oidc:aud": "example-org"},
        "StringLike": {"api.pulumi.com/oidc:sub": [subject("pr-*", op) for op in ("preview", "update", "refresh", "destroy")]},
    }
    patterns = statement["Condition"]["StringLike"]["api.pulumi.com/oidc:sub"]
    assert any(fnmatch.fnmatchcase(subject("pr-pulumi-example-org-hermes-eks-42", "update"), p) for p in patterns)
    for other in ("dev", "prod", "pr"):  # neither the template nor another stack
        assert not any(fnmatch.fnmatchcase(subject(other, "update"), p) for p in patterns)
    assert not any(fnmatch.fnmatchcase(subject("pr-1", "update").replace(PROJECT, "other"), p) for p in patterns)


def delivery_stack_of(stack: str) -> str:
    return "sandbox" if stack == "pr" else "delivery"  # review stacks: an account without prod


# --- which Deployments tokens each role admits, evaluated on the literal documents ------------------------

def admits(document: dict, claims: dict[str, str]) -> bool:
    """AssumeRoleWithWebIdentity with a Pulumi Cloud token, evaluated as IAM does for what these documents
    use: some Allow for the token's provider whose every condition holds. StringEquals: the claim equals
    one of the values; StringLike: it matches one of them, `*` standing for any characters and `?` for one
    (IAM User Guide, "Condition operators", string condition operators). Any key missing: no match."""
    for statement in document["Statement"]:
        if (statement["Effect"], statement["Action"], statement["Principal"]) != (
                "Allow", "sts:AssumeRoleWithWebIdentity", {"Federated": PROVIDER}):
            continue
        holds = []
        for operator, keys in statement["Condition"].items():
            for key, values in keys.items():
                values = [values] if isinstance(values, str) else values
                claim = claims.get(key)
                if operator == "StringEquals":
                    holds.append(claim in values)
                elif operator == "StringLike":
                    holds.append(claim is not None and any(fnmatch.fnmatchcase(claim, v) for v in values))
                else:
                    raise AssertionError(f"operator {operator} is not evaluated here")
        if all(holds):
            return True
    return False


def token(stack: str, operation: str, org: str = "example-org", project: str = PROJECT) -> dict[str, str]:
    """The claims of a Deployments OIDC token (pulumi/docs deployments/guides/oidc): aud, the organization;
    sub, org/project/stack/operation, scope always write."""
    return {"api.pulumi.com/oidc:aud": org,
            "api.pulumi.com/oidc:sub": f"pulumi:deploy:org:{org}:project:{project}:stack:{stack}:operation:{operation}:scope:write"}


REVIEW_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": "arn:aws:iam::210987654321:oidc-provider/api.pulumi.com/oidc"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {
            "StringEquals": {"api.pulumi.com/oidc:aud": "example-org"},
            "StringLike": {"api.pulumi.com/oidc:sub": [
                "pulumi:deploy:org:example-org:project:hermes-eks:stack:pr-*:operation:preview:scope:write",
                "pulumi:deploy:org:example-org:project:hermes-eks:stack:pr-*:operation:update:scope:write",
                "pulumi:deploy:org:example-org:project:hermes-eks:stack:pr-*:operation:refresh:scope:write",
                "pulumi:deploy:org:example-org:project:hermes-eks:stack:pr-*:operation:destroy:scope:write",
            ]},
        },
    }],
}
PROD_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": "arn:aws:iam::210987654321:oidc-provider/api.pulumi.com/oidc"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {
            "api.pulumi.com/oidc:aud": "example-org",
            "api.pulumi.com/oidc:sub": [
                "pulumi:deploy:org:example-org:project:hermes-eks:stack:prod:operation:preview:scope:write",
                "pulumi:deploy:org:example-org:project:hermes-eks:stack:prod:operation:update:scope:write",
                "pulumi:deploy:org:example-org:project:hermes-eks:stack:prod:operation:refresh:scope:write",
                "pulumi:deploy:org:example-org:project:hermes-eks:stack:prod:operation:detect-drift:scope:write",
                "pulumi:deploy:org:example-org:project:hermes-eks:stack:prod:operation:remediate-drift:scope:write",
            ],
        }},
    }],
}
DEV_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": "arn:aws:iam::210987654321:oidc-provider/api.pulumi.com/oidc"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {
            "api.pulumi.com/oidc:aud": "example-org",
            "api.pulumi.com/oidc:sub": [
                "pulumi:deploy:org:example-org:project:hermes-eks:stack:dev:operation:preview:scope:write",
                "pulumi:deploy:org:example-org:project:hermes-eks:stack:dev:operation:update:scope:write",
                "pulumi:deploy:org:example-org:project:hermes-eks:stack:dev:operation:refresh:scope:write",
                "pulumi:deploy:org:example-org:project:hermes-eks:stack:dev:operation:destroy:scope:write",
            ],
        }},
    }],
}
ALL_OPERATIONS = ("preview", "update", "refresh", "destroy", "detect-drift", "remediate-drift")
REVIEW_STACK = "pr-pulumi-example-org-hermes-eks-42"


def test_the_roles_trust_exactly_the_literal_documents():
    assert (trust("pr"), trust("prod"), trust("dev")) == (REVIEW_TRUST, PROD_TRUST, DEV_TRUST)


@pytest.mark.parametrize("operation", ALL_OPERATIONS)
def test_no_token_of_prod_or_dev_can_assume_the_review_stack_role(operation):
    for stack in ("prod", "dev", "pr", "local"):  # the main stacks and the template itself
        assert not admits(REVIEW_TRUST, token(stack, operation)), stack


@pytest.mark.parametrize("operation", ALL_OPERATIONS)
def test_no_review_stack_token_can_assume_prods_or_devs_role(operation):
    for document in (PROD_TRUST, DEV_TRUST):
        assert not admits(document, token(REVIEW_STACK, operation))
        assert not admits(document, token("pr", operation))


def test_positive_control_each_role_admits_its_own_stacks_tokens_and_nothing_of_another_org_or_project():
    assert admits(REVIEW_TRUST, token(REVIEW_STACK, "update")) and admits(REVIEW_TRUST, token("pr-1", "destroy"))
    assert admits(PROD_TRUST, token("prod", "remediate-drift")) and not admits(PROD_TRUST, token("prod", "destroy"))
    assert admits(DEV_TRUST, token("dev", "update"))
    for document, stack in ((REVIEW_TRUST, REVIEW_STACK), (PROD_TRUST, "prod"), (DEV_TRUST, "dev")):
        assert not admits(document, token(stack, "update", org="other-org"))
        assert not admits(document, token(stack, "update", project="other"))
        # The audience must be this organization's even when the subject names it.
        assert not admits(document, {**token(stack, "update"), "api.pulumi.com/oidc:aud": "other-org"})


def test_a_pattern_matching_a_main_stack_would_let_prod_assume_the_review_role_so_it_is_refused():
    """Why delivery_settings refuses `reviewStackPattern: pr*` (tests/test_delivery_settings.py)."""
    widened = access.trust_policy(PROVIDER, ORG, PROJECT, PLANS["pr"], "pr*")
    assert admits(widened, token("prod", "update"))


def test_the_roles_the_program_registers_carry_exactly_these_trust_policies():
    for stack in PLANS:
        run = run_deployments(delivery_stack_of(stack), config={"organization": ORG})
        role = run.one("aws:iam/role:Role", f"deploy-{stack}")
        assert json.loads(role.plain["assumeRolePolicy"]) == trust(stack)
        assert role.plain["name"] == f"hermes-eks-deploy-{stack}"


def test_parliament_cannot_read_the_trust_policies_so_they_are_checked_above():
    for stack in PLANS:
        assert ("MALFORMED", "Statement contains neither Resource nor NotResource") in lint(trust(stack))


# --- permissions ------------------------------------------------------------------------------------

def findings(document: dict) -> set[tuple[str, str]]:
    """tests/test_iam_lint.lint, with the two community findings that carry their subject in `location`."""
    found = {f for f in lint(document) if f[0] not in ("PRIVILEGE_ESCALATION", "PERMISSIONS_MANAGEMENT_ACTIONS")}
    policy = parliament.analyze_policy_string(json.dumps(document), ignore_private_auditors=True,
                                              include_community_auditors=True)
    for finding in policy.findings:
        if finding.issue == "PRIVILEGE_ESCALATION":
            found.add((finding.issue, finding.location["type"]))
        elif finding.issue == "PERMISSIONS_MANAGEMENT_ACTIONS":
            found.add((finding.issue, " ".join(sorted(finding.location["actions"]))))
    return found


MANAGES_IAM = (
    "The main program creates the roles and policies of the EKS cluster, its nodes, the EBS CSI driver, the "
    "Load Balancer Controller and Hermes, and the cluster's OIDC provider: its deploy role must manage IAM. "
    "The Deny statement keeps the deploy roles and the Pulumi OIDC provider out of its reach.")
# Every IAM action of the deploy policy that writes permissions, as parliament's community auditor reports
# them (lowercase, sorted): an action added to deploy_access.IAM_ACTIONS shows up here only by review.
MANAGED_IAM_ACTIONS = (
    "iam:addclientidtoopenidconnectprovider", "iam:addroletoinstanceprofile", "iam:attachrolepolicy",
    "iam:createinstanceprofile", "iam:createopenidconnectprovider", "iam:createpolicy", "iam:createpolicyversion",
    "iam:createrole", "iam:deleteinstanceprofile", "iam:deleteopenidconnectprovider", "iam:deletepolicy",
    "iam:deletepolicyversion", "iam:deleterole", "iam:deleterolepolicy", "iam:detachrolepolicy", "iam:passrole",
    "iam:putrolepolicy", "iam:removerolefrominstanceprofile", "iam:updateassumerolepolicy",
    "iam:updateopenidconnectproviderthumbprint", "iam:updaterole", "iam:updateroledescription",
)
ACCEPTED = [
    Known("PERMISSIONS_MANAGEMENT_ACTIONS", " ".join(MANAGED_IAM_ACTIONS), MANAGES_IAM),
    Known("PRIVILEGE_ESCALATION", "CreateNewPolicyVersion",
          MANAGES_IAM + " Whoever controls the program's code controls the account: review and branch protection "
          "guard that (deployments/README.md, \"The deploy roles' permissions\")."),
]


def test_parliament_finds_nothing_but_the_accepted_iam_management_in_the_deploy_policy():
    assert findings(access.iam_policy("aws", ACCOUNT)) - explained(ACCEPTED) == set()


def test_every_accepted_deploy_policy_finding_still_occurs():
    assert explained(ACCEPTED) - findings(access.iam_policy("aws", ACCOUNT)) == set()


def test_positive_control_a_misspelt_iam_action_is_a_finding_nobody_listed():
    document = access.iam_policy("aws", ACCOUNT)
    document["Statement"][0]["Action"] = [*document["Statement"][0]["Action"], "iam:CreateRoles"]
    assert ("UNKNOWN_ACTION", "iam:CreateRoles") in findings(document) - explained(ACCEPTED)


def test_the_deny_covers_every_deploy_role_and_the_pulumi_oidc_provider_that_the_allow_would_reach():
    allow, deny = access.iam_policy("aws", ACCOUNT)["Statement"]
    assert (allow["Effect"], deny["Effect"]) == ("Allow", "Deny")
    protected = [f"arn:aws:iam::{ACCOUNT}:role/{access.deploy_role_name(s)}" for s in PLANS] + [PROVIDER]
    for arn in protected[:-1]:
        assert any(fnmatch.fnmatchcase(arn, r) for r in allow["Resource"])  # so the deny is what stops it
    for arn in protected:
        assert any(fnmatch.fnmatchcase(arn, r) for r in deny["Resource"]), arn
    for action in access.IAM_ACTIONS:
        if not action.startswith(("iam:Get", "iam:List", "iam:PassRole")):
            assert any(fnmatch.fnmatchcase(action, a) for a in deny["Action"]), action
    assert not any(fnmatch.fnmatchcase(f"arn:aws:iam::{ACCOUNT}:role/hermes-eksRole-1234567", r) for r in deny["Resource"])


# What pulumi-aws calls to change each attribute of a role the main program declares (the AWS IAM API
# reference, one action per call): the update fails with AccessDenied on the first one missing.
ROLE_UPDATES = {
    "assume_role_policy": "iam:UpdateAssumeRolePolicy",
    "description": "iam:UpdateRoleDescription",
    "max_session_duration": "iam:UpdateRole",
    "tags": "iam:TagRole",
    "inline_policies": "iam:PutRolePolicy",
    "managed_policy_arns": "iam:AttachRolePolicy",
}


@pytest.mark.parametrize("attribute", ROLE_UPDATES)
def test_the_iam_allow_list_admits_changing_every_role_attribute_the_program_sets(attribute):
    allow = access.iam_policy("aws", ACCOUNT)["Statement"][0]
    assert ROLE_UPDATES[attribute] in allow["Action"]


def test_every_role_gets_power_user_access_and_the_iam_policy_in_its_partition():
    roles = set()
    for delivery_stack in ("delivery", "sandbox"):
        run = run_deployments(delivery_stack)
        for stack in run.outputs["deploy_role_arns"]:
            attachment = run.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", f"deploy-{stack}-power-user")
            assert attachment.plain["policyArn"] == "arn:aws:iam::aws:policy/PowerUserAccess"
            inline = run.one("aws:iam/rolePolicy:RolePolicy", f"deploy-{stack}-iam")
            assert json.loads(inline.plain["policy"]) == access.iam_policy("aws", ACCOUNT)
        roles |= {r.plain["role"] for r in run.of_type("aws:iam/rolePolicy:RolePolicy")}
    assert roles == {f"hermes-eks-deploy-{s}" for s in PLANS}
