"""deployments/github_actions_access.py: the AWS roles of the GitHub Actions workflows (opt-in)."""

from __future__ import annotations

import fnmatch
import json

import pytest

from tests import fake_cloud
from tests.deployments_harness import import_program_module, run_deployments

github = import_program_module("github_actions_access")
access = import_program_module("deploy_access")
ACCOUNT = fake_cloud.ACCOUNT
PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
ROLE = "aws:iam/role:Role"


@pytest.fixture(scope="module")
def run():
    return run_deployments(config={"githubActions": True})


def test_nothing_for_github_actions_unless_asked():
    plain = run_deployments()
    assert not [r for r in plain.resources if "github" in r.name]
    assert not [k for k in plain.outputs if k.startswith("github")]


def test_the_github_oidc_provider_has_the_sts_audience(run):
    provider = run.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider", "github-actions-github-oidc")
    assert provider.plain["url"] == "https://token.actions.githubusercontent.com"
    assert provider.plain["clientIdLists"] == ["sts.amazonaws.com"]


@pytest.mark.parametrize("kind, stack, sub", [
    # A pull request's own subject reaches dev's read-only role only.
    ("preview", "dev", "repo:example-org/hermes-eks:pull_request"),
    # prod and this program's stack: only a job in the `prod-preview` environment, after its reviewers approve.
    ("preview", "prod", "repo:example-org/hermes-eks:environment:prod-preview"),
    ("preview", "delivery", "repo:example-org/hermes-eks:environment:prod-preview"),
    ("deploy", "dev", "repo:example-org/hermes-eks:environment:dev"),
    ("deploy", "prod", "repo:example-org/hermes-eks:environment:prod"),
])
def test_each_role_trusts_exactly_the_subject_its_workflow_job_presents(run, kind, stack, sub):
    role = run.one(ROLE, f"github-actions-{kind}-{stack}")
    assert json.loads(role.plain["assumeRolePolicy"]) == {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": PROVIDER},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                                       "token.actions.githubusercontent.com:sub": sub}},
    }]}
    assert role.plain["maxSessionDuration"] == 7200
    assert run.outputs[f"github_{kind}_role_arn_{stack}"] == role.outputs["arn"]


