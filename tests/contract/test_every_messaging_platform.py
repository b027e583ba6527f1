"""Every messaging platform the stack offers, configured at once, against the real gateway of Hermes
0.19.0 (issue 15): the gateway starts with each enabled and reports it.

The gateway connects its platforms one after another, each for up to 30 s (gateway/run.py
_connect_adapter_with_timeout), and the webhook ports answer only after that. Telegram talks to the Bot
API stand-in of tests/contract/messaging_pod.py and connects at once; every other platform's server
does not resolve or answer in the pod's network, so its adapter fails at once and retries later.
In a module of its own, so the suite's two workers can run it beside the other contract tests
(pytest-xdist --dist loadfile keeps a module on one worker). The other messaging contract tests are in
test_two_agents.py.
"""

from __future__ import annotations

import pytest

from tests.contract.messaging_pod import ALLOWED_USER, MODEL, MODEL_SECRETS, TOKEN, PodWithTelegram, wait_for
from tests.contract.model_pod import GATEWAY_PORT, bearer, start
from tests.harness import run_program

pytestmark = pytest.mark.contract


# Every platform the stack offers, configured at once; Telegram's server is the stand-in, none of the
# others is reachable from the pod's network, so each of them starts, fails to connect and keeps
# retrying, which the gateway reports.
EVERY_PLATFORM = {
    "telegram": {"botToken": {"secure": TOKEN}, "allowedUsers": [ALLOWED_USER]},
    "slack": {"botToken": {"secure": "xoxb-1111111111-2222222222-abcdefghijklmnopqrstuvwx"},
              "appToken": {"secure": "xapp-1-A0123456789-1234567890123-abcdef0123456789"}, "allowedUsers": ["U0123ABCD"]},
    "discord": {"botToken": {"secure": "MTAxMjM0NTY3ODkwMTIzNDU2Nw.GAbCdE.abcdefghijklmnopqrstuvwxyz0123456789"},
                "allowedUsers": [123456789012345678]},
    "matrix": {"accessToken": {"secure": "syt_aGVybWVz_abcdefghijklmnopqrst_0AbCdE"},
               "homeserver": "https://matrix.hermes.test", "userId": "@hermes:hermes.test",
               "allowedUsers": ["@alice:hermes.test"]},
    "email": {"password": {"secure": "app-password-0123456789"}, "address": "hermes@hermes.test",
              "imapHost": "imap.hermes.test", "smtpHost": "smtp.hermes.test", "allowedUsers": ["alice@hermes.test"]},
    "signal": {"httpUrl": "http://127.0.0.11:8099", "account": "+4915112345678", "allowedUsers": ["+4915187654321"]},
    "whatsappCloud": {"accessToken": {"secure": "EAAGm0PX4ZCpsBAKZCZAabcdefghijklmnop"},
                      "appSecret": {"secure": "0123456789abcdef0123456789abcdef"},
                      "verifyToken": {"secure": "a-verify-token-we-chose"}, "phoneNumberId": "123456789012345",
                      "allowedUsers": ["4915187654321"]},
    "sms": {"authToken": {"secure": "0123456789abcdef0123456789abcdef"}, "accountSid": "AC0123456789abcdef0123456789abcdef",
            "phoneNumber": "+15005550006", "allowedUsers": ["+4915187654321"]},
}
# The gateway's names for the stack's platforms (gateway/config.py Platform values).
GATEWAY_NAMES = {"telegram": "telegram", "slack": "slack", "discord": "discord", "matrix": "matrix", "email": "email",
                 "signal": "signal", "whatsappCloud": "whatsapp_cloud", "sms": "sms"}


def test_the_gateway_starts_with_every_configured_platform_enabled_and_reports_each(tmp_path):
    """Matrix included: the contract tests' Hermes has the Matrix packages the image ships (scripts/test.py
    HERMES_REQUIREMENT). Without them Hermes would try a lazy install on every load of the gateway config
    (tools/lazy_deps.py), each dashboard /api/status among them, and the liveness probe's 4 s would run
    out. Telegram, whose Bot API is the stand-in, is expected connected; the others' servers are out of
    the pod's reach, and each fails to connect at once."""
    program = run_program("local", {**MODEL, "messaging": EVERY_PLATFORM, "messagingWebhookHost": "hooks.hermes.test"},
                          secrets=MODEL_SECRETS, remove=("openrouterApiKey",))
    expected = set(GATEWAY_NAMES.values())
    rendered = PodWithTelegram(program, tmp_path, updates=[])
    pod = start(rendered)
    try:
        def reported() -> dict:
            response = pod.request("GET", GATEWAY_PORT, "/health/detailed", headers=bearer(program))
            assert response.status == 200, response
            return response.json().get("platforms") or {}
        wait_for(lambda: expected <= set(reported()), 90, "every platform in /health/detailed", pod)
        platforms = reported()
        # The webhook platforms listen where the webhook Service sends them (the pod runner only calls
        # the pod ready once every declared port answers).
        assert pod.request("GET", 8090, "/whatsapp/webhook?hub.mode=subscribe&hub.verify_token=wrong"
                           "&hub.challenge=1").status == 403
        assert [pod.request("GET", port, path, timeout=60).status
                for port, path in ((GATEWAY_PORT, "/health"), (9119, "/api/status"))] == [200, 200]
        # The load balancer's health check of the webhook targets (components/messaging.py).
        assert [pod.request("GET", port, "/health").status for port in (8090, 8080)] == [200, 200]
    finally:
        pod.stop()
    assert expected <= set(platforms), platforms
    assert platforms["telegram"]["state"] == "connected", platforms
