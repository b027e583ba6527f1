"""CostGuardrails: what watches the Bedrock bill the Hermes agent runs up, and what can stop it.

- A monthly AWS Budget on the Amazon Bedrock service, notifying the alert topic at each configured
  percentage of actual spend and when the forecast passes the limit. Billing data lags by hours
  (docs.aws.amazon.com/cost-management/latest/userguide/budgets-managing-costs.html: budgets update up
  to three times a day), so a budget can only ever react late.
- The budget counts the Cost Explorer services in `services`: "Amazon Bedrock", plus the names under
  which models sold through AWS Marketplace bill, if the account has them.
- Optionally a budget action: at 100 % of actual spend, AWS Budgets attaches a deny-invoke policy to the
  Hermes role (APPLY_IAM_POLICY, automatic), and on the 1st of each month at 00:05 UTC an EventBridge
  Scheduler schedule detaches it again. The lift is ours and explicit rather than left to how Budgets
  treats an executed action in the next period. `pulumi destroy` detaches it too (with the AWS CLI),
  since IAM refuses to delete an attached policy or a role with one.
- Near-real-time CloudWatch alarms per allowed model on the AWS/Bedrock runtime metrics: tokens per
  hour above a limit, and sustained throttling (docs.aws.amazon.com/bedrock/latest/userguide/
  monitoring.html#runtime-cloudwatch-metrics: InputTokenCount, OutputTokenCount, InvocationThrottles,
  dimension ModelId = the model or inference profile id the request named).

The IAM documents are pure functions, so tests and the IAM linter read them without Pulumi.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_command as command

from components.bedrock_access import INVOKE_ACTIONS

# Cost Explorer's service name for Bedrock usage (the `Service` dimension of cost filters).
BEDROCK_SERVICE = "Amazon Bedrock"
LIFT_SCHEDULE = "cron(5 0 1 * ? *)"  # 00:05 UTC on the 1st: the new budget period has begun
# EventBridge Scheduler's universal target for IAM DetachRolePolicy
# (docs.aws.amazon.com/scheduler/latest/UserGuide/managing-targets-universal.html).
DETACH_TARGET = "arn:{partition}:scheduler:::aws-sdk:iam:detachRolePolicy"
BUDGET_NAME = re.compile(r"[^:\\]{1,100}")

# Run on `pulumi destroy` after the budget action is gone and before the deny policy and the Hermes
# role: IAM refuses to delete a policy that is attached, or a role with a policy attached
# (DeleteConflict), and an action that ran this month leaves the deny policy attached.
DETACH_DENY_POLICY = """set -eu
if ! output=$(aws iam detach-role-policy --role-name "$ROLE_NAME" --policy-arn "$POLICY_ARN" 2>&1); then
  case "$output" in
    *NoSuchEntity*) ;;  # not attached: the action did not run, or was lifted
    *) echo "$output" >&2; exit 1 ;;
  esac
fi
"""


@dataclass(frozen=True)
class CostGuardrailsArgs:
    budget_name: str
    monthly_limit_usd: int
    actual_thresholds: tuple[int, ...]  # percent of the limit, actual spend
    alert_topic_arn: pulumi.Input[str]
    models: tuple[str, ...]  # ModelId dimension values: what the Hermes role may invoke
    hourly_token_limit: int
    alarm_prefix: str  # CloudWatch alarm names, e.g. hermes-dev: hermes-dev-bedrock-tokens-<model>
    services: tuple[str, ...] = (BEDROCK_SERVICE,)  # Cost Explorer service names the budget counts
    hermes_role_name: pulumi.Input[str] | None = None  # set: deny invoke when the budget is spent
    hermes_role_arn: pulumi.Input[str] | None = None
    tags: tuple[tuple[str, str], ...] = ()


def budget_notifications(actual_thresholds: tuple[int, ...], topic_arn: str) -> list[dict]:
    notifications = [
        {"comparison_operator": "GREATER_THAN", "notification_type": "ACTUAL", "threshold": float(t),
         "threshold_type": "PERCENTAGE", "subscriber_sns_topic_arns": [topic_arn]}
        for t in sorted(set(actual_thresholds))
    ]
    notifications.append({"comparison_operator": "GREATER_THAN", "notification_type": "FORECASTED",
                          "threshold": 100.0, "threshold_type": "PERCENTAGE",
                          "subscriber_sns_topic_arns": [topic_arn]})
    return notifications


def deny_invoke_policy() -> dict:
    """Attached to the Hermes role when the budget is spent: exactly the invoke actions it is allowed."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "BedrockBudgetSpent", "Effect": "Deny", "Action": list(INVOKE_ACTIONS), "Resource": "*"}],
    }


