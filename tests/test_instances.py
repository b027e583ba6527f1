"""Several Hermes agents in one stack (`hermes-eks:instances`, issue 16): config, no churn, isolation,
day two and outputs, through the real program under mocks.

tests/stack_urns.json is every shipped stack's URNs as main rendered them before instances existed.
After a change that adds or renames resources on purpose, regenerate it with
`python -m tests.test_instances --write` (and say so in the commit).
"""

from __future__ import annotations

import ast
import json
import shlex
import sys
from pathlib import Path

import pytest

from settings import INSTANCE_KEYS, ConfigError, StackSettings, parse_settings
from tests.delete_order import deleted_after, forced_before
from tests.harness import Program, is_secret, reveal, run_program
from tests.registration_diff import diff_registrations

SHIPPED = ("local", "dev", "prod", "pr")
SAVED_URNS = Path(__file__).parent / "stack_urns.json"
HAIKU = "eu.anthropic.claude-haiku-4-5-20251001-v1:0"
SONNET = "eu.anthropic.claude-sonnet-4-6"
RESEARCH = {"namespace": "hermes-research", "storageSize": "30Gi", "modelDefault": HAIKU, "bedrockModels": [HAIKU]}
TWO = {"instances": {"hermes": {}, "research": RESEARCH}}


def config_problems(config: dict, stack: str = "dev") -> list[str]:
    full = {(k if ":" in k else f"hermes-eks:{k}"): v for k, v in config.items()}
    with pytest.raises(ConfigError) as raised:
        parse_settings(full, stack=stack)
    return raised.value.problems


# --- config -------------------------------------------------------------------------------------

def test_a_stack_without_instances_runs_one_instance_named_hermes_that_is_the_top_level_settings():
    settings = parse_settings({"hermes-eks:storageSize": "50Gi"}, stack="local")
    [agent] = settings.agents
    assert agent.name == "hermes" and agent.settings is settings and agent.own_keys == frozenset()


def test_an_instance_takes_the_top_level_keys_as_defaults_and_overrides_its_own():
    settings = parse_settings({"hermes-eks:storageSize": "50Gi", "hermes-eks:instances": {
        "research": {"namespace": "hermes-research", "memoryLimit": "8Gi"}, "hermes": {}}}, stack="local")
    hermes, research = settings.agents
    assert (hermes.name, hermes.settings.namespace, hermes.settings.storage_size) == ("hermes", "hermes", "50Gi")
    assert (research.name, research.settings.namespace, research.settings.storage_size,
            research.settings.memory_limit) == ("research", "hermes-research", "50Gi", "8Gi")
    assert research.own_keys == {"namespace", "memory_limit"}


def test_an_invalid_instance_value_names_the_instance_the_key_the_file_and_what_is_allowed():
    problems = config_problems({"instances": {"research": {"namespace": "hermes-research", "storageSize": "30G"}}})
    assert problems == ['hermes-eks:instances.research.storageSize in Pulumi.dev.yaml is "30G"; allowed: a whole '
                        'number of Gi or Ti, e.g. 20Gi (EBS sizes volumes in GiB)']


def test_an_instances_bad_value_is_listed_with_the_stacks_own_bad_values_in_one_run():
    problems = config_problems({"storageSize": "lots", "instances": {"research": {"storageSize": "30G"}}})
    allowed = "allowed: a whole number of Gi or Ti, e.g. 20Gi (EBS sizes volumes in GiB)"
    assert problems == [f'hermes-eks:storageSize in Pulumi.dev.yaml is "lots"; {allowed}',
                        f'hermes-eks:instances.research.storageSize in Pulumi.dev.yaml is "30G"; {allowed}']


