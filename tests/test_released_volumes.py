"""`pulumi destroy` waits for the EBS volume of the deleted Hermes claim before the driver goes.

With reclaim policy Delete, Kubernetes deletes the volume after the claim is gone, asynchronously;
pulumi-kubernetes awaits only the claim. ClusterAddons registers a pulumi-command Command whose
`delete` (components/wait_for_released_volumes.sh) waits for those PersistentVolumes, ordered between
the claim and the driver. The script runs here with a fake kubectl that plays the cluster.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from components.cluster_addons import WAIT_FOR_RELEASED_VOLUMES
from tests.conftest import stack_program
from tests.delete_order import forced_before
from tests.harness import is_secret, reveal, run_program

COMMAND = "command:local:Command"
WAIT = "hermes-addons-released-volumes"
PV = "pvc-0123 Delete gp3 hermes hermes-data"


# --- the resource and its place in the delete order -------------------------------------------------

def test_dev_waits_for_released_volumes_and_prod_which_retains_them_does_not():
    assert stack_program("dev").one(COMMAND, WAIT)
    assert not [c for c in stack_program("prod").of_type(COMMAND) if c.name == WAIT]


def test_the_wait_runs_only_on_delete_with_the_clusters_kubeconfig_as_a_secret():
    command = stack_program("dev").one(COMMAND, WAIT)
    assert command.plain["delete"] == WAIT_FOR_RELEASED_VOLUMES.read_text()
    assert "create" not in command.plain and "update" not in command.plain
    assert command.plain["interpreter"] == ["/bin/sh", "-c"]
    assert is_secret(command.inputs["environment"])
    environment = reveal(command.inputs["environment"])
    assert {k: environment[k] for k in ("NAMESPACE", "STORAGE_CLASS")} == {"NAMESPACE": "hermes", "STORAGE_CLASS": "gp3"}
    assert '"kind": "Config"' in environment["KUBECONFIG_JSON"]


def test_claim_pod_and_namespace_go_first_then_the_wait_then_the_driver_its_permissions_and_nodes():
    dev = stack_program("dev")
    wait = dev.one(COMMAND, WAIT)
    for user in ("kubernetes:core/v1:PersistentVolumeClaim", "kubernetes:apps/v1:Deployment", "kubernetes:core/v1:Namespace"):
        assert forced_before(dev.resources, dev.one(user), wait), user
    driver = [r for r in dev.resources if "ebs-csi" in r.name]
    assert {r.type for r in driver} >= {"aws:eks/addon:Addon", "aws:iam/role:Role", "aws:iam/rolePolicyAttachment:RolePolicyAttachment"}
    for needed in [*driver, dev.one("kubernetes:storage.k8s.io/v1:StorageClass"), dev.one("eks:index:ManagedNodeGroup")]:
        assert forced_before(dev.resources, wait, needed), needed.name


def test_a_namespace_setting_follows_into_the_wait():
    environment = reveal(run_program("dev", {"namespace": "agents"}).one(COMMAND, WAIT).inputs["environment"])
    assert environment["NAMESPACE"] == "agents"


# --- the script, against a fake kubectl --------------------------------------------------------------

FAKE_KUBECTL = textwrap.dedent("""\
    #!/bin/sh
    # Plays the cluster from files in $FAKE: pvs (lines of `get pv`), gone_after (polls until the PVs
    # vanish), fail (listing fails), pvc-<namespace>-<claim> (claims that exist).
    echo "$*" >> "$FAKE/calls"
    [ "$1" = --kubeconfig ] && cp "$2" "$FAKE/kubeconfig-seen" && shift 2
    namespace=""
    if [ "$1" = -n ]; then namespace=$2; shift 2; fi
    case "$2" in
      pv)
        [ -f "$FAKE/fail" ] && { echo "connection refused" >&2; exit 1; }
        polls=$(( $(cat "$FAKE/polls" 2>/dev/null || echo 0) + 1 )); echo "$polls" > "$FAKE/polls"
        if [ -f "$FAKE/gone_after" ] && [ "$polls" -gt "$(cat "$FAKE/gone_after")" ]; then exit 0; fi
        cat "$FAKE/pvs" ;;
      pvc) [ -f "$FAKE/pvc-$namespace-$3" ] ;;
    esac
