"""GithubActionsAccess: the AWS side of the GitHub Actions workflows (.github/workflows/), for teams
that deploy without Pulumi Deployments. Created only with `githubActions: true`.

The subjects are the ones the workflows present and the README's "GitHub Actions" section documents:
- a preview role per stack, trusted for `repo:<owner>/<repo>:pull_request`, read-only (AWS's
  ReadOnlyAccess): a pull request's preview can read the account but change nothing;
- a deploy role per stack, trusted for `repo:<owner>/<repo>:environment:<stack>` (the job's GitHub
  environment, whose protection rules decide who may run it), with the deploy roles' permissions
  (deploy_access.py) and a two-hour session.
Both always with StringEquals on `token.actions.githubusercontent.com:aud = sts.amazonaws.com`
(aws-actions/configure-aws-credentials' audience). Repositories created after 2026-07-15 present
immutable subjects, `repo:<owner>@<ORG_ID>/<repo>@<REPO_ID>:...`: set `githubSubjectRepository`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from deploy_access import (
    GITHUB_OIDC_ISSUER,
    ROLE_PREFIX,
    SESSION_SECONDS,
    grant_deploy_permissions,
    oidc_provider_arn,
)

AUDIENCE = "sts.amazonaws.com"
READ_ONLY = "ReadOnlyAccess"
STACKS = ("dev", "prod")  # the stacks the workflows preview and deploy


def role_name(kind: str, stack: str) -> str:
    """kind: "preview" or "deploy"; under the delivery prefix, so deploy_access's Deny protects it."""
    return f"{ROLE_PREFIX}github-{'preview-' if kind == 'preview' else ''}{stack}"


def subject(repository: str, kind: str, stack: str) -> str:
    return f"repo:{repository}:pull_request" if kind == "preview" else f"repo:{repository}:environment:{stack}"


def trust_policy(provider_arn: str, repository: str, kind: str, stack: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                f"{GITHUB_OIDC_ISSUER}:aud": AUDIENCE,
                f"{GITHUB_OIDC_ISSUER}:sub": subject(repository, kind, stack),
            }},
        }],
    }


@dataclass(frozen=True)
class GithubActionsAccessArgs:
    subject_repository: str  # owner/repo, or owner@ORG_ID/repo@REPO_ID
    project: str
    existing_provider_arn: str = ""  # empty: create the provider


class GithubActionsAccess(pulumi.ComponentResource):
    def __init__(self, name: str, args: GithubActionsAccessArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("hermes-eks-deployments:index:GithubActionsAccess", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.provider_arn = oidc_provider_arn(
            f"{name}-github-oidc", issuer=GITHUB_OIDC_ISSUER, audience=AUDIENCE,
            existing_arn=args.existing_provider_arn, project=args.project, parent=self)

        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=self))
        partition = aws.get_partition_output(opts=pulumi.InvokeOptions(parent=self)).partition

        self.role_arns: dict[str, pulumi.Output[str]] = {}
        for stack in STACKS:
            for kind in ("preview", "deploy"):
                logical = f"{name}-{kind}-{stack}"
                role = aws.iam.Role(
                    logical,
                    name=role_name(kind, stack),
                    description=f"GitHub Actions {kind} of {args.project}/{stack}",
                    assume_role_policy=self.provider_arn.apply(lambda arn, kind=kind, stack=stack: json.dumps(
                        trust_policy(arn, args.subject_repository, kind, stack))),
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

        self.register_outputs({"provider_arn": self.provider_arn, "role_arns": self.role_arns})
