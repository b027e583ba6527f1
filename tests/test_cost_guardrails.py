"""CostGuardrails and AlertTopic: the Bedrock budget, the deny-invoke action and its monthly lift, the alarms."""

from __future__ import annotations

import functools
import json

import pytest

from components.alert_topic import key_policy, topic_policy
from components.bedrock_access import INVOKE_ACTIONS, invoke_policy
from components.cost_guardrails import (
    BEDROCK_SERVICE,
    attach_deny_policy,
    deny_invoke_policy,
    model_alarms,
    reverse_budget_action,
)
from settings import ConfigError
from tests.harness import Program, run_program, stack_file_config
from tests.test_iam_lint import lint

BUDGET, ACTION = "aws:budgets/budget:Budget", "aws:budgets/budgetAction:BudgetAction"
ALARM, POLICY = "aws:cloudwatch/metricAlarm:MetricAlarm", "aws:iam/policy:Policy"
ROLE_POLICY, SCHEDULE = "aws:iam/rolePolicy:RolePolicy", "aws:scheduler/schedule:Schedule"
TOPIC, SUBSCRIPTION = "aws:sns/topic:Topic", "aws:sns/topicSubscription:TopicSubscription"
ACCOUNT = "210987654321"
HERMES_ROLE = f"arn:aws:iam::{ACCOUNT}:role/hermes-bedrock"
DENY_ARN = f"arn:aws:iam::{ACCOUNT}:policy/hermes-bedrock-budget-spent"


@functools.cache
def stack(name: str, **config) -> Program:
    return run_program(name, config)


# --- the budget ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "limit"), [("dev", "100.0"), ("prod", "1000.0")])
def test_a_monthly_bedrock_budget_notifies_the_alert_topic_on_actual_and_forecast(name, limit):
    program = stack(name)
    budget = program.one(BUDGET).plain
    topic = program.one(TOPIC).outputs["arn"]
    assert (budget["budgetType"], budget["timeUnit"], budget["limitAmount"], budget["limitUnit"]) == (
        "COST", "MONTHLY", limit, "USD")
    seen = {(n["notificationType"], n["threshold"]) for n in budget["notifications"]}
    assert seen == {("ACTUAL", 50), ("ACTUAL", 80), ("ACTUAL", 100), ("FORECASTED", 100)}
    assert all(n["subscriberSnsTopicArns"] == [topic] for n in budget["notifications"])


# Anthropic's models on Bedrock are AWS Marketplace subscriptions billed under Marketplace product names,
# not "Amazon Bedrock"; BILLING_ENTITY "AWS Marketplace" covers them (budgets-create-filters.html).
COUNTS_BEDROCK_AND_MARKETPLACE = {"ors": [
    {"dimensions": {"key": "SERVICE", "values": ["Amazon Bedrock"]}},
    {"dimensions": {"key": "BILLING_ENTITY", "values": ["AWS Marketplace"]}},
]}


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_the_budget_counts_bedrock_and_every_marketplace_charge_where_the_default_claude_models_bill(name):
    program = stack(name)
    budget = program.one(BUDGET).plain
    assert budget["filterExpression"] == COUNTS_BEDROCK_AND_MARKETPLACE
    assert budget["metrics"] == "UnblendedCost"  # a FilterExpression requires it
    assert "costFilters" not in budget  # cannot OR two dimensions
    # ... which is where the stack's own default model bills:
    assert ".anthropic." in stack_file_config(name)["hermes-eks:modelDefault"]


def test_with_all_marketplace_off_the_budget_counts_only_the_listed_service_names():
    names = ["Amazon Bedrock", "Claude Sonnet 4.6 (Amazon Bedrock Edition)"]
    program = run_program("dev", {"bedrockBudgetAllMarketplace": "false", "bedrockBudgetServices": names})
    assert program.one(BUDGET).plain["filterExpression"] == {"dimensions": {"key": "SERVICE", "values": names}}


def test_thresholds_and_recipients_come_from_config():
    program = run_program("dev", {"bedrockBudgetThresholds": [90], "alertEmails": ["oncall@corp-internal.net"]})
    assert {(n["notificationType"], n["threshold"]) for n in program.one(BUDGET).plain["notifications"]} == {
        ("ACTUAL", 90), ("FORECASTED", 100)}
    assert program.one(SUBSCRIPTION).plain["protocol"] == "email"
    assert program.one(SUBSCRIPTION).plain["endpoint"] == "oncall@corp-internal.net"


