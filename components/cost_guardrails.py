"""CostGuardrails: what watches the Bedrock bill the Hermes agent runs up, and what can stop it.

- A monthly AWS Budget on the Amazon Bedrock service, notifying the alert topic at each configured
  percentage of actual spend and when the forecast passes the limit. Billing data lags by hours
  (docs.aws.amazon.com/cost-management/latest/userguide/budgets-managing-costs.html: budgets update up
  to three times a day), so a budget can only ever react late.
- What the budget counts (`budget_filter`): the Cost Explorer services in `services` ("Amazon Bedrock"
  by default) OR, with `all_marketplace`, every charge whose billing entity is AWS Marketplace.
  Anthropic's models (the default models of dev and prod) and other third-party models on Bedrock are
  AWS Marketplace subscriptions (docs.aws.amazon.com/bedrock/latest/userguide/model-access.html: access
  "with the correct AWS Marketplace permissions", Bedrock subscribes on first use); their charges bill
  under Marketplace product names ("Claude ... (Amazon Bedrock Edition)"), not under "Amazon Bedrock",
  so Service = Amazon Bedrock alone sees almost none of that spend. The billing entity tells AWS
  Marketplace purchases from AWS services (docs.aws.amazon.com/cost-management/latest/userguide/
  budgets-create-filters.html, "Billing entity"). Budgets' CostFilters cannot OR two dimensions (and
  are deprecated for "newer dimensions": API_budgets_Budget.html, CostFilters / FilterExpression), so
  the budget uses a FilterExpression (a Cost Explorer Expression: Or, Dimensions SERVICE and
  BILLING_ENTITY), which requires Metrics.
- Optionally a budget action: at 100 % of actual spend, AWS Budgets attaches a deny-invoke policy to the
  Hermes role (APPLY_IAM_POLICY, automatic), and on the 1st of each month at 00:05 UTC an EventBridge
  Scheduler schedule asks Budgets to reverse the action (ExecuteBudgetAction REVERSE_BUDGET_ACTION), so
  Budgets' record of the action and IAM agree; Budgets detaches the policy with the action's own
  execution role ("The role passed for action execution and reversion": API_budgets_Action.html,
  ExecutionRoleArn). `pulumi destroy` detaches it too (with the AWS CLI), since IAM refuses to delete an
  attached policy or a role with one.
- Near-real-time CloudWatch alarms per allowed model on the AWS/Bedrock runtime metrics: tokens per
  hour above a limit, and sustained throttling (docs.aws.amazon.com/bedrock/latest/userguide/
  monitoring.html#runtime-cloudwatch-metrics: InputTokenCount, OutputTokenCount, InvocationThrottles,
  dimension ModelId = the model or inference profile id the request named). Bedrock publishes them in
  the Region it is called in (`bedrockRegion`), and an alarm watches metrics of its own Region only
  (CloudWatch refuses "an Alarm in region 'us-west-2' based on metric ... in 'us-east-1'":
  aws/aws-cdk#30483), so when that Region differs from the provider's the alarms are made there, with
  an AlertTopic of their own in that Region (the same recipients confirm once more).

The IAM documents are pure functions, so tests and the IAM linter read them without Pulumi.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_command as command

from components.alert_topic import AlertTopic, AlertTopicArgs
from components.bedrock_access import INVOKE_ACTIONS

# Cost Explorer's service name for Bedrock usage (the `SERVICE` dimension).
BEDROCK_SERVICE = "Amazon Bedrock"
# The BILLING_ENTITY value of every AWS Marketplace purchase (budgets-create-filters.html, "Billing entity").
MARKETPLACE_BILLING_ENTITY = "AWS Marketplace"
# What a COST budget adds up ("Budgets track your unblended costs": API_budgets_Budget.html); a
# FilterExpression requires it to be named.
BUDGET_METRIC = "UnblendedCost"
LIFT_SCHEDULE = "cron(5 0 1 * ? *)"  # 00:05 UTC on the 1st: the new budget period has begun
# EventBridge Scheduler's universal target for Budgets' ExecuteBudgetAction
# (docs.aws.amazon.com/scheduler/latest/UserGuide/managing-targets-universal.html: aws-sdk:<service>:<apiAction>).
LIFT_TARGET = "arn:{partition}:scheduler:::aws-sdk:budgets:executeBudgetAction"
# ExecuteBudgetAction's ExecutionType values are APPROVE_BUDGET_ACTION, RETRY_BUDGET_ACTION,
# REVERSE_BUDGET_ACTION and RESET_BUDGET_ACTION
# (API_budgets_ExecuteBudgetAction.html). REVERSE undoes what the action did (the action's status
# becomes REVERSE_SUCCESS: API_budgets_Action.html, Status), which is the lift: the deny goes.
LIFT_EXECUTION = "REVERSE_BUDGET_ACTION"
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
    all_marketplace: bool = True  # also count every AWS Marketplace charge (third-party models bill there)
    hermes_role_name: pulumi.Input[str] | None = None  # set: deny invoke when the budget is spent
    hermes_role_arn: pulumi.Input[str] | None = None
    # The roles of a stack's further Hermes instances (settings.INSTANCE_KEYS), denied with the first:
    # (instance name, role name, role ARN). The budget is the stack's: Bedrock spend is not split by role.
    other_roles: tuple[tuple[str, pulumi.Input[str], pulumi.Input[str]], ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    # Where Bedrock is called and publishes its metrics, when not the provider's Region (aws:region);
    # the alarms' own topic there notifies these addresses.
    alarm_region: str = ""
    alert_emails: tuple[str, ...] = ()


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


def budget_filter(services: tuple[str, ...], all_marketplace: bool) -> dict:
    """The budget's FilterExpression, as aws.budgets.Budget takes it: the services, OR (all_marketplace)
    every AWS Marketplace charge."""
    by_service = {"dimensions": {"key": "SERVICE", "values": list(services)}}
    if not all_marketplace:
        return by_service
    return {"ors": [by_service, {"dimensions": {"key": "BILLING_ENTITY", "values": [MARKETPLACE_BILLING_ENTITY]}}]}


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


def attach_deny_policy(hermes_role_arn: str | list[str], deny_policy_arn: str) -> dict:
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


def reverse_budget_action(budget_action_arn: str) -> dict:
    """What the monthly lift may do: ask Budgets to reverse this one action. ExecuteBudgetAction's
    resource is the action, `arn:<partition>:budgets::<account>:budget/<name>/action/<id>` (service
    authorization reference, list_awsbudgetservice.html). No iam:PassRole: only CreateBudgetAction and
    UpdateBudgetAction pass the execution role (list_budgets.html, "API operations"), and the reversal
    runs as that role."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "ReverseBedrockBudgetAction", "Effect": "Allow", "Action": "budgets:ExecuteBudgetAction",
            "Resource": budget_action_arn,
        }],
    }


