"""GithubActionsAccess: what the GitHub Actions workflows (.github/workflows/) may do, in AWS and in
Pulumi Cloud. Created with `githubActions: true` on `delivery` (prod's account), and its sandbox part
with `githubSandboxPreview: true` on `sandbox` (the review stacks' account, without prod).

A `pull_request` run uses the workflow file of the pull request's merge commit (GitHub docs, "Events
that trigger workflows"): its author can rewrite every step, so whatever a pull-request job can obtain
is the author's. Each job therefore gets an identity bound to the OIDC subject it presents, and only
the deploy jobs, which run from `main` behind their environment, can write:

| job (workflow)                   | GitHub OIDC subject              | Pulumi Cloud team (stacks, permission)  | AWS role (permissions)            |
| -------------------------------- | -------------------------------- | --------------------------------------- | --------------------------------- |
| Preview dev (pull-request.yml)   | repo:<repo>:pull_request         | hermes-eks-preview-dev (dev: read)      | ...-github-preview-dev (read-only) |
| Preview prod, Preview delivery   | repo:<repo>:environment:prod-preview | hermes-eks-preview-prod (prod, delivery: read) | ...-github-preview-prod, -delivery (read-only) |
| Preview sandbox (pull-request.yml) | repo:<repo>:pull_request       | hermes-eks-preview-dev (sandbox: read)  | ...-github-preview-sandbox, in the sandbox account (read-only) |
| pulumi up dev (deploy.yml)       | repo:<repo>:environment:dev      | hermes-eks-deploy-dev (dev: edit)       | ...-github-dev (deploy permissions) |
| pulumi up prod (deploy.yml)      | repo:<repo>:environment:prod     | hermes-eks-deploy-prod (prod: edit)     | ...-github-prod (deploy permissions) |

- A job that names an environment presents `repo:<repo>:environment:<name>` instead of its event's
  subject (GitHub OIDC docs), and waits for that environment's required reviewers. `prod-preview` has
  required reviewers and admits pull-request refs; `dev` and `prod` admit only `main` (deployment
  branches), so a pull request's job cannot present their subjects. Pulumi Cloud's issuer policies match
  any claim (pulumi/docs administration/guides/oidc-issuers): the deploy teams also require
  `ref = refs/heads/main`.
- Pulumi Cloud RBAC: `Stack Read` "allows for running previews" and includes decrypting the stack's
  secrets; `pulumi up` needs write (docs administration/concepts/rbac/permission-sets). So prod's
  read team is reached only after a reviewer approves `prod-preview`. Team tokens need the Enterprise
  edition or above (pulumi/docs#16149).
- `sandbox` is previewed without a reviewer, like dev: its account holds no prod, and every pull
  request's review stack already runs there with PowerUserAccess (deploy_access.py; all but `iam:*`,
  `organizations:*`, `account:*`, AWS managed-policy reference v12), so ReadOnlyAccess adds only IAM,
  Organizations and account reads; its stack holds no secret (delivery_settings refuses secret settings
  beside `githubSandboxPreview`). Its role and the team's Stack Read on it are made by `sandbox` itself,
  in its account; the team and GitHub's issuer are `delivery`'s, whose `pull_request` policy already
  gives that subject `hermes-eks-preview-dev`'s token (a subject gets one team: subject_teams).
- AWS: StringEquals on `token.actions.githubusercontent.com:aud = sts.amazonaws.com` (configure-aws-
  credentials' audience) and on exactly one subject. Preview roles get AWS's ReadOnlyAccess, and in
  EKS only AmazonEKSViewPolicy (the main program's clusterViewerPrincipalArns). Repositories created
  after 2026-07-15 present immutable subjects, `repo:<owner>@<ORG_ID>/<repo>@<REPO_ID>:...`: set
  `githubSubjectRepository`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_pulumiservice as ps

from deploy_access import (
    GITHUB_OIDC_ISSUER,
    ROLE_PREFIX,
    SESSION_SECONDS,
    grant_deploy_permissions,
    oidc_provider_arn,
)

AUDIENCE = "sts.amazonaws.com"
READ_ONLY = "ReadOnlyAccess"
STACKS = ("dev", "prod")  # the main program's stacks the workflows preview and deploy
# This program's own stacks, previewed on pull requests too; each makes the roles of its AWS account.
DELIVERY_STACK = "delivery"  # prod's account
SANDBOX_STACK = "sandbox"  # the review stacks' account, without prod
# The environment prod's (and this program's) previews run in: required reviewers, any branch.
PREVIEW_ENVIRONMENT = "prod-preview"
MAIN_REF = "refs/heads/main"


@dataclass(frozen=True)
class GithubRole:
    kind: str  # "preview" (read-only) or "deploy"
    stack: str  # the stack it previews or deploys
    subject: str  # what follows `repo:<repository>:` in the job's OIDC subject
    team: str  # the Pulumi Cloud team whose token the job gets
    made_by: str = DELIVERY_STACK  # this program's stack that makes the role, in its AWS account


ROLES = (
    GithubRole("preview", "dev", "pull_request", "hermes-eks-preview-dev"),
    GithubRole("preview", "prod", f"environment:{PREVIEW_ENVIRONMENT}", "hermes-eks-preview-prod"),
    GithubRole("preview", DELIVERY_STACK, f"environment:{PREVIEW_ENVIRONMENT}", "hermes-eks-preview-prod"),
    GithubRole("deploy", "dev", "environment:dev", "hermes-eks-deploy-dev"),
    GithubRole("deploy", "prod", "environment:prod", "hermes-eks-deploy-prod"),
    GithubRole("preview", SANDBOX_STACK, "pull_request", "hermes-eks-preview-dev", made_by=SANDBOX_STACK),
)


def roles_made_by(stack: str) -> tuple[GithubRole, ...]:
    return tuple(role for role in ROLES if role.made_by == stack)


def role_name(kind: str, stack: str) -> str:
    """kind: "preview" or "deploy"; under the delivery prefix, so deploy_access's Deny protects it."""
    return f"{ROLE_PREFIX}github-{'preview-' if kind == 'preview' else ''}{stack}"


