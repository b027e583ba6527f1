"""The contract pod with a model provider's stand-in beside it (tests/contract/fake_models.py).

The stand-in runs as one more "container" of the runner spec, so it shares the pod's private network
namespace (loopback only) and plays a host of the network the pod would reach its provider on.

Projected service account tokens (what EKS mounts for IRSA and Pod Identity) are files of a volume the
kubelet writes, next to the pod's other volumes: with an fsGroup the token is written 0600 and
SetVolumeOwnership then gives it to the fsGroup read-only, root:<fsGroup> 0640 in a setgid directory
(kubernetes pkg/volume/projected/projected.go: "When FsGroup is set, we depend on SetVolumeOwnership
to change from 0600 to 0640"). The image's `hermes` user reads it through its group 10000, which is
the pod's fsGroup; nobody else can.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from tests.contract import fake_models
from tests.contract.pod import Pod, RenderedPod
from tests.harness import reveal

# Another host on the pod's private network (every address of 127/8 is loopback there).
MODEL_HOST = "127.0.0.9"
MODEL_PORT = 8000
MODEL_SERVER = f"http://{MODEL_HOST}:{MODEL_PORT}"
GATEWAY_PORT = 8642
# An agent turn is real work (prompt assembly, tools, one or more model calls); on a loaded CI machine
# it can outlast the runner's default 15 s per request.
AGENT_TURN_SECONDS = 120


class PodWithModelServer(RenderedPod):
    """The rendered pod, its env extended by `extra_env` (what the caller documents, image paths mapped),
    its projected token files (`tokens`: the path inside the container -> the token), and the stand-in.
    `deployment_name`: which instance's Deployment (RenderedPod)."""

    def __init__(self, program, workdir: Path, extra_env: dict[str, str] | None = None,
                 addresses: tuple[str, ...] = (f"{MODEL_HOST}:{MODEL_PORT}",), tokens: dict[str, str] | None = None,
                 deployment_name: str = ""):
        super().__init__(program, workdir, deployment_name)
        self.extra_env = dict(extra_env or {})
        self.addresses = list(addresses)
        self.record = workdir / "model-server.jsonl"
        self.record.write_text("")
        self.projected = {}  # mount path inside the image -> its directory here
        for image_path, token in (tokens or {}).items():
            self.project_token(image_path, token)

    def project_token(self, image_path: str, token: str) -> None:
        """A projected serviceAccountToken volume as the kubelet leaves it (module docstring)."""
        mount = str(Path(image_path).parent)
        local = self.projected.setdefault(mount, self.root / "projected" / mount.lstrip("/"))
        local.mkdir(parents=True, exist_ok=True)  # the image's own directories on the way: root's, 0755
        fs_group = self.spec.get("securityContext", {}).get("fsGroup")
        token_file = local / Path(image_path).name
        token_file.write_text(token)
        token_file.chmod(0o600)
        if fs_group is not None:
            for path, mode in ((local, 0o2755), (token_file, 0o640)):
                os.chown(path, 0, fs_group)
                path.chmod(mode)

    def map_path(self, value: str, tmp: Path) -> str:
        for mount, local in self.projected.items():
            if value == mount or value.startswith(mount + "/"):
                return str(local) + value[len(mount):]
        return super().map_path(value, tmp)

    def env(self, container: dict) -> dict[str, str]:
        tmp = self.tmp(container)
        return {**super().env(container), **{k: self.map_path(v, tmp) for k, v in self.extra_env.items()}}

    def runner_spec(self) -> dict:
        spec = super().runner_spec()
        spec["containers"].append({"name": "model-server", "ready": [], "processes": [{
            "name": "main", "env": {"PATH": "/usr/sbin:/usr/bin:/bin"},
            "argv": [sys.executable, fake_models.__file__, str(self.record), *self.addresses]}]})
        return spec

    def requests(self) -> list[dict]:
        return [json.loads(line) for line in self.record.read_text().splitlines()]

    def calls(self, suffix: str) -> list[dict]:
        """Requests the stand-in received whose path ends with `suffix`."""
        return [r for r in self.requests() if r.get("path", "").split("?")[0].endswith(suffix)]

    def wait_listening(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while {r.get("listening") for r in self.requests()} < set(self.addresses):
            failed = [r for r in self.requests() if "failed" in r]
            assert not failed and time.monotonic() < deadline, f"the model server did not start: {self.requests()}"
            time.sleep(0.1)


def start(rendered: PodWithModelServer) -> Pod:
    if shutil.which("unshare") is None:
        pytest.fail("the contract tests need `unshare` (util-linux) to give the pod its own network namespace")
    pod = Pod(rendered)
    rendered.wait_listening()
    return pod


def chat_and_expect_the_reply(rendered: PodWithModelServer) -> None:
    """Start the pod, send one chat through the gateway with the stack's key, and get the model's answer."""
    pod = start(rendered)
    try:
        completion = chat(pod, rendered.program)
    finally:
        pod.stop()
    assert answer(completion) == fake_models.REPLY


def bearer(program) -> dict[str, str]:
    return {"Authorization": f"Bearer {reveal(program.outputs['api_server_key'])}"}


def chat(pod: Pod, program, text: str = "ping") -> dict:
    response = pod.request("POST", GATEWAY_PORT, "/v1/chat/completions", headers=bearer(program),
                           timeout=AGENT_TURN_SECONDS,
                           json={"model": "hermes-agent", "messages": [{"role": "user", "content": text}]})
    assert response.status == 200, (response, pod.logs())
    return response.json()


def answer(completion: dict) -> str:
    return completion["choices"][0]["message"]["content"]