def test_a_cross_field_rule_names_the_instance_whose_values_break_it():
    problems = config_problems({"instances": {"hermes": {}, "research": {
        "namespace": "hermes-research", "modelProvider": "custom"}}}, stack="local")
    assert problems == ["hermes-eks:instances.research.modelDefault is not set in Pulumi.local.yaml, so the top-level "
                        "default applies: hermes-eks:modelDefault is not set in Pulumi.local.yaml; allowed: the default "
                        "model id for provider 'custom'",
                        "hermes-eks:instances.research.modelBaseUrl is not set in Pulumi.local.yaml, so the top-level "
                        "default applies: hermes-eks:modelBaseUrl is not set in Pulumi.local.yaml; allowed: the base URL "
                        "of the OpenAI-compatible API (required when modelProvider is 'custom')"]


def test_a_top_level_default_every_instance_breaks_alike_is_reported_once_under_its_own_key():
    problems = config_problems({"modelProvider": "custom", "instances": {
        "hermes": {}, "research": {"namespace": "hermes-research"}}}, stack="local")
    assert "hermes-eks:modelDefault is not set in Pulumi.local.yaml; allowed: the default model id for provider 'custom'" in problems
    assert not any("instances.research.modelDefault" in p for p in problems)


def _keys_named_by_rules(function: str) -> set[str]:
    """The keys the `need(...)` calls of a settings/rules.py function name: a literal, either branch of a
    conditional, or each key of the `for attribute in (...)` loop around the call."""
    tree = ast.parse((Path(__file__).parents[1] / "settings" / "rules.py").read_text())
    [body] = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function]
    loops = {n.target.id: n.iter for n in ast.walk(body) if isinstance(n, ast.For) and isinstance(n.target, ast.Name)}
    named = set()
    for call in ast.walk(body):
        if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "need":
            first = call.args[0]
            first = loops.get(first.id, first) if isinstance(first, ast.Name) else first
            named |= {c.value for c in ast.walk(first) if isinstance(c, ast.Constant) and isinstance(c.value, str)}
    return named


def test_each_cross_field_rule_lives_once_on_its_side_of_the_stack_and_instance_line():
    stack_keys, instance_keys = _keys_named_by_rules("_stack_problems"), _keys_named_by_rules("_instance_problems")
    assert stack_keys and instance_keys
    assert stack_keys <= set(StackSettings.model_fields) - set(INSTANCE_KEYS)
    assert instance_keys <= set(INSTANCE_KEYS)
    assert {"aws_region", "alert_emails", "bedrock_budget_services", "node_zone_count"} <= stack_keys
    assert {"model_default", "api_host", "restore_availability_zone", "openrouter_api_key"} <= instance_keys


def test_a_stack_wide_rule_is_reported_once_and_an_instance_rule_once_per_instance_that_breaks_it():
    problems = config_problems({"alertEmails": ["ops@corp-internal.net"], "instances": {
        "hermes": {}, "research": {"namespace": "hermes-research", "restoreAvailabilityZone": "eu-central-1a"},
        "support": {"namespace": "hermes-support", "restoreAvailabilityZone": "eu-central-1b"}}}, stack="local")
    assert [p for p in problems if "alertEmails" in p] == [
        'hermes-eks:alertEmails in Pulumi.local.yaml is ["ops@corp-internal.net"]; allowed: an empty list when '
        "clusterSource is 'kubeconfig' (alerts are SNS's)"]
    assert [p.split(" in ")[0] for p in problems if "restoreAvailabilityZone" in p] == [
        "hermes-eks:instances.research.restoreAvailabilityZone", "hermes-eks:instances.support.restoreAvailabilityZone"]


def test_a_stack_wide_key_under_an_instance_is_refused_and_an_unknown_one_gets_a_hint():
    problems = config_problems({"instances": {"research": {"namespace": "hermes-research", "vpcCidr": "10.1.0.0/16",
                                                             "storgeSize": "30Gi"}}})
    assert problems == [
        'hermes-eks:instances.research.vpcCidr in Pulumi.dev.yaml is a setting of the whole stack, shared by every '
        'instance; allowed: the per-instance keys (README "Add an agent"); set hermes-eks:vpcCidr at the top level instead',
        "hermes-eks:instances.research.storgeSize in Pulumi.dev.yaml is not a setting of this program; did you mean "
        "storageSize?",
    ]