def subject(repository: str, role: GithubRole) -> str:
    return f"repo:{repository}:{role.subject}"


def trust_policy(provider_arn: str, repository: str, role: GithubRole) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                f"{GITHUB_OIDC_ISSUER}:aud": AUDIENCE,
                f"{GITHUB_OIDC_ISSUER}:sub": subject(repository, role),
            }},
        }],
    }


def team_stacks(team: str, project: str, delivery_project: str, made_by: str | None = None) -> dict[tuple[str, str], str]:
    """(project, stack) -> "read" or "edit": every stack the team may see, and how (`made_by`: only the
    grants that stack of this program makes)."""
    grants = {}
    for role in ROLES:
        if role.team == team and made_by in (None, role.made_by):
            stack_project = delivery_project if role.stack in (DELIVERY_STACK, SANDBOX_STACK) else project
            grants[(stack_project, role.stack)] = "read" if role.kind == "preview" else "edit"
    return grants


def subject_teams() -> dict[GithubRole, str]:
    """One issuer policy per subject: the first role presenting it, and its team (the only one)."""
    by_subject: dict[str, GithubRole] = {}
    for role in ROLES:
        first = by_subject.setdefault(role.subject, role)
        if first.team != role.team:  # a token carries one team: the jobs of one subject share it
            raise ValueError(f"subject {role.subject} is given two teams, {first.team} and {role.team}")
    return {role: role.team for role in by_subject.values()}


def issuer_rules(repository: str, role: GithubRole) -> dict[str, str]:
    """The claims a GitHub token must carry to get `role.team`'s token from Pulumi Cloud."""
    rules = {"sub": subject(repository, role)}
    if role.kind == "deploy":
        rules["ref"] = MAIN_REF
    return rules


PERMISSIONS = {"read": ps.TeamStackPermissionScope.READ, "edit": ps.TeamStackPermissionScope.EDIT}


