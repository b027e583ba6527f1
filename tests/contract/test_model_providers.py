"""Every model provider the stack configures answers a chat through the real gateway.

For each provider: the program renders the pod, the contract runner runs it (tests/contract/pod.py)
with a stand-in for the provider in the same private network namespace (tests/contract/fake_models.py),
a chat completion goes to the gateway with the stack's API key, and the stand-in shows what Hermes sent:
the configured model id and the provider key, or a SigV4 signature for the configured region and the
`bedrock` service made with the credentials EKS delivers.

The env Hermes gets is the rendered pod's, plus only:
  - where the provider is, because the real one is not reachable from the test's namespace:
    OPENROUTER_BASE_URL (Hermes' own override of https://openrouter.ai/api/v1, read in
    hermes_cli/runtime_provider.py _resolve_openrouter_runtime and declared as the provider's
    base_url_env_var in hermes_cli/providers.py), AWS_ENDPOINT_URL_BEDROCK_RUNTIME and
    AWS_ENDPOINT_URL_STS (the AWS SDKs' service-specific endpoint overrides);
  - what EKS injects into every container of a pod whose service account has a role: for IRSA
    (the pod identity webhook) AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE, AWS_STS_REGIONAL_ENDPOINTS,
    AWS_REGION and AWS_DEFAULT_REGION; for EKS Pod Identity AWS_CONTAINER_CREDENTIALS_FULL_URI
    (the agent at 169.254.170.23) and AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, plus the same three.
    The projected token files are written where the mapped paths point.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.contract import fake_models
from tests.contract.pod import Pod, RenderedPod
from tests.harness import reveal, run_program

pytestmark = pytest.mark.contract

# The provider's stand-in: another host on the pod's private network (all of 127/8 is loopback).
MODEL_HOST = "127.0.0.9"
MODEL_PORT = 8000
MODEL_SERVER = f"http://{MODEL_HOST}:{MODEL_PORT}"
CLUSTER_REGION = "us-east-1"  # what the EKS webhook injects as AWS_REGION: the cluster's region
BEDROCK_REGION = "eu-central-1"  # bedrockRegion: where Hermes must call Bedrock, whatever AWS_REGION says
ROLE_ARN = "arn:aws:iam::123456789012:role/hermes-bedrock"
IRSA_TOKEN_FILE = "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"
POD_IDENTITY_TOKEN_FILE = "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token"

BASE = {"dashboardUsername": "operator"}


class PodWithModelServer(RenderedPod):
    """The rendered pod, its env extended as the module docstring lists, and the stand-in beside it."""

    def __init__(self, program, workdir: Path, extra_env: dict[str, str], addresses: list[str]):
        super().__init__(program, workdir)
        self.extra_env = extra_env
        self.addresses = addresses
        self.record = workdir / "model-server.jsonl"
        self.record.touch()

    def env(self, container: dict) -> dict[str, str]:
        return {**super().env(container), **self.extra_env}

    def runner_spec(self) -> dict:
        spec = super().runner_spec()
        spec["containers"].append({"name": "model-server", "ready": [], "processes": [{
            "name": "main", "env": {"PATH": "/usr/sbin:/usr/bin:/bin"},
            "argv": [sys.executable, fake_models.__file__, str(self.record), *self.addresses]}]})
        return spec

    def requests(self) -> list[dict]:
        return [json.loads(line) for line in self.record.read_text().splitlines()]

    def wait_listening(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while {r.get("listening") for r in self.requests()} < set(self.addresses):
            failed = [r for r in self.requests() if "failed" in r]
            assert not failed and time.monotonic() < deadline, f"the model server did not start: {self.requests()}"
            time.sleep(0.1)


def start(program, workdir: Path, extra_env: dict[str, str] | None = None,
          addresses: tuple[str, ...] = (f"{MODEL_HOST}:{MODEL_PORT}",)) -> tuple[Pod, PodWithModelServer]:
    if shutil.which("unshare") is None:
        pytest.fail("the contract tests need `unshare` (util-linux) to give the pod its own network namespace")
    rendered = PodWithModelServer(program, workdir, dict(extra_env or {}), list(addresses))
    pod = Pod(rendered)
    rendered.wait_listening()
    return pod, rendered


def chat(pod: Pod, program, text: str = "ping") -> dict:
    response = pod.request("POST", 8642, "/v1/chat/completions",
                           headers={"Authorization": f"Bearer {reveal(program.outputs['api_server_key'])}"},
                           json={"model": "hermes-agent", "messages": [{"role": "user", "content": text}]})
    assert response.status == 200, (response, pod.logs())
    return response.json()


def answer(completion: dict) -> str:
    return completion["choices"][0]["message"]["content"]


def model_calls(rendered: PodWithModelServer, suffix: str) -> list[dict]:
    return [r for r in rendered.requests() if r.get("path", "").split("?")[0].endswith(suffix)]


# --- OpenAI-compatible providers -------------------------------------------------------------------

def test_custom_endpoint_gets_the_configured_model_and_key(tmp_path):
    key = "sk-custom-contract-key-0123456789"
    program = run_program("local", {**BASE, "modelProvider": "custom", "modelDefault": "contract/custom-model",
                                    "modelBaseUrl": f"{MODEL_SERVER}/v1"},
                          secrets={"customModelApiKey": key}, remove=("openrouterApiKey",))
    pod, rendered = start(program, tmp_path)
    try:
        completion = chat(pod, program)
    finally:
        pod.stop()
    assert answer(completion) == fake_models.REPLY
    calls = model_calls(rendered, "/v1/chat/completions")
    assert calls, rendered.requests()
    assert {c["body"]["model"] for c in calls} == {"contract/custom-model"}
    assert {c["headers"].get("Authorization") for c in calls} == {f"Bearer {key}"}


def test_custom_endpoint_key_is_never_written_into_config(tmp_path):
    key = "sk-custom-contract-key-0123456789"
    program = run_program("local", {**BASE, "modelProvider": "custom", "modelDefault": "m",
                                    "modelBaseUrl": f"{MODEL_SERVER}/v1"},
                          secrets={"customModelApiKey": key}, remove=("openrouterApiKey",))
    rendered = RenderedPod(program, tmp_path)
    init = rendered.container("configure")
    assert key not in json.dumps(init)  # not in args, not in env literals
    assert rendered.run_init("configure").returncode == 0
    text = (rendered.home / "config.yaml").read_text()
    assert key not in text
    assert yaml.safe_load(text)["model"]["api_key"] == "${OPENAI_API_KEY}"


def test_openrouter_gets_the_configured_model_and_key(tmp_path):
    key = "sk-or-v1-contract-key-0123456789"
    program = run_program("local", {**BASE, "modelProvider": "openrouter", "modelDefault": "vendor/contract-model"},
                          secrets={"openrouterApiKey": key})
    pod, rendered = start(program, tmp_path, {"OPENROUTER_BASE_URL": f"{MODEL_SERVER}/api/v1"})
    try:
        completion = chat(pod, program)
    finally:
        pod.stop()
    assert answer(completion) == fake_models.REPLY
    calls = model_calls(rendered, "/api/v1/chat/completions")
    assert calls, rendered.requests()
    assert {c["body"]["model"] for c in calls} == {"vendor/contract-model"}
    assert {c["headers"].get("Authorization") for c in calls} == {f"Bearer {key}"}


# --- Bedrock, with credentials as EKS delivers them ------------------------------------------------

BEDROCK = {**BASE, "modelProvider": "bedrock", "modelDefault": "eu.amazon.nova-pro-v1:0",
           "bedrockRegion": BEDROCK_REGION}
SIGV4 = re.compile(r"AWS4-HMAC-SHA256 Credential=(?P<key>[A-Z0-9]+)/\d{8}/(?P<region>[a-z0-9-]+)/(?P<service>[a-z-]+)/aws4_request, ")


def bedrock_env() -> dict[str, str]:
    return {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": MODEL_SERVER, "AWS_STS_REGIONAL_ENDPOINTS": "regional",
            "AWS_REGION": CLUSTER_REGION, "AWS_DEFAULT_REGION": CLUSTER_REGION}


def write_token(rendered: RenderedPod, image_path: str, token: str) -> str:
    local = rendered.workdir / "projected" / Path(image_path).name
    local.parent.mkdir(exist_ok=True)
    local.write_text(token)
    return str(local)


def assert_signed_bedrock_call(rendered: PodWithModelServer, access_key: str) -> None:
    calls = [r for r in rendered.requests() if r.get("path", "").startswith("/model/")]
    assert calls, rendered.requests()
    for call in calls:
        model = call["path"].split("/")[2]
        assert model in ("eu.amazon.nova-pro-v1:0", "eu.amazon.nova-pro-v1%3A0")
        signature = SIGV4.match(call["headers"].get("Authorization", ""))
        assert signature, call["headers"]
        assert signature["key"] == access_key
        assert (signature["region"], signature["service"]) == (BEDROCK_REGION, "bedrock")


def test_bedrock_answers_with_irsa_credentials(tmp_path):
    program = run_program("dev", {**BEDROCK, "podIdentityMode": "irsa"})
    probe = RenderedPod(program, tmp_path)
    token = write_token(probe, IRSA_TOKEN_FILE, fake_models.WEB_IDENTITY_TOKEN)
    env = {**bedrock_env(), "AWS_ENDPOINT_URL_STS": MODEL_SERVER,
           "AWS_ROLE_ARN": ROLE_ARN, "AWS_WEB_IDENTITY_TOKEN_FILE": token}
    pod, rendered = start(program, tmp_path, env)
    try:
        completion = chat(pod, program)
    finally:
        pod.stop()
    assert answer(completion) == fake_models.REPLY
    sts = [r for r in rendered.requests() if r.get("path") == "/" and "AssumeRoleWithWebIdentity" in str(r.get("body"))]
    assert sts and f"RoleArn={ROLE_ARN.replace(':', '%3A').replace('/', '%2F')}" in sts[0]["body"]
    assert_signed_bedrock_call(rendered, fake_models.ACCESS_KEY_IRSA)


def test_bedrock_answers_with_eks_pod_identity_credentials(tmp_path):
    program = run_program("dev", {**BEDROCK, "podIdentityMode": "pod-identity"})
    probe = RenderedPod(program, tmp_path)
    token = write_token(probe, POD_IDENTITY_TOKEN_FILE, fake_models.POD_IDENTITY_TOKEN)
    env = {**bedrock_env(),
           "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"http://{fake_models.POD_IDENTITY_AGENT_IP}/v1/credentials",
           "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": token}
    pod, rendered = start(program, tmp_path, env,
                          addresses=(f"{MODEL_HOST}:{MODEL_PORT}", f"{fake_models.POD_IDENTITY_AGENT_IP}:80"))
    try:
        completion = chat(pod, program)
    finally:
        pod.stop()
    assert answer(completion) == fake_models.REPLY
    agent = [r for r in rendered.requests() if r.get("path") == "/v1/credentials"]
    assert agent and agent[0]["headers"].get("Authorization") == fake_models.POD_IDENTITY_TOKEN
    assert_signed_bedrock_call(rendered, fake_models.ACCESS_KEY_POD_IDENTITY)
