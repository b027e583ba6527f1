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
    AWS_ENDPOINT_URL_STS (the AWS SDKs' service-specific endpoint overrides, which boto3 honours) and
    ANTHROPIC_BEDROCK_BASE_URL (the anthropic SDK's own override for its Bedrock client,
    anthropic/lib/bedrock/_client.py, which ignores AWS_ENDPOINT_URL_*);
  - what EKS injects into every container of a pod whose service account has a role: for IRSA
    (the pod identity webhook) AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE, AWS_STS_REGIONAL_ENDPOINTS,
    AWS_REGION and AWS_DEFAULT_REGION; for EKS Pod Identity AWS_CONTAINER_CREDENTIALS_FULL_URI
    (the agent at 169.254.170.23) and AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, plus the same three.
    The token files are projected as the kubelet does it (tests/contract/model_pod.py): readable by the
    pod's fsGroup, which the gateway's `hermes` user holds, at the paths EKS injects.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, unquote

import pytest
import yaml

from tests.contract import fake_models
from tests.contract.model_pod import MODEL_HOST, MODEL_PORT, MODEL_SERVER, PodWithModelServer, answer, chat, start
from tests.harness import run_program

pytestmark = pytest.mark.contract

CLUSTER_REGION = "us-east-1"  # what the EKS webhook injects as AWS_REGION: the cluster's region
BEDROCK_REGION = "eu-central-1"  # bedrockRegion: where Hermes must call Bedrock, whatever AWS_REGION says
ROLE_ARN = "arn:aws:iam::123456789012:role/hermes-bedrock"
IRSA_TOKEN_FILE = "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"
POD_IDENTITY_TOKEN_FILE = "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token"

BASE = {"dashboardUsername": "operator"}


def chat_and_expect_the_reply(rendered: PodWithModelServer) -> None:
    """Start the pod, send one chat through the gateway with the stack's key, and get the model's answer."""
    pod = start(rendered)
    try:
        completion = chat(pod, rendered.program)
    finally:
        pod.stop()
    assert answer(completion) == fake_models.REPLY


def assert_bearer_calls(rendered: PodWithModelServer, path: str, model: str, key: str) -> None:
    """The OpenAI-compatible server got the configured model id and the stack's key, on every call."""
    calls = rendered.calls(path)
    assert calls, rendered.requests()
    assert {c["body"]["model"] for c in calls} == {model}
    assert {c["headers"].get("Authorization") for c in calls} == {f"Bearer {key}"}


# --- OpenAI-compatible providers -------------------------------------------------------------------

CUSTOM_KEY = "sk-custom-contract-key-0123456789"


@pytest.fixture(scope="module")
def custom_endpoint(tmp_path_factory) -> tuple[PodWithModelServer, dict, list[dict]]:
    """The custom endpoint's pod after one chat: the pod, the chat's completion and the runner's events.
    One boot for both tests below: the second reads the volume the pod's own init containers wrote."""
    program = run_program("local", {**BASE, "modelProvider": "custom", "modelDefault": "contract/custom-model",
                                    "modelBaseUrl": f"{MODEL_SERVER}/v1"},
                          secrets={"customModelApiKey": CUSTOM_KEY}, remove=("openrouterApiKey",))
    rendered = PodWithModelServer(program, tmp_path_factory.mktemp("custom"))
    pod = start(rendered)
    try:
        completion = chat(pod, program)
    finally:
        pod.stop()
    return rendered, completion, pod.events


def test_custom_endpoint_gets_the_configured_model_and_key(custom_endpoint):
    rendered, completion, _ = custom_endpoint
    assert answer(completion) == fake_models.REPLY
    assert_bearer_calls(rendered, "/v1/chat/completions", "contract/custom-model", CUSTOM_KEY)


def test_custom_endpoint_key_is_never_written_into_config(custom_endpoint):
    """Neither by the configure init container nor by anything the pod ran after it (the image's boot,
    the gateway, a chat): config.yaml names the variable the key is in."""
    rendered, _, events = custom_endpoint
    init = rendered.container("configure")
    assert CUSTOM_KEY not in json.dumps(init)  # not in args, not in env literals
    # The runner reports an init container done only when it exited 0 (pod_runner.main).
    assert {"event": "init-done", "container": "configure"} in [
        {k: e.get(k) for k in ("event", "container")} for e in events]
    text = (rendered.home / "config.yaml").read_text()
    assert CUSTOM_KEY not in text
    assert yaml.safe_load(text)["model"]["api_key"] == "${OPENAI_API_KEY}"


def test_openrouter_gets_the_configured_model_and_key(tmp_path):
    key = "sk-or-v1-contract-key-0123456789"
    program = run_program("local", {**BASE, "modelProvider": "openrouter", "modelDefault": "vendor/contract-model"},
                          secrets={"openrouterApiKey": key})
    rendered = PodWithModelServer(program, tmp_path, {"OPENROUTER_BASE_URL": f"{MODEL_SERVER}/api/v1"})
    chat_and_expect_the_reply(rendered)
    assert_bearer_calls(rendered, "/api/v1/chat/completions", "vendor/contract-model", key)


# --- Bedrock, with credentials as EKS delivers them ------------------------------------------------
# Hermes 0.19.0 sends Claude models through the anthropic SDK's AnthropicBedrock client (InvokeModel,
# Anthropic's Messages API) and every other model through boto3's Converse API
# (hermes_cli/runtime_provider.py, provider == "bedrock"); both sign with botocore's credential chain.

DEV_STACK = Path(__file__).resolve().parents[2] / "Pulumi.dev.yaml"
CLAUDE = yaml.safe_load(DEV_STACK.read_text())["config"]["hermes-eks:modelDefault"]
NOVA = "eu.amazon.nova-pro-v1:0"
SIGV4 = re.compile(r"AWS4-HMAC-SHA256 Credential=(?P<key>[A-Z0-9]+)/\d{8}/(?P<region>[a-z0-9-]+)/(?P<service>[a-z-]+)"
                   r"/aws4_request, ")


def bedrock_pod(tmp_path: Path, identity: str, model: str) -> PodWithModelServer:
    """The dev stack's pod, with what EKS injects for `identity` and the stand-in's endpoints."""
    program = run_program("dev", {"podIdentityMode": identity, "modelDefault": model, "bedrockRegion": BEDROCK_REGION,
                                  "bedrockModels": [model]})
    env = {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": MODEL_SERVER, "ANTHROPIC_BEDROCK_BASE_URL": MODEL_SERVER,
           "AWS_STS_REGIONAL_ENDPOINTS": "regional", "AWS_REGION": CLUSTER_REGION, "AWS_DEFAULT_REGION": CLUSTER_REGION}
    addresses = [f"{MODEL_HOST}:{MODEL_PORT}"]
    if identity == "irsa":
        env |= {"AWS_ROLE_ARN": ROLE_ARN, "AWS_ENDPOINT_URL_STS": MODEL_SERVER,
                "AWS_WEB_IDENTITY_TOKEN_FILE": IRSA_TOKEN_FILE}
        tokens = {IRSA_TOKEN_FILE: fake_models.WEB_IDENTITY_TOKEN}
    else:
        env |= {"AWS_CONTAINER_CREDENTIALS_FULL_URI": f"http://{fake_models.POD_IDENTITY_AGENT_IP}/v1/credentials",
                "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": POD_IDENTITY_TOKEN_FILE}
        tokens = {POD_IDENTITY_TOKEN_FILE: fake_models.POD_IDENTITY_TOKEN}
        addresses.append(f"{fake_models.POD_IDENTITY_AGENT_IP}:80")
    return PodWithModelServer(program, tmp_path, env, addresses=tuple(addresses), tokens=tokens)


def assert_signed_bedrock_calls(rendered: PodWithModelServer, model: str, operations: set[str],
                                access_key: str) -> None:
    """The chat went through `operations`; every Bedrock call (Hermes also probes the model with a
    Converse call, agent/bedrock_adapter.py call_converse) named the model and was signed for it."""
    calls = [r for r in rendered.requests() if r.get("path", "").startswith("/model/")]
    called = set()
    for call in calls:
        _, _, called_model, operation = call["path"].split("?")[0].split("/")
        called.add(operation)
        assert unquote(called_model) == model, call["path"]
        signature = SIGV4.match(call["headers"].get("Authorization", ""))
        assert signature, call["headers"]
        assert signature["key"] == access_key
        assert (signature["region"], signature["service"]) == (BEDROCK_REGION, "bedrock")
    assert called & operations, rendered.requests()


def assert_irsa_exchange(rendered: PodWithModelServer) -> None:
    sts = [r for r in rendered.requests() if r.get("path") == "/" and "AssumeRoleWithWebIdentity" in str(r.get("body"))]
    assert sts, rendered.requests()
    assert parse_qs(sts[0]["body"])["RoleArn"] == [ROLE_ARN]


def test_bedrock_claude_answers_with_irsa_credentials(tmp_path):
    rendered = bedrock_pod(tmp_path, "irsa", CLAUDE)
    chat_and_expect_the_reply(rendered)
    assert_irsa_exchange(rendered)
    assert_signed_bedrock_calls(rendered, CLAUDE, {"invoke", "invoke-with-response-stream"},
                                fake_models.ACCESS_KEY_IRSA)


def test_bedrock_claude_answers_with_eks_pod_identity_credentials(tmp_path):
    rendered = bedrock_pod(tmp_path, "pod-identity", CLAUDE)
    chat_and_expect_the_reply(rendered)
    agent = [r for r in rendered.requests() if r.get("path") == "/v1/credentials"]
    assert agent and {r["headers"].get("Authorization") for r in agent} == {fake_models.POD_IDENTITY_TOKEN}
    assert_signed_bedrock_calls(rendered, CLAUDE, {"invoke", "invoke-with-response-stream"},
                                fake_models.ACCESS_KEY_POD_IDENTITY)


def test_bedrock_converse_model_answers_with_irsa_credentials(tmp_path):
    rendered = bedrock_pod(tmp_path, "irsa", NOVA)
    chat_and_expect_the_reply(rendered)
    assert_irsa_exchange(rendered)
    assert_signed_bedrock_calls(rendered, NOVA, {"converse", "converse-stream"}, fake_models.ACCESS_KEY_IRSA)