# --- the deny-invoke action and its lift -----------------------------------------------------------

def test_the_deny_policy_denies_exactly_the_invoke_actions_the_hermes_role_is_allowed():
    allowed = invoke_policy(["eu.anthropic.claude-sonnet-4-6"], "eu-central-1", ACCOUNT, discovery=True)
    invoke_actions = {a for st in allowed["Statement"] for a in st["Action"] if "Invoke" in a}
    [deny] = deny_invoke_policy()["Statement"]
    assert deny["Effect"] == "Deny" and deny["Resource"] == "*"
    assert set(deny["Action"]) == invoke_actions == set(INVOKE_ACTIONS)


def test_dev_attaches_the_deny_policy_to_the_hermes_role_at_100_percent_of_actual_spend():
    program = stack("dev")
    action = program.one(ACTION).plain
    deny = program.one(POLICY, "hermes-bedrock-budget-spent")
    hermes_role = program.one("aws:iam/role:Role", "hermes-bedrock")
    assert json.loads(deny.plain["policy"]) == deny_invoke_policy()
    assert (action["actionType"], action["approvalModel"], action["notificationType"]) == (
        "APPLY_IAM_POLICY", "AUTOMATIC", "ACTUAL")
    assert action["actionThreshold"] == {"actionThresholdType": "PERCENTAGE", "actionThresholdValue": 100}
    assert action["definition"] == {"iamActionDefinition": {"policyArn": deny.outputs["arn"],
                                                            "roles": [hermes_role.outputs["name"]]}}


def test_the_executor_may_touch_only_the_deny_policy_on_the_hermes_role():
    program = stack("dev")
    hermes_role = program.one("aws:iam/role:Role", "hermes-bedrock").outputs["arn"]
    deny = program.one(POLICY, "hermes-bedrock-budget-spent").outputs["arn"]
    documents = {p.name: json.loads(p.plain["policy"]) for p in program.of_type(ROLE_POLICY)}
    [statement] = documents["hermes-bedrock-budget-action"]["Statement"]
    assert statement == {
        "Sid": statement["Sid"], "Effect": "Allow", "Action": ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
        "Resource": hermes_role,  # one role ...
        "Condition": {"ArnEquals": {"iam:PolicyARN": deny}},  # ... and one policy
    }


ACTION_ID = "cd082a8e-bde8-efcb-3668-550bf22d21f3"  # tests/fake_cloud.py's for hermes-bedrock-budget-spent
ACTION_ARN = f"arn:aws:budgets::{ACCOUNT}:budget/hermes-eks-dev-bedrock/action/{ACTION_ID}"


def test_the_lift_may_only_ask_budgets_to_execute_this_one_action():
    documents = {p.name: json.loads(p.plain["policy"]) for p in stack("dev").of_type(ROLE_POLICY)}
    assert documents["hermes-bedrock-budget-lift"] == {"Version": "2012-10-17", "Statement": [{
        "Sid": "ReverseBedrockBudgetAction", "Effect": "Allow",
        "Action": "budgets:ExecuteBudgetAction", "Resource": ACTION_ARN,
    }]}


def test_on_the_first_of_every_month_budgets_reverses_its_own_action():
    """Budgets detaches the policy itself, so its record of the action and IAM agree."""
    program = stack("dev")
    schedule = program.one(SCHEDULE).plain
    assert (schedule["scheduleExpression"], schedule["scheduleExpressionTimezone"]) == ("cron(5 0 1 * ? *)", "UTC")
    assert schedule["target"]["arn"] == "arn:aws:scheduler:::aws-sdk:budgets:executeBudgetAction"
    assert json.loads(schedule["target"]["input"]) == {
        "AccountId": ACCOUNT, "BudgetName": "hermes-eks-dev-bedrock", "ActionId": ACTION_ID,
        "ExecutionType": "REVERSE_BUDGET_ACTION"}
    assert program.one(ACTION).outputs["actionId"] == ACTION_ID


def test_prod_watches_spend_but_never_cuts_the_agent_off():
    program = stack("prod")
    assert program.of_type(ACTION) == [] and program.of_type(SCHEDULE) == []
    assert program.one(BUDGET)


# Attaching and detaching a policy IS permissions management: that is the guardrail's job. Each grant is
# limited to one role (Resource) and one policy (iam:PolicyARN), which parliament does not weigh.
ACCEPTED = {("PERMISSIONS_MANAGEMENT_ACTIONS", "")}


