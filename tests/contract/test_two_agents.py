"""Two agents of one stack (README "Add an agent") side by side against the real Hermes 0.19.0, each
with its own Secret, volume and Telegram bot (issues 15 and 16).

One two-instance stack, its two pods started once for the module and at the same time (the suite's
slowest part is booting Hermes; the two boots, and the two gateways' first turns, overlap):
  - `hermes` takes the stack's top-level messaging: a bot and an allow-list. It answers the allowed user
    with the model's reply and ignores a stranger, although its volume starts with what a dashboard
    edit leaves in .env (another token, the stranger allowed), which `configure` replaces;
  - `research` (namespace hermes-research) sets its own messaging, which replaces the top-level map as
    a whole (README "Messaging is per agent"): its own bot, no allow-list. It polls with its own token
    only, pinned from its own Secret into its .env (hermes' token absent), and follows Hermes' default
    for an unknown user: hermes' allowed user gets a pairing code from research and no model reply
    (hermes' allow-list does not reach research) until the operator approves the code with the
    README's command;
  - each pod accepts its own exported API key and refuses the other's, and each volume holds only its
    own instance's key.

Each pod has the model stand-in (fake_models.py) and a Bot API stand-in (fake_telegram.py) of its own on
its private network (tests/contract/messaging_pod.py).
"""

from __future__ import annotations

import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.contract import fake_models
from tests.contract.messaging_pod import (ALLOWED_USER, MODEL, MODEL_SECRETS, STRANGER, TOKEN, PodWithTelegram,
                                          private_message, wait_for)
from tests.contract.model_pod import start
from tests.contract.pod import make_profile_active
from tests.harness import reveal, run_program

pytestmark = pytest.mark.contract

RESEARCH_TOKEN = "7098765432:AAGx1y2z3A4b5C6d7E8f9G0h1I2j3K4l5M6"
INSTANCES = {"hermes": {}, "research": {"namespace": "hermes-research", "dashboardUsername": "research",
                                        "messaging": {"telegram": {"botToken": {"secure": RESEARCH_TOKEN}}}}}
# What a dashboard edit leaves in .env, which Hermes loads over the environment.
DASHBOARD_SAVED_ENV = (f"TELEGRAM_BOT_TOKEN=1234567:dashboard-saved-token-000000000000000\n"
                       f"TELEGRAM_ALLOWED_USERS={STRANGER}\n")


@pytest.fixture(scope="module")
def program():
    return run_program("local", {**MODEL, "instances": INSTANCES, "messaging": {"telegram": {
        "botToken": {"secure": TOKEN}, "allowedUsers": [ALLOWED_USER]}}},
        secrets=MODEL_SECRETS, remove=("openrouterApiKey",))


@pytest.fixture(scope="module")
def pods(program, tmp_path_factory):
    for tool in ("unshare", "setpriv", "nsenter"):
        if shutil.which(tool) is None:
            pytest.fail(f"the contract tests need `{tool}` (util-linux) to run the pod's processes as Kubernetes would")
    rendered = {
        # The stranger's update comes first: by the time the allowed user is answered it has been handled.
        "hermes": PodWithTelegram(program, tmp_path_factory.mktemp("hermes"), [
            private_message(1, STRANGER, "hello, who are you?"), private_message(2, ALLOWED_USER, "ping")],
            deployment_name="hermes"),
        "research": PodWithTelegram(program, tmp_path_factory.mktemp("research"), [
            private_message(1, ALLOWED_USER, "hello from hermes' user")], deployment_name="research"),
    }
    (rendered["hermes"].home / ".env").write_text(DASHBOARD_SAVED_ENV)
    # research's dashboard made another profile active (`hermes profile use work`): the supervised gateway
    # keeps the root profile, so configure and the operator's commands must address that one.
    make_profile_active(rendered["research"].home, "work")
    with ThreadPoolExecutor(len(rendered)) as boots:
        starting = {name: boots.submit(start, pod) for name, pod in rendered.items()}
    running = {name: future.result() for name, future in starting.items() if future.exception() is None}
    try:
        for future in starting.values():
            future.result()  # a pod that did not start: its error, after the others are stopped below
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


def test_hermes_answers_its_allowed_user_with_the_models_reply_and_ignores_a_stranger(pods):
    pod = pods["hermes"]
    rendered = pod.rendered
    wait_for(lambda: any(fake_models.REPLY in t for t in rendered.sent_to(ALLOWED_USER)), 180, "the model's reply", pod)
    time.sleep(3)  # the stranger's update came first: anything sent to them would be recorded by now
    replies = [c["params"] for c in rendered.telegram_calls("sendMessage")]
    assert fake_models.REPLY in " ".join(rendered.sent_to(ALLOWED_USER)), replies
    assert rendered.sent_to(STRANGER) == [], replies
    assert rendered.calls("/chat/completions"), "the model stand-in answered the turn"


def test_research_without_an_allow_list_sends_hermes_user_a_pairing_code_and_answers_once_approved(pods):
    """Hermes' own default: no allow-list, so nobody, but an unknown direct message gets a pairing code
    (gateway/run.py line 10075) which the operator approves with the README's command. The user is the
    one hermes allows: hermes' allow-list does not reach research. research's volume has another profile
    active, which a bare `hermes pairing approve` would follow (hermes_cli/main.py _apply_profile_override;
    gateway/pairing.py keeps approvals under the profile's home) where the gateway never looks."""
    pod = pods["research"]
    rendered = pod.rendered
    wait_for(lambda: any("pairing code" in t for t in rendered.sent_to(ALLOWED_USER)), 120, "a pairing code", pod)
    assert rendered.calls("/chat/completions") == [], "an unknown user never reaches the model"
    assert not any(fake_models.REPLY in t for t in rendered.sent_to(ALLOWED_USER)), rendered.sent_to(ALLOWED_USER)
    code = re.search(r"hermes pairing approve telegram (\w+)",
                     " ".join(rendered.sent_to(ALLOWED_USER)).replace("\\", "")).group(1)
    # README: kubectl exec ... -- /command/s6-setuidgid hermes env HOME=/opt/data .../hermes --profile default
    # pairing approve
    status, output = pod.exec(["/opt/hermes/.venv/bin/hermes", "--profile", "default", "pairing", "approve",
                               "telegram", code], as_hermes=True)
    assert status == 0, output
    rendered.queue(private_message(2, ALLOWED_USER, "ping"))
    wait_for(lambda: any(fake_models.REPLY in t for t in rendered.sent_to(ALLOWED_USER)), 180, "the model's reply", pod)


# Last, so that they see every call each gateway made while the module ran.
def test_each_agent_polls_its_own_bot_with_the_token_of_its_own_secret_only(pods):
    assert {c["token"] for c in pods["hermes"].rendered.telegram_calls("getUpdates")} == {TOKEN}
    assert {c["token"] for c in pods["research"].rendered.telegram_calls("getUpdates")} == {RESEARCH_TOKEN}


def test_each_volume_holds_its_own_bot_token_only(pods):
    """`configure` pins the token of the instance's own Secret into its .env, over a dashboard-saved one."""
    hermes_env = (pods["hermes"].rendered.home / ".env").read_text()
    research_env = (pods["research"].rendered.home / ".env").read_text()
    assert TOKEN in hermes_env and "dashboard-saved-token" not in hermes_env and RESEARCH_TOKEN not in hermes_env
    assert RESEARCH_TOKEN in research_env and TOKEN not in research_env
