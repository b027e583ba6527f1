"""deployments/pre_run.sh, run as Pulumi Deployments runs it, against a stub `pulumi` that records its calls.

The real CLI is not here: what these tests pin is which commands the script runs for each operation,
with which arguments, and that a failing policy-pack preview fails the deployment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.harness import ROOT

SCRIPT = ROOT / "deployments" / "pre_run.sh"
STUB = """#!/usr/bin/env bash
printf '%s\\n' "$*" >> "$PULUMI_CALLS"
case "$*" in *preview*) exit "${STUB_PREVIEW_EXIT:-0}";; *unprotect*) exit "${STUB_UNPROTECT_EXIT:-0}";; esac
"""

pytestmark = pytest.mark.skipif(not (shutil.which("bash") and shutil.which("git")), reason="needs bash and git")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A git checkout with the program at its root, the policy pack in policy/ and the script in place."""
    repo = tmp_path / "repo"
    (repo / "deployments").mkdir(parents=True)
    (repo / "policy").mkdir()
    (repo / "policy" / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (repo / "policy" / "config").mkdir()
    (repo / "policy" / "config" / "pr.json").write_text("{}\n")
    shutil.copy(SCRIPT, repo / "deployments" / "pre_run.sh")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    stub = tmp_path / "bin" / "pulumi"
    stub.parent.mkdir()
    stub.write_text(STUB)
    stub.chmod(0o755)
    return repo


def run(repo: Path, operation: str, *, ephemeral: str = "false", preview_exit: int = 0,
        unprotect_exit: int = 0, cwd: Path | None = None) -> tuple[subprocess.CompletedProcess, list[str]]:
    calls = repo.parent / "calls.txt"
    env = {
        "PATH": f"{repo.parent / 'bin'}:{os.environ['PATH']}",
        "HOME": str(repo.parent),
        "PULUMI_CALLS": str(calls),
        "STUB_PREVIEW_EXIT": str(preview_exit), "STUB_UNPROTECT_EXIT": str(unprotect_exit),
        "PULUMI_CI_ORGANIZATION": "acme", "PULUMI_CI_PROJECT": "hermes-eks",
        "PULUMI_CI_STACK": "pr-pulumi-acme-hermes-eks-7", "PULUMI_CI_OPERATION": operation,
        "HERMES_EKS_PROGRAM_DIR": ".", "HERMES_EKS_POLICY_PACK_DIR": "policy", "HERMES_EKS_EPHEMERAL": ephemeral,
        "HERMES_EKS_POLICY_CONFIG": "policy/config/pr.json",
    }
    # The command exactly as the deployment settings give it (delivery_plan.pre_run_command).
    command = 'bash "$(git rev-parse --show-toplevel)/deployments/pre_run.sh"'
    result = subprocess.run(["bash", "-c", command], cwd=cwd or repo, env=env, capture_output=True, text=True)
    return result, calls.read_text().splitlines() if calls.exists() else []


def test_the_script_is_valid_bash():
    assert subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True).returncode == 0


@pytest.mark.parametrize("operation", ["preview", "update"])
def test_previews_and_updates_run_the_policy_pack_against_the_stack_first(checkout, operation):
    result, calls = run(checkout, operation)
    assert result.returncode == 0, result.stderr
    root = str(checkout.resolve())
    assert calls == [
        f"install --cwd {root}/.",
        f"install --cwd {root}/policy",
        f"preview --cwd {root}/. --stack acme/hermes-eks/pr-pulumi-acme-hermes-eks-7 --policy-pack {root}/policy "
        f"--policy-pack-config {root}/policy/config/pr.json --non-interactive",
    ]


def test_without_a_policy_config_for_the_stack_the_packs_strictest_defaults_apply(checkout):
    (checkout / "policy" / "config" / "pr.json").unlink()
    result, calls = run(checkout, "preview")
    assert result.returncode == 0, result.stderr
    assert calls[-1].endswith(f"--policy-pack {checkout.resolve()}/policy --non-interactive")


def test_it_works_from_any_folder_of_the_checkout(checkout):
    result, calls = run(checkout, "update", cwd=checkout / "deployments")
    assert result.returncode == 0 and calls[-1].startswith("preview ")


def test_a_policy_violation_fails_the_deployment(checkout):
    result, _ = run(checkout, "update", preview_exit=255)
    assert result.returncode != 0


def test_without_the_policy_pack_nothing_is_previewed_or_deployed(checkout):
    (checkout / "policy" / "PulumiPolicy.yaml").unlink()
    result, calls = run(checkout, "update")
    assert result.returncode == 1 and calls == []
    assert "no policy pack at" in result.stderr


def test_a_review_stack_is_unprotected_before_its_destroy(checkout):
    result, calls = run(checkout, "destroy", ephemeral="true")
    assert result.returncode == 0, result.stderr
    assert calls == [f"state unprotect --all --yes --cwd {checkout.resolve()}/. --stack acme/hermes-eks/pr-pulumi-acme-hermes-eks-7"]


def test_a_review_stack_that_was_never_deployed_can_still_be_destroyed(checkout):
    result, calls = run(checkout, "destroy", ephemeral="true", unprotect_exit=255)
    assert result.returncode == 0 and calls[0].startswith("state unprotect --all --yes")
    assert "nothing unprotected" in result.stderr


@pytest.mark.parametrize("operation", ["destroy", "refresh", "detect-drift"])
def test_dev_and_prod_keep_their_protection_and_other_operations_run_nothing(checkout, operation):
    result, calls = run(checkout, operation, ephemeral="false")
    assert result.returncode == 0 and calls == []
