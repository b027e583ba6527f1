"""Bedrock answers a chat through the real gateway with the credentials EKS delivers.

The dev stack's pod, run by the contract runner (tests/contract/pod.py) with a stand-in for Bedrock, STS
and the Pod Identity agent in the same private network namespace (tests/contract/fake_models.py): a chat
completion goes to the gateway with the stack's API key, and the stand-in shows a SigV4 signature for the
configured region and the `bedrock` service, made with the credentials EKS delivers. Hermes 0.19.0 sends
Claude models through the anthropic SDK's AnthropicBedrock client (InvokeModel, Anthropic's Messages API)
and every other model through boto3's Converse API (hermes_cli/runtime_provider.py, provider ==
"bedrock"); both sign with botocore's credential chain.

The env Hermes gets is the rendered pod's, plus only:
  - where Bedrock and STS are, because the real ones are not reachable from the test's namespace:
    AWS_ENDPOINT_URL_BEDROCK_RUNTIME and AWS_ENDPOINT_URL_STS (the AWS SDKs' service-specific endpoint
    overrides, which boto3 honours) and ANTHROPIC_BEDROCK_BASE_URL (the anthropic SDK's own override for
    its Bedrock client, anthropic/lib/bedrock/_client.py, which ignores AWS_ENDPOINT_URL_*);
  - what EKS injects into every container of a pod whose service account has a role: for IRSA
    (the pod identity webhook) AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE, AWS_STS_REGIONAL_ENDPOINTS,
    AWS_REGION and AWS_DEFAULT_REGION; for EKS Pod Identity AWS_CONTAINER_CREDENTIALS_FULL_URI
    (the agent at 169.254.170.23) and AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, plus the same three.
    The token files are projected as the kubelet does it (tests/contract/model_pod.py): readable by the
    pod's fsGroup, which the gateway's `hermes` user holds, at the paths EKS injects.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, unquote

import pytest
import yaml

from tests.contract import fake_models
from tests.contract.model_pod import MODEL_HOST, MODEL_PORT, MODEL_SERVER, PodWithModelServer, chat_and_expect_the_reply
from tests.harness import run_program

pytestmark = pytest.mark.contract

CLUSTER_REGION = "us-east-1"  # what the EKS webhook injects as AWS_REGION: the cluster's region
BEDROCK_REGION = "eu-central-1"  # bedrockRegion: where Hermes must call Bedrock, whatever AWS_REGION says
ROLE_ARN = "arn:aws:iam::123456789012:role/hermes-bedrock"
IRSA_TOKEN_FILE = "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"
POD_IDENTITY_TOKEN_FILE = "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token"

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
