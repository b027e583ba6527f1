"""End to end with the Pulumi Automation API: preview, up, check that Hermes answers, destroy.

These run real deployments, so they need what the unit tests never do, and skip (saying what is
missing) unless ALL of it is there:
  - the Pulumi CLI and kubectl on PATH (and the AWS CLI for the AWS stack: the leak check after destroy);
  - HERMES_EKS_INTEGRATION=1, an explicit opt-in: an EKS stack costs money and takes ~25 minutes;
  - for `local`: a Kubernetes cluster the current kubeconfig context reaches (kind, minikube...);
  - for the AWS stack: AWS credentials (environment, profile, or web identity) allowed to create EKS,
    IAM, ECR and VPC resources, and a Docker daemon for the image build.
The stack is a throw-away copy (`it-<stack>-<random>`) of the named stack file, with protection and
retention off so `destroy` leaves nothing behind; it uses whatever backend `pulumi login` selected
and PULUMI_CONFIG_PASSPHRASE for a passphrase-encrypted one.

    HERMES_EKS_INTEGRATION=1 python3 scripts/test.py tests/integration -m integration
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.harness import ROOT, stack_file_config

pytestmark = pytest.mark.integration


def config_set_calls(values: dict) -> list[tuple[str, str, bool]]:
    """`pulumi config set [--path] <key> <value>` calls (key, value, path) that rebuild a stack file's config.

    The CLI refuses a list given as one plain value for a key Pulumi.yaml declares an `array` ("must be
    of type 'array<string>'"), so lists and maps are set item by item with --path. An empty list needs no
    call: Pulumi.yaml's default is merged in. tests/test_engine_config.py replays these through our port
    of the CLI and compares with the stack file.
    """
    calls = []
    for key, value in values.items():
        if isinstance(value, list):
            calls += [(f"{key}[{index}]", str(item), True) for index, item in enumerate(value)]
        elif isinstance(value, dict):
            calls += [(f'{key}["{name}"]', str(item), True) for name, item in value.items()]
        else:
            calls.append((key, str(value), False))
    return calls


def _aws_credentials() -> bool:
    env = os.environ
    if env.get("AWS_ACCESS_KEY_ID") or env.get("AWS_PROFILE") or env.get("AWS_WEB_IDENTITY_TOKEN_FILE"):
        return True
    return any((Path.home() / ".aws" / name).exists() for name in ("credentials", "config"))


def _cluster_reachable() -> bool:
    if shutil.which("kubectl") is None:
        return False
    return subprocess.run(["kubectl", "version", "--request-timeout=5s"], capture_output=True).returncode == 0


def missing(stack: str) -> list[str]:
    reasons = []
    if os.environ.get("HERMES_EKS_INTEGRATION") != "1":
        reasons.append("HERMES_EKS_INTEGRATION=1 is not set (the explicit opt-in to real deployments)")
    for tool in ("pulumi", "kubectl", *(("aws",) if stack != "local" else ())):
        if shutil.which(tool) is None:
            reasons.append(f"no `{tool}` on PATH")
    if stack == "local" and not reasons and not _cluster_reachable():
        reasons.append("no Kubernetes cluster reachable with the current kubeconfig context")
    if stack != "local" and not _aws_credentials():
        reasons.append("no AWS credentials (environment, ~/.aws, or web identity)")
    return reasons


@contextmanager
def port_forward(kubeconfig: str | None, namespace: str, service: str, port: int):
    env = dict(os.environ)
    if kubeconfig:
        path = Path(os.environ.get("TMPDIR", "/tmp")) / f"kubeconfig-{secrets.token_hex(4)}"
        path.write_text(kubeconfig)
        env["KUBECONFIG"] = str(path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        local = probe.getsockname()[1]
    process = subprocess.Popen(["kubectl", "-n", namespace, "port-forward", f"svc/{service}", f"{local}:{port}"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield f"http://127.0.0.1:{local}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _kubectl(kubeconfig: str, *args: str) -> str:
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"kubeconfig-{secrets.token_hex(4)}"
    path.write_text(kubeconfig)
    try:
        return subprocess.run(["kubectl", "--kubeconfig", str(path), *args], check=True, capture_output=True,
                              text=True).stdout.strip()
    finally:
        path.unlink(missing_ok=True)


def ebs_volume_of_claim(kubeconfig: str, namespace: str, claim: str) -> str:
    """The EBS volume id (the CSI volume handle) of the PersistentVolume bound to `claim`."""
    pv = _kubectl(kubeconfig, "-n", namespace, "get", "pvc", claim, "-o", "jsonpath={.spec.volumeName}")
    return _kubectl(kubeconfig, "get", "pv", pv, "-o", "jsonpath={.spec.csi.volumeHandle}")


def ebs_volume_gone(volume_id: str, region: str, wait_seconds: int = 300) -> bool:
    """Whether EC2 no longer has the volume (deleted, or InvalidVolume.NotFound), within `wait_seconds`:
    Kubernetes deletes it asynchronously, shortly after the claim."""
    deadline = time.monotonic() + wait_seconds
    while True:
        result = subprocess.run(["aws", "ec2", "describe-volumes", "--region", region, "--volume-ids", volume_id,
                                 "--query", "Volumes[].State", "--output", "text"], capture_output=True, text=True)
        if "InvalidVolume.NotFound" in result.stderr or (result.returncode == 0 and result.stdout.strip() in ("", "deleted")):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(10)


def get(url: str, headers: dict | None = None) -> int:
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(2)


@pytest.mark.parametrize("stack_file", ["local", "dev"])
def test_preview_up_hermes_answers_destroy(stack_file):
    reasons = missing(stack_file)
    if reasons:
        pytest.skip("; ".join(reasons))
    from pulumi import automation as auto

    name = f"it-{stack_file}-{secrets.token_hex(3)}"
    stack = auto.create_or_select_stack(stack_name=name, work_dir=str(ROOT))
    volume = None  # the EBS volume behind the Hermes claim, which `destroy` must not leave behind
    try:
        for key, value, path in config_set_calls(stack_file_config(stack_file)):
            stack.set_config(key, auto.ConfigValue(value=value), path=path)
        if stack_file != "local":
            # A throw-away copy: nothing protected, nothing retained, the repository may be emptied.
            for key, value in {"hermes-eks:protectInfrastructure": "false", "hermes-eks:ecrForceDelete": "true",
                               "hermes-eks:volumeReclaimPolicy": "Delete"}.items():
                stack.set_config(key, auto.ConfigValue(value=value))
        preview = stack.preview(on_output=print)
        assert preview.change_summary.get("create", 0) > 0

        up = stack.up(on_output=print)
        outputs = {k: v.value for k, v in up.outputs.items()}
        kubeconfig = outputs.get("kubeconfig")
        with port_forward(kubeconfig, outputs["namespace"], outputs["api_service_name"], 8642) as api:
            assert get(f"{api}/health") == 200
            assert get(f"{api}/v1/models") == 401
            assert get(f"{api}/v1/models", {"Authorization": f"Bearer {outputs['api_server_key']}"}) == 200
        with port_forward(kubeconfig, outputs["namespace"], outputs["dashboard_service_name"], 9119) as dashboard:
            assert get(f"{dashboard}/api/status") == 200
            assert get(f"{dashboard}/api/config") == 401
        if stack_file != "local":
            volume = ebs_volume_of_claim(kubeconfig, outputs["namespace"], "hermes-data")
    finally:
        # The Hermes volume and namespace are always protected: unprotect this throw-away copy first.
        subprocess.run(["pulumi", "state", "unprotect", "--all", "--yes", "--stack", name], cwd=ROOT, check=False)
        stack.destroy(on_output=print)
        stack.workspace.remove_stack(name)
        (ROOT / f"Pulumi.{name}.yaml").unlink(missing_ok=True)
    if volume is not None:
        # Reclaim policy Delete: the EBS CSI driver deletes the volume after its claim, and `destroy`
        # keeps the driver and its permissions until then (README "Tear down").
        region = stack_file_config(stack_file)["aws:region"]
        assert ebs_volume_gone(volume, region), f"EBS volume {volume} of the Hermes claim outlived `pulumi destroy`"
