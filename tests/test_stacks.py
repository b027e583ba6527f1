"""Every stack file in the repository, run whole, and the guarantees that hold for all of them."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys

import pytest
import yaml

from settings import HERMES_RELEASE, HERMES_UPSTREAM_IMAGE, SECRET_KEYS, config_key
from tests.conftest import stack_program
from tests.harness import ROOT, STACKS, Program, is_secret, reveal, run_program

PVC = "kubernetes:core/v1:PersistentVolumeClaim"
NAMESPACE = "kubernetes:core/v1:Namespace"
REPOSITORY = "aws:ecr/repository:Repository"


def test_the_repository_has_the_local_dev_and_prod_stacks_and_the_pr_review_stack_template():
    assert set(STACKS) == {"local", "dev", "prod", "pr"}


def test_every_stack_file_runs_whole_and_registers_the_hermes_workload(any_stack: Program):
    types = {r.type for r in any_stack.resources}
    assert {"hermes-eks:index:HermesAgent", "kubernetes:apps/v1:Deployment", PVC, NAMESPACE} <= types
    assert any_stack.outputs["namespace"] == "hermes"


def test_stack_files_hold_no_secret_values():
    for stack in STACKS:
        config = (yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text()) or {}).get("config") or {}
        for attribute in SECRET_KEYS:
            assert config_key(attribute) not in config, f"Pulumi.{stack}.yaml sets {config_key(attribute)}"


def test_the_contract_tests_run_the_hermes_release_the_image_pins():
    spec = importlib.util.spec_from_file_location("test_runner", ROOT / "scripts" / "test.py")
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    assert runner.HERMES_REQUIREMENT.endswith(f"=={HERMES_RELEASE}")
    assert "v2026.7.20@sha256:" in HERMES_UPSTREAM_IMAGE  # 0.19.0 was released as v2026.7.20


def test_pulumi_yaml_and_readme_match_settings_py():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "config_reference.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_pulumi_yaml_declares_every_plain_project_key_with_its_type_and_default():
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    assert declared["hermes-eks:storageSize"] == {
        "type": "string",
        "description": declared["hermes-eks:storageSize"]["description"],
        "default": "20Gi",
    }
    # A declared secret is required by the CLI (no default) or refused unencrypted (a default):
    # optional secrets are documented in the README only (tests/test_engine_config.py).
    assert "hermes-eks:apiServerKey" not in declared
    assert declared["hermes-eks:nodeMinSize"]["type"] == "integer"
    assert declared["hermes-eks:nodeInstanceTypes"]["type"] == "array"
    assert yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["runtime"]["options"]["virtualenv"] == ".venv"


# --- state that matters --------------------------------------------------------------------------

def test_the_hermes_volume_and_its_namespace_are_protected_in_every_stack(any_stack: Program):
    assert any_stack.one(PVC).protect and any_stack.one(NAMESPACE).protect


def test_renaming_the_namespace_cannot_silently_replace_the_volume():
    """A namespace change replaces the claim: protect makes `pulumi up` stop instead of deleting it."""
    program = run_program("local", {"namespace": "hermes-renamed"})
    claim = program.one(PVC)
    assert claim.plain["metadata"]["namespace"] == "hermes-renamed" and claim.protect


def test_prod_protects_its_image_repository_and_dev_lets_it_go():
    prod, dev = stack_program("prod").one(REPOSITORY), stack_program("dev").one(REPOSITORY)
    assert prod.protect and prod.plain["forceDelete"] is False
    assert not dev.protect and dev.plain["forceDelete"] is True


def test_prod_retains_volumes_and_logs_the_control_plane_where_dev_does_not():
    prod, dev = stack_program("prod"), stack_program("dev")
    storage_class = "kubernetes:storage.k8s.io/v1:StorageClass"
    assert prod.one(storage_class).plain["reclaimPolicy"] == "Retain"
    assert dev.one(storage_class).plain["reclaimPolicy"] == "Delete"
    assert prod.one("eks:index:Cluster").plain["enabledClusterLogTypes"]
    assert not dev.one("eks:index:Cluster").plain["enabledClusterLogTypes"]


def test_prod_is_larger_and_highly_available():
    prod, dev = stack_program("prod"), stack_program("dev")
    nodes = "eks:index:ManagedNodeGroup"
    def min_nodes(program):
        return sum(group.plain["scalingConfig"]["minSize"] for group in program.of_type(nodes))

    assert min_nodes(prod) >= 2 > min_nodes(dev)
    assert len(prod.of_type(nodes)) == 2  # one group in each of two zones (README "Node layout")
    assert prod.one("awsx:ec2:Vpc").plain["natGateways"] == {"strategy": "OnePerAz"}
    assert prod.one(PVC).plain["spec"]["resources"]["requests"]["storage"] == "100Gi"
    assert prod.of_type("kubernetes:networking.k8s.io/v1:Ingress") and not dev.of_type("kubernetes:networking.k8s.io/v1:Ingress")


# --- outputs -------------------------------------------------------------------------------------

SECRET_OUTPUTS = {"api_server_key", "dashboard_password", "kubeconfig", "instance_credentials"}


def test_credentials_and_kubeconfig_are_secret_outputs_and_nothing_else_leaks(any_stack: Program):
    secrets = {k for k, v in any_stack.outputs.items() if is_secret(v)}
    assert secrets == SECRET_OUTPUTS & set(any_stack.outputs)
    plain_text = repr({k: v for k, v in any_stack.outputs.items() if k not in secrets})
    for key in secrets:
        assert str(reveal(any_stack.outputs[key]))[:40] not in plain_text


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_aws_stacks_deploy_the_ecr_image_by_digest(stack):
    program = stack_program(stack)
    image = program.outputs["image"]
    assert re.fullmatch(r"\d{12}\.dkr\.ecr\.eu-central-1\.amazonaws\.com/hermes-eks/" + stack + r"/hermes-agent@sha256:[0-9a-f]{64}", image)
    containers = program.one("kubernetes:apps/v1:Deployment").plain["spec"]["template"]["spec"]["containers"]
    assert {c["image"] for c in containers} == {image}  # Hermes and its volume-metrics sidecar


def test_local_deploys_the_pinned_upstream_release_by_digest():
    program = stack_program("local")
    assert program.outputs["image"] == HERMES_UPSTREAM_IMAGE
    assert not program.of_type(REPOSITORY) and not [r for r in program.resources if r.type.startswith("aws:")]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_aws_stacks_export_cluster_role_urls_and_a_dashboard_command(stack):
    outputs = stack_program(stack).outputs
    assert {"cluster_name", "kubeconfig", "bedrock_role_arn", "dashboard_url", "api_base_url", "open_dashboard"} <= set(outputs)
    assert outputs["bedrock_role_arn"].startswith("arn:aws:iam::")


def test_prod_opens_the_dashboard_on_its_host():
    outputs = stack_program("prod").outputs
    assert outputs["open_dashboard"] == "python3 -m webbrowser https://hermes.corp-internal.net"
    assert outputs["api_base_url"] == "https://hermes-api.corp-internal.net/v1"


def test_local_opens_the_dashboard_through_a_port_forward():
    assert stack_program("local").outputs["open_dashboard"] == \
        "kubectl -n hermes port-forward svc/hermes-dashboard 9119:9119"


def test_a_kubeconfig_context_is_named_in_the_dashboard_command():
    outputs = run_program("local", {"kubeconfigContext": "kind-hermes"}).outputs
    assert outputs["open_dashboard"] == \
        "kubectl --context kind-hermes -n hermes port-forward svc/hermes-dashboard 9119:9119"
