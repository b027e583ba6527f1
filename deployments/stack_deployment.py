"""StackDeployment: Pulumi Deployments for one stack of the main program, from its StackPlan.

Deployment settings (git source, GitHub triggers and path filters, OIDC to AWS, the pre-run command
that runs the policy pack), drift detection where the plan asks for it, and a webhook for failures.
Arguments are pulumi-pulumiservice 1.5.0's (pulumi_pulumiservice/_inputs.py, deployment_settings.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_pulumiservice as ps

from delivery_plan import StackPlan, environment_variables, path_filters, pre_run_command


@dataclass(frozen=True)
class StackDeploymentArgs:
    organization: str
    project: str
    plan: StackPlan
    repository: str  # owner/name on GitHub
    branch: str
    program_dir: str
    policy_pack_dir: str
    role_arn: pulumi.Input[str]
    session_seconds: int
    drift_schedule: str
    webhook_url: pulumi.Input[str] | None = None  # a secret
    webhook_format: str = "slack"
    agent_pool_id: str = ""


def _duration(seconds: int) -> str:
    # AWSOIDCConfigurationArgs.duration: "XhYmZs".
    return f"{seconds // 3600}h{seconds % 3600 // 60}m{seconds % 60}s"


class StackDeployment(pulumi.ComponentResource):
    def __init__(self, name: str, args: StackDeploymentArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("hermes-eks-deployments:index:StackDeployment", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        plan = args.plan
        stack = {"organization": args.organization, "project": args.project, "stack": plan.stack}

        self.settings = ps.DeploymentSettings(
            f"{name}-settings",
            **stack,
            # With a VCS integration the repository is named in `vcs`, not as a git URL: git_source's
            # repo_url "should not be specified if there are gitHub settings" (its docstring), as in
            # pulumi-pulumiservice's examples/yaml-deployment-settings-vcs.
            source_context=ps.DeploymentSettingsSourceContextArgs(git=ps.DeploymentSettingsGitSourceArgs(
                branch=f"refs/heads/{args.branch}",
                repo_dir=args.program_dir or None,
            )),
            vcs=ps.DeploymentSettingsVcsArgs(
                provider="github",
                repository=args.repository,
                deploy_commits=plan.deploy_commits,
                preview_pull_requests=plan.preview_pull_requests,
                pull_request_template=plan.pull_request_template,
                paths=path_filters(plan.stack, args.program_dir, args.policy_pack_dir),
            ),
            operation_context=ps.DeploymentSettingsOperationContextArgs(
                pre_run_commands=[pre_run_command(args.program_dir)],
                environment_variables=environment_variables(plan, args.program_dir, args.policy_pack_dir),
                options=ps.OperationContextOptionsArgs(
                    # A review stack is deleted from Pulumi Cloud once destroyed; the others keep history.
                    delete_after_destroy=plan.ephemeral,
                    # Ten pushes in a row make one `pulumi up` of the last, not ten.
                    skip_intermediate_deployments=True,
                ),
                oidc=ps.OperationContextOIDCArgs(aws=ps.AWSOIDCConfigurationArgs(
                    role_arn=args.role_arn,
                    session_name=f"pulumi-deployments-{plan.stack}",
                    duration=_duration(args.session_seconds),
                )),
            ),
            cache_options=ps.DeploymentSettingsCacheOptionsArgs(enable=True),
            agent_pool_id=args.agent_pool_id or None,
            opts=child,
        )
        settings_first = pulumi.ResourceOptions(parent=self, depends_on=[self.settings])

        self.drift = None
        if plan.drift_detection:
            # Detect only: a person decides whether prod's drift is reverted (`pulumi up`) or adopted.
            self.drift = ps.DriftSchedule(f"{name}-drift", **stack, schedule_cron=args.drift_schedule,
                                          auto_remediate=False, opts=settings_first)

        self.webhook = None
        if args.webhook_url is not None and plan.notify_on:
            self.webhook = ps.Webhook(
                f"{name}-failures",
                organization_name=args.organization,
                project_name=args.project,
                stack_name=plan.stack,
                display_name=f"{args.project}/{plan.stack}: " + ", ".join(f.value for f in plan.notify_on),
                payload_url=pulumi.Output.secret(args.webhook_url),
                format=args.webhook_format,
                filters=list(plan.notify_on),
                active=True,
                opts=child,
            )

        self.register_outputs({"settings": self.settings.id})
