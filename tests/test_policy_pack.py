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


def test_an_adopted_pod_identity_cluster_passes_the_trust_rules():
    """The adopted cluster's ARN (aws.eks.get_cluster) is what the Pod Identity trusts name."""
    program = run_program("dev", {"clusterSource": "existing", "existingClusterName": "platform-dev",
                                  "podIdentityMode": "pod-identity",
                                  "existingClusterAddons": ["ebs-csi-driver", "pod-identity-agent", "load-balancer-controller"]})
    assert program.error is None
    assert len(program.of_type("aws:iam/role:Role")) >= 3
    for name in ("workload-trust-scoped", "pod-identity-roles-trust-only-eks-pods"):
        assert resource_violations(BY_NAME[name], program, "dev") == [], name


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

    program = stack_program("prod")
    deployment = program.one("kubernetes:apps/v1:Deployment")
    props = copy.deepcopy(reveal(deployment.outputs))
    props["spec"]["template"]["spec"]["containers"][0]["image"] = UNKNOWN_STRING_VALUE
    policy = BY_NAME["image-from-stack-ecr"]
    with pytest.raises(UnknownValueError):
        run_policy(policy, resource_args(deployment, engine_config(policy, "prod"), props=props))
    policy = BY_NAME["image-from-own-ecr-repository"]
    with pytest.raises(UnknownValueError):
        run_policy(policy, stack_args(program.resources, engine_config(policy, "prod"), {deployment.urn: props}))


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


def m_not_resource(prefix):
    def mutate(p):
        document = _doc(p, "policy")
        statement = _statement_with(document, prefix)
        statement["NotResource"] = statement.pop("Resource")
        _set_doc(p, "policy", document)
    return mutate


def m_policy_action_resource(prefix, actions, resources):
    def mutate(p):
        document = _doc(p, "policy")
        statement = _statement_with(document, prefix)
        statement["Action"], statement["Resource"] = actions, resources
        statement.pop("Condition", None)
        _set_doc(p, "policy", document)
    return mutate


def m_not_action_resource(prefix, not_actions, resources):
    def mutate(p):
        document = _doc(p, "policy")
        statement = _statement_with(document, prefix)
        del statement["Action"]
        statement["NotAction"], statement["Resource"] = not_actions, resources
        _set_doc(p, "policy", document)
    return mutate