""")


@pytest.fixture
def cluster(tmp_path: Path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    kubectl = bin_dir / "kubectl"
    kubectl.write_text(FAKE_KUBECTL)
    kubectl.chmod(0o755)
    state = tmp_path / "state"
    state.mkdir()
    (state / "pvs").write_text("")
    return bin_dir, state


def wait(cluster, timeout: str = "5") -> subprocess.CompletedProcess:
    bin_dir, state = cluster
    environment = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE": str(state),
                   "KUBECONFIG_JSON": '{"kind": "Config"}', "NAMESPACE": "hermes", "STORAGE_CLASS": "gp3",
                   "TIMEOUT_SECONDS": timeout, "POLL_SECONDS": "0.1"}
    return subprocess.run(["/bin/sh", "-c", WAIT_FOR_RELEASED_VOLUMES.read_text()], env=environment,
                          capture_output=True, text=True, timeout=60)


def polls(state: Path) -> int:
    return int((state / "polls").read_text())


def test_it_waits_until_the_released_volume_is_gone(cluster):
    _, state = cluster
    (state / "pvs").write_text(PV + "\n")
    (state / "gone_after").write_text("3")
    result = wait(cluster)
    assert result.returncode == 0, result.stderr
    assert polls(state) == 4
    assert (state / "kubeconfig-seen").read_text() == '{"kind": "Config"}'


def test_a_volume_whose_claim_still_exists_is_not_waited_for(cluster):
    _, state = cluster
    (state / "pvs").write_text(PV + "\n")
    (state / "pvc-hermes-hermes-data").write_text("")
    assert wait(cluster).returncode == 0 and polls(state) == 1


@pytest.mark.parametrize("line", [
    "pvc-1 Retain gp3 hermes hermes-data",
    "pvc-2 Delete other-class hermes hermes-data",
    "pvc-3 Delete gp3 other-team their-data",
    "pvc-4 Delete gp3",
], ids=["retained", "other-class", "other-namespace", "unbound"])
def test_volumes_the_hermes_claim_did_not_own_are_not_waited_for(cluster, line):
    _, state = cluster
    (state / "pvs").write_text(line + "\n")
    assert wait(cluster).returncode == 0 and polls(state) == 1


def test_it_gives_up_after_the_timeout_naming_the_volume(cluster):
    _, state = cluster
    (state / "pvs").write_text(PV + "\n")
    result = wait(cluster, timeout="1")
    assert result.returncode == 1
    assert "still being deleted by the EBS CSI driver: pvc-0123" in result.stderr


def test_an_unreachable_cluster_fails_instead_of_passing_as_nothing_left(cluster):
    _, state = cluster
    (state / "fail").write_text("")
    result = wait(cluster)
    assert result.returncode == 1 and "cannot list PersistentVolumes" in result.stderr


def test_the_kubeconfig_file_is_removed_afterwards(cluster, tmp_path):
    _, state = cluster
    environment_tmp = tmp_path / "tmp"
    environment_tmp.mkdir()
    bin_dir, _ = cluster
    result = subprocess.run(["/bin/sh", "-c", WAIT_FOR_RELEASED_VOLUMES.read_text()], capture_output=True, text=True,
                            env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE": str(state),
                                 "TMPDIR": str(environment_tmp), "KUBECONFIG_JSON": "{}", "NAMESPACE": "hermes",
                                 "STORAGE_CLASS": "gp3"}, timeout=60)
    assert result.returncode == 0 and list(environment_tmp.iterdir()) == []
