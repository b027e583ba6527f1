"""DeployAccess: how Pulumi Deployments gets short-lived AWS credentials for each stack of the main program.

- The IAM OIDC provider for Pulumi Cloud (issuer https://api.pulumi.com/oidc, audience = the
  organization name in lowercase; pulumi/docs deployments/guides/oidc). AWS allows ONE provider per
  URL per account, so an account that already has one (ESC's `aws-login`, say) reuses it
  (`oidcProvider: existing`); its client ID list must then include this audience.
- One deploy role per stack. Its trust admits only tokens for this organization, project and stack
  and the operations the stack's plan lists (delivery_plan.py); review stacks, whose names Deployments
  chooses, match a name pattern.
- Permissions (the decision, see deployments/README.md "The deploy roles' permissions"): AWS's managed
  PowerUserAccess (everything but IAM, Organizations and account management) plus an inline policy for
  the IAM this program manages (the cluster's, nodes' and workloads' roles and the cluster's OIDC
  provider), which explicitly denies touching the delivery roles and the OIDC providers themselves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from delivery_plan import StackPlan, oidc_subject

PULUMI_OIDC_ISSUER = "api.pulumi.com/oidc"
GITHUB_OIDC_ISSUER = "token.actions.githubusercontent.com"
# Every role of delivery (Deployments', GitHub Actions') starts with this, so one Deny covers them all.
ROLE_PREFIX = "hermes-eks-deploy-"
POWER_USER = "PowerUserAccess"
# Creating a cluster (~15 min), its node group and add-ons and mirroring a 5 GB image outlast the
# default one-hour session; AssumeRoleWithWebIdentity allows up to the role's MaxSessionDuration.
SESSION_SECONDS = 2 * 3600

# IAM the main program manages: roles and policies of the cluster, nodes, EBS CSI driver, Load Balancer
# Controller and Hermes, their attachments, and the cluster's own IRSA OIDC provider.
IAM_ACTIONS = (
    "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:UpdateRole", "iam:UpdateRoleDescription",
    "iam:UpdateAssumeRolePolicy",
    "iam:TagRole", "iam:UntagRole", "iam:ListRoleTags", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies",
    "iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy",
    "iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:PassRole",
    "iam:ListInstanceProfilesForRole", "iam:CreateInstanceProfile", "iam:DeleteInstanceProfile",
    "iam:GetInstanceProfile", "iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile",
    "iam:TagInstanceProfile",
    "iam:CreatePolicy", "iam:DeletePolicy", "iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyVersions",
    "iam:CreatePolicyVersion", "iam:DeletePolicyVersion", "iam:TagPolicy", "iam:UntagPolicy",
    "iam:CreateOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider", "iam:GetOpenIDConnectProvider",
    "iam:TagOpenIDConnectProvider", "iam:UntagOpenIDConnectProvider",
    "iam:AddClientIDToOpenIDConnectProvider", "iam:UpdateOpenIDConnectProviderThumbprint",
)
# Everything that writes IAM: denied on the delivery roles and the OIDC providers they trust, so a
# deployment cannot rewrite them directly. It can still create a new role with any policy and assume
# it (the IAM actions above plus PowerUserAccess's sts:AssumeRole): a deploy role is as strong as its
# account, which is why review stacks get an account without prod (delivery_settings.py `stacks`) and
# dev's role runs only reviewed code. A permissions boundary on created roles would close this.
IAM_WRITES = ("iam:Put*", "iam:Attach*", "iam:Detach*", "iam:Delete*", "iam:Update*", "iam:Create*",
              "iam:Tag*", "iam:Untag*", "iam:Add*", "iam:Remove*")


def deploy_role_name(stack: str) -> str:
    return ROLE_PREFIX + stack


def pulumi_audience(organization: str) -> str:
    # pulumi/docs deployments/guides/oidc: a Deployments token's `aud` is the organization name, lowercase.
    return organization.lower()


def existing_oidc_provider(issuer: str, audience: str, key: str) -> str:
    """The ARN of the account's IAM OIDC provider for `issuer`, checked to accept `audience`.

    Called before anything is registered: a provider without the audience would only fail later, at
    the first deployment's AssumeRoleWithWebIdentity. No provider at all fails here with AWS's error.
    """
    found = aws.iam.get_open_id_connect_provider(url=f"https://{issuer}")
    if audience not in found.client_id_lists:
        raise pulumi.RunError(
            f"hermes-eks-deployments:{key} is 'existing', but the account's IAM OIDC provider for https://{issuer} "
            f"does not accept the audience '{audience}' (it accepts {', '.join(sorted(found.client_id_lists))}). "
            f"Add it: aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn "
            f"{found.arn} --client-id {audience}")
    return found.arn


def subject_stack(plan: StackPlan, review_stack_pattern: str) -> str:
    return review_stack_pattern if plan.pull_request_template else plan.stack


def trust_policy(provider_arn: str, organization: str, project: str, plan: StackPlan,
                 review_stack_pattern: str) -> dict:
    """Who may assume a stack's deploy role: Deployments runs of exactly this org/project/stack/operation."""
    stack = subject_stack(plan, review_stack_pattern)
    subjects = [oidc_subject(organization, project, stack, op) for op in plan.operations]
    # StringEquals on the audience always; on the subject too unless it is a pattern (review stacks).
    subject_operator = "StringLike" if "*" in stack else "StringEquals"
    condition = {"StringEquals": {f"{PULUMI_OIDC_ISSUER}:aud": pulumi_audience(organization)}}
    condition.setdefault(subject_operator, {})[f"{PULUMI_OIDC_ISSUER}:sub"] = subjects
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": condition,
        }],
    }


