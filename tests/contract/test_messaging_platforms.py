"""Messaging platforms configured by the stack, against the real gateway of Hermes 0.19.0 (issue 15).

The pod is the rendered one (tests/contract/pod.py): tokens come from the Secret the program rendered,
through the `configure` init container's pinning into .env, allow-lists from the plain env. The model is
the stand-in of tests/contract/fake_models.py (a `custom` endpoint on the pod's loopback network).

Telegram end to end: a Bot API stand-in (tests/contract/fake_telegram.py) shares the pod's network; the
only thing added to what the stack renders is where the Bot API is, because the real one is not
reachable: `telegram.extra.base_url` in config.yaml, which the adapter hands to python-telegram-bot
(plugins/platforms/telegram/adapter.py line 3426; `extra` of the `telegram:` block is passed through by
_apply_yaml_config, line 9378), and HERMES_TELEGRAM_DISABLE_FALLBACK_IPS so the adapter does not try to
discover api.telegram.org's addresses over DNS-over-HTTPS first (adapter.py, connect()).
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import pytest

from tests.contract import fake_models, fake_telegram
from tests.contract.model_pod import MODEL_SERVER, PodWithModelServer, start
from tests.harness import run_program

pytestmark = pytest.mark.contract

TELEGRAM_HOST = "127.0.0.10"  # another host of the pod's private network: "api.telegram.org"
TELEGRAM_PORT = 8081
TOKEN = "7012345678:AAHf3kq9Zx0Yw1Vb2Nc3Md4Le5Kf6Jg7Ih8"
ALLOWED_USER = 111111111
STRANGER = 999999999
MODEL = {"dashboardUsername": "operator", "modelProvider": "custom", "modelDefault": "contract/custom-model",
         "modelBaseUrl": f"{MODEL_SERVER}/v1"}


def private_message(update_id: int, user_id: int, text: str) -> dict:
    user = {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"}
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": int(time.time()), "text": text, "from": user,
        "chat": {"id": user_id, "type": "private", "first_name": user["first_name"]}}}


class PodWithTelegram(PodWithModelServer):
    """The rendered pod, the model stand-in, and a Telegram Bot API stand-in with these updates queued."""

    def __init__(self, program, workdir: Path, updates: list[dict], deployment_name: str = ""):
        super().__init__(program, workdir, extra_env={"HERMES_TELEGRAM_DISABLE_FALLBACK_IPS": "1"},
                         deployment_name=deployment_name)
        self.telegram_record = workdir / "telegram.jsonl"
        self.telegram_record.write_text("")
        self.updates = workdir / "updates.json"
        self.updates.write_text(json.dumps(updates))
        # What an operator of a local Bot API server would put into config.yaml (see module docstring).
        (self.home / "config.yaml").write_text(
            f"telegram:\n  extra:\n    base_url: http://{TELEGRAM_HOST}:{TELEGRAM_PORT}/bot\n")

    def runner_spec(self) -> dict:
        spec = super().runner_spec()
        spec["containers"].append({"name": "telegram-api", "ready": [], "processes": [{
            "name": "main", "env": {"PATH": "/usr/sbin:/usr/bin:/bin"},
            "argv": [sys.executable, fake_telegram.__file__, str(self.telegram_record),
                     f"{TELEGRAM_HOST}:{TELEGRAM_PORT}", str(self.updates)]}]})
        return spec

    def telegram_calls(self, method: str) -> list[dict]:
        lines = self.telegram_record.read_text().splitlines()
        return [c for c in map(json.loads, lines) if c.get("method") == method]


def wait_for(predicate, seconds: float, what: str, pod) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n{pod.logs()}"
        time.sleep(0.5)


def test_telegram_answers_an_allowed_user_with_the_models_reply_and_ignores_a_stranger(tmp_path):
    program = run_program("local", {**MODEL, "messaging": {"telegram": {
        "botToken": {"secure": TOKEN}, "allowedUsers": [ALLOWED_USER]}}},
        secrets={"customModelApiKey": "sk-custom-contract-key-0123456789"}, remove=("openrouterApiKey",))
    rendered = PodWithTelegram(program, tmp_path, [private_message(1, STRANGER, "hello, who are you?"),
                                                   private_message(2, ALLOWED_USER, "ping")])
    # What a dashboard edit leaves in .env, which Hermes loads over the environment: `configure` replaces
    # both lines with the stack's values before the gateway starts.
    (rendered.home / ".env").write_text(f"TELEGRAM_BOT_TOKEN=1234567:dashboard-saved-token-000000000000000\n"
                                        f"TELEGRAM_ALLOWED_USERS={STRANGER}\n")
    pod = start(rendered)
    try:
        wait_for(lambda: any(str(c["params"].get("chat_id")) == str(ALLOWED_USER)
                             and fake_models.REPLY in c["params"].get("text", "")
                             for c in rendered.telegram_calls("sendMessage")), 180, "the model's reply", pod)
        time.sleep(3)  # the stranger's update came first: anything sent to them would be recorded by now
    finally:
        pod.stop()
    # The token the gateway used is the one the stack put into the Secret.
    assert {c["token"] for c in rendered.telegram_calls("getUpdates")} == {TOKEN}
    replies = [c["params"] for c in rendered.telegram_calls("sendMessage")]
    texts = " ".join(r.get("text", "") for r in replies if str(r.get("chat_id")) == str(ALLOWED_USER))
    assert fake_models.REPLY in texts, replies
    assert [r for r in replies if str(r.get("chat_id")) == str(STRANGER)] == [], replies
    assert rendered.calls("/chat/completions"), "the model stand-in answered the turn"


def test_a_second_agent_answers_on_its_own_bot_with_the_token_of_its_own_secret(tmp_path):
    """Two agents, each with its own bot (README "Add an agent"): the research pod polls with research's
    token only, pinned from research-credentials, and answers its own allowed user."""
    research_token, research_user = "7098765432:AAGx1y2z3A4b5C6d7E8f9G0h1I2j3K4l5M6", 333333333
    program = run_program("local", {**MODEL, "messaging": {"telegram": {
        "botToken": {"secure": TOKEN}, "allowedUsers": [ALLOWED_USER]}}, "instances": {
        "hermes": {}, "research": {"namespace": "hermes-research", "messaging": {"telegram": {
            "botToken": {"secure": research_token}, "allowedUsers": [research_user]}}}}},
        secrets={"customModelApiKey": "sk-custom-contract-key-0123456789"}, remove=("openrouterApiKey",))
    rendered = PodWithTelegram(program, tmp_path, [private_message(1, ALLOWED_USER, "hello from hermes' user"),
                                                   private_message(2, research_user, "ping")], deployment_name="research")
    pod = start(rendered)
    try:
        wait_for(lambda: any(str(c["params"].get("chat_id")) == str(research_user)
                             and fake_models.REPLY in c["params"].get("text", "")
                             for c in rendered.telegram_calls("sendMessage")), 180, "the model's reply", pod)
        time.sleep(3)
    finally:
        pod.stop()
    assert {c["token"] for c in rendered.telegram_calls("getUpdates")} == {research_token}
    env_file = (rendered.home / ".env").read_text()
    assert research_token in env_file and TOKEN not in env_file
    replies = [c["params"] for c in rendered.telegram_calls("sendMessage")]
    assert [r for r in replies if str(r.get("chat_id")) == str(ALLOWED_USER)] == [], replies


def test_without_an_allow_list_a_stranger_gets_a_pairing_code_and_is_answered_once_approved(tmp_path):
    """Hermes' own default: no allow-list, so nobody, but an unknown direct message gets a pairing code
    (gateway/run.py line 10075) which the operator approves with the README's command."""
    program = run_program("local", {**MODEL, "messaging": {"telegram": {"botToken": {"secure": TOKEN}}}},
                          secrets={"customModelApiKey": "sk-custom-contract-key-0123456789"},
                          remove=("openrouterApiKey",))
    updates = [private_message(1, STRANGER, "hello")]
    rendered = PodWithTelegram(program, tmp_path, updates)
    pod = start(rendered)
    try:
        def to_stranger() -> list[str]:
            return [c["params"].get("text", "") for c in rendered.telegram_calls("sendMessage")
                    if str(c["params"].get("chat_id")) == str(STRANGER)]
        wait_for(lambda: any("pairing code" in t for t in to_stranger()), 120, "a pairing code", pod)
        assert rendered.calls("/chat/completions") == [], "an unknown user never reaches the model"
        code = re.search(r"hermes pairing approve telegram (\w+)", " ".join(to_stranger()).replace("\\", "")).group(1)
        # README: kubectl exec ... -- /command/s6-setuidgid hermes env HOME=/opt/data .../hermes pairing approve
        status, output = pod.exec(["/opt/hermes/.venv/bin/hermes", "pairing", "approve", "telegram", code],
                                  as_hermes=True)
        assert status == 0, output
        rendered.updates.write_text(json.dumps([*updates, private_message(2, STRANGER, "ping")]))
        wait_for(lambda: any(fake_models.REPLY in t for t in to_stranger()), 180, "the model's reply", pod)
    finally:
        pod.stop()
