"""What Pulumi Deployments does for each stack of the main program: one table, pure data.

| stack | on push to the branch | on a pull request          | deploy role may run          | schedules       | notified on                   |
| ----- | --------------------- | -------------------------- | ---------------------------- | --------------- | ----------------------------- |
| dev   | `pulumi up`           | nothing                    | preview, update, refresh, destroy | -          | deployment failed             |
| prod  | nothing (manual run)  | nothing                    | preview, update, refresh, drift runs | drift detection | deployment failed, drift |
| pr    | nothing (template)    | a review stack per PR      | the same as dev, on review stacks only | -      | -                             |

No Deployments run of `dev` or `prod` ever runs a pull request's code. A stack has ONE OIDC role for
every operation, and a pull-request preview runs with the stack's own settings plus "an ephemeral stack
token that has admin permissions on only the stack itself" (pulumi/docs deployments/operations/
permissions); the subject's `scope` is "Always `write`" (deployments/guides/oidc). So a Deployments
preview of a pull request holds the stack's write power while it runs the branch's code. Pull requests
are previewed instead by .github/workflows/pull-request.yml with read-only identities
(github_actions_access.py); only review stacks, made for the pull request, run its code here.

One delivery stack manages the stacks of ONE AWS account (`stacks`, delivery_settings.py): the `pr`
role has PowerUserAccess on its whole account and runs unreviewed code, so it is never created next to
`prod`'s roles (two delivery stacks, deployments/README.md "Two AWS accounts").

`prod` deploys only when someone runs it (`pulumi deployment run update`, or Deploy in Pulumi Cloud):
pulumi-pulumiservice 1.5.0's `DeploymentSettingsVcsArgs` has no tag trigger, and `deploy_commits`
defaults to TRUE there (pulumi_pulumiservice/_inputs.py), so every plan sets it explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass

from pulumi_pulumiservice import WebhookFilters

# Every stack file of the main program (its Pulumi.<stack>.yaml). `local` never runs in Deployments.
MAIN_PROGRAM_STACKS = ("local", "dev", "prod", "pr")

# The OIDC token's subject names the operation (pulumi/docs deployments/guides/oidc).
OPERATIONS = ("preview", "update", "refresh", "destroy")
# Drift runs are Deployments operations of their own, `detect-drift` and `remediate-drift` (pulumi/pulumi
# sdk/go/common/apitype/deployments.go, PulumiOperation), but which operation their OIDC subject names
# is not documented. They run `pulumi refresh` (detect) and `pulumi up` (remediate), so the trust admits
# both spellings: the drift operation's own name, and the CLI operation it runs.
DRIFT_OPERATIONS = ("detect-drift", "remediate-drift")


@dataclass(frozen=True)
class StackPlan:
    stack: str
    deploy_commits: bool  # `pulumi up` on every push to the branch that passes the path filters
    preview_pull_requests: bool  # `pulumi preview` on every pull request against the branch
    pull_request_template: bool  # a review stack per pull request, copied from this stack
    operations: tuple[str, ...]  # what the deploy role's trust admits
    drift_detection: bool
    notify_on: tuple[WebhookFilters, ...]
    ephemeral: bool = False  # review stacks: unprotected and deleted when destroyed


PLANS = (
    StackPlan("dev", deploy_commits=True, preview_pull_requests=False, pull_request_template=False,
              operations=OPERATIONS, drift_detection=False,
              notify_on=(WebhookFilters.DEPLOYMENT_FAILED,)),
    # No destroy: tearing prod down is a deliberate act with a person's own credentials (README, "Tear down").
    StackPlan("prod", deploy_commits=False, preview_pull_requests=False, pull_request_template=False,
              operations=("preview", "update", "refresh", *DRIFT_OPERATIONS), drift_detection=True,
              notify_on=(WebhookFilters.DEPLOYMENT_FAILED, WebhookFilters.DRIFT_DETECTED,
                         WebhookFilters.DRIFT_DETECTION_FAILED)),
    # The template itself is never deployed: its settings (and Pulumi.pr.yaml) are copied into each
    # review stack (pulumi/docs deployments/concepts/review-stacks), which Deployments destroys when the
    # pull request is merged or closed.
    StackPlan("pr", deploy_commits=False, preview_pull_requests=False, pull_request_template=True,
              operations=OPERATIONS, drift_detection=False, notify_on=(), ephemeral=True),
)

STACK_NAMES = tuple(plan.stack for plan in PLANS)
REVIEW_TEMPLATE = next(plan.stack for plan in PLANS if plan.pull_request_template)


def plans_for(stacks: tuple[str, ...]) -> tuple[StackPlan, ...]:
    """The plans of the stacks one delivery stack manages in its AWS account (its `stacks` setting)."""
    return tuple(plan for plan in PLANS if plan.stack in stacks)


# Files that cannot change what a stack deploys. Path filters are globs on the changed file's path from
# the repository root; `!` excludes (pulumi/docs deployments/concepts/settings/path-filtering). Excluding
# rather than listing what matters means a new module of the program is deployed, never silently skipped.
NOT_DEPLOYED = ("**/*.md", "tests/**", "scripts/**", ".github/**", "deployments/**",
                "requirements-dev.txt", "pytest.ini", ".gitignore", "LICENSE")


def path_filters(stack: str, program_dir: str, policy_pack_dir: str) -> list[str]:
    """The vcs `paths` of a stack: what a push or pull request must touch to deploy or preview it."""
    prefix = f"{program_dir}/" if program_dir else ""
    includes = [f"{program_dir}/**", f"{policy_pack_dir}/**"] if program_dir else []
    others = [f"!{prefix}Pulumi.{other}.yaml" for other in MAIN_PROGRAM_STACKS if other != stack]
    return [*includes, *(f"!{prefix}{path}" for path in NOT_DEPLOYED), *others]


def oidc_subject(organization: str, project: str, stack: str, operation: str) -> str:
    # pulumi/docs deployments/guides/oidc: the subject of a Deployments OIDC token. The organization is
    # in lowercase there, as in the audience; IAM's StringEquals is case-sensitive.
    return (f"pulumi:deploy:org:{organization.lower()}:project:{project}:stack:{stack}"
            f":operation:{operation}:scope:write")


# The one pre-run command: deployments/pre_run.sh, found from the checkout's root so it works whatever
# directory Deployments runs pre-run commands in. The script reads the variables below.
def pre_run_command(program_dir: str) -> str:
    script = f"{program_dir}/deployments/pre_run.sh" if program_dir else "deployments/pre_run.sh"
    return f'bash "$(git rev-parse --show-toplevel)/{script}"'


def policy_config(policy_pack_dir: str, stack: str) -> str:
    # The policy pack keeps each stack's allowed exceptions in config/<stack>.json (README, "Policy as
    # code"). A review stack is checked with its template's, `pr`. Without the file the pack's own
    # defaults, its strictest settings, apply.
    return f"{policy_pack_dir}/config/{stack}.json"


def environment_variables(plan: StackPlan, program_dir: str, policy_pack_dir: str) -> dict[str, str]:
    return {
        "HERMES_EKS_PROGRAM_DIR": program_dir or ".",
        "HERMES_EKS_POLICY_PACK_DIR": policy_pack_dir,
        "HERMES_EKS_POLICY_CONFIG": policy_config(policy_pack_dir, plan.stack),
        "HERMES_EKS_EPHEMERAL": "true" if plan.ephemeral else "false",
    }
