"""The policy pack (policy/): every rule passes what the real program registers for every stack file, and
fires on a registration mutated to break it.

The policies' `validate` is called directly with the arguments the engine would build
(pulumi_policy/policy.py `_PolicyAnalyzerServicer.Analyze`/`AnalyzeStack`): resource policies get the
registered INPUTS, stack policies every resource's OUTPUTS, both with secrets unwrapped and wrapped in
the SDK's unknown-checking proxy; the policy config is the stack's policy/config/<stack>.json with the
schema's defaults filled in, as the engine fills them. The PolicyPack itself is never built here: it
starts a gRPC server and blocks.
"""

from __future__ import annotations

import ast
import copy
import importlib.util
import inspect
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import unknown_checking_proxy

from tests.conftest import stack_program
from tests.harness import ROOT, STACKS, Registered, reveal, run_program

POLICY_DIR = ROOT / "policy"
_spec = importlib.util.spec_from_file_location("hermes_policies", POLICY_DIR / "hermes_policies.py")
hp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hp)

BY_NAME = {policy.name: policy for policy in hp.POLICIES}


# ---------------------------------------------------------------------------------------------
# Registered -> what the engine hands a policy
# ---------------------------------------------------------------------------------------------

def stack_config(stack: str) -> dict:
    path = POLICY_DIR / "config" / f"{stack}.json"
    return json.loads(path.read_text())


def engine_config(policy, stack: str | None = None, **overrides) -> dict:
    """The policy's config as the engine passes it: schema defaults, then the stack file, then overrides."""
    config = {}
    if policy.config_schema is not None:
        config = {k: copy.deepcopy(v["default"]) for k, v in policy.config_schema.properties.items() if "default" in v}
    if stack is not None:
        config.update(stack_config(stack).get(policy.name, {}))
    config.update(overrides)
    return config


