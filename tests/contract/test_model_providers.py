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
from pathlib import Path

import pytest
import yaml

from tests.contract import fake_models
from tests.contract.model_pod import MODEL_HOST, MODEL_PORT, MODEL_SERVER, PodWithModelServer, answer, chat, start
from tests.contract.pod import RenderedPod
from tests.harness import run_program

pytestmark = pytest.mark.contract

CLUSTER_REGION = "us-east-1"  # what the EKS webhook injects as AWS_REGION: the cluster's region
BEDROCK_REGION = "eu-central-1"  # bedrockRegion: where Hermes must call Bedrock, whatever AWS_REGION says
ROLE_ARN = "arn:aws:iam::123456789012:role/hermes-bedrock"
IRSA_TOKEN_FILE = "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"
POD_IDENTITY_TOKEN_FILE = "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token"

BASE = {"dashboardUsername": "operator"}


# --- OpenAI-compatible providers -------------------------------------------------------------------

def test_custom_endpoint_gets_the_configured_model_and_key(tmp_path):
    key = "sk-custom-contract-key-0123456789"
    program = run_program("local", {**BASE, "modelProvider": "custom", "modelDefault": "contract/custom-model",
                                    "modelBaseUrl": f"{MODEL_SERVER}/v1"},
                          secrets={"customModelApiKey": key}, remove=("openrouterApiKey",))
    rendered = PodWithModelServer(program, tmp_path)
    pod = start(rendered)
    try:
        completion = chat(pod, program)
    finally:
        pod.stop()
    assert answer(completion) == fake_models.REPLY
    calls = rendered.calls("/v1/chat/completions")
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
    rendered = PodWithModelServer(program, tmp_path, {"OPENROUTER_BASE_URL": f"{MODEL_SERVER}/api/v1"})
    pod = start(rendered)
    try:
        completion = chat(pod, program)
    finally:
        pod.stop()
    assert answer(completion) == fake_models.REPLY
    calls = rendered.calls("/api/v1/chat/completions")
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


def write_token(workdir: Path, image_path: str, token: str) -> str:
    """A projected service account token, where the mapped AWS_*_TOKEN_FILE points."""
    local = workdir / "projected" / Path(image_path).name
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
    token = write_token(tmp_path, IRSA_TOKEN_FILE, fake_models.WEB_IDENTITY_TOKEN)
    env = {**bedrock_env(), "AWS_ENDPOINT_URL_STS": MODEL_SERVER,
           "AWS_ROLE_ARN": ROLE_ARN, "AWS_WEB_IDENTITY_TOKEN_FILE": token}
    rendered = PodWithModelServer(program, tmp_path, env)
    pod = start(rendered)
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
    token = write_token(tmp_path, POD_IDENTITY_TOKEN_FILE, fake_models.POD_IDENTITY_TOKEN)
    env = {**bedrock_env(),
           "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"http://{fake_models.POD_IDENTITY_AGENT_IP}/v1/credentials",
           "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": token}
    rendered = PodWithModelServer(program, tmp_path, env,
                                  addresses=(f"{MODEL_HOST}:{MODEL_PORT}", f"{fake_models.POD_IDENTITY_AGENT_IP}:80"))
    pod = start(rendered)
    try:
        completion = chat(pod, program)
    finally:
        pod.stop()
    assert answer(completion) == fake_models.REPLY
    agent = [r for r in rendered.requests() if r.get("path") == "/v1/credentials"]
    assert agent and agent[0]["headers"].get("Authorization") == fake_models.POD_IDENTITY_TOKEN
    assert_signed_bedrock_call(rendered, fake_models.ACCESS_KEY_POD_IDENTITY)