def test_instances_must_be_a_mapping_and_its_value_is_never_shown():
    problems = config_problems({"instances": ["research"]})
    assert problems == ["hermes-eks:instances in Pulumi.dev.yaml is <a value not shown: an instance may hold a "
                        "credential>; allowed: a YAML mapping from instance name to that instance's own keys, e.g. "
                        "{hermes: {}, research: {namespace: hermes-research}}"]


def test_an_instance_name_must_be_a_short_dns_label():
    problems = config_problems({"instances": {"Research": {}}})
    assert problems == ['hermes-eks:instances in Pulumi.dev.yaml names an instance "Research"; allowed: a DNS-1123 label '
                        "of at most 40 characters (lowercase letters, digits and '-'): it names the instance's "
                        "Kubernetes objects and IAM role"]


def test_two_instances_may_not_share_a_namespace_or_a_host():
    problems = config_problems({"dashboardHost": "hermes.corp-internal.net", "instances": {
        "hermes": {}, "research": {"dashboardHost": "research.corp-internal.net", "apiHost": "hermes.corp-internal.net"}}})
    assert problems == [
        'hermes-eks:instances.research.namespace is not set in Pulumi.dev.yaml, so the top-level default applies: '
        'hermes-eks:namespace in Pulumi.yaml (default) is "hermes"; allowed: a namespace no other instance uses '
        '(hermes-eks:instances.hermes.namespace is "hermes" too): each instance\'s objects, credentials and '
        'NetworkPolicy live in a namespace of its own',
        'hermes-eks:instances.research.apiHost in Pulumi.dev.yaml is "hermes.corp-internal.net"; allowed: a host no '
        'other instance uses (hermes-eks:instances.hermes.dashboardHost is "hermes.corp-internal.net" too): a host '
        "routes to one instance's Service",
    ]


def test_an_instance_credential_in_plain_text_is_refused():
    problems = config_problems({"instances": {"hermes": {}, "research": {
        "namespace": "hermes-research", "apiServerKey": "ab" * 32}}})
    assert problems == ["hermes-eks:instances.research.apiServerKey in Pulumi.dev.yaml is stored in plain text; "
                        "allowed: an encrypted value set with `pulumi config set --secret --path "
                        "'instances.research.apiServerKey' ...`"]



def test_an_instance_credential_set_with_secret_path_reaches_only_that_instances_secret():
    """`pulumi config set --secret --path 'instances.research.apiServerKey' ...` stores {secure: ...} inside the
    map; the CLI then hands the whole key to the program as one secret (tests/engine_config.py)."""
    key = "0123456789abcdef" * 4
    program = run_program("local", {"instances": {"hermes": {}, "research": {
        "namespace": "hermes-research", "apiServerKey": {"secure": key}}}})
    secrets = {s.name: reveal(s.inputs.get("stringData", {})) for s in program.of_type("kubernetes:core/v1:Secret")}
    assert secrets["research-credentials"]["API_SERVER_KEY"] == key
    assert secrets["hermes-credentials"]["API_SERVER_KEY"] != key
    assert reveal(program.outputs["instance_credentials"])["research"]["api_server_key"] == key
    assert key not in json.dumps(program.outputs["instances"])


# --- no churn -------------------------------------------------------------------------------------

@pytest.mark.parametrize("stack", SHIPPED)
def test_listing_the_hermes_instance_explicitly_changes_nothing(stack):
    before = run_program(stack)
    after = run_program(stack, {"instances": {"hermes": {}}})
    assert diff_registrations(before, after) == {}
    assert after.outputs.keys() == before.outputs.keys()


@pytest.mark.parametrize("stack", SHIPPED)
def test_every_shipped_stack_renders_the_urns_it_had_before_instances_existed(stack):
    assert sorted(r.urn for r in run_program(stack).resources) == json.loads(SAVED_URNS.read_text())[stack]