def _seconds(duration: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    return float(sum(float(n) * units[u] for n, u in re.findall(r"([\d.]+)([smh])", duration or "")))


def _opts(r: Registered, protect: bool | None = None) -> PolicyResourceOptions:
    timeouts = r.custom_timeouts
    return PolicyResourceOptions(
        protect=r.protect if protect is None else protect,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(*(_seconds(timeouts.get(k, "")) for k in ("create", "update", "delete"))),
        additional_secret_outputs=list(r.additional_secret_outputs),
        parent=r.parent or None,
    )


def _engine_props(plain: dict):
    # The engine sends numbers as floats and wraps everything in the unknown-checking proxy.
    return unknown_checking_proxy(json.loads(json.dumps(plain)))


def resource_args(r: Registered, config: dict, *, props: dict | None = None, protect: bool | None = None):
    return ResourceValidationArgs(
        resource_type=r.type, props=_engine_props(r.plain if props is None else props), urn=r.urn,
        name=r.name, opts=_opts(r, protect), provider=None, config=config,
    )


def stack_args(resources: list[Registered], config: dict, outputs: dict[str, dict] | None = None):
    outputs = outputs or {}
    return StackValidationArgs(
        resources=[
            PolicyResource(
                resource_type=r.type, props=_engine_props(outputs.get(r.urn, reveal(r.outputs))), urn=r.urn,
                name=r.name, opts=_opts(r), provider=None, parent=None, dependencies=[], property_dependencies={},
            )
            for r in resources
        ],
        config=config,
    )


def run_policy(policy, args) -> list[str]:
    violations: list[str] = []
    result = policy.validate(args, lambda message, urn=None: violations.append(message))
    assert result is None or not inspect.isawaitable(result), "these policies are synchronous"
    return violations


def resource_violations(policy, program, stack: str, **overrides) -> list[str]:
    config = engine_config(policy, stack, **overrides)
    if isinstance(policy, StackValidationPolicy):
        return run_policy(policy, stack_args(program.resources, config))
    found = []
    for r in program.resources:
        found += [f"{r.type} {r.name}: {m}" for m in run_policy(policy, resource_args(r, config))]
    return found


# ---------------------------------------------------------------------------------------------
# The pack's shape
# ---------------------------------------------------------------------------------------------

def test_every_policy_is_mandatory_and_named_once():
    names = [p.name for p in hp.POLICIES]
    assert len(names) == len(set(names))
    assert {p.enforcement_level for p in hp.POLICIES} == {EnforcementLevel.MANDATORY}


def test_policy_pack_is_built_only_in_main_from_the_module_policies():
    main = ast.parse((POLICY_DIR / "__main__.py").read_text())
    calls = [n for n in ast.walk(main) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "PolicyPack"]
    assert len(calls) == 1
    assert {k.arg: ast.unparse(k.value) for k in calls[0].keywords}["policies"] == "POLICIES"
    imports = {(n.module, a.name) for n in ast.walk(main) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert ("hermes_policies", "POLICIES") in imports
    module = ast.parse((POLICY_DIR / "hermes_policies.py").read_text())
    assert not [n for n in ast.walk(module) if isinstance(n, ast.Name) and n.id == "PolicyPack"]


def test_pulumi_policy_yaml_declares_a_python_pack_with_its_own_virtualenv():
    project = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    assert project["runtime"]["options"]["virtualenv"] == "venv"
    assert re.fullmatch(r"\d+\.\d+\.\d+", project["version"])
    assert "venv/" in (POLICY_DIR / ".gitignore").read_text().split()


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-r"):
            name, _, version = line.partition("==")
            assert version, f"{path.name}: {line!r} is not pinned with =="
            pins[name.lower()] = version
    return pins


def test_policy_requirements_are_pinned_like_the_program_and_its_tests():
    program = {**_pins(ROOT / "requirements.txt"), **_pins(ROOT / "requirements-dev.txt")}
    pack = _pins(POLICY_DIR / "requirements.txt")
    assert set(pack) == {"pulumi-policy", "pulumi"}
    assert {name: program.get(name) for name in pack} == pack


def test_every_stack_has_a_policy_config_that_matches_the_schemas():
    for stack in STACKS:
        config = stack_config(stack)
        for name, values in config.items():
            assert name in BY_NAME, f"policy/config/{stack}.json configures unknown policy {name!r}"
            schema = BY_NAME[name].config_schema
            assert schema is not None, f"policy/config/{stack}.json: {name} takes no config"
            jsonschema.validate(values, {"type": "object", "properties": schema.properties,
                                         "required": schema.required or [], "additionalProperties": False})


def test_the_modern_tls_policies_include_the_program_default():
    from components.hermes_cluster import HermesClusterArgs
    from settings import StackSettings

    assert StackSettings.model_fields["ingress_ssl_policy"].default in hp.MODERN_SSL_POLICIES
    assert HermesClusterArgs.ssl_policy in hp.MODERN_SSL_POLICIES
    assert "ELBSecurityPolicy-2016-08" not in hp.MODERN_SSL_POLICIES


def test_each_policy_config_names_the_repository_its_stack_creates():
    for stack in STACKS:
        expected = stack_config(stack).get("image-from-stack-ecr", {}).get("ecrRepository")
        repositories = stack_program(stack).of_type("aws:ecr/repository:Repository")
        if expected:
            assert [r.plain["name"] for r in repositories] == [expected], stack
    assert stack_config("prod")["image-from-stack-ecr"]["ecrRepository"]


def test_prod_takes_no_exception():
    """prod's policy config may only say which repository it deploys from."""
    assert stack_config("prod") == {"image-from-stack-ecr": {"ecrRepository": "hermes-eks/prod/hermes-agent"}}


# ---------------------------------------------------------------------------------------------
# Positive: every stack file as the program registers it
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("policy", hp.POLICIES, ids=lambda p: p.name)
def test_every_stack_file_passes_the_policy(any_stack, policy):
    assert resource_violations(policy, any_stack, any_stack.stack) == []


def test_prod_passes_while_it_runs_on_a_restored_volume():
    """The restored claim is retain_on_delete instead of protected (so the restore can be undone)."""
    program = run_program("prod", {"restoreFromSnapshot": "snap-0123456789abcdef0"})
    for policy in hp.POLICIES:
        assert resource_violations(policy, program, "prod") == [], policy.name


def test_only_a_claim_marked_as_restored_escapes_protection():
    program = run_program("prod", {"restoreFromSnapshot": "snap-0123456789abcdef0"})
    claim = program.one("kubernetes:core/v1:PersistentVolumeClaim", "hermes-data-snap-0123456789abcdef0")
    props = copy.deepcopy(claim.plain)
    del props["metadata"]["annotations"][hp.RESTORED_FROM_ANNOTATION]
    config = engine_config(hp.stateful_resources_protected, "prod")
    assert run_policy(hp.stateful_resources_protected, resource_args(claim, config, props=props))
    # The pack shares nothing with the program but this name; keep the two spellings one.
    from components.hermes_agent import RESTORED_FROM_ANNOTATION  # noqa: PLC0415
    assert hp.RESTORED_FROM_ANNOTATION == RESTORED_FROM_ANNOTATION


def test_policies_also_pass_without_engine_defaults_filled_in():
    """The code's defaults are the schema's: a run with only the file's config finds the same."""
    for stack in STACKS:
        program = stack_program(stack)
        for policy in hp.POLICIES:
            raw = stack_config(stack).get(policy.name, {})
            if isinstance(policy, StackValidationPolicy):
                assert run_policy(policy, stack_args(program.resources, raw)) == []
            else:
                for r in program.resources:
                    assert run_policy(policy, resource_args(r, raw)) == [], (stack, policy.name, r.name)


def test_unknown_values_during_preview_skip_the_rule_instead_of_passing_it():
    """An image only known after the build makes the rule advisory-skip (the SDK's UnknownValueError)."""
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE
    from pulumi_policy.proxy import UnknownValueError

    deployment = stack_program("prod").one("kubernetes:apps/v1:Deployment")
    props = deployment.plain
    props["spec"]["template"]["spec"]["containers"][0]["image"] = UNKNOWN_STRING_VALUE
    policy = BY_NAME["image-from-stack-ecr"]
    with pytest.raises(UnknownValueError):
        run_policy(policy, resource_args(deployment, engine_config(policy, "prod"), props=props))


# ---------------------------------------------------------------------------------------------
# Negative: one mutated registration per rule, each must be reported
# ---------------------------------------------------------------------------------------------

def _find(stack: str, type_: str, name: str | None = None) -> Registered:
    return stack_program(stack).one(type_, name)


def _pod(props: dict) -> dict:
    return props["spec"]["template"]["spec"]


def _container(props: dict, name: str = "hermes") -> dict:
    spec = _pod(props)
    return next(c for c in spec["containers"] + spec.get("initContainers", []) if c["name"] == name)


def _doc(props: dict, key: str) -> dict:
    return json.loads(props[key])


def _set_doc(props: dict, key: str, document: dict) -> None:
    props[key] = json.dumps(document)


def _statement_with(document: dict, action_prefix: str) -> dict:
    return next(s for s in document["Statement"] if any(str(a).startswith(action_prefix) for a in hp._as_list(s["Action"])))


SERVICE = "kubernetes:core/v1:Service"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def m_service_type(kind):
    def mutate(p):
        p["spec"]["type"] = kind
    return mutate


def m_annotation(key, value):
    def mutate(p):
        if value is None:
            p["metadata"]["annotations"].pop(key)
        else:
            p["metadata"]["annotations"][key] = value
    return mutate


def m_ingress_class(value):
    def mutate(p):
        p["spec"]["ingressClassName"] = value
    return mutate


def m_helm_default_ssl(value):
    def mutate(p):
        if value is None:
            p["values"].pop("defaultSSLPolicy")
        else:
            p["values"]["defaultSSLPolicy"] = value
    return mutate


def m_cidrs(value):
    def mutate(p):
        if value is None:
            p.pop("publicAccessCidrs")
        else:
            p["publicAccessCidrs"] = value
    return mutate


def m_image(value, container="hermes"):
    def mutate(p):
        _container(p, container)["image"] = value
    return mutate


def m_policy_action(prefix, actions):
    def mutate(p):
        document = _doc(p, "policy")
        _statement_with(document, prefix)["Action"] = actions
        _set_doc(p, "policy", document)
    return mutate


def m_policy_resource(prefix, resources):
    def mutate(p):
        document = _doc(p, "policy")
        _statement_with(document, prefix)["Resource"] = resources
        _set_doc(p, "policy", document)
    return mutate


def m_not_action(prefix):
    def mutate(p):
        document = _doc(p, "policy")
        statement = _statement_with(document, prefix)
        statement["NotAction"] = statement.pop("Action")
        _set_doc(p, "policy", document)
    return mutate


def m_trust(change):
    def mutate(p):
        document = _doc(p, "assumeRolePolicy")
        change(document["Statement"][0])
        _set_doc(p, "assumeRolePolicy", document)
    return mutate


def _drop_condition(suffix):
    def change(statement):
        equals = statement["Condition"]["StringEquals"]
        equals.pop(next(k for k in equals if k.endswith(suffix)))
    return change


def _wildcard_subject(statement):
    equals = statement["Condition"]["StringEquals"]
    key = next(k for k in equals if k.endswith(":sub"))
    statement["Condition"]["StringLike"] = {key: "system:serviceaccount:*:*"}
    del equals[key]


def _drop_tag(tag):
    def change(statement):
        del statement["Condition"]["StringEquals"][f"aws:RequestTag/{tag}"]
    return change


def _tag_as_pattern(tag, operator, value):
    def change(statement):
        key = f"aws:RequestTag/{tag}"
        del statement["Condition"]["StringEquals"][key]
        statement["Condition"].setdefault(operator, {})[key] = value
    return change


def _second_tag_value(tag, value):
    def change(statement):
        key = f"aws:RequestTag/{tag}"
        equals = statement["Condition"]["StringEquals"]
        equals[key] = [equals[key], value]
    return change


def _add_service(statement):
    statement["Principal"]["Service"] = ["pods.eks.amazonaws.com", "ec2.amazonaws.com"]


def _any_principal(statement):
    statement["Principal"] = "*"


def _extra_action(statement):
    statement["Action"] = ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]


def m_limit_removed(container="hermes"):
    def mutate(p):
        del _container(p, container)["resources"]["limits"]["memory"]
    return mutate


def m_probe_removed(probe):
    def mutate(p):
        del _container(p)[probe]
    return mutate


def m_env(name, value, container="hermes"):
    def mutate(p):
        _container(p, container)["env"].append({"name": name, "value": value})
    return mutate


def m_set(key, value):
    def mutate(p):
        p[key] = value
    return mutate


# (policy, stack, type, resource name or None, mutation, protect override, config overrides, expected text)
NEGATIVE = [
    ("dashboard-not-internet-facing", "local", SERVICE, "hermes-dashboard", m_service_type("LoadBalancer"), None, {}, "LoadBalancer"),
    ("dashboard-not-internet-facing", "prod", SERVICE, "hermes-api", m_service_type("NodePort"), None, {}, "NodePort"),
    ("dashboard-not-internet-facing", "prod", INGRESS, None, m_annotation(hp.ALB_SCHEME, "internet-facing"), None, {}, "internet-facing ALB"),
    ("dashboard-not-internet-facing", "prod", INGRESS, None, m_ingress_class("nginx"), None, {}, "'nginx'"),
    ("tls-modern-policy", "prod", INGRESS, None, m_annotation(hp.ALB_SSL_POLICY, "ELBSecurityPolicy-2016-08"), None, {}, "ELBSecurityPolicy-2016-08"),
    ("tls-modern-policy", "prod", INGRESS, None, m_annotation(hp.ALB_SSL_POLICY, None), None, {}, "None"),
    ("tls-modern-policy", "dev", "kubernetes:helm.sh/v3:Release", None, m_helm_default_ssl(None), None, {}, "defaultSSLPolicy"),
    ("tls-modern-policy", "prod", "kubernetes:helm.sh/v3:Release", None, m_helm_default_ssl("ELBSecurityPolicy-TLS-1-1-2017-01"), None, {}, "TLS-1-1"),
    ("eks-endpoint-restricted", "prod", "eks:index:Cluster", None, m_cidrs(["0.0.0.0/0"]), None, {}, "0.0.0.0/0"),
    ("eks-endpoint-restricted", "prod", "eks:index:Cluster", None, m_cidrs(["203.0.113.0/24", "::/0"]), None, {}, "::/0"),
    ("eks-endpoint-restricted", "prod", "eks:index:Cluster", None, m_cidrs(None), None, {}, "default"),
    ("image-from-stack-ecr", "prod", DEPLOYMENT, None, m_image("docker.io/nousresearch/hermes-agent:v2026.7.20@sha256:" + "ab" * 32), None, {}, "not an ECR image"),
    ("image-from-stack-ecr", "prod", DEPLOYMENT, None, m_image("123456789012.dkr.ecr.eu-central-1.amazonaws.com/hermes-eks/prod/hermes-agent:latest"), None, {}, "not an ECR image"),
    ("image-from-stack-ecr", "prod", DEPLOYMENT, None, m_image("123456789012.dkr.ecr.eu-central-1.amazonaws.com/hermes-eks/dev/hermes-agent@sha256:" + "ab" * 32), None, {}, "'hermes-eks/dev/hermes-agent'"),
    ("image-from-stack-ecr", "prod", DEPLOYMENT, None, m_image("busybox:1.37", container="configure"), None, {}, "initContainer 'configure'"),
    ("iam-no-wildcard-actions", "dev", ROLE_POLICY, "hermes-bedrock-invoke", m_policy_action("bedrock:Invoke", ["bedrock:*"]), None, {}, "'bedrock:*'"),
    ("iam-no-wildcard-actions", "prod", "aws:iam/policy:Policy", None, m_policy_action("ec2:Describe", ["ec2:Describe*"]), None, {}, "'ec2:Describe*'"),
    ("iam-no-wildcard-actions", "prod", ROLE_POLICY, "hermes-bedrock-invoke", m_not_action("bedrock:Invoke"), None, {}, "NotAction"),
    ("bedrock-invoke-scoped", "prod", ROLE_POLICY, "hermes-bedrock-invoke", m_policy_resource("bedrock:Invoke", "*"), None, {}, "'*'"),
    ("bedrock-invoke-scoped", "dev", ROLE_POLICY, "hermes-bedrock-invoke", m_policy_resource("bedrock:Invoke", ["arn:aws:bedrock:eu-central-1::foundation-model/*"]), None, {}, "foundation-model/*"),
    ("workload-trust-scoped", "dev", ROLE, "hermes-bedrock", m_trust(_drop_condition(":aud")), None, {}, ":aud"),
    ("workload-trust-scoped", "dev", ROLE, "hermes-bedrock", m_trust(_drop_condition(":sub")), None, {}, ":sub"),
    ("workload-trust-scoped", "dev", ROLE, "hermes-addons-ebs-csi", m_trust(_wildcard_subject), None, {}, ":sub"),
    ("workload-trust-scoped", "prod", ROLE, "hermes-bedrock", m_trust(_add_service), None, {}, "ec2.amazonaws.com"),
    ("workload-trust-scoped", "prod", ROLE, "hermes-bedrock", m_trust(_extra_action), None, {}, "sts:SetSourceIdentity"),
    ("workload-trust-scoped", "prod", ROLE, "hermes-nodes", m_trust(_any_principal), None, {}, "Principal *"),
    ("workload-trust-scoped", "prod", ROLE, "hermes-bedrock", m_trust(_drop_tag("kubernetes-namespace")), None, {}, "aws:RequestTag/kubernetes-namespace"),
    ("workload-trust-scoped", "prod", ROLE, "hermes-bedrock", m_trust(_drop_tag("kubernetes-service-account")), None, {}, "aws:RequestTag/kubernetes-service-account"),
    ("workload-trust-scoped", "prod", ROLE, "hermes-addons-ebs-csi", m_trust(_drop_tag("eks-cluster-arn")), None, {}, "aws:RequestTag/eks-cluster-arn"),
    ("workload-trust-scoped", "prod", ROLE, "hermes-cloudwatch-agent", m_trust(lambda s: s.pop("Condition")), None, {}, "aws:RequestTag/kubernetes-namespace"),
    ("workload-trust-scoped", "prod", ROLE, "hermes-bedrock", m_trust(_tag_as_pattern("kubernetes-service-account", "StringLike", "*")), None, {}, "aws:RequestTag/kubernetes-service-account"),
    ("workload-trust-scoped", "prod", ROLE, "hermes-bedrock", m_trust(_tag_as_pattern("kubernetes-namespace", "StringEquals", "herm*")), None, {}, "'herm*'"),
    ("workload-trust-scoped", "prod", ROLE, "hermes-addons-load-balancer-controller", m_trust(_second_tag_value("kubernetes-namespace", "default")), None, {}, "'default'"),
    ("containers-have-memory-limits-and-probes", "local", DEPLOYMENT, None, m_limit_removed(), None, {}, "no memory limit"),
    ("containers-have-memory-limits-and-probes", "prod", DEPLOYMENT, None, m_limit_removed("configure"), None, {}, "initContainer 'configure'"),
    ("containers-have-memory-limits-and-probes", "prod", DEPLOYMENT, None, m_probe_removed("readinessProbe"), None, {}, "readinessProbe"),
    ("containers-have-memory-limits-and-probes", "prod", DEPLOYMENT, None, m_probe_removed("livenessProbe"), None, {}, "livenessProbe"),
    ("no-plain-secret-env", "prod", DEPLOYMENT, None, m_env("OPENROUTER_API_KEY", "sk-or-v1-0123456789abcdef0123"), None, {}, "OPENROUTER_API_KEY"),
    ("no-plain-secret-env", "local", DEPLOYMENT, None, m_env("HERMES_DASHBOARD_BASIC_AUTH_PASSWORD", "hunter2"), None, {}, "PASSWORD"),
    ("no-plain-secret-env", "prod", DEPLOYMENT, None, m_env("EXTRA", "AKIAIOSFODNN7EXAMPLE", container="configure"), None, {}, "EXTRA"),
    ("stateful-resources-protected", "prod", "kubernetes:core/v1:PersistentVolumeClaim", None, None, False, {}, "not protected"),
    ("stateful-resources-protected", "prod", "kubernetes:core/v1:Namespace", None, None, False, {}, "not protected"),
    ("stateful-resources-protected", "prod", "eks:index:Cluster", None, None, False, {}, "not protected"),
    ("stateful-resources-protected", "prod", "awsx:ec2:Vpc", None, None, False, {}, "not protected"),
    ("stateful-resources-protected", "prod", "aws:ecr/repository:Repository", None, None, False, {}, "not protected"),
    ("stateful-resources-protected", "prod", "aws:ecr/repository:Repository", None, m_set("forceDelete", True), None, {}, "forceDelete"),
    ("stateful-resources-protected", "prod", "eks:index:Cluster", None, m_set("deletionProtection", False), None, {}, "deletionProtection"),
]


def _case_id(case) -> str:
    policy, stack, type_, name, _, protect, _, expected = case
    return f"{policy}-{stack}-{type_.rsplit(':', 1)[-1]}-{name or ''}-{expected}"


@pytest.mark.parametrize("case", NEGATIVE, ids=_case_id)
def test_a_mutated_registration_is_reported(case):
    policy_name, stack, type_, name, mutate, protect, overrides, expected = case
    policy = BY_NAME[policy_name]
    registered = _find(stack, type_, name)
    props = copy.deepcopy(registered.plain)
    if mutate is not None:
        mutate(props)
    # With the engine's defaults filled in, and with the bare stack file (the code's own defaults).
    for config in (engine_config(policy, stack, **overrides), {**stack_config(stack).get(policy_name, {}), **overrides}):
        violations = run_policy(policy, resource_args(registered, config, props=props, protect=protect))
        assert any(expected in v for v in violations), violations
    # The same resource unmutated passes: the mutation, nothing else, is what the rule caught.
    assert run_policy(policy, resource_args(registered, engine_config(policy, stack))) == []


def _synthetic(type_: str, name: str, props: dict) -> Registered:
    return Registered(type=type_, name=name, inputs=props, outputs=props, urn=f"urn:pulumi:prod::hermes-eks::{type_}::{name}")


SYNTHETIC = [
    # Resources the program does not register today, so a later change cannot slip past the rule.
    ("dashboard-not-internet-facing", _synthetic("aws:lb/loadBalancer:LoadBalancer", "public", {"internal": False, "loadBalancerType": "application"}), "internet-facing"),
    ("tls-modern-policy", _synthetic("aws:lb/listener:Listener", "https", {"protocol": "HTTPS", "sslPolicy": "ELBSecurityPolicy-2016-08"}), "ELBSecurityPolicy-2016-08"),
    ("eks-endpoint-restricted", _synthetic("aws:eks/cluster:Cluster", "hermes-eks-eksCluster", {"vpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]}}), "0.0.0.0/0"),
    ("workload-trust-scoped", _synthetic(ROLE, "github-deploy", {"assumeRolePolicy": json.dumps({"Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
        "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"},
        "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}}}]})}),
     "token.actions.githubusercontent.com:sub"),
    ("workload-trust-scoped", _synthetic(ROLE, "pulumi-deploy", {"assumeRolePolicy": json.dumps({"Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
        "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/api.pulumi.com/oidc"},
        "Condition": {"StringEquals": {"api.pulumi.com/oidc:aud": "acme"},
                      "StringLike": {"api.pulumi.com/oidc:sub": "*"}}}]})}),
     "api.pulumi.com/oidc:sub"),
    ("iam-no-wildcard-actions", _synthetic(ROLE, "inline", {"assumeRolePolicy": "{}", "inlinePolicies": [{"name": "x", "policy": json.dumps({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})}]}), "'*'"),
]


@pytest.mark.parametrize("case", SYNTHETIC, ids=[f"{c[0]}-{c[1].type}-{c[1].name}" for c in SYNTHETIC])
def test_a_resource_the_program_may_add_later_is_reported(case):
    policy_name, registered, expected = case
    policy = BY_NAME[policy_name]
    violations = run_policy(policy, resource_args(registered, engine_config(policy, "prod")))
    assert any(expected in v for v in violations), violations


def test_exceptions_in_policy_config_silence_exactly_their_rule():
    ingress = _find("prod", INGRESS)
    internet = copy.deepcopy(ingress.plain)
    m_annotation(hp.ALB_SCHEME, "internet-facing")(internet)
    policy = BY_NAME["dashboard-not-internet-facing"]
    assert run_policy(policy, resource_args(ingress, engine_config(policy, allowInternetFacing=True), props=internet)) == []
    nginx = copy.deepcopy(ingress.plain)
    m_ingress_class("nginx")(nginx)
    assert run_policy(policy, resource_args(ingress, engine_config(policy, internalIngressClasses=["nginx"]), props=nginx)) == []

    deployment = _find("prod", DEPLOYMENT)
    props = copy.deepcopy(deployment.plain)
    m_env("SIGNING_KEY_ID", "kid-2026")(props)
    policy = BY_NAME["no-plain-secret-env"]
    assert run_policy(policy, resource_args(deployment, engine_config(policy), props=props))
    assert run_policy(policy, resource_args(deployment, engine_config(policy, allowedPlainEnvNames=["SIGNING_KEY_ID"]), props=props)) == []

    cluster = _find("prod", "eks:index:Cluster")
    open_props = copy.deepcopy(cluster.plain)
    m_cidrs(["0.0.0.0/0"])(open_props)
    policy = BY_NAME["eks-endpoint-restricted"]
    assert run_policy(policy, resource_args(cluster, engine_config(policy, "dev"), props=open_props)) == []


def _stack_with(stack: str, type_: str, mutate, name: str | None = None):
    program = stack_program(stack)
    target = program.one(type_, name)
    outputs = copy.deepcopy(reveal(target.outputs))
    mutate(outputs)
    return program.resources, {target.urn: outputs}, target


def test_a_pod_identity_role_trusting_more_than_eks_pods_is_reported_at_its_binding():
    resources, outputs, _ = _stack_with("prod", ROLE, m_trust(lambda s: s["Principal"].update(AWS="arn:aws:iam::123456789012:root")), "hermes-bedrock")
    policy = BY_NAME["pod-identity-roles-trust-only-eks-pods"]
    violations = run_policy(policy, stack_args(resources, engine_config(policy, "prod"), outputs))
    assert any("hermes-bedrock" in v and "pods.eks.amazonaws.com" in v for v in violations), violations

    resources, outputs, _ = _stack_with("prod", ROLE, m_trust(lambda s: s["Principal"].update(Service="ec2.amazonaws.com")), "hermes-addons-ebs-csi")
    violations = run_policy(policy, stack_args(resources, engine_config(policy, "prod"), outputs))
    assert any("hermes-addons-ebs-csi" in v for v in violations), violations


@pytest.mark.parametrize(("role", "tag", "value"), [
    ("hermes-bedrock", "kubernetes-namespace", "default"),
    ("hermes-bedrock", "kubernetes-service-account", "default"),
    ("hermes-bedrock", "eks-cluster-arn", "arn:aws:eks:eu-central-1:210987654321:cluster/hermes-dev"),
    ("hermes-addons-ebs-csi", "kubernetes-namespace", "hermes"),
    ("hermes-addons-ebs-csi", "kubernetes-service-account", "ebs-csi-node-sa"),
    ("hermes-cloudwatch-agent", "kubernetes-namespace", "kube-system"),
    ("hermes-addons-load-balancer-controller", "kubernetes-service-account", "hermes"),
])
def test_a_pod_identity_role_admitting_another_workload_than_its_binding_is_reported(role, tag, value):
    """The trust names one workload, but not the one its association or add-on binds it to."""
    def admit_other(props):
        m_trust(lambda s: s["Condition"]["StringEquals"].update({f"aws:RequestTag/{tag}": value}))(props)

    resources, outputs, _ = _stack_with("prod", ROLE, admit_other, role)
    policy = BY_NAME["pod-identity-roles-trust-only-eks-pods"]
    violations = run_policy(policy, stack_args(resources, engine_config(policy, "prod"), outputs))
    assert any(role in v and repr(value.rpartition("/")[2]) in v for v in violations), violations


def test_a_volume_whose_disk_is_deleted_with_its_claim_is_reported_in_prod():
    def delete(props):
        props["reclaimPolicy"] = "Delete"

    resources, outputs, _ = _stack_with("prod", "kubernetes:storage.k8s.io/v1:StorageClass", delete)
    policy = BY_NAME["hermes-volume-retained"]
    violations = run_policy(policy, stack_args(resources, engine_config(policy, "prod"), outputs))
    assert any("hermes-data" in v and "Delete" in v for v in violations), violations
    # dev's policy config accepts it (its volume may be lost), and says so explicitly.
    assert run_policy(policy, stack_args(resources, engine_config(policy, "dev"), outputs)) == []


def test_every_rule_has_a_negative_case():
    covered = {case[0] for case in NEGATIVE} | {case[0] for case in SYNTHETIC}
    covered |= {"pod-identity-roles-trust-only-eks-pods", "hermes-volume-retained"}  # the two stack tests above
    assert covered == set(BY_NAME)
    assert {p.name for p in hp.POLICIES if isinstance(p, ResourceValidationPolicy)} <= {case[0] for case in NEGATIVE}


def test_a_scoped_github_or_pulumi_cloud_trust_passes():
    policy = BY_NAME["workload-trust-scoped"]
    for issuer, sub in (("token.actions.githubusercontent.com", "repo:acme/hermes-eks:environment:prod"),
                        ("api.pulumi.com/oidc", "pulumi:deploy:org:acme:project:hermes-eks:stack:prod:operation:update:scope:write")):
        role = _synthetic(ROLE, "scoped", {"assumeRolePolicy": json.dumps({"Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
            "Principal": {"Federated": f"arn:aws:iam::123456789012:oidc-provider/{issuer}"},
            "Condition": {"StringEquals": {f"{issuer}:aud": "sts.amazonaws.com", f"{issuer}:sub": sub}}}]})})
        assert run_policy(policy, resource_args(role, engine_config(policy, "prod"))) == []
