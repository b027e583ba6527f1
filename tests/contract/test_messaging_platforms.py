"""Messaging platforms configured by the stack, against the real gateway of Hermes 0.19.0 (issue 15).

The pod is the rendered one (tests/contract/pod.py): tokens come from the Secret the program rendered,
through the `configure` init container's pinning into .env, allow-lists from the plain env. The model is
the stand-in of tests/contract/fake_models.py (a `custom` endpoint on the pod's loopback network).

Telegram end to end: a Bot API stand-in shares the pod's network (tests/contract/messaging_pod.py).
"""

from __future__ import annotations

import json
import re
import time

import pytest

from tests.contract import fake_models
from tests.contract.messaging_pod import (ALLOWED_USER, MODEL, STRANGER, TOKEN, PodWithTelegram, private_message,
                                          wait_for)
from tests.contract.model_pod import start
from tests.harness import run_program

pytestmark = pytest.mark.contract


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
