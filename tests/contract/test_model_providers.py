"""Every OpenAI-compatible model provider the stack configures answers a chat through the real gateway.

For each provider: the program renders the pod, the contract runner runs it (tests/contract/pod.py)
with a stand-in for the provider in the same private network namespace (tests/contract/fake_models.py),
a chat completion goes to the gateway with the stack's API key, and the stand-in shows what Hermes sent:
the configured model id and the provider key. Bedrock, with the credentials EKS delivers, is
tests/contract/test_bedrock_providers.py (a module of its own so the suite's workers share the pods).

The env Hermes gets is the rendered pod's, plus only where the provider is, because the real one is not
reachable from the test's namespace: OPENROUTER_BASE_URL (Hermes' own override of
https://openrouter.ai/api/v1, read in hermes_cli/runtime_provider.py _resolve_openrouter_runtime and
declared as the provider's base_url_env_var in hermes_cli/providers.py).
"""

from __future__ import annotations

import json

import pytest
import yaml

from tests.contract import fake_models
from tests.contract.model_pod import MODEL_SERVER, PodWithModelServer, answer, chat, chat_and_expect_the_reply, start
from tests.harness import run_program

pytestmark = pytest.mark.contract

BASE = {"dashboardUsername": "operator"}


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