def power_user_arn(partition: str) -> str:
    return f"arn:{partition}:iam::aws:policy/{POWER_USER}"


def iam_policy(partition: str, account: str) -> dict:
    """The IAM part of a deploy role's permissions (PowerUserAccess covers the rest)."""
    iam = f"arn:{partition}:iam::{account}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ManageTheProgramsIam",
                "Effect": "Allow",
                "Action": list(IAM_ACTIONS),
                "Resource": [f"{iam}:role/*", f"{iam}:policy/*", f"{iam}:instance-profile/*",
                             f"{iam}:oidc-provider/oidc.eks.*"],
            },
            {
                "Sid": "NeverTheDeployAccessItself",
                "Effect": "Deny",
                "Action": list(IAM_WRITES),
                "Resource": [f"{iam}:role/{ROLE_PREFIX}*", f"{iam}:oidc-provider/{PULUMI_OIDC_ISSUER}",
                             f"{iam}:oidc-provider/{GITHUB_OIDC_ISSUER}"],
            },
        ],
    }


def oidc_provider_arn(name: str, *, issuer: str, audience: str, existing_arn: str, project: str,
                      parent: pulumi.Resource) -> pulumi.Output[str]:
    """The account's IAM OIDC provider for `issuer`: the existing one when given (AWS allows one per
    URL per account), else a new one accepting `audience`."""
    if existing_arn:
        return pulumi.Output.from_input(existing_arn)
    return aws.iam.OpenIdConnectProvider(
        name, url=f"https://{issuer}", client_id_lists=[audience], tags={"project": project},
        opts=pulumi.ResourceOptions(parent=parent)).arn


def grant_deploy_permissions(name: str, role: aws.iam.Role, partition: pulumi.Output[str],
                             account_id: pulumi.Output[str], parent: pulumi.Resource) -> None:
    """What a role that deploys the main program may do: PowerUserAccess, plus exactly the IAM actions
    the program uses (iam_policy)."""
    child = pulumi.ResourceOptions(parent=parent)
    aws.iam.RolePolicyAttachment(f"{name}-power-user", role=role.name, policy_arn=partition.apply(power_user_arn),
                                 opts=child)
    aws.iam.RolePolicy(f"{name}-iam", role=role.name,
                       policy=pulumi.Output.all(partition, account_id).apply(lambda values: json.dumps(iam_policy(*values))),
                       opts=child)


@dataclass(frozen=True)
class DeployAccessArgs:
    organization: str
    project: str
    plans: tuple[StackPlan, ...]
    review_stack_pattern: str
    existing_provider_arn: str = ""  # empty: create the provider


class DeployAccess(pulumi.ComponentResource):
    """The Pulumi Cloud OIDC provider (created or found) and a deploy role per stack."""

    def __init__(self, name: str, args: DeployAccessArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("hermes-eks-deployments:index:DeployAccess", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.provider_arn = oidc_provider_arn(
            f"{name}-pulumi-oidc", issuer=PULUMI_OIDC_ISSUER, audience=pulumi_audience(args.organization),
            existing_arn=args.existing_provider_arn, project=args.project, parent=self)

        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=self))
        partition = aws.get_partition_output(opts=pulumi.InvokeOptions(parent=self))

        self.role_arns: dict[str, pulumi.Output[str]] = {}
        for plan in args.plans:
            role = aws.iam.Role(
                f"{name}-{plan.stack}",
                name=deploy_role_name(plan.stack),
                description=f"Pulumi Deployments of {args.organization}/{args.project}/{plan.stack}",
                assume_role_policy=self.provider_arn.apply(lambda arn, plan=plan: json.dumps(
                    trust_policy(arn, args.organization, args.project, plan, args.review_stack_pattern))),
                max_session_duration=SESSION_SECONDS,
                tags={"project": args.project, "stack": plan.stack},
                opts=child,
            )
            grant_deploy_permissions(f"{name}-{plan.stack}", role, partition.partition, identity.account_id, self)
            self.role_arns[plan.stack] = role.arn

        self.register_outputs({"provider_arn": self.provider_arn, "role_arns": self.role_arns})
