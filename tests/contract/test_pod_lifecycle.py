"""The pod's life with the real Hermes: first boot on an empty volume, a hard kill, an operator's stop.

One pod, started on an empty volume as a fresh EBS volume is (root's, with lost+found); the tests run in
file order and each leaves the pod running. Users, capabilities and the image's boot are modelled as
tests/contract/pod.py describes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from components.hermes_agent import IMAGE_HERMES
from tests.contract.pod import Pod, RenderedPod
from tests.harness import reveal, run_program

pytestmark = pytest.mark.contract

CONFIG = {"modelProvider": "openrouter", "modelDefault": "anthropic/claude-sonnet-4.6"}
SECRETS = {"openrouterApiKey": "sk-or-v1-contract-test-not-a-real-key"}
HERMES = 10000


@pytest.fixture(scope="module")
def program():
    return run_program("local", CONFIG, secrets=SECRETS)


@pytest.fixture(scope="module")
def first_boot(program, tmp_path_factory):
    """The pod after its first start, and what its volume and processes looked like right then."""
    rendered = RenderedPod(program, tmp_path_factory.mktemp("lifecycle"))
    assert [p.name for p in rendered.home.iterdir()] == ["lost+found"]
    pod = Pod(rendered)
    owners = {str(p.relative_to(rendered.home)): (p.lstat().st_uid, p.lstat().st_gid) for p in rendered.home.rglob("*")}
    owners["."] = (rendered.home.stat().st_uid, rendered.home.stat().st_gid)
    yield pod, owners
    pod.stop()


def processes(pod: Pod) -> dict[str, tuple[int, int]]:
    """{command: (uid, gid)} of the hermes container's processes, read inside its PID namespace."""
    code, output = pod.exec(["ps", "-eo", "uid=,gid=,args="])
    assert code == 0, output
    rows = [line.split(None, 2) for line in output.splitlines() if line.strip()]
    return {args: (int(uid), int(gid)) for uid, gid, args in rows}


def api_status(pod: Pod, program, key: str | None = None) -> int:
    key = key or reveal(program.outputs["api_server_key"])
    return pod.request("GET", 8642, "/v1/models", headers={"Authorization": f"Bearer {key}"}).status


def liveness(pod: Pod) -> int:
    return pod.exec(pod.rendered.container("hermes")["livenessProbe"]["exec"]["command"])[0]


def test_first_boot_leaves_every_file_on_the_volume_to_the_hermes_user(first_boot):
    _, owners = first_boot
    assert {"config.yaml", ".env", "SOUL.md", "gateway_state.json", "state.db", "logs", "lost+found"} <= set(owners)
    assert {path: owner for path, owner in owners.items() if owner != (HERMES, HERMES)} == {}


def test_first_boot_seeds_the_model_and_the_pinned_credentials(first_boot, program):
    pod, _ = first_boot
    home = pod.rendered.home
    model = yaml.safe_load((home / "config.yaml").read_text())["model"]
    assert (model["provider"], model["default"]) == ("openrouter", "anthropic/claude-sonnet-4.6")
    env = (home / ".env").read_text()
    assert f"API_SERVER_KEY='{reveal(program.outputs['api_server_key'])}'" in env.splitlines()
    assert f"OPENROUTER_API_KEY='{SECRETS['openrouterApiKey']}'" in env.splitlines()
    assert (home / ".env").stat().st_mode & 0o777 == 0o600
    assert json.loads((home / "gateway_state.json").read_text())["desired_state"] == "running"
    assert api_status(pod, program) == 200


def test_gateway_and_dashboard_run_as_the_hermes_user(first_boot):
    pod, _ = first_boot
    running = processes(pod)
    gateway = next(ids for args, ids in running.items() if args.endswith("gateway run --replace"))
    dashboard = next(ids for args, ids in running.items() if " dashboard --host " in args)
    assert gateway == dashboard == (HERMES, HERMES)


def test_a_hard_killed_container_starts_again_over_its_stale_pid_and_lock(first_boot, program):
    """SIGKILL (an OOM kill, a lost node) leaves gateway.pid and gateway.lock behind; the PID they name
    belongs to another process in the next container."""
    pod, _ = first_boot
    home = pod.rendered.home
    assert (home / "gateway.pid").exists() and (home / "gateway.lock").exists()
    pod.restart(signal=9)
    assert api_status(pod, program) == 200
    assert api_status(pod, program, key="f" * 64) == 401
    assert liveness(pod) == 0
    assert os.stat(home / "gateway.pid").st_uid == HERMES


def test_liveness_fails_once_an_operator_stops_the_gateway(first_boot):
    """`hermes gateway stop` (the dashboard does the same) stops only the gateway; the liveness probe then
    fails and the kubelet restarts the container, whose `gateway run` starts the gateway again (README
    "Stopping the gateway")."""
    pod, _ = first_boot
    code, output = pod.exec([IMAGE_HERMES, "gateway", "stop"], as_hermes=True)
    assert code == 0, output
    status = pod.request("GET", 9119, "/api/status")
    assert status.status == 200 and status.json()["gateway_running"] is False  # the dashboard stays up
    assert liveness(pod) != 0


def pod_processes(pod: Pod) -> dict[int, float]:
    """{PID: CPU seconds so far} of every process in the pod's network namespace, all its containers'."""
    namespace = os.readlink(f"/proc/{pod.process.pid}/ns/net")
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or os.readlink(entry / "ns" / "net") != namespace:
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()  # proc(5): utime, stime are 14, 15
        except OSError:  # gone meanwhile
            continue
        found[int(entry.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


def test_stopping_the_pod_waits_for_every_process_it_started(first_boot):
    """Last in this module. The pod stops as the runtime stops a container, SIGTERM to its PID 1 only
    (pod_runner.stop_container), which stops its own processes; the runner waits for every one, so none
    outlives the pod and the CPU it reports (scripts/benchmark.py's per-pod figure) includes theirs."""
    pod, _ = first_boot
    before = pod_processes(pod)
    assert len(before) >= 3, before  # the runner, the container's PID 1, the dashboard (the gateway is stopped)
    pod.stop()
    assert [pid for pid in before if Path(f"/proc/{pid}").exists()] == []
    assert pod.cpu >= sum(before.values()), (pod.cpu, before)
