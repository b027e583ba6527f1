"""The volume-metrics sidecar (components/volume_metrics.py): where it runs, how, and with which grant.

The dashboard widget and the volume-full alarm are checked in tests/test_observability.py against what
the rendered sidecar sends; the sidecar's script itself runs in tests/contract/test_volume_metrics.py.
"""

from __future__ import annotations

import json

import pytest

from components.hermes_agent import HERMES_HOME, HERMES_UID, IMAGE_PYTHON
from components.volume_metrics import METRIC_NAMESPACE, SCRIPT, USED_BYTES, USED_PERCENT, put_metric_policy
from tests.conftest import stack_program
from tests.harness import Program, run_program

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
ON_OPENROUTER = {"modelProvider": "openrouter", "modelDefault": "anthropic/claude-sonnet-4.5", "bedrockModels": [],
                 "bedrockBudgetDenyInvoke": False}


def pod(program: Program) -> dict:
    return program.one(DEPLOYMENT).plain["spec"]["template"]["spec"]


def sidecar(program: Program) -> dict | None:
    return next((c for c in pod(program)["containers"] if c["name"] == "volume-metrics"), None)


def env(container: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"]}


# --- where it runs ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_aws_stacks_with_observability_run_the_sidecar_next_to_hermes(stack):
    names = [c["name"] for c in pod(stack_program(stack))["containers"]]
    assert names == ["hermes", "volume-metrics"]


@pytest.mark.parametrize(("stack", "config"), [("local", {}), ("prod", {"observability": False}),
                                                ("dev", {"observability": False})])
def test_no_sidecar_on_the_local_stack_or_with_observability_off(stack, config):
    program = stack_program(stack) if not config else run_program(stack, config)
    assert [c["name"] for c in pod(program)["containers"]] == ["hermes"]
    assert "volume-metrics-tmp" not in {v["name"] for v in pod(program)["volumes"]}
    assert not [p for p in program.of_type(ROLE_POLICY) if "cloudwatch:PutMetricData" in p.plain["policy"]]


# --- how it runs -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_sidecar_runs_the_script_with_the_hermes_images_python_unprivileged(stack):
    program = stack_program(stack)
    container, hermes = sidecar(program), pod(program)["containers"][0]
    assert container["image"] == hermes["image"]
    assert container["command"] == [IMAGE_PYTHON, "-c", SCRIPT]
    assert container["securityContext"] == {
        "runAsUser": HERMES_UID, "runAsGroup": HERMES_UID, "runAsNonRoot": True, "allowPrivilegeEscalation": False,
        "privileged": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    resources = container["resources"]
    assert resources["limits"] == {"memory": "128Mi"} and set(resources["requests"]) == {"cpu", "memory"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_sidecar_mounts_the_hermes_claim_read_only_and_writes_only_its_own_memory_tmp(stack):
    spec = pod(stack_program(stack))
    container = sidecar(stack_program(stack))
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts[HERMES_HOME] == {"name": "data", "mountPath": HERMES_HOME, "readOnly": True}
    hermes_data = next(m for m in spec["containers"][0]["volumeMounts"] if m["mountPath"] == HERMES_HOME)
    assert hermes_data["name"] == "data"  # the same claim Hermes writes
    assert mounts["/tmp"]["name"] == "volume-metrics-tmp"
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["volume-metrics-tmp"] == {"name": "volume-metrics-tmp",
                                              "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}
    assert set(mounts) == {HERMES_HOME, "/tmp"}


@pytest.mark.parametrize(("stack", "region", "cluster"), [("dev", "eu-central-1", "hermes-dev"),
                                                          ("prod", "eu-central-1", "hermes-prod")])
def test_the_sidecar_publishes_into_its_namespace_with_the_deployments_stable_name(stack, region, cluster):
    values = env(sidecar(stack_program(stack)))
    assert values["METRIC_NAMESPACE"] == METRIC_NAMESPACE == "HermesEKS"
    assert (values["USED_PERCENT"], values["USED_BYTES"]) == (USED_PERCENT, USED_BYTES)
    # PodName is the Deployment's name, which survives restarts; a pod's own name does not.
    assert json.loads(values["METRIC_DIMENSIONS"]) == {"ClusterName": cluster, "Namespace": "hermes", "PodName": "hermes"}
    assert stack_program(stack).one(DEPLOYMENT).plain["metadata"]["name"] == "hermes"
    assert values["VOLUME_PATH"] == HERMES_HOME and values["INTERVAL_SECONDS"] == "60"
    assert values["AWS_DEFAULT_REGION"] == region and values["HOME"] == "/tmp"
    assert values["HEARTBEAT_FILE"].startswith("/tmp/")


def test_the_sidecars_probes_read_its_heartbeat_and_never_cloudwatch():
    container = sidecar(stack_program("dev"))
    heartbeat = env(container)["HEARTBEAT_FILE"]
    for probe in ("readinessProbe", "livenessProbe"):
        command = container[probe]["exec"]["command"]
        assert command[:2] == [IMAGE_PYTHON, "-c"] and heartbeat in command
        assert "boto" not in command[2] and "http" not in command[2]
    # Stale after three missed ticks, never sooner.
    assert float(container["livenessProbe"]["exec"]["command"][-1]) >= 3 * float(env(container)["INTERVAL_SECONDS"])


# --- its grant -------------------------------------------------------------------------------------------

def test_the_metrics_policy_allows_only_putmetricdata_into_the_one_namespace():
    assert put_metric_policy() == {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "PutHermesVolumeMetrics", "Effect": "Allow", "Action": ["cloudwatch:PutMetricData"],
            # PutMetricData has no resource type (list_amazoncloudwatch.html): the condition scopes it.
            "Resource": ["*"], "Condition": {"StringEquals": {"cloudwatch:namespace": "HermesEKS"}},
        }],
    }


def metrics_policies(program: Program) -> list:
    return [p for p in program.of_type(ROLE_POLICY) if "cloudwatch:PutMetricData" in p.plain["policy"]]


@pytest.mark.parametrize(("stack", "config"), [("dev", {}), ("prod", {}), ("dev", ON_OPENROUTER)])
def test_the_hermes_role_and_no_other_gets_the_metrics_policy(stack, config):
    program = run_program(stack, config, secrets={"openrouterApiKey": "sk-or-test"} if config else None) \
        if config else stack_program(stack)
    [policy] = metrics_policies(program)
    assert policy.name == "hermes-volume-metrics"
    assert json.loads(policy.plain["policy"]) == put_metric_policy()
    assert policy.plain["role"] == "hermes-bedrock-id"  # the one Hermes role (tests/fake_cloud.py's id)
    roles = [r for r in program.of_type(ROLE) if "hermes/hermes" in r.plain.get("description", "")]
    assert [r.name for r in roles] == ["hermes-bedrock"]
    # The pod starts only once its role may publish.
    assert policy.urn in program.one(DEPLOYMENT).dependencies


def test_without_bedrock_the_hermes_role_carries_only_the_metrics_policy():
    program = run_program("dev", ON_OPENROUTER, secrets={"openrouterApiKey": "sk-or-test"})
    policies = [p for p in program.of_type(ROLE_POLICY) if p.plain["role"] == "hermes-bedrock-id"]
    assert [p.name for p in policies] == ["hermes-volume-metrics"]
    assert "bedrock_role_arn" not in program.outputs
    # IRSA: the service account names the role the sidecar's credentials come from.
    annotations = program.one(SERVICE_ACCOUNT).plain["metadata"]["annotations"]
    assert ":role/hermes-bedrock-" in annotations["eks.amazonaws.com/role-arn"]


def test_under_pod_identity_the_association_binds_the_hermes_service_account():
    program = stack_program("prod")
    [association] = [a for a in program.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
                     if a.plain["serviceAccount"] == "hermes"]
    assert association.plain["namespace"] == "hermes"
    assert association.urn in program.one(DEPLOYMENT).dependencies
