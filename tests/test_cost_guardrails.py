"""CostGuardrails: the Bedrock budget, its deny-invoke action, the alarms, and their config.

The documents are checked structurally and linted with parliament like every other IAM document
(tests/test_iam_lint.py); the budget action's deny policy must deny exactly what the Hermes role
may invoke; every new key is validated; the local stack is unaffected.
"""

from __future__ import annotations

import json

import pytest

from components.cost_guardrails import (
    alarm_specs,
    budget_action_execution_policy,
    budget_action_trust_policy,
    deny_invoke_policy,
    topic_policy,
)
from tests import fake_cloud
from tests.conftest import stack_program
from tests.harness import Program, run_program
from tests.test_iam_lint import Known, explained, lint
from tests.test_settings import only_problem

ACCOUNT = fake_cloud.ACCOUNT
COMPONENT = "hermes-eks:index:CostGuardrails"
BUDGET = "aws:budgets/budget:Budget"
ACTION = "aws:budgets/budgetAction:BudgetAction"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
POLICY = "aws:iam/policy:Policy"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"

# Every AWS/Bedrock runtime metric and its dimension (docs.aws.amazon.com/bedrock/latest/userguide/monitoring.html).
BEDROCK_METRICS = {"Invocations", "InvocationLatency", "InvocationClientErrors", "InvocationServerErrors",
                   "InvocationThrottles", "InputTokenCount", "OutputTokenCount", "LegacyModelInvocations"}

EXECUTION_ACCEPTED = [
    Known("PERMISSIONS_MANAGEMENT_ACTIONS", "",
          "The execution role exists to attach and detach one policy: iam:AttachRolePolicy/DetachRolePolicy "
          "on the Hermes role only, with iam:PolicyARN pinned to the deny policy."),
]


def guardrails(program: Program) -> list:
    component = program.one(COMPONENT)
    return [r for r in program.resources if r.parent == component.urn]


def hermes_invoke_actions(program: Program) -> set[str]:
    [policy] = [r for r in program.of_type(ROLE_POLICY) if r.name == "hermes-bedrock-invoke"]
    statements = json.loads(policy.plain["policy"])["Statement"]
    return {a for s in statements if s["Effect"] == "Allow" for a in s["Action"] if a.startswith("bedrock:Invoke")}


# --- the stacks ------------------------------------------------------------------------------------

def test_local_stack_has_no_guardrails_and_no_aws_resource():
    local = stack_program("local")
    assert not local.of_type(COMPONENT) and not [r for r in local.resources if r.type.startswith("aws:")]
    assert "cost_alerts_topic_arn" not in local.outputs


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_aws_stacks_have_a_monthly_cost_budget_on_bedrock_notifying_the_stacks_topic(stack):
    program = stack_program(stack)
    budget = program.one(BUDGET).plain
    topic = program.one(TOPIC)
    assert (budget["budgetType"], budget["timeUnit"], budget["limitUnit"]) == ("COST", "MONTHLY", "USD")
    assert budget["limitAmount"] == {"dev": "50", "prod": "500"}[stack]
    assert budget["name"] == f"hermes-eks-{stack}-bedrock"
    assert budget["costFilters"] == [{"name": "Service", "values": ["Amazon Bedrock"]}]
    notified = {(n["notificationType"], n["threshold"]) for n in budget["notifications"]}
    assert notified == {"dev": {("ACTUAL", 80), ("ACTUAL", 100), ("FORECASTED", 100)},
                        "prod": {("ACTUAL", 50), ("ACTUAL", 80), ("ACTUAL", 100), ("FORECASTED", 100)}}[stack]
    assert all(n["subscriberSnsTopicArns"] == [topic.outputs["arn"]] and n["thresholdType"] == "PERCENTAGE"
               for n in budget["notifications"])
    assert program.outputs["cost_alerts_topic_arn"] == topic.outputs["arn"]


def test_dev_denies_invocation_once_its_budget_is_spent_and_prod_never_cuts_itself_off():
    dev, prod = stack_program("dev"), stack_program("prod")
    action = dev.one(ACTION).plain
    assert (action["actionType"], action["approvalModel"], action["notificationType"]) == \
        ("APPLY_IAM_POLICY", "AUTOMATIC", "ACTUAL")
    assert action["actionThreshold"] == {"actionThresholdType": "PERCENTAGE", "actionThresholdValue": 100}
    assert not prod.of_type(ACTION) and not [r for r in guardrails(prod) if r.type in (POLICY, ROLE)]


