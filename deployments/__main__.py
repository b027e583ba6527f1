"""hermes-eks-deployments: Pulumi Deployments for the main program's stacks, as code.

settings -> AWS access (OIDC provider, a deploy role per stack) -> each stack's deployment settings,
schedules and webhook -> outputs (the role ARNs to list in the main stacks' clusterAdminPrincipalArns).
Only the stacks named in `stacks` are managed here: those whose deploy roles live in this AWS account.
"""

from pathlib import Path, PurePosixPath

import pulumi

from delivery_plan import plans_for
from delivery_settings import PROJECT as DELIVERY_PROJECT
from delivery_settings import DeliveryConfigError, config_key, load_settings
from deploy_access import (
    GITHUB_OIDC_ISSUER,
    PULUMI_OIDC_ISSUER,
    SESSION_SECONDS,
    DeployAccess,
    DeployAccessArgs,
    existing_oidc_provider,
    pulumi_audience,
)
from github_actions_access import AUDIENCE as GITHUB_AUDIENCE
from github_actions_access import DELIVERY_STACK, SANDBOX_STACK, GithubActionsAccess, GithubActionsAccessArgs, roles_made_by
from policy_enforcement import PolicyEnforcement, PolicyEnforcementArgs
from stack_deployment import StackDeployment, StackDeploymentArgs

# 1. Every input validated before anything is registered, the account's existing OIDC providers included.
settings = load_settings()
plans = plans_for(settings.stacks)  # prod and the review-stack template are never both here (delivery_settings)
pulumi_provider_arn = (existing_oidc_provider(PULUMI_OIDC_ISSUER, pulumi_audience(settings.organization), "oidcProvider")
                       if settings.oidc_provider == "existing" else "")
github_wanted = settings.github_actions or settings.github_sandbox_preview
github_provider_arn = (existing_oidc_provider(GITHUB_OIDC_ISSUER, GITHUB_AUDIENCE, "githubOidcProvider")
                       if github_wanted and settings.github_oidc_provider == "existing" else "")
# This program is <repository>/<programDir>/deployments; the pack's folder is relative to the repository.
repository_root = Path(__file__).resolve().parent.parent
for _ in PurePosixPath(settings.program_dir).parts:
    repository_root = repository_root.parent
pack_dir = repository_root / settings.policy_pack_dir
if settings.enforce_policy_pack and not (pack_dir / "PulumiPolicy.yaml").is_file():
    raise DeliveryConfigError(pulumi.get_stack(), [
        f"{config_key('policy_pack_dir')} is {settings.policy_pack_dir!r} and {config_key('program_dir')} is "
        f"{settings.program_dir!r}, but {pack_dir}/PulumiPolicy.yaml does not exist; allowed: the policy pack's "
        f"folder relative to the repository root, or {config_key('enforce_policy_pack')}: false"])

# 2. Short-lived AWS credentials for each stack: Pulumi Cloud's OIDC tokens, one role per stack.
access = DeployAccess("deploy", DeployAccessArgs(
    organization=settings.organization,
    project=settings.project,
    plans=plans,
    review_stack_pattern=settings.review_stack_pattern,
    existing_provider_arn=pulumi_provider_arn,
))

# 3. What Deployments does for each stack (delivery_plan.py has the table).
webhook_url = settings.webhook_url.get_secret_value() if settings.webhook_url else None
for plan in plans:
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

# 4. The policy pack on every update of dev and prod (those managed here), enforced by Pulumi Cloud (policy_enforcement.py).
if settings.enforce_policy_pack:
    PolicyEnforcement("policy", PolicyEnforcementArgs(
        organization=settings.organization,
        project=settings.project,
        pack_dir=pack_dir,
        stacks=tuple(plan.stack for plan in plans if not plan.pull_request_template),
    ))

# 5. Optionally, what the GitHub Actions workflows may do: AWS roles and Pulumi Cloud teams per job;
#    prod's account (githubActions) or the sandbox account's preview (githubSandboxPreview), never both.
github = None
github_made_by = DELIVERY_STACK if settings.github_actions else SANDBOX_STACK
if github_wanted:
    github = GithubActionsAccess("github-actions", GithubActionsAccessArgs(
        organization=settings.organization,
        subject_repository=settings.github_subject_repository or settings.repository,
        project=settings.project,
        delivery_project=DELIVERY_PROJECT,
        existing_provider_arn=github_provider_arn,
        made_by=github_made_by,
    ))

# 6. Outputs. A deploy role that did not create a stack's EKS cluster needs an access entry: list its ARN
#    in that stack's hermes-eks:clusterAdminPrincipalArns (never the creator's: README, "Delivery").
pulumi.export("oidc_provider_arn", access.provider_arn)
pulumi.export("deploy_role_arns", access.role_arns)
if github is not None:
    # One output per GitHub variable the workflows read (README, "Delivery", Bootstrap step 2).
    pulumi.export("github_oidc_provider_arn", github.provider_arn)
    for role in roles_made_by(github_made_by):
        pulumi.export(f"github_{role.kind}_role_arn_{role.stack}", github.role_arns[f"{role.kind}-{role.stack}"])