def _service_trust(service: str, account_id: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole",
            # Confused-deputy guard: only on behalf of this account.
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        }],
    }


def budgets_trust_policy(account_id: str) -> dict:
    return _service_trust("budgets.amazonaws.com", account_id)


def scheduler_trust_policy(account_id: str) -> dict:
    return _service_trust("scheduler.amazonaws.com", account_id)


def attach_deny_policy(hermes_role_arn: str, deny_policy_arn: str) -> dict:
    """What AWS Budgets may do: attach and detach the deny policy on the Hermes role, nothing else
    (iam:PolicyARN is the condition key of Attach/DetachRolePolicy: service-authorization list_awsidentityandaccessmanagementiam.html)."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyPolicyOnHermesRoleOnly", "Effect": "Allow",
            "Action": ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
            "Resource": hermes_role_arn,
            "Condition": {"ArnEquals": {"iam:PolicyARN": deny_policy_arn}},
        }],
    }


def detach_deny_policy(hermes_role_arn: str, deny_policy_arn: str) -> dict:
    """What the monthly lift may do: detach the deny policy from the Hermes role."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "LiftDenyPolicy", "Effect": "Allow", "Action": "iam:DetachRolePolicy",
            "Resource": hermes_role_arn,
            "Condition": {"ArnEquals": {"iam:PolicyARN": deny_policy_arn}},
        }],
    }


def model_alarms(model: str, hourly_token_limit: int) -> dict[str, dict]:
    """The two alarms of one model, as aws.cloudwatch.MetricAlarm arguments (without actions)."""
    dimensions = {"ModelId": model}

    def metric(query_id: str, name: str, period: int) -> dict:
        return {"id": query_id, "return_data": False, "metric": {
            "namespace": "AWS/Bedrock", "metric_name": name, "dimensions": dimensions,
            "period": period, "stat": "Sum"}}

    return {
        "tokens": {
            "alarm_description": f"Bedrock {model}: more than {hourly_token_limit} tokens in an hour",
            "comparison_operator": "GreaterThanThreshold",
            "threshold": float(hourly_token_limit),
            "evaluation_periods": 1,
            "treat_missing_data": "notBreaching",
            "metric_queries": [
                metric("input", "InputTokenCount", 3600),
                metric("output", "OutputTokenCount", 3600),
                {"id": "tokens", "expression": "input + output", "label": "Tokens per hour", "return_data": True},
            ],
        },
        "throttles": {
            "alarm_description": f"Bedrock {model}: requests throttled in 3 of the last 5 minutes (quota too low?)",
            "namespace": "AWS/Bedrock",
            "metric_name": "InvocationThrottles",
            "dimensions": dimensions,
            "statistic": "Sum",
            "period": 60,
            "evaluation_periods": 5,
            "datapoints_to_alarm": 3,
            "comparison_operator": "GreaterThanThreshold",
            "threshold": 0.0,
            "treat_missing_data": "notBreaching",
        },
    }


def _alarm_name(model: str) -> str:
    return re.sub(r"[^A-Za-z0-9-]+", "-", model).strip("-")


def validate(args: CostGuardrailsArgs) -> None:
    if not BUDGET_NAME.fullmatch(args.budget_name) or "/action/" in args.budget_name:
        raise ValueError(f"CostGuardrailsArgs.budget_name is {args.budget_name!r}; allowed: 1-100 characters, no ':' or '\\'")
    if args.monthly_limit_usd < 1:
        raise ValueError(f"CostGuardrailsArgs.monthly_limit_usd is {args.monthly_limit_usd}; allowed: 1 or more")
    if not args.models:
        raise ValueError("CostGuardrailsArgs.models is empty; allowed: the Bedrock models the stack allows")