def test_the_budget_action_denies_exactly_the_hermes_roles_invoke_actions_on_the_hermes_role_only():
    dev = stack_program("dev")
    deny = dev.one(POLICY, "hermes-bedrock-deny-invoke")
    document = json.loads(deny.plain["policy"])
    [statement] = document["Statement"]
    assert statement["Effect"] == "Deny" and statement["Resource"] == "*" and "Condition" not in statement
    assert set(statement["Action"]) == hermes_invoke_actions(dev) == {"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"}
    definition = dev.one(ACTION).plain["definition"]["iamActionDefinition"]
    hermes_role = dev.one(ROLE, "hermes-bedrock")
    assert definition == {"policyArn": deny.outputs["arn"], "roles": [hermes_role.outputs["name"]]}


def test_the_deny_policy_covers_every_action_of_any_model_list_and_no_other():
    for models in (["anthropic.claude-sonnet-4-6"], ["eu.anthropic.claude-sonnet-4-6"], ["global.anthropic.claude-sonnet-4-6"]):
        program = run_program("dev", {"modelDefault": models[0], "bedrockModels": models})
        assert set(json.loads(program.one(POLICY, "hermes-bedrock-deny-invoke").plain["policy"])["Statement"][0]["Action"]) \
            == hermes_invoke_actions(program)


def test_the_execution_role_is_assumable_by_aws_budgets_of_this_account_only_and_may_only_swap_that_policy():
    dev = stack_program("dev")
    role = dev.one(ROLE, "hermes-budget-action")
    assert json.loads(role.plain["assumeRolePolicy"]) == budget_action_trust_policy(ACCOUNT)
    [permissions] = [r for r in dev.of_type(ROLE_POLICY) if r.name == "hermes-budget-action"]
    assert json.loads(permissions.plain["policy"]) == budget_action_execution_policy(
        dev.one(ROLE, "hermes-bedrock").outputs["arn"], dev.one(POLICY, "hermes-bedrock-deny-invoke").outputs["arn"])
    assert dev.one(ACTION).plain["executionRoleArn"] == role.outputs["arn"]
    assert permissions.urn in dev.one(ACTION).dependencies  # the role may act before the action exists


def test_alarms_watch_each_allowed_model_on_metrics_bedrock_publishes_in_the_bedrock_region():
    dev = stack_program("dev")
    topic_arn = dev.one(TOPIC).outputs["arn"]
    models = {"eu.anthropic.claude-sonnet-4-6", "eu.anthropic.claude-haiku-4-5-20251001-v1:0"}
    alarms = [a.plain for a in dev.of_type(ALARM)]
    assert len(alarms) == 2 * len(models)
    for alarm in alarms:
        assert alarm["alarmActions"] == [topic_arn] and alarm["region"] == "eu-central-1"
        metrics = [q["metric"] for q in alarm.get("metricQueries", []) if "metric" in q] or [alarm]
        for metric in metrics:
            assert metric["namespace"] == "AWS/Bedrock" and metric["metricName"] in BEDROCK_METRICS
            assert metric["dimensions"].keys() == {"ModelId"} and metric["dimensions"]["ModelId"] in models
    thresholds = sorted((a.get("metricName", "tokens"), a["threshold"]) for a in alarms)
    assert thresholds == [("InvocationThrottles", 5)] * 2 + [("tokens", 2000000)] * 2


def test_the_token_alarm_adds_input_and_output_tokens_over_an_hour_treating_no_data_as_zero():
    [spec] = alarm_specs(["eu.anthropic.claude-sonnet-4-6"], 1000, 0)
    queries = {q["id"]: q for q in spec.inputs["metric_queries"]}
    assert queries["tokens"]["expression"] == "FILL(input, 0) + FILL(output, 0)" and queries["tokens"]["return_data"]
    assert {q["metric"]["metric_name"] for i, q in queries.items() if i != "tokens"} == {"InputTokenCount", "OutputTokenCount"}
    assert all(q["metric"]["period"] == 3600 and q["metric"]["stat"] == "Sum" for i, q in queries.items() if i != "tokens")
    assert alarm_specs(["m.x"], 0, 0) == []


def test_the_topic_and_its_subscriptions_live_in_the_bedrock_region():
    program = run_program("dev", {"bedrockRegion": "eu-west-1", "bedrockBudgetEmails": ["ops@example.com", "cto@example.com"]})
    assert program.one(TOPIC).plain["region"] == "eu-west-1"
    subscriptions = program.of_type(SUBSCRIPTION)
    assert sorted(s.plain["endpoint"] for s in subscriptions) == ["cto@example.com", "ops@example.com"]
    assert {(s.plain["protocol"], s.plain["region"]) for s in subscriptions} == {("email", "eu-west-1")}