SHARED_VIEWS = {
    # The stack's one Bedrock budget may deny every bedrock instance's role.
    ("aws:budgets/budgetAction:BudgetAction", "hermes-bedrock-budget-spent"),
    ("aws:iam/rolePolicy:RolePolicy", "hermes-bedrock-budget-action"),
    # The CloudWatch dashboard shows every instance.
    ("aws:cloudwatch/dashboard:Dashboard", "hermes-dashboard"),
}
RESEARCH_IN_DEV = {
    ("hermes-eks:index:HermesAgent", "research"),
    ("kubernetes:core/v1:Namespace", "research"),
    ("kubernetes:core/v1:PersistentVolumeClaim", "research-data"),
    ("kubernetes:apps/v1:Deployment", "research"),
    ("kubernetes:core/v1:ServiceAccount", "research"),
    ("kubernetes:core/v1:Secret", "research-credentials"),
    ("kubernetes:core/v1:Service", "research-api"),
    ("kubernetes:core/v1:Service", "research-dashboard"),
    ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "research"),
    ("random:index/randomBytes:RandomBytes", "research-api-server-key"),
    ("random:index/randomBytes:RandomBytes", "research-dashboard-password-salt"),
    ("random:index/randomBytes:RandomBytes", "research-dashboard-signing-secret"),
    ("random:index/randomPassword:RandomPassword", "research-dashboard-password"),
    ("hermes-eks:index:BedrockAccess", "research"),
    ("aws:iam/role:Role", "research-bedrock"),
    ("aws:iam/rolePolicy:RolePolicy", "research-bedrock-invoke"),
    ("aws:iam/rolePolicy:RolePolicy", "research-volume-metrics"),
    ("command:local:Command", "hermes-addons-released-volumes-hermes-research"),
    ("command:local:Command", "hermes-bedrock-budget-detach-research"),
    # Its own pod and volume alarms, named for it.
    ("aws:cloudwatch/metricAlarm:MetricAlarm", "hermes-research-pod-not-ready"),
    ("aws:cloudwatch/metricAlarm:MetricAlarm", "hermes-research-pod-restarted"),
    ("aws:cloudwatch/metricAlarm:MetricAlarm", "hermes-research-volume-full"),
}


def test_adding_an_instance_to_dev_creates_only_its_own_resources_and_updates_only_shared_views():
    before, after = run_program("dev"), run_program("dev", TWO)
    changes = diff_registrations(before, after)
    created = {(c.type, c.name) for c in changes.values() if c.kind == "create"}
    updated = {(c.type, c.name) for c in changes.values() if c.kind == "update"}
    assert not [c for c in changes.values() if c.kind == "delete"]
    assert updated <= SHARED_VIEWS
    assert created == RESEARCH_IN_DEV


def test_removing_an_instance_deletes_only_its_resources_and_keeps_the_rest():
    before, after = run_program("dev", TWO), run_program("dev", {"instances": {"hermes": {}}})
    changes = diff_registrations(before, after)
    assert {(c.type, c.name) for c in changes.values() if c.kind == "update"} <= SHARED_VIEWS
    assert not [c for c in changes.values() if c.kind == "create"]
    deleted = {(c.type, c.name) for c in changes.values() if c.kind == "delete"}
    assert RESEARCH_IN_DEV <= deleted
    assert all("research" in name for _, name in deleted)


def test_instances_named_like_another_instances_children_are_refused():
    """An instance's objects are named <instance>-...: `hermes-api` could be taken for the `hermes`
    instance's Service, by the engine (one URN twice) or by the pack's per-instance exceptions."""
    problems = config_problems({"instances": {"hermes": {}, "hermes-api": {"namespace": "ns-api"},
                                              "research": {"namespace": "hermes-research"}}})
    assert problems == [
        'hermes-eks:instances in Pulumi.dev.yaml names the instances "hermes" and "hermes-api"; allowed: names of '
        "which none is another's followed by '-' (an instance's objects are named <instance>-..., so hermes-api's "
        "could be taken for hermes's, e.g. by the policy pack's per-instance exceptions)"]


