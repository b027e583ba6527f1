"""Two Hermes instances of one stack (README "Add an agent") side by side against the real Hermes: each
pod runs with its own Secret and volume, accepts its own exported API key and refuses the other's."""

from __future__ import annotations

import shutil

import pytest

from tests.contract.pod import Pod, RenderedPod
from tests.harness import reveal, run_program

pytestmark = pytest.mark.contract

INSTANCES = {"hermes": {}, "research": {"namespace": "hermes-research", "dashboardUsername": "research"}}


@pytest.fixture(scope="module")
def program():
    return run_program("local", {"instances": INSTANCES})


@pytest.fixture(scope="module")
def pods(program, tmp_path_factory):
    for tool in ("unshare", "setpriv", "nsenter"):
        if shutil.which(tool) is None:
            pytest.fail(f"the contract tests need `{tool}` (util-linux) to run the pod's processes as Kubernetes would")
    running = {}
    try:
        for name in INSTANCES:
            running[name] = Pod(RenderedPod(program, tmp_path_factory.mktemp(name), deployment_name=name))
        yield running
    finally:
        for pod in running.values():
            pod.stop()


def keys(program) -> dict[str, str]:
    credentials = reveal(program.outputs["instance_credentials"])
    return {name: credentials[name]["api_server_key"] for name in INSTANCES}


def test_each_instance_has_credentials_of_its_own(program):
    assert len(set(keys(program).values())) == 2


@pytest.mark.parametrize("name", INSTANCES)
def test_each_pod_accepts_its_own_key_and_refuses_the_other_instances(pods, program, name):
    pod = pods[name]
    [other] = set(INSTANCES) - {name}
    port = next(p["containerPort"] for c in pod.rendered.spec["containers"] for p in c["ports"] if p["name"] == "api")
    own = pod.request("GET", port, "/v1/models", headers={"Authorization": f"Bearer {keys(program)[name]}"})
    assert own.status == 200, own
    foreign = pod.request("GET", port, "/v1/models", headers={"Authorization": f"Bearer {keys(program)[other]}"})
    assert foreign.status == 401


@pytest.mark.parametrize("name", INSTANCES)
def test_each_volume_holds_only_its_own_instances_key(pods, program, name):
    [other] = set(INSTANCES) - {name}
    env_file = (pods[name].rendered.home / ".env").read_text()
    assert keys(program)[name] in env_file and keys(program)[other] not in env_file