def test_the_topic_admits_this_accounts_budgets_and_alarms_only():
    document = topic_policy("arn:aws:sns:eu-central-1:123456789012:alerts", ACCOUNT, "eu-central-1")
    services = {s["Principal"].get("Service"): s for s in document["Statement"]}
    assert set(services) == {None, "budgets.amazonaws.com", "cloudwatch.amazonaws.com"}
    for service in ("budgets.amazonaws.com", "cloudwatch.amazonaws.com"):
        assert services[service]["Action"] == "SNS:Publish"
        assert services[service]["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    assert services[None]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}


def test_guardrails_are_children_of_their_component_named_from_it():
    dev = stack_program("dev")
    assert all(r.name.startswith("hermes-") for r in guardrails(dev))
    assert {r.type for r in guardrails(dev)} >= {TOPIC, TOPIC_POLICY, BUDGET, ACTION, ALARM, POLICY, ROLE, ROLE_POLICY}


# --- IAM documents, linted like every other one ------------------------------------------------------

def test_parliament_finds_nothing_in_the_deny_policy():
    assert lint(deny_invoke_policy()) == set()


def test_parliament_finds_only_the_accepted_finding_in_the_execution_policy():
    document = budget_action_execution_policy(f"arn:aws:iam::{ACCOUNT}:role/hermes-bedrock-a1b2c3d",
                                              f"arn:aws:iam::{ACCOUNT}:policy/hermes-bedrock-deny-invoke-a1b2c3d")
    assert lint(document) == explained(EXECUTION_ACCEPTED)


def test_the_execution_trust_policy_admits_only_aws_budgets_of_this_account():
    [statement] = budget_action_trust_policy(ACCOUNT)["Statement"]
    assert statement["Principal"] == {"Service": "budgets.amazonaws.com"} and statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT},
                                      "ArnLike": {"aws:SourceArn": f"arn:aws:budgets::{ACCOUNT}:budget/*"}}


# --- config -----------------------------------------------------------------------------------------

BEDROCK = {"clusterSource": "create", "aws:region": "eu-central-1", "modelProvider": "bedrock",
           "modelDefault": "eu.anthropic.claude-sonnet-4-6"}


@pytest.mark.parametrize(("key", "value", "allowed"), [
    ("bedrockBudgetUsd", "-1", "a whole number of USD a month (0: no budget) from 0 to 1000000"),
    ("bedrockBudgetUsd", "fifty", "a whole number"),
    ("bedrockBudgetActualThresholds", "[0]", "percent of the budget from 1 to 1000"),
    ("bedrockBudgetForecastThresholds", "[1001]", "percent of the budget from 1 to 1000"),
    ("bedrockBudgetServices", '["*"]', "a service name as Cost Explorer shows it"),
    ("bedrockBudgetEmails", '["ops"]', "an e-mail address"),
    ("bedrockBudgetDenyInvoke", "maybe", "true or false"),
    ("bedrockAlarmTokensPerHour", "-5", "of tokens (0: no alarm)"),
    ("bedrockAlarmThrottles", "1.5", "a whole number"),
])
def test_each_guardrail_key_refuses_a_bad_value(key, value, allowed):
    message = only_problem({**BEDROCK, key: value})
    assert message.startswith(f"hermes-eks:{key} in Pulumi.dev.yaml is ") and allowed in message, message


@pytest.mark.parametrize(("config", "key", "allowed"), [
    ({"bedrockBudgetUsd": "50"}, "bedrockBudgetUsd", "0 unless modelProvider is 'bedrock'"),
    ({"bedrockAlarmTokensPerHour": "5"}, "bedrockAlarmTokensPerHour", "0 unless modelProvider is 'bedrock'"),
    ({"bedrockAlarmThrottles": "5"}, "bedrockAlarmThrottles", "0 unless modelProvider is 'bedrock'"),
    ({"bedrockBudgetDenyInvoke": "true"}, "bedrockBudgetDenyInvoke", "false unless modelProvider is 'bedrock'"),
    ({**BEDROCK, "bedrockBudgetDenyInvoke": "true"}, "bedrockBudgetDenyInvoke", "false unless bedrockBudgetUsd is set"),
    ({**BEDROCK, "bedrockBudgetEmails": '["ops@example.com"]'}, "bedrockBudgetEmails", "nothing would notify them"),
    ({**BEDROCK, "bedrockBudgetUsd": "5", "bedrockBudgetActualThresholds": "[80, 80]"}, "bedrockBudgetActualThresholds", "without duplicates"),
    ({**BEDROCK, "bedrockBudgetUsd": "5", "bedrockBudgetServices": "[]"}, "bedrockBudgetServices", "at least one service name"),
])
def test_guardrail_cross_field_rules(config, key, allowed):
    message = only_problem(config)
    assert message.startswith(f"hermes-eks:{key}") and allowed in message, message