def test_no_pull_request_subject_reaches_a_role_that_can_write(run):
    """The subjects a pull_request job can present: its own, and the approved `prod-preview` environment's
    (dev and prod admit only main, README "GitHub Actions" setup). None of them may assume a deploy role."""
    pull_request_subjects = {"repo:example-org/hermes-eks:pull_request",
                             "repo:example-org/hermes-eks:environment:prod-preview"}
    attachments = {r.plain["role"]: r.plain["policyArn"] for r in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    inline = {r.plain["role"] for r in run.of_type("aws:iam/rolePolicy:RolePolicy")}
    reached = [r for r in run.of_type(ROLE) if json.loads(r.plain["assumeRolePolicy"])["Statement"][0]["Condition"]
               ["StringEquals"].get("token.actions.githubusercontent.com:sub") in pull_request_subjects]
    assert {r.plain["name"] for r in reached} == {"hermes-eks-deploy-github-preview-dev",
                                                  "hermes-eks-deploy-github-preview-prod",
                                                  "hermes-eks-deploy-github-preview-delivery"}
    for role in reached:
        assert attachments[role.plain["name"]] == "arn:aws:iam::aws:policy/ReadOnlyAccess"
        assert role.plain["name"] not in inline


def test_previews_read_and_deploys_get_the_deploy_roles_permissions(run):
    attachments = {r.name: r.plain["policyArn"] for r in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    for stack in ("dev", "prod", "delivery"):
        assert attachments[f"github-actions-preview-{stack}-read-only"] == "arn:aws:iam::aws:policy/ReadOnlyAccess"
        assert not [r for r in run.of_type("aws:iam/rolePolicy:RolePolicy") if r.name.startswith(f"github-actions-preview-{stack}")]
    for stack in ("dev", "prod"):
        assert attachments[f"github-actions-deploy-{stack}-power-user"] == "arn:aws:iam::aws:policy/PowerUserAccess"
        inline = run.one("aws:iam/rolePolicy:RolePolicy", f"github-actions-deploy-{stack}-iam")
        assert json.loads(inline.plain["policy"]) == access.iam_policy("aws", ACCOUNT)


# --- Pulumi Cloud: which team's token each job gets, and what the team may do ----------------------

TEAM = "pulumiservice:index:Team"
STACK_PERMISSION = "pulumiservice:index:TeamStackPermission"
READ, EDIT = 101, 102  # pulumi_pulumiservice TeamStackPermissionScope: READ, EDIT (ADMIN is 103)


def test_each_team_may_read_or_edit_exactly_these_stacks(run):
    grants = {(r.plain["team"], r.plain["project"], r.plain["stack"]): r.plain["permission"]
              for r in run.of_type(STACK_PERMISSION)}
    assert grants == {
        ("hermes-eks-preview-dev", "hermes-eks", "dev"): READ,
        ("hermes-eks-preview-prod", "hermes-eks", "prod"): READ,
        ("hermes-eks-preview-prod", "hermes-eks-deployments", "delivery"): READ,
        ("hermes-eks-deploy-dev", "hermes-eks", "dev"): EDIT,
        ("hermes-eks-deploy-prod", "hermes-eks", "prod"): EDIT,
    }
    assert {r.plain["organization"] for r in run.of_type(STACK_PERMISSION)} == {"example-org"}
    assert {r.plain["name"] for r in run.of_type(TEAM)} == {
        "hermes-eks-preview-dev", "hermes-eks-preview-prod", "hermes-eks-deploy-dev", "hermes-eks-deploy-prod"}
    assert {r.plain["teamType"] for r in run.of_type(TEAM)} == {"pulumi"}


def test_pulumi_cloud_gives_each_subject_exactly_its_teams_token(run):
    issuer = run.one("pulumiservice:index:OidcIssuer")
    assert (issuer.plain["url"], issuer.plain["organization"]) == ("https://token.actions.githubusercontent.com", "example-org")
    repo = "repo:example-org/hermes-eks"
    assert issuer.plain["policies"] == [
        {"decision": "allow", "tokenType": "team", "teamName": "hermes-eks-preview-dev",
         "rules": {"sub": f"{repo}:pull_request"}},
        {"decision": "allow", "tokenType": "team", "teamName": "hermes-eks-preview-prod",
         "rules": {"sub": f"{repo}:environment:prod-preview"}},
        {"decision": "allow", "tokenType": "team", "teamName": "hermes-eks-deploy-dev",
         "rules": {"sub": f"{repo}:environment:dev", "ref": "refs/heads/main"}},
        {"decision": "allow", "tokenType": "team", "teamName": "hermes-eks-deploy-prod",
         "rules": {"sub": f"{repo}:environment:prod", "ref": "refs/heads/main"}},
    ]


def test_a_pull_requests_pulumi_identity_cannot_update_prod(run):
    """What a pull_request job can present (its own subject, or prod-preview's after approval) gets a team
    that may at most read prod: Stack Read runs previews, `pulumi up` needs write (Pulumi Cloud RBAC)."""
    issuer = run.one("pulumiservice:index:OidcIssuer")
    teams = {p["teamName"] for p in issuer.plain["policies"]
             if p["rules"]["sub"].endswith((":pull_request", ":environment:prod-preview"))}
    prod = {r.plain["team"]: r.plain["permission"] for r in run.of_type(STACK_PERMISSION) if r.plain["stack"] == "prod"}
    assert teams and all(prod.get(team, 0) <= READ for team in teams)


def test_the_deny_protects_the_github_roles_and_provider_too():
    """In the sandbox account too: the review stacks' role (IAM on role/*) never rewrites the preview role."""
    deny = access.iam_policy("aws", ACCOUNT)["Statement"][1]
    names = {github.role_name(r.kind, r.stack) for r in github.ROLES}
    assert "hermes-eks-deploy-github-preview-sandbox" in names
    for name in names:
        arn = f"arn:aws:iam::{ACCOUNT}:role/{name}"
        assert any(fnmatch.fnmatchcase(arn, r) for r in deny["Resource"]), arn
    assert any(fnmatch.fnmatchcase(PROVIDER, r) for r in deny["Resource"])


def test_immutable_subjects_and_an_existing_provider():
    run = run_deployments(config={"githubActions": True, "githubOidcProvider": "existing",
                                  "githubSubjectRepository": "example-org@1234567/hermes-eks@89012345"})
    assert not run.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider") or all(
        "github" not in r.name for r in run.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider"))
    lookups = [a for t, a in run.invokes if t == "aws:iam/getOpenIdConnectProvider:getOpenIdConnectProvider"]
    assert lookups == [{"url": "https://token.actions.githubusercontent.com"}]
    trust = json.loads(run.one(ROLE, "github-actions-deploy-prod").plain["assumeRolePolicy"])
    assert trust["Statement"][0]["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] == \
        "repo:example-org@1234567/hermes-eks@89012345:environment:prod"


def test_a_bad_subject_repository_is_a_config_error():
    result = run_deployments(config={"githubSubjectRepository": "hermes-eks"}, raise_errors=False)
    [problem] = result.error.problems
    assert problem.startswith('hermes-eks-deployments:githubSubjectRepository in Pulumi.delivery.yaml is "hermes-eks"; allowed: ')
    assert result.resources == []


def test_jobs_presenting_one_subject_must_share_one_team(monkeypatch):
    """A token carries one team, so an issuer policy per subject: two teams for a subject is refused."""
    assert len(github.subject_teams()) == 4
    extra = github.GithubRole("preview", "dev", "pull_request", "hermes-eks-deploy-dev")
    monkeypatch.setattr(github, "ROLES", (*github.ROLES, extra))
    with pytest.raises(ValueError, match="subject pull_request is given two teams"):
        github.subject_teams()


# --- the sandbox account (githubSandboxPreview on `sandbox`): the `Preview sandbox` job's identities ---

@pytest.fixture(scope="module")
def sandbox_run():
    return run_deployments("sandbox", config={"githubSandboxPreview": True})


def test_the_sandbox_preview_role_trusts_only_a_pull_requests_own_subject(sandbox_run):
    role = sandbox_run.one(ROLE, "github-actions-preview-sandbox")
    assert role.plain["name"] == "hermes-eks-deploy-github-preview-sandbox"
    assert json.loads(role.plain["assumeRolePolicy"]) == {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": PROVIDER},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                                       "token.actions.githubusercontent.com:sub": "repo:example-org/hermes-eks:pull_request"}},
    }]}
    assert role.plain["maxSessionDuration"] == 7200
    assert sandbox_run.outputs["github_preview_role_arn_sandbox"] == role.outputs["arn"]


def test_the_sandbox_account_gets_its_own_github_provider_and_only_the_read_only_preview_role(sandbox_run):
    provider = sandbox_run.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider", "github-actions-github-oidc")
    assert (provider.plain["url"], provider.plain["clientIdLists"]) == (
        "https://token.actions.githubusercontent.com", ["sts.amazonaws.com"])
    github_roles = {r.plain["name"] for r in sandbox_run.of_type(ROLE) if "github" in r.plain["name"]}
    assert github_roles == {"hermes-eks-deploy-github-preview-sandbox"}
    attachments = {r.plain["role"]: r.plain["policyArn"]
                   for r in sandbox_run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    assert attachments["hermes-eks-deploy-github-preview-sandbox"] == "arn:aws:iam::aws:policy/ReadOnlyAccess"
    assert "hermes-eks-deploy-github-preview-sandbox" not in {
        r.plain["role"] for r in sandbox_run.of_type("aws:iam/rolePolicy:RolePolicy")}
    assert {k for k in sandbox_run.outputs if k.startswith("github")} == {
        "github_oidc_provider_arn", "github_preview_role_arn_sandbox"}


def test_the_sandbox_stack_grants_the_pull_request_team_stack_read_on_itself_and_nothing_else(sandbox_run):
    """The team and GitHub's issuer stay `delivery`'s: the `pull_request` subject already gets that team's
    token there, so `sandbox` only adds Stack Read on its own stack (Stack Read runs previews, never `up`)."""
    grants = {(r.plain["team"], r.plain["project"], r.plain["stack"]): r.plain["permission"]
              for r in sandbox_run.of_type(STACK_PERMISSION)}
    assert grants == {("hermes-eks-preview-dev", "hermes-eks-deployments", "sandbox"): READ}
    assert not sandbox_run.of_type(TEAM) and not sandbox_run.of_type("pulumiservice:index:OidcIssuer")
    assert github.subject_teams()[github.ROLES[0]] == "hermes-eks-preview-dev"
    assert github.ROLES[0].subject == "pull_request"


def test_no_pull_request_subject_reaches_a_role_that_can_write_in_the_sandbox_account(sandbox_run):
    reached = [r for r in sandbox_run.of_type(ROLE) if "token.actions.githubusercontent.com:sub" in
               json.dumps(json.loads(r.plain["assumeRolePolicy"])["Statement"][0]["Condition"])]
    assert [r.plain["name"] for r in reached] == ["hermes-eks-deploy-github-preview-sandbox"]


def test_prods_account_makes_no_sandbox_role_and_the_sandbox_account_no_delivery_one(run, sandbox_run):
    in_prods = {r.plain["name"] for r in run.of_type(ROLE)}
    in_sandbox = {r.plain["name"] for r in sandbox_run.of_type(ROLE)}
    assert "hermes-eks-deploy-github-preview-sandbox" not in in_prods
    assert in_sandbox == {"hermes-eks-deploy-pr", "hermes-eks-deploy-github-preview-sandbox"}


def test_the_sandbox_account_may_reuse_its_github_provider():
    run = run_deployments("sandbox", config={"githubSandboxPreview": True, "githubOidcProvider": "existing"})
    assert all("github" not in r.name for r in run.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider"))
    lookups = [a for t, a in run.invokes if t == "aws:iam/getOpenIdConnectProvider:getOpenIdConnectProvider"]
    assert lookups == [{"url": "https://token.actions.githubusercontent.com"}]
    trust = json.loads(run.one(ROLE, "github-actions-preview-sandbox").plain["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"]["Federated"] == PROVIDER


def test_nothing_for_github_actions_in_the_sandbox_account_unless_asked():
    plain = run_deployments("sandbox")
    assert not [r for r in plain.resources if "github" in r.name]