@pytest.mark.parametrize(("document", "accepted"), [
    (deny_invoke_policy(), set()),
    (attach_deny_policy(HERMES_ROLE, DENY_ARN), ACCEPTED),
    (reverse_budget_action(f"arn:aws:budgets::{ACCOUNT}:budget/hermes-eks-dev-bedrock/action/{'0' * 8}-0000-0000-0000-{'0' * 12}"), set()),
])
def test_parliament_finds_nothing_but_the_accepted_finding_in_the_guardrail_policies(document, accepted):
    assert lint(document) == accepted


# --- the alarms -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["dev", "prod"])
def test_every_allowed_model_has_a_token_and_a_throttle_alarm_to_the_alert_topic(name):
    program = stack(name)
    topic = program.one(TOPIC).outputs["arn"]
    models = {"eu.anthropic.claude-sonnet-4-6", "eu.anthropic.claude-haiku-4-5-20251001-v1:0"}
    alarms = [a for a in program.of_type(ALARM) if "-bedrock-" in a.plain["name"]]
    watched = set()
    for alarm in alarms:
        plain = alarm.plain
        assert plain["alarmActions"] == [topic]
        dimensions = plain.get("dimensions") or plain["metricQueries"][0]["metric"]["dimensions"]
        watched.add((dimensions["ModelId"], "throttles" if "metricName" in plain else "tokens"))
    assert watched == {(m, kind) for m in models for kind in ("tokens", "throttles")}


def test_bedrock_alarms_live_in_the_bedrock_region_and_notify_a_topic_there():
    """Bedrock publishes its metrics where it is called; an alarm only sees its own Region's metrics."""
    program = run_program("dev", {"bedrockRegion": "eu-west-1", "alertEmails": ["oncall@corp-internal.net"]})
    providers = {p.urn: p.plain.get("region") for p in program.of_type("pulumi:providers:aws")}
    region_of = lambda r: providers.get(r.provider.rsplit("::", 1)[0], "eu-central-1")  # noqa: E731
    alarms = [a for a in program.of_type(ALARM) if "-bedrock-" in a.plain["name"]]
    topics = {t.outputs["arn"]: t for t in program.of_type(TOPIC)}
    assert len(alarms) == 4 and {region_of(a) for a in alarms} == {"eu-west-1"}
    [bedrock_topic] = {tuple(a.plain["alarmActions"]) for a in alarms}
    assert region_of(topics[bedrock_topic[0]]) == "eu-west-1"
    subscriptions = [s for s in program.of_type(SUBSCRIPTION) if region_of(s) == "eu-west-1"]
    assert [s.plain["endpoint"] for s in subscriptions] == ["oncall@corp-internal.net"]
    # The budget is global and the pod alarms stay with the cluster, on the stack's own topic.
    assert {region_of(a) for a in program.of_type(ALARM) if "-bedrock-" not in a.plain["name"]} == {"eu-central-1"}


def test_in_the_stacks_own_region_the_bedrock_alarms_use_the_stacks_topic():
    program = stack("dev")
    assert not [p.name for p in program.of_type("pulumi:providers:aws") if "bedrock" in p.name]
    topic = program.one(TOPIC).outputs["arn"]
    assert {a.plain["alarmActions"][0] for a in program.of_type(ALARM) if "-bedrock-" in a.plain["name"]} == {topic}


def test_the_token_alarm_adds_input_and_output_tokens_per_hour():
    alarm = model_alarms("eu.anthropic.claude-sonnet-4-6", 5_000_000)["tokens"]
    names = {q["metric"]["metric_name"] for q in alarm["metric_queries"] if "metric" in q}
    assert names == {"InputTokenCount", "OutputTokenCount"}
    assert {q["metric"]["period"] for q in alarm["metric_queries"] if "metric" in q} == {3600}
    assert [q["expression"] for q in alarm["metric_queries"] if q.get("return_data")] == ["input + output"]
    assert alarm["threshold"] == 5_000_000


# --- the alert topic --------------------------------------------------------------------------------

# budgets-sns-policy.html and sns-key-management.html (components/alert_topic.py): the account keeps
# administering the key; the two publishers may only encrypt for the topic, on behalf of this account.
ALERT_KEY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "AccountAdministers", "Effect": "Allow",
         "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "ServicesPublishEncrypted", "Effect": "Allow",
         "Principal": {"Service": ["budgets.amazonaws.com", "cloudwatch.amazonaws.com"]},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
         "Condition": {"StringEquals": {"aws:SourceAccount": "210987654321"}}},
    ],
}