def m_env_from_config_map(name):
    def mutate(p):
        _container(p)["env"].append({"name": name, "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "k"}}})
    return mutate


def m_container_field(container, field, value):
    def mutate(p):
        _container(p, container)[field] = value
    return mutate


def m_pod_annotation(key, value):
    def mutate(p):
        p["spec"]["template"]["metadata"].setdefault("annotations", {})[key] = value
    return mutate


def m_pod(field, value):
    def mutate(p):
        _pod(p)[field] = value
    return mutate


def m_pod_security(field, value):
    def mutate(p):
        _pod(p).setdefault("securityContext", {})[field] = value
    return mutate


def m_security(container, field, value):
    def mutate(p):
        context = _container(p, container)["securityContext"]
        if value is None:
            context.pop(field)
        else:
            context[field] = value
    return mutate


def m_add_capabilities(container, *capabilities):
    def mutate(p):
        _container(p, container)["securityContext"]["capabilities"].setdefault("add", []).extend(capabilities)
    return mutate


def m_host_port(container, port):
    def mutate(p):
        _container(p, container).setdefault("ports", []).append({"containerPort": port, "hostPort": port})
    return mutate


def m_host_path(p):
    _pod(p)["volumes"].append({"name": "host", "hostPath": {"path": "/var/run"}})


def m_path(value, *path):
    def mutate(p):
        target = p
        for key in path[:-1]:
            target = target[key]
        if value is None:
            target.pop(path[-1])
        else:
            target[path[-1]] = value
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
    ("eks-endpoint-restricted", "prod", "eks:index:Cluster", None, m_cidrs(None), None, {}, "no CIDRs"),
    # The internet in pieces, and ranges wider than any egress range.
    ("eks-endpoint-restricted", "prod", "eks:index:Cluster", None, m_cidrs(["0.0.0.0/1", "128.0.0.0/1"]), None, {}, "100.0% of the space"),
    ("eks-endpoint-restricted", "prod", "eks:index:Cluster", None, m_cidrs(["1.2.3.4/0"]), None, {}, "100.0% of the space"),
    ("eks-endpoint-restricted", "prod", "eks:index:Cluster", None, m_cidrs(["10.0.0.0/7"]), None, {}, "more than one /8"),
    ("eks-endpoint-restricted", "prod", "eks:index:Cluster", None, m_cidrs(["10.0.0.0/8", "11.0.0.0/9", "12.0.0.0/9"]), None, {}, "more than one /8"),
    ("eks-endpoint-restricted", "prod", "eks:index:Cluster", None, m_cidrs(["2001:db8::/31"]), None, {}, "more than one /32"),
    ("eks-endpoint-restricted", "prod", "eks:index:Cluster", None, m_cidrs(["203.0.113.0/24", "internet"]), None, {}, "not a CIDR"),
    # IPv4-mapped IPv6 ranges are IPv4 addresses: the IPv4 internet written as IPv6.
    ("eks-endpoint-restricted", "prod", "eks:index:Cluster", None, m_cidrs(["::ffff:0:0/96"]), None, {}, "more than one /8"),
    ("eks-endpoint-restricted", "prod", "eks:index:Cluster", None, m_cidrs(["10.0.0.0/8", "::ffff:b00:0/104"]), None, {}, "more than one /8"),
    ("eks-endpoint-restricted", "prod", "eks:index:Cluster", None, m_cidrs(["::/64"]), None, {}, "more than one /8"),
    ("image-from-stack-ecr", "prod", DEPLOYMENT, None, m_image("docker.io/nousresearch/hermes-agent:v2026.7.20@sha256:" + "ab" * 32), None, {}, "not an ECR image"),
    ("image-from-stack-ecr", "prod", DEPLOYMENT, None, m_image("123456789012.dkr.ecr.eu-central-1.amazonaws.com/hermes-eks/prod/hermes-agent:latest"), None, {}, "not an ECR image"),
    ("image-from-stack-ecr", "prod", DEPLOYMENT, None, m_image("123456789012.dkr.ecr.eu-central-1.amazonaws.com/hermes-eks/prod/hermes-agent:v1@sha256:" + "ab" * 32), None, {}, "not an ECR image"),
    ("image-from-stack-ecr", "prod", DEPLOYMENT, None, m_image("123456789012.dkr.ecr.eu-central-1.amazonaws.com.evil.example/hermes-eks/prod/hermes-agent@sha256:" + "ab" * 32), None, {}, "not an ECR image"),
    ("image-from-stack-ecr", "prod", DEPLOYMENT, None, m_image("123456789012.dkr.ecr.eu-central-1.amazonaws.com/hermes-eks/dev/hermes-agent@sha256:" + "ab" * 32), None, {}, "'hermes-eks/dev/hermes-agent'"),
    ("image-from-stack-ecr", "prod", DEPLOYMENT, None, m_image("busybox:1.37", container="configure"), None, {}, "initContainer 'configure'"),
    ("iam-no-wildcard-actions", "dev", ROLE_POLICY, "hermes-bedrock-invoke", m_policy_action("bedrock:Invoke", ["bedrock:*"]), None, {}, "'bedrock:*'"),
    ("iam-no-wildcard-actions", "prod", "aws:iam/policy:Policy", None, m_policy_action("ec2:Describe", ["ec2:Describe*"]), None, {}, "'ec2:Describe*'"),
    ("iam-no-wildcard-actions", "prod", ROLE_POLICY, "hermes-bedrock-invoke", m_not_action("bedrock:Invoke"), None, {}, "NotAction"),
    ("iam-no-wildcard-actions", "prod", "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "hermes-addons-ebs-csi", m_set("policyArn", "arn:aws:iam::aws:policy/AdministratorAccess"), None, {}, "AdministratorAccess"),
    ("iam-no-wildcard-actions", "dev", "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "hermes-cloudwatch-agent", m_set("policyArn", "arn:aws-cn:iam::aws:policy/PowerUserAccess"), None, {}, "PowerUserAccess"),
    ("iam-no-wildcard-actions", "prod", ROLE, "hermes-bedrock", m_set("managedPolicyArns", ["arn:aws:iam::aws:policy/AmazonBedrockFullAccess"]), None, {}, "AmazonBedrockFullAccess"),
    ("iam-no-wildcard-actions", "prod", ROLE_POLICY, "hermes-bedrock-invoke", m_policy_action("bedrock:Invoke", ["bedrock:InvokeModel?"]), None, {}, "'bedrock:InvokeModel?'"),
    ("bedrock-invoke-scoped", "prod", ROLE_POLICY, "hermes-bedrock-invoke", m_policy_resource("bedrock:Invoke", "*"), None, {}, "'*'"),
    ("bedrock-invoke-scoped", "dev", ROLE_POLICY, "hermes-bedrock-invoke", m_policy_resource("bedrock:Invoke", ["arn:aws:bedrock:eu-central-1::foundation-model/*"]), None, {}, "foundation-model/*"),
    # A wildcard anywhere inside an ARN, not only at its end.
    ("bedrock-invoke-scoped", "prod", ROLE_POLICY, "hermes-bedrock-invoke", m_policy_resource("bedrock:Invoke", ["arn:aws:bedrock:*::foundation-model/anthropic.claude-sonnet-4-6"]), None, {}, "bedrock:*::"),
    ("bedrock-invoke-scoped", "prod", ROLE_POLICY, "hermes-bedrock-invoke", m_policy_resource("bedrock:Invoke", ["arn:aws:bedrock:eu-central-1::foundation-model/anthropic.*"]), None, {}, "anthropic.*"),
    ("bedrock-invoke-scoped", "prod", ROLE_POLICY, "hermes-bedrock-invoke", m_policy_resource("bedrock:Invoke", ["arn:aws:bedrock:eu-central-1:*:inference-profile/eu.anthropic.claude-sonnet-4-6"]), None, {}, ":*:inference-profile"),
    ("bedrock-invoke-scoped", "prod", ROLE_POLICY, "hermes-bedrock-invoke", m_policy_resource("bedrock:Invoke", ["arn:aws:bedrock:eu-central-1:210987654321:inference-profile/eu.anthropic.claude-sonnet-4-?"]), None, {}, "4-?"),
    ("bedrock-invoke-scoped", "prod", ROLE_POLICY, "hermes-bedrock-invoke", m_policy_resource("bedrock:Invoke", ["arn:aws:bedrock:eu-central-1:210987654321:*"]), None, {}, "210987654321:*"),
    ("bedrock-invoke-scoped", "prod", ROLE_POLICY, "hermes-bedrock-invoke", m_policy_resource("bedrock:Invoke", ["arn:aws:bedrock:eu-central-1::foundation-model/${aws:PrincipalTag/model}"]), None, {}, "PrincipalTag"),
    ("bedrock-invoke-scoped", "prod", ROLE_POLICY, "hermes-bedrock-invoke", m_policy_resource("bedrock:Invoke", ["arn:aws:s3:::bucket"]), None, {}, "arn:aws:s3:::bucket"),
    ("bedrock-invoke-scoped", "prod", ROLE_POLICY, "hermes-bedrock-invoke", m_not_resource("bedrock:Invoke"), None, {}, "NotResource"),
    # Action patterns that grant invoke without naming it.
    ("bedrock-invoke-scoped", "prod", ROLE_POLICY, "hermes-volume-metrics", m_policy_action_resource("cloudwatch:", ["bedrock:Invoke*"], "*"), None, {}, "'*'"),
    ("bedrock-invoke-scoped", "prod", ROLE_POLICY, "hermes-volume-metrics", m_policy_action_resource("cloudwatch:", ["BEDROCK:invokemodel"], "*"), None, {}, "'*'"),
    ("bedrock-invoke-scoped", "prod", ROLE_POLICY, "hermes-volume-metrics", m_policy_action_resource("cloudwatch:", ["*"], "*"), None, {}, "'*'"),
    ("bedrock-invoke-scoped", "prod", ROLE_POLICY, "hermes-volume-metrics", m_not_action_resource("cloudwatch:", ["s3:*"], "*"), None, {}, "'*'"),
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
    ("containers-have-memory-limits-and-probes", "prod", DEPLOYMENT, None, m_limit_removed("volume-metrics"), None, {}, "container 'volume-metrics'"),
    ("containers-have-memory-limits-and-probes", "prod", DEPLOYMENT, None, m_limit_removed("volume-owner"), None, {}, "initContainer 'volume-owner'"),
    ("no-plain-credentials", "prod", DEPLOYMENT, None, m_env("OPENROUTER_API_KEY", "sk-or-v1-0123456789abcdef0123"), None, {}, "OPENROUTER_API_KEY"),
    ("no-plain-credentials", "local", DEPLOYMENT, None, m_env("HERMES_DASHBOARD_BASIC_AUTH_PASSWORD", "hunter2"), None, {}, "PASSWORD"),
    ("no-plain-credentials", "prod", DEPLOYMENT, None, m_env("EXTRA", "AKIAIOSFODNN7EXAMPLE", container="configure"), None, {}, "initContainers[1].env"),
    # Credential names in any case and spelling: camelCase, lower snake, words glued together.
    ("no-plain-credentials", "prod", DEPLOYMENT, None, m_env("slack_token", "not-a-known-token-format"), None, {}, "sets slack_token as a plain value"),
    ("no-plain-credentials", "prod", DEPLOYMENT, None, m_env("apiKey", "0123456789"), None, {}, "sets apiKey as a plain value"),
    ("no-plain-credentials", "prod", DEPLOYMENT, None, m_env("OPENAI_APIKEY", "0123456789"), None, {}, "sets OPENAI_APIKEY as a plain value"),
    ("no-plain-credentials", "dev", DEPLOYMENT, None, m_env("DBPASSWORD", "hunter2", container="configure"), None, {}, "sets DBPASSWORD as a plain value"),
    ("no-plain-credentials", "prod", DEPLOYMENT, None, m_env("AWS_ACCESSKEY", "0123456789"), None, {}, "sets AWS_ACCESSKEY as a plain value"),
    # A password inside a URL, whatever the variable or field is called.
    ("no-plain-credentials", "prod", DEPLOYMENT, None, m_env("DATABASE_URL", "postgres://user:Sup3rS3cretPw@db.example:5432/hermes"), None, {}, "holds what looks like a credential"),
    ("no-plain-credentials", "prod", DEPLOYMENT, None, m_container_field("hermes", "args", ["--upstream", "https://user:pass@proxy.example/"]), None, {}, "args[1] holds what looks like a credential"),
    # Credentials outside env values.
    ("no-plain-credentials", "prod", DEPLOYMENT, None, m_env_from_config_map("OPENAI_API_KEY"), None, {}, "from a ConfigMap"),
    ("no-plain-credentials", "prod", DEPLOYMENT, None, m_container_field("hermes", "args", ["--api-key=0123456789abcdef"]), None, {}, "api-key=..."),
    ("no-plain-credentials", "prod", DEPLOYMENT, None, m_container_field("volume-owner", "command", ["/bin/sh", "-c", "curl -H 'token: abcdef0123456789' x"]), None, {}, "token=..."),
    ("no-plain-credentials", "prod", DEPLOYMENT, None, m_container_field("configure", "args", ["ghp_" + "a" * 36]), None, {}, "initContainers[1].args[0]"),
    ("no-plain-credentials", "prod", DEPLOYMENT, None, m_pod_annotation("example.com/db", "password=correct-horse"), None, {}, "password=..."),
    ("no-plain-credentials", "prod", DEPLOYMENT, None, m_pod_annotation("example.com/key", "-----BEGIN RSA PRIVATE KEY-----"), None, {}, "annotations"),
    ("stateful-resources-protected", "prod", "kubernetes:core/v1:PersistentVolumeClaim", None, None, False, {}, "not protected"),
    ("stateful-resources-protected", "prod", "kubernetes:core/v1:Namespace", None, None, False, {}, "not protected"),
    ("stateful-resources-protected", "prod", "eks:index:Cluster", None, None, False, {}, "not protected"),
    ("stateful-resources-protected", "prod", "awsx:ec2:Vpc", None, None, False, {}, "not protected"),
    ("stateful-resources-protected", "prod", "aws:ecr/repository:Repository", None, None, False, {}, "not protected"),
    ("stateful-resources-protected", "prod", "aws:ecr/repository:Repository", None, m_set("forceDelete", True), None, {}, "forceDelete"),
    ("stateful-resources-protected", "prod", "eks:index:Cluster", None, m_set("deletionProtection", False), None, {}, "deletionProtection"),
    ("stateful-resources-protected", "prod", "aws:backup/vault:Vault", "hermes-backups", None, False, {}, "not protected"),
    ("stateful-resources-protected", "prod", "aws:backup/vault:Vault", "hermes-backups-copy", None, False, {}, "not protected"),
    ("stateful-resources-protected", "prod", "aws:backup/vault:Vault", "hermes-backups", m_set("forceDestroy", True), None, {}, "forceDestroy"),
    ("pod-security-baseline", "prod", DEPLOYMENT, None, m_security("hermes", "privileged", True), None, {}, "'hermes' is privileged"),
    ("pod-security-baseline", "prod", DEPLOYMENT, None, m_security("configure", "allowPrivilegeEscalation", True), None, {}, "'configure' does not set allowPrivilegeEscalation"),
    ("pod-security-baseline", "local", DEPLOYMENT, None, m_security("volume-owner", "allowPrivilegeEscalation", None), None, {}, "'volume-owner' does not set allowPrivilegeEscalation"),
    ("pod-security-baseline", "prod", DEPLOYMENT, None, m_pod("hostNetwork", True), None, {}, "hostNetwork"),
    ("pod-security-baseline", "prod", DEPLOYMENT, None, m_pod("hostPID", True), None, {}, "hostPID"),
    ("pod-security-baseline", "prod", DEPLOYMENT, None, m_pod("hostIPC", True), None, {}, "hostIPC"),
    ("pod-security-baseline", "prod", DEPLOYMENT, None, m_host_path, None, {}, "hostPath"),
    ("pod-security-baseline", "prod", DEPLOYMENT, None, m_host_port("hermes", 8642), None, {}, "hostPort 8642"),
    ("pod-security-baseline", "prod", DEPLOYMENT, None, m_add_capabilities("hermes", "SYS_ADMIN"), None, {}, "['SYS_ADMIN']"),
    ("pod-security-baseline", "prod", DEPLOYMENT, None, m_add_capabilities("hermes", "CAP_NET_RAW"), None, {}, "['NET_RAW']"),
    # Each container's exception is its own: volume-owner may not add what only hermes may.
    ("pod-security-baseline", "prod", DEPLOYMENT, None, m_add_capabilities("volume-owner", "SETUID"), None, {}, "'volume-owner' adds capabilities ['SETUID']"),
    ("pod-security-baseline", "prod", DEPLOYMENT, None, m_add_capabilities("configure", "CHOWN"), None, {}, "'configure' adds capabilities ['CHOWN']"),
    ("pod-security-baseline", "prod", DEPLOYMENT, None, m_add_capabilities("volume-metrics", "KILL"), None, {}, "'volume-metrics' adds"),
    ("pod-security-baseline", "prod", DEPLOYMENT, None, m_security("hermes", "seccompProfile", {"type": "Unconfined"}), None, {}, "Unconfined"),
    ("pod-security-baseline", "prod", DEPLOYMENT, None, m_security("hermes", "procMount", "Unmasked"), None, {}, "procMount Unmasked"),
    # Sysctls, SELinux and AppArmor outside the baseline (kubernetes.io Pod Security Standards).
    ("pod-security-baseline", "prod", DEPLOYMENT, None, m_pod_security("sysctls", [{"name": "kernel.msgmax", "value": "65536"}]), None, {}, "sysctl 'kernel.msgmax'"),
    ("pod-security-baseline", "dev", DEPLOYMENT, None, m_pod_security("sysctls", [{"name": "net.ipv4.tcp_syncookies", "value": "1"}, {"name": "net.core.somaxconn", "value": "1024"}]), None, {}, "sysctl 'net.core.somaxconn'"),
    ("pod-security-baseline", "prod", DEPLOYMENT, None, m_security("hermes", "seLinuxOptions", {"type": "spc_t"}), None, {}, "seLinuxOptions type 'spc_t'"),
    ("pod-security-baseline", "prod", DEPLOYMENT, None, m_security("configure", "seLinuxOptions", {"type": "container_t", "user": "system_u"}), None, {}, "seLinuxOptions user 'system_u'"),
    ("pod-security-baseline", "prod", DEPLOYMENT, None, m_pod_security("seLinuxOptions", {"role": "sysadm_r"}), None, {}, "the pod sets seLinuxOptions role"),
    ("pod-security-baseline", "prod", DEPLOYMENT, None, m_pod_annotation("container.apparmor.security.beta.kubernetes.io/hermes", "unconfined"), None, {}, "AppArmor profile 'unconfined'"),
    ("pod-security-baseline", "prod", DEPLOYMENT, None, m_security("volume-owner", "appArmorProfile", {"type": "Unconfined"}), None, {}, "'volume-owner' has appArmorProfile Unconfined"),
    ("pod-security-baseline", "prod", DEPLOYMENT, None, m_pod_security("appArmorProfile", {"type": "Unconfined"}), None, {}, "the pod has appArmorProfile Unconfined"),
    ("encryption-at-rest", "prod", "kubernetes:storage.k8s.io/v1:StorageClass", None, m_path(None, "parameters", "encrypted"), None, {}, "encrypted"),
    ("encryption-at-rest", "dev", "kubernetes:storage.k8s.io/v1:StorageClass", None, m_path("false", "parameters", "encrypted"), None, {}, "'false'"),
    ("encryption-at-rest", "prod", "aws:ecr/repository:Repository", None, m_set("encryptionConfigurations", []), None, {}, "KMS encryptionConfiguration"),
    ("encryption-at-rest", "prod", "aws:ecr/repository:Repository", None, m_set("encryptionConfigurations", [{"encryptionType": "AES256"}]), None, {}, "['AES256']"),
    ("encryption-at-rest", "prod", "aws:sns/topic:Topic", None, m_path(None, "kmsMasterKeyId"), None, {}, "kmsMasterKeyId"),
    ("encryption-at-rest", "prod", "aws:backup/vault:Vault", "hermes-backups-copy", m_path(None, "kmsKeyArn"), None, {}, "kmsKeyArn"),
    ("encryption-at-rest", "prod", "aws:cloudwatch/logGroup:LogGroup", "hermes-application", None, None, {"requireLogGroupKms": True}, "kmsKeyId"),
    ("dashboard-not-internet-facing", "prod", SERVICE, "hermes-dashboard", m_path(["198.51.100.7"], "spec", "externalIPs"), None, {}, "externalIPs"),
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
    ("dashboard-not-internet-facing", _synthetic("kubernetes:elbv2.k8s.aws/v1beta1:IngressClassParams", "alb", {"spec": {"scheme": "internet-facing"}}), "internet-facing"),
    ("eks-endpoint-restricted", _synthetic("aws:eks/cluster:Cluster", "hermes-eks-eksCluster", {"vpcConfig": {"publicAccessCidrs": ["0.0.0.0/1", "128.0.0.0/1"]}}), "more than one /8"),
    ("pod-security-baseline", _synthetic("kubernetes:batch/v1:CronJob", "debug", {"spec": {"jobTemplate": {"spec": {"template": {"spec": {
        "hostPID": True, "containers": [{"name": "debug", "securityContext": {"allowPrivilegeEscalation": False}}]}}}}}}), "hostPID"),
    ("encryption-at-rest", _synthetic("aws:ebs/volume:Volume", "restored", {"availabilityZone": "eu-central-1a", "encrypted": False}), "encrypted: true"),
    ("tls-modern-policy", _synthetic("aws:lb/listener:Listener", "https", {"protocol": "HTTPS", "sslPolicy": "ELBSecurityPolicy-2016-08"}), "ELBSecurityPolicy-2016-08"),
    ("tls-modern-policy", _synthetic("aws:alb/listener:Listener", "tls", {"protocol": "TLS", "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06"}), "Ext1"),
    ("tls-modern-policy", _synthetic("kubernetes:helm.sh/v4:Chart", "lbc", {"chart": "aws-load-balancer-controller", "values": {}}), "defaultSSLPolicy"),
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
    policy = BY_NAME["no-plain-credentials"]
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


def stack_violations(policy_name: str, stack: str, type_: str, name: str | None = None, mutate=None,
                     protect: bool | None = None, **overrides) -> list[str]:
    """A stack policy's findings when one resource's outputs (or its `protect`) are changed."""
    program = stack_program(stack)
    target = program.one(type_, name)
    outputs = copy.deepcopy(reveal(target.outputs))
    if mutate is not None:
        mutate(outputs)
    policy = BY_NAME[policy_name]
    args = stack_args(program.resources, engine_config(policy, stack, **overrides), {target.urn: outputs})
    if protect is not None:
        for resource in args.resources:
            if resource.urn == target.urn:
                resource.opts = _opts(target, protect)
    return run_policy(policy, args)


def _ecr(account="210987654321", region="eu-central-1", repository="hermes-eks/prod/hermes-agent",
         host="dkr.ecr.{region}.amazonaws.com"):
    return f"{account}.{host.format(region=region)}/{repository}"


DIGEST = "@sha256:" + "ab" * 32
# (stack, type, name, mutation of its outputs, protect, config overrides, expected text)
STACK_NEGATIVE = {
    "image-from-own-ecr-repository": [
        ("prod", DEPLOYMENT, None, m_image("docker.io/nousresearch/hermes-agent:v2026.7.20" + DIGEST), None, {}, "container 'hermes'"),
        ("prod", DEPLOYMENT, None, m_image(_ecr(account="123456789012") + DIGEST), None, {}, "123456789012.dkr"),
        ("prod", DEPLOYMENT, None, m_image(_ecr(region="us-east-1") + DIGEST), None, {}, "us-east-1"),
        ("prod", DEPLOYMENT, None, m_image(_ecr(repository="hermes-eks/dev/hermes-agent") + DIGEST), None, {}, "hermes-eks/dev/hermes-agent@"),
        ("prod", DEPLOYMENT, None, m_image(_ecr(repository="hermes-eks/prod/hermes-agent-debug") + DIGEST), None, {}, "hermes-agent-debug"),
        ("prod", DEPLOYMENT, None, m_image(_ecr() + ":latest"), None, {}, ":latest"),
        ("prod", DEPLOYMENT, None, m_image(_ecr() + "@sha256:abc"), None, {}, "@sha256:abc'"),
        ("prod", DEPLOYMENT, None, m_image(_ecr() + ":v1" + DIGEST), None, {}, ":v1@"),
        ("prod", DEPLOYMENT, None, m_image(_ecr(host="dkr.ecr.{region}.amazonaws.com.evil.example") + DIGEST), None, {}, "evil.example"),
        ("prod", DEPLOYMENT, None, m_image("evil.example/" + _ecr() + DIGEST), None, {}, "evil.example/"),
        ("prod", DEPLOYMENT, None, m_image("busybox:1.37", container="configure"), None, {}, "initContainer 'configure'"),
        ("prod", DEPLOYMENT, None, m_image("busybox:1.37", container="volume-metrics"), None, {}, "container 'volume-metrics'"),
        # The repository the stack creates, wherever the image claims to be from.
        ("prod", "aws:ecr/repository:Repository", None, m_path("210987654321.dkr.ecr.eu-central-1.amazonaws.com/hermes-eks/prod/other", "repositoryUrl"), None, {}, "hermes-eks/prod/other@sha256"),
        # pr names no repository: its own, whatever it is called, and nothing else.
        ("pr", DEPLOYMENT, None, m_image(_ecr(repository="hermes-eks/prod/hermes-agent") + DIGEST), None, {}, "hermes-eks/prod/hermes-agent@"),
    ],
    "bedrock-invoke-own-account": [
        ("prod", ROLE_POLICY, "hermes-bedrock-invoke", m_policy_resource("bedrock:Invoke", [
            "arn:aws:bedrock:eu-central-1:999999999999:inference-profile/eu.anthropic.claude-sonnet-4-6"]), None, {}, "account 999999999999"),
        ("dev", ROLE_POLICY, "hermes-bedrock-invoke", m_policy_resource("bedrock:Invoke", [
            "arn:aws:bedrock:eu-central-1:999999999999:application-inference-profile/abc123"]), None, {}, "account 999999999999"),
    ],
    "backup-vault-keys-protected": [
        ("prod", "aws:kms/key:Key", "hermes-backups", None, False, {}, "KMS key hermes-backups encrypts"),
        ("prod", "aws:kms/key:Key", "hermes-backups-copy", None, False, {}, "KMS key hermes-backups-copy encrypts"),
        ("prod", "aws:kms/key:Key", "hermes-backups", m_set("deletionWindowInDays", 7), None, {}, "deletion window of 7 days"),
        # A vault moved to an unprotected key of the stack is checked on that key.
        ("prod", "aws:backup/vault:Vault", "hermes-backups", m_set("kmsKeyArn", "arn:aws:kms:eu-central-1:210987654321:hermes-alerts"), None, {}, "KMS key hermes-alerts"),
    ],
}


@pytest.mark.parametrize(("policy_name", "case"), [(p, c) for p, cases in STACK_NEGATIVE.items() for c in cases],
                         ids=lambda v: v if isinstance(v, str) else f"{v[0]}-{v[2] or v[1].rsplit(':', 1)[-1]}-{v[-1]}")
def test_a_mutated_stack_is_reported(policy_name, case):
    stack, type_, name, mutate, protect, overrides, expected = case
    violations = stack_violations(policy_name, stack, type_, name, mutate, protect, **overrides)
    assert any(expected in v for v in violations), violations
    assert stack_violations(policy_name, stack, type_, name) == []


@pytest.fixture(scope="module")
def webhook_program():
    from tests.test_messaging import WEBHOOK_PLATFORMS  # noqa: PLC0415 (test_messaging imports this module)
    return run_program("dev", WEBHOOK_PLATFORMS)


def _webhook_violations(program, type_: str, name: str, mutate=None) -> list[str]:
    target = program.one(type_, name)
    outputs = copy.deepcopy(reveal(target.outputs))
    if mutate is not None:
        mutate(outputs)
    policy = BY_NAME["messaging-webhook-service-ports"]
    return run_policy(policy, stack_args(program.resources, engine_config(policy, "dev"), {target.urn: outputs}))


def _service_port(name, **changes):
    def mutate(p):
        port = next(port for port in p["spec"]["ports"] if port["name"] == name)
        port.update(changes)
    return mutate


def _renamed_container_port(old, new):
    def mutate(p):
        ports = {port["name"]: port for port in _container(p)["ports"]}
        ports[old]["name"], ports[new]["name"] = new, old
    return mutate


def test_the_webhook_service_the_program_renders_passes(webhook_program):
    assert _webhook_violations(webhook_program, SERVICE, "hermes-webhooks") == []


@pytest.mark.parametrize(("type_", "name", "mutate", "expected"), [
    # A webhook port name to the dashboard's port, by number or by a container port renamed after it.
    (SERVICE, "hermes-webhooks", _service_port("whatsapp", targetPort=9119), "port 'whatsapp' (8090 -> 9119)"),
    (SERVICE, "hermes-webhooks", _service_port("twilio", targetPort="dashboard"), "port 'twilio' (8080 -> dashboard)"),
    (SERVICE, "hermes-webhooks", _service_port("twilio", port=8642), "port 'twilio' (8642 -> twilio)"),
    (SERVICE, "hermes-webhooks", lambda p: p["spec"]["ports"].append({"name": "http", "port": 9119, "targetPort": "dashboard"}), "port 'http' (9119 -> dashboard)"),
    (SERVICE, "hermes-webhooks", lambda p: p["spec"].update(type="NodePort"), "of type NodePort"),
    (DEPLOYMENT, None, _renamed_container_port("whatsapp", "dashboard"), "the webhook port of 8090"),
    # The Ingress pointing at another Service named like the webhook one (foo-webhooks) is checked on it.
    (INGRESS, "hermes-webhooks", lambda p: p["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"].update(name="foo-webhooks"), "'foo-webhooks' is not in this stack"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_a_webhook_service_reaching_more_than_the_webhook_ports_is_reported(webhook_program, type_, name, mutate, expected):
    violations = _webhook_violations(webhook_program, type_, name, mutate)
    assert any(expected in v for v in violations), violations


def test_a_secret_whose_data_is_not_a_secret_output_is_reported():
    secret = _find("prod", "kubernetes:core/v1:Secret")
    policy = BY_NAME["no-plain-credentials"]
    config = engine_config(policy, "prod")
    assert run_policy(policy, resource_args(secret, config)) == []
    exposed = copy.deepcopy(secret)
    exposed.additional_secret_outputs = ["data"]
    assert run_policy(policy, resource_args(exposed, config)) == [
        "Secret hermes-credentials does not mark ['stringData'] as secret outputs (additional_secret_outputs): "
        "its values would sit in plain text in the Pulumi state."]


def test_a_configmap_holding_a_credential_is_reported():
    policy = BY_NAME["no-plain-credentials"]
    for data, expected in (({"OPENAI_API_KEY": "not-a-real-one"}, "data.OPENAI_API_KEY is named like a credential"),
                           ({"config.yaml": "api_key: sk-" + "a" * 24}, "data.config.yaml holds what looks like a credential"),
                           ({"apiKey": "not-a-real-one"}, "data.apiKey is named like a credential"),
                           ({"proxy": "http://hermes:pass@proxy.example"}, "data.proxy holds what looks like a credential")):
        config_map = _synthetic("kubernetes:core/v1:ConfigMap", "settings", {"metadata": {"name": "settings"}, "data": data})
        violations = run_policy(policy, resource_args(config_map, engine_config(policy, "prod")))
        assert any(expected in v for v in violations), violations


def test_the_pod_security_exceptions_are_the_capabilities_the_pod_adds():
    """The pack shares nothing with the program: its documented exceptions are written literally, and
    must be exactly what components/hermes_agent.py adds, per container."""
    from components.hermes_agent import S6_CAPABILITIES, VOLUME_OWNER_CAPABILITIES  # noqa: PLC0415
    assert hp.DOCUMENTED_CAPABILITIES == {"hermes": list(S6_CAPABILITIES), "volume-owner": list(VOLUME_OWNER_CAPABILITIES)}
    assert hp.DOCUMENTED_CAPABILITIES == {
        "hermes": ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID", "KILL"],
        "volume-owner": ["CHOWN", "DAC_OVERRIDE"],
    }


def test_the_pod_security_baseline_allows_its_safe_sysctls_selinux_types_and_apparmor_profiles():
    spec = {"securityContext": {"sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"},
                                            {"name": "kernel.shm_rmid_forced", "value": "1"}],
                                "seLinuxOptions": {"type": "container_init_t", "level": "s0:c123,c456"},
                                "appArmorProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "hermes", "securityContext": {
                "allowPrivilegeEscalation": False, "seLinuxOptions": {"type": "container_t"},
                "appArmorProfile": {"type": "Localhost", "localhostProfile": "hermes"}}}]}
    annotations = {"container.apparmor.security.beta.kubernetes.io/hermes": "localhost/hermes",
                   "container.apparmor.security.beta.kubernetes.io/other": "runtime/default"}
    assert list(hp.pod_security_problems(spec, hp.DOCUMENTED_CAPABILITIES, annotations)) == []


def test_a_url_naming_its_password_by_reference_or_a_user_only_is_not_a_credential():
    for text in ("postgres://user:$(DB_PASSWORD)@db.example/hermes", "ssh://git@github.com/NousResearch/hermes-agent",
                 "http://[::1]:8080/health", "https://example.com:8443/a@b"):
        assert not hp.SECRET_VALUE.search(text), text


@pytest.mark.parametrize("cidrs", [["203.0.113.0/24"], ["10.0.0.0/8"], ["10.0.0.0/9", "11.0.0.0/9"],
                                   ["198.51.100.0/24", "2001:db8::/32"]])
def test_endpoint_ranges_up_to_one_slash_8_pass(cidrs):
    assert hp.endpoint_reach_problem(cidrs) is None


def test_a_volume_whose_disk_is_deleted_with_its_claim_is_reported_in_prod():
    def delete(props):
        props["reclaimPolicy"] = "Delete"

    resources, outputs, _ = _stack_with("prod", "kubernetes:storage.k8s.io/v1:StorageClass", delete)
    policy = BY_NAME["hermes-volume-retained"]
    violations = run_policy(policy, stack_args(resources, engine_config(policy, "prod"), outputs))
    assert any("hermes-data" in v and "Delete" in v for v in violations), violations
    # No reclaimPolicy is Kubernetes' default, Delete.
    resources, outputs, _ = _stack_with("prod", "kubernetes:storage.k8s.io/v1:StorageClass", lambda p: p.pop("reclaimPolicy"))
    violations = run_policy(policy, stack_args(resources, engine_config(policy, "prod"), outputs))
    assert any("hermes-data" in v and "Delete" in v for v in violations), violations
    # dev's policy config accepts it (its volume may be lost), and says so explicitly.
    assert run_policy(policy, stack_args(resources, engine_config(policy, "dev"), outputs)) == []


def test_every_rule_has_a_negative_case():
    covered = {case[0] for case in NEGATIVE} | {case[0] for case in SYNTHETIC}
    covered |= set(STACK_NEGATIVE) | {"pod-identity-roles-trust-only-eks-pods", "hermes-volume-retained",
                                      "messaging-webhook-service-ports"}
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


# ---------------------------------------------------------------------------------------------
# Exceptions per instance: a rule's `instances.<name>` loosens that instance's resources only
# ---------------------------------------------------------------------------------------------

def _research(stack: str) -> dict:
    research = {"namespace": "hermes-research"}
    if stack == "prod":  # prod names its hosts; no two instances share one
        research |= {"dashboardHost": "research.corp-internal.net", "apiHost": "research-api.corp-internal.net"}
    return research


def _two_instances(stack: str):
    return run_program(stack, {"instances": {"hermes": {}, "research": _research(stack)}})


def _with_instance_exception(policy, stack: str, instance: str, **values) -> dict:
    config = engine_config(policy, stack)
    config["instances"] = {instance: values}
    schema = policy.config_schema
    jsonschema.validate(config, {"type": "object", "properties": schema.properties, "additionalProperties": False})
    return config


def test_a_resource_belongs_to_the_instance_whose_component_created_it():
    instances = ["hermes", "research", "research-eu"]
    urn = "urn:pulumi:prod::hermes-eks::{}::{}".format
    assert hp.instance_of(urn("hermes-eks:index:HermesAgent$kubernetes:core/v1:PersistentVolumeClaim", "research-data"), instances) == "research"
    assert hp.instance_of(urn("hermes-eks:index:HermesAgent$kubernetes:core/v1:PersistentVolumeClaim", "research-eu-data"), instances) == "research-eu"
    assert hp.instance_of(urn("hermes-eks:index:BedrockAccess$aws:iam/role:Role", "hermes-bedrock"), instances) == "hermes"
    assert hp.instance_of(urn("pulumi:pulumi:Stack$hermes-eks:index:HermesAgent", "research"), instances) == "research"
    # Stack-wide resources are named for the stack's `hermes` components, not for the `hermes` instance.
    assert hp.instance_of(urn("hermes-eks:index:CostGuardrails$aws:budgets/budget:Budget", "hermes-bedrock"), instances) is None
    assert hp.instance_of(urn("hermes-eks:index:ClusterAddons$kubernetes:storage.k8s.io/v1:StorageClass", "hermes-addons-gp3"), instances) is None
    assert hp.instance_of(urn("hermes-eks:index:HermesAgent$kubernetes:core/v1:Secret", "other-credentials"), instances) is None


def test_every_resource_of_a_second_instance_is_recognised_as_its_own():
    program = run_program("prod", {"instances": {"hermes": {}, "research": {
        **_research("prod"), "restoreFromSnapshot": "snap-0123456789abcdef0"}}})
    # The pack's list of per-instance components is what __main__.py creates for an instance.
    assert {r.type for r in program.resources if r.name == "research" and r.type.startswith("hermes-eks:")} \
        == hp.INSTANCE_COMPONENTS
    research = {r.name for r in program.resources if hp.instance_of(r.urn, ["hermes", "research"]) == "research"}
    assert {"research", "research-data-snap-0123456789abcdef0", "research-credentials", "research-bedrock",
            "research-bedrock-invoke"} <= research
    assert all(name == "research" or name.startswith("research-") for name in research)


def test_only_rules_of_per_instance_resources_take_instance_exceptions():
    takes = {p.name for p in hp.POLICIES if p.config_schema is not None and "instances" in p.config_schema.properties}
    configured = {p.name for p in hp.POLICIES if p.config_schema is not None}
    assert configured - takes == {"eks-endpoint-restricted", "backup-vault-keys-protected"}  # stack-wide resources
    schema = BY_NAME["stateful-resources-protected"].config_schema
    with pytest.raises(jsonschema.ValidationError):  # an instance's exception has the rule's own keys and types
        jsonschema.validate({"instances": {"research": {"requireProtection": "no"}}}, {"type": "object", "properties": schema.properties})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"instances": {"research": {"requireRetain": False}}}, {"type": "object", "properties": schema.properties})


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_passes_with_an_unprotected_second_instance_its_config_excepts(stack):
    program = _two_instances(stack)
    program.one("kubernetes:core/v1:PersistentVolumeClaim", "research-data").protect = False
    program.one("kubernetes:core/v1:Namespace", "research").protect = False
    for policy in hp.POLICIES:
        config = engine_config(policy, stack)
        if policy.name == "stateful-resources-protected":
            config = _with_instance_exception(policy, stack, "research", requireProtection=False)
        run = stack_args(program.resources, config) if isinstance(policy, StackValidationPolicy) else None
        found = run_policy(policy, run) if run else [
            m for r in program.resources for m in run_policy(policy, resource_args(r, config))]
        assert found == [], (policy.name, found)


def test_an_exception_for_one_instance_does_not_loosen_another():
    program = _two_instances("prod")
    for name in ("hermes-data", "research-data"):
        program.one("kubernetes:core/v1:PersistentVolumeClaim", name).protect = False
    policy = hp.stateful_resources_protected
    config = _with_instance_exception(policy, "prod", "research", requireProtection=False)
    found = [r.name for r in program.resources if run_policy(policy, resource_args(r, config))]
    assert found == ["hermes-data"]

    # An internet-facing Ingress: allowed for research, still refused for hermes.
    policy = hp.dashboard_not_internet_facing
    config = _with_instance_exception(policy, "prod", "research", allowInternetFacing=True)
    found = []
    for ingress in program.of_type("kubernetes:networking.k8s.io/v1:Ingress"):
        props = copy.deepcopy(ingress.plain)
        props["metadata"]["annotations"][hp.ALB_SCHEME] = "internet-facing"
        found += [ingress.name for _ in run_policy(policy, resource_args(ingress, config, props=props))]
    assert found and set(found) == {"hermes"}

    # A stack rule: the shared StorageClass deletes disks; research's claim is excepted, hermes's is not.
    policy = hp.volume_retained
    storage_class = program.one("kubernetes:storage.k8s.io/v1:StorageClass")
    outputs = {storage_class.urn: {**copy.deepcopy(reveal(storage_class.outputs)), "reclaimPolicy": "Delete"}}
    config = _with_instance_exception(policy, "prod", "research", requireRetain=False)
    violations = run_policy(policy, stack_args(program.resources, config, outputs))
    assert len(violations) == 1 and "hermes-data" in violations[0] and "research" not in violations[0], violations


def test_the_readmes_example_policy_configs_match_the_schemas():
    section = (ROOT / "README.md").read_text().split("## Policy as code", 1)[1].split("\n## ", 1)[0]
    examples = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", section, re.S)]
    assert any("instances" in values for example in examples for values in example.values())
    for example in examples:
        for name, values in example.items():
            schema = BY_NAME[name].config_schema
            jsonschema.validate(values, {"type": "object", "properties": schema.properties, "additionalProperties": False})