def test_a_plain_instance_credential_beside_an_encrypted_one_is_refused_from_the_stack_file():
    """Any encrypted value under `instances` makes the whole key secret to the program: only the stack
    file still shows that another credential there is plain text."""
    from settings import plaintext_secret_settings  # noqa: PLC0415

    stack_file = {"hermes-eks:instances": {"hermes": {}, "research": {
        "namespace": "hermes-research", "openrouterApiKey": "sk-or-v1-plain0123456789abcdef",
        "apiServerKey": {"secure": "v1:AAAA"}}}}
    paths = plaintext_secret_settings(stack_file)
    assert paths == ("instances.research.openrouterApiKey",)
    values = {"hermes-eks:instances": {"hermes": {}, "research": {
        "namespace": "hermes-research", "openrouterApiKey": "sk-or-v1-plain0123456789abcdef", "apiServerKey": "a" * 64}}}
    with pytest.raises(ConfigError) as raised:
        parse_settings(values, stack="dev", secret_keys={"hermes-eks:instances"}, plaintext_paths=paths)
    assert raised.value.problems == [
        "hermes-eks:instances.research.openrouterApiKey in Pulumi.dev.yaml is stored in plain text; allowed: an "
        "encrypted value set with `pulumi config set --secret --path 'instances.research.openrouterApiKey' ...`"]


def test_a_removed_instances_claim_was_protected_so_its_volume_is_never_deleted_silently():
    program = run_program("dev", TWO)
    assert program.one("kubernetes:core/v1:PersistentVolumeClaim", "research-data").protect
    assert program.one("kubernetes:core/v1:Namespace", "research").protect



def test_the_readme_unprotects_exactly_the_removed_instances_claim_and_namespace(two_in_dev: Program):
    section = (Path(__file__).parent.parent / "README.md").read_text().split("## Add an agent", 1)[1].split("\n## ", 1)[0]
    # As sh reads the line: the stack's name substituted, `\$` inside double quotes a plain `$`.
    urns = [shlex.split(line.replace("$(pulumi stack --show-name)", "dev"))[3].replace("\\$", "$")
            for line in section.splitlines() if line.startswith("pulumi state unprotect ")]
    protected = sorted(r.urn for r in two_in_dev.resources if r.protect and "research" in r.urn)
    assert sorted(urns) == protected and len(urns) == 2


# --- isolation ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def two_in_dev() -> Program:
    return run_program("dev", TWO)


def _document(registered) -> dict:
    value = reveal(registered.inputs["policy"] if "policy" in registered.inputs else registered.inputs["assumeRolePolicy"])
    return json.loads(value)


def test_each_instance_has_its_own_namespace_service_account_claim_and_credentials(two_in_dev: Program):
    objects = {(o["kind"], o["metadata"]["name"]): o["metadata"].get("namespace")
               for o in two_in_dev.kubernetes_objects()}
    for kind, name in [("ServiceAccount", "research"), ("PersistentVolumeClaim", "research-data"),
                       ("Secret", "research-credentials"), ("Deployment", "research"), ("NetworkPolicy", "research")]:
        assert objects[(kind, name)] == "hermes-research"
    for kind, name in [("ServiceAccount", "hermes"), ("PersistentVolumeClaim", "hermes-data"),
                       ("Secret", "hermes-credentials"), ("Deployment", "hermes"), ("NetworkPolicy", "hermes")]:
        assert objects[(kind, name)] == "hermes"
    claim = two_in_dev.one("kubernetes:core/v1:PersistentVolumeClaim", "research-data").plain
    assert claim["spec"]["resources"]["requests"]["storage"] == "30Gi"


def test_each_instances_role_is_assumable_by_its_own_service_account_only(two_in_dev: Program):
    trust = _document(two_in_dev.one("aws:iam/role:Role", "research-bedrock"))
    [statement] = trust["Statement"]
    subjects = [v for c in statement["Condition"].values() for k, v in c.items() if k.endswith(":sub")]
    assert subjects == ["system:serviceaccount:hermes-research:research"]


