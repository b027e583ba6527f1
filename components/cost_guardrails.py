"""CostGuardrails: what watches, and optionally stops, the Bedrock bill of the Hermes pod.

- A monthly AWS Budget on the Bedrock services' cost, notifying an SNS topic the stack owns at each
  actual and forecast threshold; recipients subscribe to the topic (e-mail subscriptions from config).
- Optionally a budget action: at 100 % of the actual cost AWS Budgets attaches a policy denying the
  Hermes role's Bedrock invoke actions (APPLY_IAM_POLICY, approved automatically), with an execution
  role that may attach and detach exactly that policy on exactly that role.
- CloudWatch alarms per allowed model on the AWS/Bedrock metrics (tokens per hour, throttled calls),
  to the same topic. The topic and the alarms live in the Bedrock Region, where the metrics are.

Billing data reaches AWS Budgets hours after the calls; the alarms see calls within minutes.
Every document is built by a pure function of its inputs, so tests and reviewers can read it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_command as command

from components.bedrock_access import INVOKE_ACTIONS

BEDROCK_NAMESPACE = "AWS/Bedrock"
# AWS/Bedrock runtime metrics, dimension ModelId (docs.aws.amazon.com/bedrock/latest/userguide/monitoring.html).
TOKEN_METRICS = ("InputTokenCount", "OutputTokenCount")
THROTTLE_METRIC = "InvocationThrottles"
TOKEN_PERIOD_SECONDS = 3600
THROTTLE_PERIOD_SECONDS = 300

# Run on `pulumi destroy` after the budget action is gone and before the deny policy and the Hermes
# role: IAM refuses to delete a policy that is attached, or a role with a policy attached
# (DeleteConflict), and an action that ran this month leaves the deny policy attached.
DETACH_DENY_POLICY = """set -eu
if ! output=$(aws iam detach-role-policy --role-name "$ROLE_NAME" --policy-arn "$POLICY_ARN" 2>&1); then
  case "$output" in
    *NoSuchEntity*) ;;  # not attached: the action did not run, or was reversed
    *) echo "$output" >&2; exit 1 ;;
  esac
fi
"""


@dataclass(frozen=True)
class CostGuardrailsArgs:
    budget_name: str
    region: str  # the Bedrock Region: the topic and the alarms live where the metrics are
    models: Sequence[str]  # model and inference profile ids, as Hermes sends them (the ModelId dimension)
    hermes_role_name: pulumi.Input[str]
    hermes_role_arn: pulumi.Input[str]
    monthly_budget_usd: int = 0  # 0: no budget
    actual_thresholds: Sequence[int] = (80, 100)  # percent of the budget
    forecast_thresholds: Sequence[int] = (100,)
    services: Sequence[str] = ("Amazon Bedrock",)  # Cost Explorer SERVICE values the budget counts
    emails: Sequence[str] = ()
    deny_invoke_when_exhausted: bool = False
    tokens_per_hour: int = 0  # 0: no token alarm
    throttles_per_5_minutes: int = 0  # 0: no throttle alarm


# --- documents --------------------------------------------------------------------------------------

def deny_invoke_policy() -> dict:
    """What the budget action attaches to the Hermes role: exactly its invoke actions, denied on any
    model (an explicit Deny beats the role's Allow; docs: reference_policies_evaluation-logic.html)."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "DenyBedrockInvocationBudgetExhausted", "Effect": "Deny", "Action": list(INVOKE_ACTIONS), "Resource": "*"},
    ]}


def budget_action_trust_policy(account_id: str, partition: str = "aws") -> dict:
    """AWS Budgets may assume the execution role, for this account's budgets only (confused deputy)."""
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Service": "budgets.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": account_id},
            "ArnLike": {"aws:SourceArn": f"arn:{partition}:budgets::{account_id}:budget/*"},
        },
    }]}


def budget_action_execution_policy(hermes_role_arn: str, deny_policy_arn: str) -> dict:
    """The execution role attaches (and, to reverse the action, detaches) the deny policy on the
    Hermes role, and nothing else: iam:PolicyARN narrows both actions to that one policy."""
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "AttachOnlyTheDenyPolicyToOnlyTheHermesRole",
        "Effect": "Allow",
        "Action": ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
        "Resource": [hermes_role_arn],
        "Condition": {"ArnEquals": {"iam:PolicyARN": deny_policy_arn}},
    }]}


