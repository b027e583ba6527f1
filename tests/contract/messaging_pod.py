"""The contract pod with a Telegram Bot API stand-in beside it (tests/contract/fake_telegram.py), for the
messaging contract tests (test_two_agents.py, test_every_messaging_platform.py).

The pod is the rendered one (tests/contract/pod.py) with the model stand-in (model_pod.py): tokens come
from the Secret the program rendered, through the `configure` init container's pinning into .env,
allow-lists from the plain env. The only thing added to what the stack renders is where the Bot API is,
because the real one is not reachable: `telegram.extra.base_url` in config.yaml, which the adapter hands
to python-telegram-bot (plugins/platforms/telegram/adapter.py line 3426; `extra` of the `telegram:` block
is passed through by the same file's _apply_yaml_config, line 9378), and
HERMES_TELEGRAM_DISABLE_FALLBACK_IPS so the adapter does not send its requests to fallback addresses of
api.telegram.org instead (adapter.py line 3508: it still tries to discover them over DNS-over-HTTPS,
which fails at once without DNS, but does not use them).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from tests.contract import fake_telegram
from tests.contract.model_pod import MODEL_SERVER, PodWithModelServer

TELEGRAM_HOST = "127.0.0.10"  # another host of the pod's private network: "api.telegram.org"
TELEGRAM_PORT = 8081
TOKEN = "7012345678:AAHf3kq9Zx0Yw1Vb2Nc3Md4Le5Kf6Jg7Ih8"
ALLOWED_USER = 111111111
STRANGER = 999999999
MODEL = {"dashboardUsername": "operator", "modelProvider": "custom", "modelDefault": "contract/custom-model",
         "modelBaseUrl": f"{MODEL_SERVER}/v1"}
MODEL_SECRETS = {"customModelApiKey": "sk-custom-contract-key-0123456789"}


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

    def sent_to(self, user: int) -> list[str]:
        """The texts of the messages the bot sent to `user`'s private chat."""
        return [c["params"].get("text", "") for c in self.telegram_calls("sendMessage")
                if str(c["params"].get("chat_id")) == str(user)]

    def queue(self, *updates: dict) -> None:
        """More updates for the bot (the stand-in reads the file on every getUpdates)."""
        self.updates.write_text(json.dumps([*json.loads(self.updates.read_text()), *updates]))


def wait_for(predicate, seconds: float, what: str, pod) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n{pod.logs()}"
        time.sleep(0.5)