class CostGuardrails(pulumi.ComponentResource):
    budget: aws.budgets.Budget
    deny_policy: aws.iam.Policy | None
    alarms: list[aws.cloudwatch.MetricAlarm]

    def __init__(self, name: str, args: CostGuardrailsArgs, opts: pulumi.ResourceOptions | None = None):
        validate(args)
        super().__init__("hermes-eks:index:CostGuardrails", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account_id = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition
        tags = dict(args.tags)

        self.budget = aws.budgets.Budget(
            f"{name}-bedrock",
            name=args.budget_name,
            budget_type="COST",
            limit_amount=f"{args.monthly_limit_usd}.0",
            limit_unit="USD",
            time_unit="MONTHLY",
            cost_filters=[{"name": "Service", "values": list(args.services)}],
            notifications=pulumi.Output.from_input(args.alert_topic_arn).apply(
                lambda topic: budget_notifications(args.actual_thresholds, topic)),
            tags=tags,
            opts=child,
        )

        self.deny_policy = None
        if args.hermes_role_name is not None:
            self._deny_when_spent(name, args, account_id, partition, tags)

        self.alarms = []
        for model in args.models:
            for kind, alarm in model_alarms(model, args.hourly_token_limit).items():
                alarm_name = f"{args.alarm_prefix}-bedrock-{kind}-{_alarm_name(model)}"
                self.alarms.append(aws.cloudwatch.MetricAlarm(
                    f"{name}-bedrock-{kind}-{_alarm_name(model)}",
                    name=alarm_name,
                    alarm_actions=[args.alert_topic_arn],
                    ok_actions=[args.alert_topic_arn],
                    tags=tags,
                    **alarm,
                    opts=child,
                ))
        self.register_outputs({"budget_name": self.budget.name})

    def _deny_when_spent(self, name, args: CostGuardrailsArgs, account_id, partition, tags) -> None:
        child = pulumi.ResourceOptions(parent=self)
        self.deny_policy = aws.iam.Policy(
            f"{name}-bedrock-budget-spent",
            description="Attached to the Hermes role by AWS Budgets when the monthly Bedrock budget is spent",
            policy=json.dumps(deny_invoke_policy()),
            tags=tags,
            opts=child,
        )
        executor, executor_policy = self._service_role(
            f"{name}-bedrock-budget-action", budgets_trust_policy, attach_deny_policy, account_id, args, tags,
            "Assumed by AWS Budgets to attach the Bedrock deny policy to the Hermes role",
        )
        # No-op on create; its delete detaches the deny policy if the action left it attached. The
        # action depends on it, so it is deleted first and cannot attach the policy again.
        self.detach_on_destroy = command.local.Command(
            f"{name}-bedrock-budget-detach",
            delete=DETACH_DENY_POLICY,
            interpreter=["/bin/sh", "-c"],
            environment={"ROLE_NAME": args.hermes_role_name, "POLICY_ARN": self.deny_policy.arn},
            opts=child,
        )
        aws.budgets.BudgetAction(
            f"{name}-bedrock-budget-spent",
            budget_name=self.budget.name,
            action_type="APPLY_IAM_POLICY",
            approval_model="AUTOMATIC",
            notification_type="ACTUAL",
            action_threshold={"action_threshold_type": "PERCENTAGE", "action_threshold_value": 100.0},
            definition={"iam_action_definition": {"policy_arn": self.deny_policy.arn, "roles": [args.hermes_role_name]}},
            execution_role_arn=executor.arn,
            subscribers=[{"address": args.alert_topic_arn, "subscription_type": "SNS"}],
            tags=tags,
            # The executor must keep its permission until the action is gone (teardown in reverse order).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[executor_policy, self.detach_on_destroy]),
        )
        lifter, lifter_policy = self._service_role(
            f"{name}-bedrock-budget-lift", scheduler_trust_policy, detach_deny_policy, account_id, args, tags,
            "Assumed by EventBridge Scheduler to detach the Bedrock deny policy each month",
        )
        aws.scheduler.Schedule(
            f"{name}-bedrock-budget-lift",
            description="Lift the Bedrock deny policy from the Hermes role: a new budget period has begun",
            schedule_expression=LIFT_SCHEDULE,
            schedule_expression_timezone="UTC",
            flexible_time_window={"mode": "OFF"},
            target={
                "arn": partition.apply(lambda p: DETACH_TARGET.format(partition=p)),
                "role_arn": lifter.arn,
                "input": pulumi.Output.all(args.hermes_role_name, self.deny_policy.arn).apply(
                    lambda v: json.dumps({"RoleName": v[0], "PolicyArn": v[1]})),
                # A detach when nothing is attached fails (NoSuchEntity) and that is fine: no retries.
                "retry_policy": {"maximum_retry_attempts": 0},
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[lifter_policy]),
        )

    def _service_role(self, name, trust, permissions, account_id, args: CostGuardrailsArgs, tags, description):
        """A role only `trust`'s service may assume (for this account), allowed `permissions` on the
        Hermes role and the deny policy: the two roles of the guardrail differ only in those."""
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            name,
            assume_role_policy=account_id.apply(lambda a: json.dumps(trust(a))),
            description=description,
            tags=tags,
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            name,
            role=role.id,
            policy=pulumi.Output.all(args.hermes_role_arn, self.deny_policy.arn).apply(
                lambda v: json.dumps(permissions(v[0], v[1]))),
            opts=child,
        )
        return role, policy