def topic_policy(topic_arn: str, account_id: str, region: str, partition: str = "aws") -> dict:
    """Who may publish to the alerts topic: this account, AWS Budgets and this account's alarms."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "AccountOwnsTheTopic", "Effect": "Allow",
         "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
         "Action": ["SNS:Publish", "SNS:Subscribe", "SNS:GetTopicAttributes", "SNS:SetTopicAttributes",
                    "SNS:ListSubscriptionsByTopic"],
         "Resource": topic_arn},
        {"Sid": "BudgetsPublish", "Effect": "Allow", "Principal": {"Service": "budgets.amazonaws.com"},
         "Action": "SNS:Publish", "Resource": topic_arn,
         "Condition": {"StringEquals": {"aws:SourceAccount": account_id},
                       "ArnLike": {"aws:SourceArn": f"arn:{partition}:budgets::{account_id}:*"}}},
        {"Sid": "CloudWatchAlarmsPublish", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
         "Action": "SNS:Publish", "Resource": topic_arn,
         "Condition": {"StringEquals": {"aws:SourceAccount": account_id},
                       "ArnLike": {"aws:SourceArn": f"arn:{partition}:cloudwatch:{region}:{account_id}:alarm:*"}}},
    ]}


@dataclass(frozen=True)
class AlarmSpec:
    suffix: str  # names the alarm: <name>-<suffix>
    description: str
    inputs: dict  # aws.cloudwatch.MetricAlarm keyword arguments, except alarm_actions


def _slug(model_id: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", model_id.lower()).strip("-")


def alarm_specs(models: Sequence[str], tokens_per_hour: int, throttles_per_5_minutes: int) -> list[AlarmSpec]:
    """One token alarm and one throttle alarm per model (each only when its threshold is set)."""
    specs = []
    for model in sorted(set(models)):
        dimensions = {"ModelId": model}
        if tokens_per_hour:
            queries = [
                {"id": metric[:-len("TokenCount")].lower(), "return_data": False,
                 "metric": {"namespace": BEDROCK_NAMESPACE, "metric_name": metric, "dimensions": dimensions,
                            "period": TOKEN_PERIOD_SECONDS, "stat": "Sum"}}
                for metric in TOKEN_METRICS
            ]
            queries.append({"id": "tokens", "label": f"{model} tokens per hour", "return_data": True,
                            "expression": "FILL(input, 0) + FILL(output, 0)"})
            specs.append(AlarmSpec(
                f"tokens-{_slug(model)}",
                f"Bedrock {model}: more than {tokens_per_hour} input+output tokens in an hour",
                {"comparison_operator": "GreaterThanThreshold", "threshold": tokens_per_hour,
                 "evaluation_periods": 1, "treat_missing_data": "notBreaching", "metric_queries": queries},
            ))
        if throttles_per_5_minutes:
            specs.append(AlarmSpec(
                f"throttles-{_slug(model)}",
                f"Bedrock {model}: {throttles_per_5_minutes} or more throttled calls in 5 minutes",
                {"comparison_operator": "GreaterThanOrEqualToThreshold", "threshold": throttles_per_5_minutes,
                 "evaluation_periods": 1, "treat_missing_data": "notBreaching", "namespace": BEDROCK_NAMESPACE,
                 "metric_name": THROTTLE_METRIC, "dimensions": dimensions, "period": THROTTLE_PERIOD_SECONDS,
                 "statistic": "Sum"},
            ))
    return specs


def budget_notifications(actual: Sequence[int], forecast: Sequence[int]) -> list[dict]:
    """(type, percent) pairs the budget notifies on, in a stable order."""
    return [{"notification_type": kind, "threshold": float(percent), "threshold_type": "PERCENTAGE",
             "comparison_operator": "GREATER_THAN"}
            for kind, percents in (("ACTUAL", actual), ("FORECASTED", forecast)) for percent in sorted(set(percents))]


# --- the component ----------------------------------------------------------------------------------

class CostGuardrails(pulumi.ComponentResource):
    topic: aws.sns.Topic
    budget: aws.budgets.Budget | None
    budget_action: aws.budgets.BudgetAction | None
    alarms: list[aws.cloudwatch.MetricAlarm]

    def __init__(self, name: str, args: CostGuardrailsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("hermes-eks:index:CostGuardrails", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        invoke_opts = pulumi.InvokeOutputOptions(parent=self)
        account_id = aws.get_caller_identity_output(opts=invoke_opts).account_id
        partition = aws.get_partition_output(opts=invoke_opts).partition

        # Not KMS-encrypted: with the AWS-managed aws/sns key neither AWS Budgets nor CloudWatch may
        # publish (its key policy admits no service principal), and the alerts carry no secrets.
        self.topic = aws.sns.Topic(f"{name}-cost-alerts", region=args.region, opts=child)
        aws.sns.TopicPolicy(
            f"{name}-cost-alerts",
            arn=self.topic.arn,
            policy=pulumi.Output.all(self.topic.arn, account_id, partition).apply(
                lambda v: json.dumps(topic_policy(v[0], v[1], args.region, v[2]))),
            region=args.region,
            opts=child,
        )
        for index, email in enumerate(sorted(set(args.emails))):
            # Pending until the recipient confirms the e-mail AWS sends.
            aws.sns.TopicSubscription(f"{name}-cost-alerts-{index}", topic=self.topic.arn, protocol="email",
                                      endpoint=email, region=args.region, opts=child)

        self.budget = self.budget_action = None
        if args.monthly_budget_usd:
            self.budget = aws.budgets.Budget(
                f"{name}-bedrock-budget",
                name=args.budget_name,
                budget_type="COST",
                time_unit="MONTHLY",
                limit_amount=str(args.monthly_budget_usd),
                limit_unit="USD",
                cost_filters=[{"name": "Service", "values": sorted(set(args.services))}],
                notifications=[{**n, "subscriber_sns_topic_arns": [self.topic.arn]}
                               for n in budget_notifications(args.actual_thresholds, args.forecast_thresholds)],
                opts=child,
            )
            if args.deny_invoke_when_exhausted:
                self.budget_action = self._deny_invoke_action(name, args, account_id, partition)

        self.alarms = [
            aws.cloudwatch.MetricAlarm(
                f"{name}-{spec.suffix}", alarm_description=spec.description, alarm_actions=[self.topic.arn],
                region=args.region, **spec.inputs, opts=child,
            )
            for spec in alarm_specs(args.models, args.tokens_per_hour, args.throttles_per_5_minutes)
        ]
        self.register_outputs({"topic_arn": self.topic.arn})

    def _deny_invoke_action(self, name, args: CostGuardrailsArgs, account_id, partition) -> aws.budgets.BudgetAction:
        child = pulumi.ResourceOptions(parent=self)
        deny = aws.iam.Policy(
            f"{name}-bedrock-deny-invoke",
            description="Attached to the Hermes role by AWS Budgets when the Bedrock budget is exhausted",
            policy=json.dumps(deny_invoke_policy()),
            opts=child,
        )
        execution_role = aws.iam.Role(
            f"{name}-budget-action",
            description="Assumed by AWS Budgets to attach and detach the Bedrock deny policy on the Hermes role",
            assume_role_policy=pulumi.Output.all(account_id, partition).apply(
                lambda v: json.dumps(budget_action_trust_policy(v[0], v[1]))),
            opts=child,
        )
        permissions = aws.iam.RolePolicy(
            f"{name}-budget-action",
            role=execution_role.id,
            policy=pulumi.Output.all(args.hermes_role_arn, deny.arn).apply(
                lambda v: json.dumps(budget_action_execution_policy(v[0], v[1]))),
            opts=child,
        )
        # No-op on create; its delete detaches the deny policy if the action left it attached. The
        # action depends on it, so it is deleted first and cannot attach the policy again.
        detach = command.local.Command(
            f"{name}-bedrock-deny-invoke-detach",
            delete=DETACH_DENY_POLICY,
            interpreter=["/bin/sh", "-c"],
            environment={"ROLE_NAME": args.hermes_role_name, "POLICY_ARN": deny.arn},
            opts=child,
        )
        return aws.budgets.BudgetAction(
            f"{name}-bedrock-deny-invoke",
            budget_name=self.budget.name,
            action_type="APPLY_IAM_POLICY",
            approval_model="AUTOMATIC",
            notification_type="ACTUAL",
            action_threshold={"action_threshold_type": "PERCENTAGE", "action_threshold_value": 100},
            definition={"iam_action_definition": {"policy_arn": deny.arn, "roles": [args.hermes_role_name]}},
            execution_role_arn=execution_role.arn,
            subscribers=[{"address": self.topic.arn, "subscription_type": "SNS"}],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permissions, detach]),
        )