def test_an_instances_role_may_invoke_only_its_own_models(two_in_dev: Program):
    def invoked(role: str) -> str:
        return json.dumps(_document(two_in_dev.one("aws:iam/rolePolicy:RolePolicy", f"{role}-bedrock-invoke")))

    assert "claude-haiku-4-5" in invoked("research") and "claude-sonnet-4-6" not in invoked("research")
    assert "claude-sonnet-4-6" in invoked("hermes")


def test_each_network_policy_selects_only_its_own_instances_pods(two_in_dev: Program):
    policies = {p.name: p.plain for p in two_in_dev.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")}
    assert policies["research"]["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/instance"] == "research"
    assert policies["hermes"]["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/instance"] == "hermes"
    # dev has no Ingress: neither admits anything from outside its own pod, so not the other instance.
    assert policies["research"]["spec"]["ingress"] == [] and policies["hermes"]["spec"]["ingress"] == []


def test_each_instance_gets_the_ingress_hosts_it_names():
    program = run_program("prod", {"instances": {"hermes": {}, "research": {
        "namespace": "hermes-research", "dashboardHost": "research.corp-internal.net", "apiHost": ""}}})
    hosts = {i.name: [r["host"] for r in i.plain["spec"]["rules"]]
             for i in program.of_type("kubernetes:networking.k8s.io/v1:Ingress")}
    assert hosts == {"hermes": ["hermes.corp-internal.net", "hermes-api.corp-internal.net"],
                     "research": ["research.corp-internal.net"]}



def test_on_destroy_each_instances_pod_goes_before_its_claim_and_its_role_and_volume_wait_outlive_them(two_in_dev):
    """The engine's delete order (tests/delete_order.py) for the second instance, as for the first."""
    resources = two_in_dev.resources
    deployment = two_in_dev.one("kubernetes:apps/v1:Deployment", "research")
    claim = two_in_dev.one("kubernetes:core/v1:PersistentVolumeClaim", "research-data")
    assert forced_before(resources, deployment, claim)
    role = [r for r in resources if r.parent.endswith("BedrockAccess::research") or r.name.startswith("research-bedrock")]
    assert role and [p for r in role for p in deleted_after(resources, r, [deployment])] == []
    wait = two_in_dev.one("command:local:Command", "hermes-addons-released-volumes-hermes-research")
    assert reveal(wait.inputs["environment"])["NAMESPACE"] == "hermes-research"
    assert deleted_after(resources, wait, [claim, deployment]) == []


# --- day two --------------------------------------------------------------------------------------------

def test_every_instances_volume_is_made_by_the_class_the_backup_plan_selects_by_tag(two_in_dev: Program):
    claims = {c.name: c.plain["spec"]["storageClassName"]
              for c in two_in_dev.of_type("kubernetes:core/v1:PersistentVolumeClaim")}
    storage_class = two_in_dev.one("kubernetes:storage.k8s.io/v1:StorageClass")
    assert set(claims.values()) == {storage_class.plain["metadata"]["name"]}
    assert "tagSpecification_1" in json.dumps(storage_class.plain["parameters"])


def test_each_instance_has_its_own_alarms_and_dashboard_section(two_in_dev: Program):
    alarms = {a.plain["name"]: a.plain for a in two_in_dev.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert alarms["hermes-dev-research-pod-not-ready"]["dimensions"] == {
        "ClusterName": "hermes-dev", "Namespace": "hermes-research", "PodName": "research"}
    assert alarms["hermes-dev-pod-not-ready"]["dimensions"] == {
        "ClusterName": "hermes-dev", "Namespace": "hermes", "PodName": "hermes"}
    body = json.loads(two_in_dev.one("aws:cloudwatch/dashboard:Dashboard").plain["dashboardBody"])
    texts = [w["properties"]["markdown"] for w in body["widgets"] if w["type"] == "text"]
    assert "## Hermes instance `research`\nNamespace `hermes-research`, Deployment `research`." in texts
    research_arns = {a.outputs.get("arn") for a in two_in_dev.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
                     if a.name.startswith("hermes-research-")}
    assert len(research_arns) == 3 and None not in research_arns
    [alarm_widget] = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert research_arns <= set(alarm_widget["properties"]["alarms"])


def test_one_instance_is_restored_from_a_snapshot_while_the_other_keeps_its_volume():
    snapshot = "snap-0123456789abcdef0"
    before = run_program("dev", TWO)
    after = run_program("dev", {"instances": {"hermes": {}, "research": {**RESEARCH, "restoreFromSnapshot": snapshot}}})
    changes = diff_registrations(before, after)
    touched = {c.name for c in changes.values()}
    assert any(name.startswith(f"research-restored-{snapshot}") for name in touched)
    assert not [name for name in touched if name.startswith("hermes") and "research" not in name]



# --- the policy pack ----------------------------------------------------------------------------------

@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_policy_pack_passes_a_stack_with_two_instances_one_of_them_restored(stack):
    from tests.test_policy_pack import hp, resource_violations  # noqa: PLC0415 - the pack's own test harness

    research = {**RESEARCH, "restoreFromSnapshot": "snap-0123456789abcdef0"}
    if stack == "prod":
        research["dashboardHost"], research["apiHost"] = "research.corp-internal.net", "research-api.corp-internal.net"
    program = run_program(stack, {"instances": {"hermes": {}, "research": research}})
    for policy in hp.POLICIES:
        assert resource_violations(policy, program, stack) == [], policy.name



def test_the_pack_guards_the_second_instances_volume_as_it_does_the_first():
    from tests.test_policy_pack import hp, resource_violations  # noqa: PLC0415 - the pack's own test harness

    program = run_program("prod", {"instances": {"hermes": {}, "research": {
        "namespace": "hermes-research", "dashboardHost": "research.corp-internal.net",
        "apiHost": "research-api.corp-internal.net"}}})
    program.one("kubernetes:core/v1:PersistentVolumeClaim", "research-data").protect = False
    violations = resource_violations(hp.stateful_resources_protected, program, "prod")
    assert len(violations) == 1 and violations[0].startswith("kubernetes:core/v1:PersistentVolumeClaim research-data")


# --- outputs --------------------------------------------------------------------------------------------

def test_each_instance_has_its_outputs_in_a_map_and_hermes_keeps_the_flat_ones(two_in_dev: Program):
    outputs = two_in_dev.outputs
    instances = outputs["instances"]
    assert set(instances) == {"hermes", "research"}
    assert instances["research"]["namespace"] == "hermes-research"
    assert "hermes-research" in instances["research"]["open_dashboard"]
    assert instances["research"]["bedrock_role_arn"].startswith("arn:aws:iam::")
    assert outputs["namespace"] == "hermes" and outputs["open_dashboard"] == instances["hermes"]["open_dashboard"]
    assert is_secret(outputs["instance_credentials"]) and not is_secret(instances)
    credentials = reveal(outputs["instance_credentials"])
    assert set(credentials["research"]) == {"api_server_key", "dashboard_password"}
    assert credentials["research"]["dashboard_password"] != credentials["hermes"]["dashboard_password"]


def test_a_stack_without_the_hermes_instance_has_no_flat_instance_outputs():
    outputs = run_program("dev", {"instances": {"research": RESEARCH}}).outputs
    assert set(outputs["instances"]) == {"research"}
    assert "namespace" not in outputs and "dashboard_url" not in outputs and "cluster_name" in outputs


def main() -> int:
    if sys.argv[1:] != ["--write"]:
        print(__doc__)
        return 2
    urns = {stack: sorted(r.urn for r in run_program(stack).resources) for stack in SHIPPED}
    SAVED_URNS.write_text(json.dumps(urns, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