def alert_topic_policy(topic_arn: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "ServicesPublish", "Effect": "Allow",
            "Principal": {"Service": ["budgets.amazonaws.com", "cloudwatch.amazonaws.com"]},
            "Action": "sns:Publish", "Resource": topic_arn,
            "Condition": {"StringEquals": {"aws:SourceAccount": "210987654321"}},
        }],
    }


def test_the_alert_key_and_topic_policies_admit_only_the_two_publishers_of_this_account():
    assert key_policy("210987654321", "aws") == ALERT_KEY_POLICY
    assert topic_policy("arn:aws:sns:eu-central-1:210987654321:hermes-alerts", "210987654321") == alert_topic_policy(
        "arn:aws:sns:eu-central-1:210987654321:hermes-alerts")


def test_only_budgets_and_cloudwatch_of_this_account_may_publish_to_the_encrypted_topic():
    program = stack("dev")
    topic = program.one(TOPIC)
    key = program.one("aws:kms/key:Key", "hermes-alerts")
    assert topic.plain["kmsMasterKeyId"] == key.outputs["arn"]
    assert json.loads(key.plain["policy"]) == ALERT_KEY_POLICY
    policy = json.loads(program.one("aws:sns/topicPolicy:TopicPolicy").plain["policy"])
    assert policy == alert_topic_policy(topic.outputs["arn"])


def test_the_local_stack_has_no_budget_alarms_or_topic():
    program = stack("local")
    assert not [r for r in program.resources if r.type in (BUDGET, ACTION, ALARM, TOPIC, SCHEDULE)]


# --- config ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("stack_name", "config", "message"), [
    ("dev", {"bedrockMonthlyBudgetUsd": "0"}, "hermes-eks:bedrockMonthlyBudgetUsd in Pulumi.dev.yaml is \"0\"; allowed: a whole number of US dollars from 1"),
    ("dev", {"bedrockBudgetThresholds": [0, 80]}, "hermes-eks:bedrockBudgetThresholds in Pulumi.dev.yaml is [0,80]; allowed: a whole number percent from 1 to 1000"),
    ("dev", {"alertEmails": ["not-an-email"]}, "hermes-eks:alertEmails in Pulumi.dev.yaml is [\"not-an-email\"]"),
    ("dev", {"bedrockHourlyTokenAlarm": "10"}, "hermes-eks:bedrockHourlyTokenAlarm in Pulumi.dev.yaml is \"10\"; allowed: a whole number of tokens from 1000"),
    ("local", {"alertEmails": ["oncall@corp-internal.net"]}, "allowed: an empty list when clusterSource is 'kubeconfig'"),
    ("local", {"bedrockBudgetDenyInvoke": "true"}, "hermes-eks:bedrockBudgetDenyInvoke in Pulumi.local.yaml is true; allowed: false unless modelProvider is 'bedrock'"),
])
def test_bad_guardrail_config_is_refused_before_anything_is_registered(stack_name, config, message):
    program = run_program(stack_name, config, raise_errors=False)
    assert isinstance(program.error, ConfigError), program.error
    assert message in str(program.error)
    assert program.resources == []


def test_the_outputs_the_readme_uses_to_lift_the_deny_exist():
    outputs = stack("dev").outputs
    assert {"bedrock_role_arn", "bedrock_budget_deny_policy_arn", "alert_topic_arn"} <= set(outputs)
    assert "bedrock_budget_deny_policy_arn" not in stack("prod").outputs  # prod never denies


def test_destroy_detaches_the_deny_policy_after_the_action_and_before_the_policy_and_the_role():
    """IAM refuses to delete an attached policy, or a role with one attached (DeleteConflict)."""
    from tests.delete_order import forced_before  # noqa: PLC0415 - the engine's delete rule, ported

    program = stack("dev")
    detach = program.one("command:local:Command", "hermes-bedrock-budget-detach")
    assert "detach-role-policy" in detach.plain["delete"] and "create" not in detach.plain
    action = program.one(ACTION)
    deny = program.one(POLICY, "hermes-bedrock-budget-spent")
    hermes_role = program.one("aws:iam/role:Role", "hermes-bedrock")
    assert forced_before(program.resources, action, detach)
    assert forced_before(program.resources, detach, deny)
    assert forced_before(program.resources, detach, hermes_role)