@dataclass(frozen=True)
class GithubActionsAccessArgs:
    organization: str  # Pulumi Cloud organization
    subject_repository: str  # owner/repo, or owner@ORG_ID/repo@REPO_ID
    project: str  # the main program's project
    delivery_project: str  # this program's project
    existing_provider_arn: str = ""  # empty: create the provider
    # DELIVERY_STACK: every role of prod's account, the teams and GitHub's issuer in Pulumi Cloud.
    # SANDBOX_STACK: only the sandbox account's roles and their teams' Stack Read on `sandbox`.
    made_by: str = DELIVERY_STACK


class GithubActionsAccess(pulumi.ComponentResource):
    def __init__(self, name: str, args: GithubActionsAccessArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("hermes-eks-deployments:index:GithubActionsAccess", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # AWS allows one OIDC provider per URL per account: each account's own, created or found.
        self.provider_arn = oidc_provider_arn(
            f"{name}-github-oidc", issuer=GITHUB_OIDC_ISSUER, audience=AUDIENCE,
            existing_arn=args.existing_provider_arn, project=args.project, parent=self)

        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=self))
        partition = aws.get_partition_output(opts=pulumi.InvokeOptions(parent=self)).partition

        # --- AWS: one role per job, in the account of the stack that makes it -------------------------
        roles = roles_made_by(args.made_by)
        self.role_arns: dict[str, pulumi.Output[str]] = {}
        for github_role in roles:
            kind, stack = github_role.kind, github_role.stack
            logical = f"{name}-{kind}-{stack}"
            role = aws.iam.Role(
                logical,
                name=role_name(kind, stack),
                description=f"GitHub Actions {kind} of {stack}",
                assume_role_policy=self.provider_arn.apply(lambda arn, r=github_role: json.dumps(
                    trust_policy(arn, args.subject_repository, r))),
                max_session_duration=SESSION_SECONDS,
                tags={"project": args.project, "stack": stack},
                opts=child,
            )
            if kind == "preview":
                aws.iam.RolePolicyAttachment(
                    f"{logical}-read-only", role=role.name,
                    policy_arn=partition.apply(lambda p: f"arn:{p}:iam::aws:policy/{READ_ONLY}"), opts=child)
            else:
                grant_deploy_permissions(logical, role, partition, identity.account_id, self)
            self.role_arns[f"{kind}-{stack}"] = role.arn

        # --- Pulumi Cloud: a team per job kind (delivery's), its stacks, the GitHub issuer's policies ---
        self.teams: dict[str, ps.Team] = {}
        if args.made_by == DELIVERY_STACK:
            for team_name in dict.fromkeys(r.team for r in ROLES):
                self.teams[team_name] = ps.Team(
                    f"{name}-{team_name}", organization_name=args.organization, team_type="pulumi",
                    name=team_name, display_name=team_name,
                    description="GitHub Actions jobs of hermes-eks (deployments/github_actions_access.py)",
                    opts=child)
        for team_name in dict.fromkeys(r.team for r in roles):
            # On `sandbox` the team is delivery's, named: `githubActions` on delivery comes first (README).
            team = self.teams[team_name].name if team_name in self.teams else team_name
            grants = team_stacks(team_name, args.project, args.delivery_project, made_by=args.made_by)
            for (project, stack), permission in grants.items():
                ps.TeamStackPermission(f"{name}-{team_name}-{stack}", organization=args.organization,
                                       project=project, stack=stack, team=team,
                                       permission=PERMISSIONS[permission], opts=child)
        # Policies are matched in order and the first match decides (pulumi/docs oidc-issuers).
        self.issuer = None
        if args.made_by == DELIVERY_STACK:
            self.issuer = ps.OidcIssuer(
                f"{name}-pulumi-issuer", organization=args.organization, name="github-actions-hermes-eks",
                url=f"https://{GITHUB_OIDC_ISSUER}",
                policies=[ps.AuthPolicyDefinitionArgs(
                    decision=ps.AuthPolicyDecision.ALLOW, token_type=ps.AuthPolicyTokenType.TEAM,
                    team_name=self.teams[team].name, rules=issuer_rules(args.subject_repository, r))
                    for r, team in subject_teams().items()],
                opts=child)

        self.register_outputs({"provider_arn": self.provider_arn, "role_arns": self.role_arns})