def lift_input(account_id: str, budget_name: str, action_id: str) -> dict:
    """The ExecuteBudgetAction request the schedule sends (API_budgets_ExecuteBudgetAction.html)."""
    return {"AccountId": account_id, "BudgetName": budget_name, "ActionId": action_id, "ExecutionType": LIFT_EXECUTION}


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
    action: aws.budgets.BudgetAction | None
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
            filter_expression=budget_filter(args.services, args.all_marketplace),
            metrics=BUDGET_METRIC,
            notifications=pulumi.Output.from_input(args.alert_topic_arn).apply(
                lambda topic: budget_notifications(args.actual_thresholds, topic)),
            tags=tags,
            opts=child,
        )

        self.deny_policy = None
        self.action = None
        if args.hermes_role_name is not None:
            self._deny_when_spent(name, args, account_id, partition, tags)

        alarm_opts, alarm_topic = child, args.alert_topic_arn
        self.alarm_topic = None
        if args.alarm_region:
            provider = aws.Provider(f"{name}-bedrock-{args.alarm_region}", region=args.alarm_region, opts=child)
            alarm_opts = pulumi.ResourceOptions(parent=self, provider=provider)
            self.alarm_topic = AlertTopic(f"{name}-bedrock-{args.alarm_region}",
                                          AlertTopicArgs(emails=args.alert_emails, tags=args.tags),
                                          opts=pulumi.ResourceOptions(parent=self, providers={"aws": provider}))
            alarm_topic = self.alarm_topic.arn
        self.alarms = []
        for model in args.models:
            for kind, alarm in model_alarms(model, args.hourly_token_limit).items():
                alarm_name = f"{args.alarm_prefix}-bedrock-{kind}-{_alarm_name(model)}"
                self.alarms.append(aws.cloudwatch.MetricAlarm(
                    f"{name}-bedrock-{kind}-{_alarm_name(model)}",
                    name=alarm_name,
                    alarm_actions=[alarm_topic],
                    ok_actions=[alarm_topic],
                    tags=tags,
                    **alarm,
                    opts=alarm_opts,
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
            f"{name}-bedrock-budget-action", budgets_trust_policy, account_id, tags,
            "Assumed by AWS Budgets to attach the Bedrock deny policy to the Hermes role",
            pulumi.Output.all(self.deny_policy.arn, args.hermes_role_arn, *(arn for _, _, arn in args.other_roles)).apply(
                lambda v: json.dumps(attach_deny_policy(v[1] if len(v) == 2 else list(v[1:]), v[0]))),
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
        detach_others = [command.local.Command(
            f"{name}-bedrock-budget-detach-{instance}",
            delete=DETACH_DENY_POLICY,
            interpreter=["/bin/sh", "-c"],
            environment={"ROLE_NAME": role_name, "POLICY_ARN": self.deny_policy.arn},
            opts=child,
        ) for instance, role_name, _ in args.other_roles]
        self.action = aws.budgets.BudgetAction(
            f"{name}-bedrock-budget-spent",
            budget_name=self.budget.name,
            action_type="APPLY_IAM_POLICY",
            approval_model="AUTOMATIC",
            notification_type="ACTUAL",
            action_threshold={"action_threshold_type": "PERCENTAGE", "action_threshold_value": 100.0},
            definition={"iam_action_definition": {"policy_arn": self.deny_policy.arn, "roles": [args.hermes_role_name, *(r for _, r, _ in args.other_roles)]}},
            execution_role_arn=executor.arn,
            subscribers=[{"address": args.alert_topic_arn, "subscription_type": "SNS"}],
            tags=tags,
            # The executor must keep its permission until the action is gone (teardown in reverse order).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[executor_policy, self.detach_on_destroy, *detach_others]),
        )
        lifter, lifter_policy = self._service_role(
            f"{name}-bedrock-budget-lift", scheduler_trust_policy, account_id, tags,
            "Assumed by EventBridge Scheduler to have AWS Budgets reverse the Bedrock deny each month",
            self.action.arn.apply(lambda arn: json.dumps(reverse_budget_action(arn))),
        )
        aws.scheduler.Schedule(
            f"{name}-bedrock-budget-lift",
            description="Reverse the Bedrock budget action (lift the deny on the Hermes role): a new budget period has begun",
            schedule_expression=LIFT_SCHEDULE,
            schedule_expression_timezone="UTC",
            flexible_time_window={"mode": "OFF"},
            target={
                "arn": partition.apply(lambda p: LIFT_TARGET.format(partition=p)),
                "role_arn": lifter.arn,
                "input": pulumi.Output.all(account_id, self.budget.name, self.action.action_id).apply(
                    lambda v: json.dumps(lift_input(v[0], v[1], v[2]))),
                # A reverse when the action did not run this month fails, and that is fine: no retries.
                "retry_policy": {"maximum_retry_attempts": 0},
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[lifter_policy]),
        )

    def _service_role(self, name, trust, account_id, tags, description, policy: pulumi.Output[str]):
        """A role only `trust`'s service may assume (for this account), allowed `policy`: the two roles
        of the guardrail differ only in those."""
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            name,
            assume_role_policy=account_id.apply(lambda a: json.dumps(trust(a))),
            description=description,
            tags=tags,
            opts=child,
        )
        role_policy = aws.iam.RolePolicy(name, role=role.id, policy=policy, opts=child)
        return role, role_policy