def test_no_guardrail_without_a_budget_or_an_alarm():
    program = run_program("dev", {"bedrockBudgetUsd": 0, "bedrockBudgetDenyInvoke": False,
                                  "bedrockAlarmTokensPerHour": 0, "bedrockAlarmThrottles": 0})
    assert not program.of_type(COMPONENT) and "cost_alerts_topic_arn" not in program.outputs


def test_alarms_alone_need_no_budget():
    program = run_program("dev", {"bedrockBudgetUsd": 0, "bedrockBudgetDenyInvoke": False})
    assert not program.of_type(BUDGET) and len(program.of_type(ALARM)) == 4


def test_every_array_key_declares_the_item_type_its_defaults_and_stack_values_have():
    """The CLI checks each element of an array value against the declared items type
    (pulumi/pulumi sdk/go/common/workspace/project.go, ValidateConfigValue): [80, 100] is no array<string>."""
    import yaml

    from tests.harness import ROOT, STACKS

    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    python_type = {"string": str, "integer": int, "boolean": bool}
    arrays = {key: python_type[entry["items"]["type"]] for key, entry in declared.items() if entry.get("type") == "array"}
    assert arrays["hermes-eks:bedrockBudgetActualThresholds"] is int and arrays["hermes-eks:bedrockBudgetEmails"] is str
    for stack in STACKS:
        values = (yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text()) or {}).get("config") or {}
        for key, item_type in arrays.items():
            for value in (declared[key].get("default") or [], values.get(key) or []):
                assert all(type(v) is item_type for v in value), (stack, key, value)


# --- destroy after the action ran: the deny policy is detached before IAM is asked to delete it -------

DETACH = "hermes-bedrock-deny-invoke-detach"


def test_the_detach_runs_after_the_action_is_gone_and_before_the_deny_policy_and_the_hermes_role():
    from tests.delete_order import forced_before

    dev = stack_program("dev")
    detach = dev.one("command:local:Command", DETACH)
    assert forced_before(dev.resources, dev.one(ACTION), detach)
    assert forced_before(dev.resources, detach, dev.one(POLICY, "hermes-bedrock-deny-invoke"))
    assert forced_before(dev.resources, detach, dev.one(ROLE, "hermes-bedrock"))
    assert "create" not in detach.plain and detach.plain["environment"] == {
        "ROLE_NAME": dev.one(ROLE, "hermes-bedrock").outputs["name"],
        "POLICY_ARN": dev.one(POLICY, "hermes-bedrock-deny-invoke").outputs["arn"]}


def _detach_with_fake_aws(tmp_path, answer: str, status: int):
    import os
    import subprocess

    from components.cost_guardrails import DETACH_DENY_POLICY

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "aws").write_text(f'#!/bin/sh\necho "$*" > "{tmp_path}/called"\necho "{answer}" >&2\nexit {status}\n')
    (bin_dir / "aws").chmod(0o755)
    result = subprocess.run(["/bin/sh", "-c", DETACH_DENY_POLICY], capture_output=True, text=True, timeout=30,
                            env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "ROLE_NAME": "hermes-bedrock-x",
                                 "POLICY_ARN": "arn:aws:iam::123456789012:policy/deny"})
    return result, (tmp_path / "called").read_text().strip()


def test_the_detach_detaches_exactly_the_deny_policy_from_the_hermes_role(tmp_path):
    result, called = _detach_with_fake_aws(tmp_path, "", 0)
    assert result.returncode == 0
    assert called == "iam detach-role-policy --role-name hermes-bedrock-x --policy-arn arn:aws:iam::123456789012:policy/deny"


def test_a_policy_that_is_not_attached_is_fine_and_any_other_error_fails_the_destroy(tmp_path):
    not_attached, _ = _detach_with_fake_aws(tmp_path / "a", "An error occurred (NoSuchEntity) when calling DetachRolePolicy", 254)
    denied, _ = _detach_with_fake_aws(tmp_path / "b", "An error occurred (AccessDenied) when calling DetachRolePolicy", 254)
    assert not_attached.returncode == 0
    assert denied.returncode == 1 and "AccessDenied" in denied.stderr
