"""hermes-eks-deployments: Pulumi Deployments for the main program's stacks, as code.

settings -> AWS access (OIDC provider, a deploy role per stack) -> each stack's deployment settings,
schedules and webhook -> outputs (the role ARNs to list in the main stacks' clusterAdminPrincipalArns).
"""

import pulumi

from delivery_plan import PLANS
from delivery_settings import load_settings
from deploy_access import SESSION_SECONDS, DeployAccess, DeployAccessArgs
from github_actions_access import STACKS as GITHUB_STACKS
from github_actions_access import GithubActionsAccess, GithubActionsAccessArgs
from stack_deployment import StackDeployment, StackDeploymentArgs

# 1. Every input validated before anything is registered.
settings = load_settings()

# 2. Short-lived AWS credentials for each stack: Pulumi Cloud's OIDC tokens, one role per stack.
access = DeployAccess("deploy", DeployAccessArgs(
    organization=settings.organization,
    project=settings.project,
    plans=PLANS,
    review_stack_pattern=settings.review_stack_pattern,
    oidc_provider=settings.oidc_provider,
))

# 3. What Deployments does for each stack (delivery_plan.py has the table).
webhook_url = settings.webhook_url.get_secret_value() if settings.webhook_url else None
for plan in PLANS:
    StackDeployment(plan.stack, StackDeploymentArgs(
        organization=settings.organization,
        project=settings.project,
        plan=plan,
        repository=settings.repository,
        branch=settings.branch,
        program_dir=settings.program_dir,
        policy_pack_dir=settings.policy_pack_dir,
        role_arn=access.role_arns[plan.stack],
        session_seconds=SESSION_SECONDS,
        drift_schedule=settings.drift_schedule,
        webhook_url=webhook_url,  # StackDeployment registers it as a secret
        webhook_format=settings.webhook_format,
        agent_pool_id=settings.agent_pool_id,
    ))

# 4. Optionally, the AWS roles the GitHub Actions workflows assume (for teams without Deployments).
github = None
if settings.github_actions:
    github = GithubActionsAccess("github-actions", GithubActionsAccessArgs(
        subject_repository=settings.github_subject_repository or settings.repository,
        oidc_provider=settings.github_oidc_provider,
        project=settings.project,
    ))

# 5. Outputs. A deploy role that did not create a stack's EKS cluster needs an access entry: list its ARN
#    in that stack's hermes-eks:clusterAdminPrincipalArns (never the creator's: README, "Delivery").
pulumi.export("oidc_provider_arn", access.provider_arn)
pulumi.export("deploy_role_arns", access.role_arns)
if github is not None:
    # One output per GitHub variable the workflows read (README, "Delivery", Bootstrap step 2).
    pulumi.export("github_oidc_provider_arn", github.provider_arn)
    for stack in GITHUB_STACKS:
        for kind in ("preview", "deploy"):
            pulumi.export(f"github_{kind}_role_arn_{stack}", github.role_arns[f"{kind}-{stack}"])
