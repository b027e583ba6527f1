"""Messaging platforms as code (issue 15): `hermes-eks:messaging` validated at preview, tokens only through
the Secret (pinned into .env by `configure`), allow-lists as plain env, never open without `allowAllUsers`,
and the webhook Ingress exposing only the webhook paths.

Config goes through the engine port (tests/engine_config.py): a token written `{secure: ...}` is what
`pulumi config set --secret --path 'messaging.telegram.botToken' ...` stores, and the program receives the
whole map as one decrypted JSON text, the key marked secret."""

from __future__ import annotations

import json
import re
import shlex

import pytest

from components.messaging import PLATFORMS, parse_messaging
from settings import ConfigError
from tests import engine_config as cli
from tests.harness import PROJECT, ROOT, Program, cli_config, is_secret, program_config, run_program
from tests.test_policy_pack import BY_NAME, engine_config, hp, resource_args, resource_violations, run_policy

TELEGRAM_TOKEN = "7012345678:AAHf3kq9Zx0Yw1Vb2Nc3Md4Le5Kf6Jg7Ih8"
SLACK_BOT = "xoxb-1111111111-2222222222-abcdefghijklmnopqrstuvwx"
SLACK_APP = "xapp-1-A0123456789-1234567890123-abcdef0123456789"
BASE = {"dashboardUsername": "operator"}
TELEGRAM_AND_SLACK = {"messaging": {
    "telegram": {"botToken": {"secure": TELEGRAM_TOKEN}, "allowedUsers": [111111111, 222222222],
                 "homeChannel": -1001234567890},
    "slack": {"botToken": {"secure": SLACK_BOT}, "appToken": {"secure": SLACK_APP}, "allowedUsers": ["U0123ABCD"]},
}}


def refused(stack: str, config: dict) -> list[str]:
    p: Program = run_program(stack, {**BASE, **config}, raise_errors=False)
    assert isinstance(p.error, ConfigError), p.error
    assert p.resources == [], "nothing may be registered when config is refused"
    return p.error.problems


def hermes_container(p: Program) -> dict:
    deployment = next(o for o in p.kubernetes_objects() if o["kind"] == "Deployment")
    return deployment["spec"]["template"]["spec"]["containers"][0]


def configure_container(p: Program) -> dict:
    deployment = next(o for o in p.kubernetes_objects() if o["kind"] == "Deployment")
    return next(c for c in deployment["spec"]["template"]["spec"]["initContainers"] if c["name"] == "configure")


# --- what the engine hands over -------------------------------------------------------------------

def test_a_secure_value_inside_the_map_makes_the_engine_mark_the_whole_key_secret_and_decrypt_it():
    """The fact the plain-text check rests on (components/messaging.py plaintext_secret_paths)."""
    config: dict[str, cli.Value] = {}
    cli.config_set(config, PROJECT, "messaging.telegram.botToken", TELEGRAM_TOKEN, path=True, secret=True)
    cli.config_set(config, PROJECT, "messaging.telegram.allowedUsers[0]", "111", path=True)
    values, secret_keys = cli.program_config(config)
    assert secret_keys == ["hermes-eks:messaging"]
    assert json.loads(values["hermes-eks:messaging"]) == {"telegram": {"allowedUsers": [111], "botToken": TELEGRAM_TOKEN}}
    assert cli.stack_yaml_values(config)["hermes-eks:messaging"] == {
        "telegram": {"botToken": {"secure": TELEGRAM_TOKEN}, "allowedUsers": [111]}}


# --- a local render with Telegram and Slack ---------------------------------------------------------

@pytest.fixture(scope="module")
def telegram_and_slack() -> Program:
    return run_program("local", {**BASE, **TELEGRAM_AND_SLACK})


def test_tokens_reach_the_pod_only_from_the_secret(telegram_and_slack):
    env = {e["name"]: e for e in hermes_container(telegram_and_slack)["env"]}
    for name in ("TELEGRAM_BOT_TOKEN", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"):
        assert env[name] == {"name": name, "valueFrom": {"secretKeyRef": {"name": "hermes-credentials", "key": name}}}
    secret = next(o for o in telegram_and_slack.kubernetes_objects() if o["kind"] == "Secret")
    assert {k: secret["stringData"][k] for k in ("TELEGRAM_BOT_TOKEN", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN")} == {
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN, "SLACK_BOT_TOKEN": SLACK_BOT, "SLACK_APP_TOKEN": SLACK_APP}
    others = json.dumps([o for o in telegram_and_slack.kubernetes_objects() if o["kind"] != "Secret"])
    assert not any(token in others for token in (TELEGRAM_TOKEN, SLACK_BOT, SLACK_APP))


def test_the_secret_holds_the_tokens_as_pulumi_secrets(telegram_and_slack):
    secret = telegram_and_slack.one("kubernetes:core/v1:Secret")
    string_data = secret.inputs["stringData"]
    assert is_secret(string_data) or all(
        is_secret(string_data[k]) for k in ("TELEGRAM_BOT_TOKEN", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"))


def test_configure_pins_the_tokens_into_env_like_the_model_keys(telegram_and_slack):
    configure = configure_container(telegram_and_slack)
    pinned = configure["args"][configure["args"].index("--") + 1:]
    assert {"TELEGRAM_BOT_TOKEN", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"} <= set(pinned)
    env = {e["name"]: e for e in configure["env"]}
    assert env["TELEGRAM_BOT_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "TELEGRAM_BOT_TOKEN"


def test_configure_pins_the_allow_lists_too_so_a_dashboard_edit_cannot_widen_them(telegram_and_slack):
    configure = configure_container(telegram_and_slack)
    pinned = configure["args"][configure["args"].index("--") + 1:]
    assert {"TELEGRAM_ALLOWED_USERS", "TELEGRAM_HOME_CHANNEL", "SLACK_ALLOWED_USERS"} <= set(pinned)
    env = {e["name"]: e for e in configure["env"]}
    assert env["TELEGRAM_ALLOWED_USERS"] == {"name": "TELEGRAM_ALLOWED_USERS", "value": "111111111,222222222"}


def test_allow_lists_and_home_channels_are_plain_env(telegram_and_slack):
    env = {e["name"]: e.get("value") for e in hermes_container(telegram_and_slack)["env"]}
    assert env["TELEGRAM_ALLOWED_USERS"] == "111111111,222222222"
    assert env["TELEGRAM_HOME_CHANNEL"] == "-1001234567890"
    assert env["SLACK_ALLOWED_USERS"] == "U0123ABCD"


def test_nobody_is_let_in_by_default(telegram_and_slack):
    names = {e["name"] for e in hermes_container(telegram_and_slack)["env"]}
    assert not {n for n in names if n.endswith("_ALLOW_ALL_USERS")}
    assert "GATEWAY_ALLOW_ALL_USERS" not in names


def test_socket_mode_and_polling_platforms_get_no_ingress_of_their_own(telegram_and_slack):
    assert [o["metadata"]["name"] for o in telegram_and_slack.kubernetes_objects() if o["kind"] == "Ingress"] == []
    assert [p["name"] for p in hermes_container(telegram_and_slack)["ports"]] == ["api", "dashboard"]


# --- refused at preview -------------------------------------------------------------------------

def test_a_plain_text_token_is_refused():
    problems = refused("dev", {"messaging": {"telegram": {"botToken": TELEGRAM_TOKEN, "allowedUsers": [1]}}})
    assert problems == [
        "hermes-eks:messaging.telegram.botToken in Pulumi.dev.yaml is stored in plain text; allowed: an encrypted "
        "value set with `pulumi config set --secret --path 'messaging.telegram.botToken' ...`"]
    assert not any(TELEGRAM_TOKEN in p for p in problems)


def test_a_plain_text_token_beside_an_encrypted_one_is_refused_from_the_stack_file():
    """The engine marks the whole map secret here; only Pulumi.<stack>.yaml shows the plain leaf."""
    problems = refused("dev", {"messaging": {"slack": {"botToken": {"secure": SLACK_BOT}, "appToken": SLACK_APP}}})
    assert problems == [
        "hermes-eks:messaging.slack.appToken in Pulumi.dev.yaml is stored in plain text; allowed: an encrypted "
        "value set with `pulumi config set --secret --path 'messaging.slack.appToken' ...`"]


def test_an_incomplete_platform_is_refused_naming_the_platform_and_the_key():
    problems = refused("dev", {"messaging": {"slack": {"botToken": {"secure": SLACK_BOT}}}})
    assert problems == [
        "hermes-eks:messaging.slack.appToken in Pulumi.dev.yaml is not set; allowed: the app-level token for Socket "
        "Mode (xapp-...), required for Slack: `pulumi config set --secret --path 'messaging.slack.appToken' ...`, "
        "or key SLACK_APP_TOKEN of existingSecretName"]


def test_a_platform_needing_plain_settings_names_each_missing_one():
    problems = refused("dev", {"messaging": {"email": {"password": {"secure": "app-password-123"},
                                                        "address": "hermes@corp-internal.net"}}})
    assert [p.split(" in ")[0] for p in problems] == ["hermes-eks:messaging.email.imapHost",
                                                      "hermes-eks:messaging.email.smtpHost"]


def test_an_allow_list_open_to_everyone_is_refused_without_allow_all_users():
    """'*' in an allow-list lets everyone in (gateway/authz_mixin.py line 585)."""
    problems = refused("dev", {"messaging": {"telegram": {"botToken": {"secure": TELEGRAM_TOKEN},
                                                           "allowedUsers": ["*"]}}})
    assert problems == [
        "hermes-eks:messaging.telegram.allowedUsers in Pulumi.dev.yaml is [\"*\"]; allowed: explicit ids: '*' lets "
        "everyone talk to the agent, which runs tools; to open the bot to everyone set `pulumi config set --path "
        "'messaging.telegram.allowAllUsers' true` instead"]


def test_an_unknown_platform_or_setting_is_refused_with_what_exists():
    problems = refused("dev", {"messaging": {"telegramm": {"botToken": {"secure": TELEGRAM_TOKEN}},
                                             "discord": {"botToken": {"secure": "x" * 40}, "allowedUser": [1]}}})
    assert sorted(problems) == [
        "hermes-eks:messaging.discord.allowedUser in Pulumi.dev.yaml is set; allowed: a setting of Discord: botToken, "
        "allowedUsers, allowedRoles, homeChannel, allowAllUsers",
        "hermes-eks:messaging.telegramm in Pulumi.dev.yaml is set; allowed: one of the platforms telegram, slack, "
        "discord, matrix, email, signal, whatsappCloud, sms"]


def test_a_token_that_is_not_one_is_refused_without_showing_it():
    problems = refused("dev", {"messaging": {"slack": {"botToken": {"secure": "xoxp-user-token-123"},
                                                       "appToken": {"secure": SLACK_APP}}}})
    assert problems == ["hermes-eks:messaging.slack.botToken in Pulumi.dev.yaml is <secret value hidden>; allowed: "
                        "the bot token (xoxb-...), without spaces or quotes"]


def test_tokens_in_config_are_refused_when_an_own_secret_holds_the_credentials():
    problems = refused("dev", {"existingSecretName": "hermes-credentials",
                               "messaging": {"telegram": {"botToken": {"secure": TELEGRAM_TOKEN}}}})
    assert problems == ["hermes-eks:messaging.telegram.botToken in Pulumi.dev.yaml is <secret value hidden>; allowed: "
                        "unset when existingSecretName is set (that Secret holds every credential: put "
                        "TELEGRAM_BOT_TOKEN into it)"]


def test_with_an_own_secret_the_platforms_tokens_come_from_its_keys():
    p = run_program("local", {**BASE, "existingSecretName": "hermes-credentials",
                              "messaging": {"telegram": {"allowedUsers": [111111111]}}})
    env = {e["name"]: e for e in hermes_container(p)["env"]}
    assert env["TELEGRAM_BOT_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": "hermes-credentials",
                                                                       "key": "TELEGRAM_BOT_TOKEN"}}


# --- opening a platform to everyone ---------------------------------------------------------------

def test_allow_all_users_opens_only_that_platform_and_warns_in_the_preview():
    p = run_program("local", {**BASE, "messaging": {
        "telegram": {"botToken": {"secure": TELEGRAM_TOKEN}, "allowAllUsers": True},
        "slack": {"botToken": {"secure": SLACK_BOT}, "appToken": {"secure": SLACK_APP}}}})
    env = {e["name"]: e.get("value") for e in hermes_container(p)["env"]}
    assert env["TELEGRAM_ALLOW_ALL_USERS"] == "true"
    assert "SLACK_ALLOW_ALL_USERS" not in env and "GATEWAY_ALLOW_ALL_USERS" not in env
    assert [w for w in p.warnings if "allowAllUsers" in w] == [
        "hermes-eks:messaging.telegram.allowAllUsers is true: EVERY Telegram user who finds the bot can talk to the "
        "agent, and the agent runs tools with this pod's credentials (TELEGRAM_ALLOW_ALL_USERS=true)"]


# --- the README's commands go through the CLI and the program ----------------------------------------

def test_config_set_path_commands_build_the_map_the_program_accepts():
    config = cli_config("local", BASE)
    for key, value, secret in (("messaging.telegram.botToken", TELEGRAM_TOKEN, True),
                               ("messaging.telegram.allowedUsers[0]", "111111111", False)):
        cli.config_set(config, PROJECT, key, value, path=True, secret=secret)
    values, secret_keys = program_config("local", config)
    assert "hermes-eks:messaging" in secret_keys
    p = run_program("local", cli.stack_yaml_values(config) | {"dashboardUsername": "operator"})
    env = {e["name"]: e.get("value") for e in hermes_container(p)["env"]}
    assert env["TELEGRAM_ALLOWED_USERS"] == "111111111"


# --- inbound webhooks: their own Ingress, exactly the webhook paths --------------------------------

WEBHOOK_PLATFORMS = {"messagingWebhookHost": "hermes-hooks.corp-internal.net", "messaging": {
    "whatsappCloud": {"accessToken": {"secure": "EAAGm0PX4ZCpsBAKZCZAabcdefghijklmnop"},
                      "appSecret": {"secure": "0123456789abcdef0123456789abcdef"},
                      "verifyToken": {"secure": "a-verify-token-we-chose"}, "phoneNumberId": "123456789012345",
                      "allowedUsers": ["4915187654321"]},
    "sms": {"authToken": {"secure": "0123456789abcdef0123456789abcdef"},
            "accountSid": "AC0123456789abcdef0123456789abcdef", "phoneNumber": "+15005550006",
            "allowedUsers": ["+4915187654321"]},
}}


@pytest.fixture(scope="module")
def webhooks_on_eks() -> Program:
    return run_program("dev", WEBHOOK_PLATFORMS)


def test_the_webhook_ingress_routes_only_the_webhook_paths_to_the_webhook_ports(webhooks_on_eks):
    ingress = next(o for o in webhooks_on_eks.kubernetes_objects()
                   if o["kind"] == "Ingress" and o["metadata"]["name"] == "hermes-webhooks")
    assert ingress["spec"] == {"ingressClassName": "alb", "rules": [{"host": "hermes-hooks.corp-internal.net", "http": {
        "paths": [
            {"path": "/webhooks/twilio", "pathType": "Exact",
             "backend": {"service": {"name": "hermes-webhooks", "port": {"name": "twilio"}}}},
            {"path": "/whatsapp/webhook", "pathType": "Exact",
             "backend": {"service": {"name": "hermes-webhooks", "port": {"name": "whatsapp"}}}},
        ]}}]}
    service = next(o for o in webhooks_on_eks.kubernetes_objects()
                   if o["kind"] == "Service" and o["metadata"]["name"] == "hermes-webhooks")
    assert service["metadata"]["annotations"] == {"alb.ingress.kubernetes.io/healthcheck-path": "/health"}
    assert service["spec"]["ports"] == [
        {"name": "twilio", "port": 8080, "targetPort": "twilio", "protocol": "TCP"},
        {"name": "whatsapp", "port": 8090, "targetPort": "whatsapp", "protocol": "TCP"}]


def test_the_webhook_ingress_is_internet_facing_https_with_the_modern_tls_policy(webhooks_on_eks):
    ingress = next(o for o in webhooks_on_eks.kubernetes_objects()
                   if o["kind"] == "Ingress" and o["metadata"]["name"] == "hermes-webhooks")
    annotations = ingress["metadata"]["annotations"]
    assert annotations["alb.ingress.kubernetes.io/scheme"] == "internet-facing"
    assert annotations["alb.ingress.kubernetes.io/ssl-policy"] == "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
    assert annotations["alb.ingress.kubernetes.io/ssl-redirect"] == "443"
    assert "alb.ingress.kubernetes.io/group.name" not in annotations


def test_the_sms_adapter_listens_for_the_load_balancer_and_checks_signatures_against_the_public_url(webhooks_on_eks):
    env = {e["name"]: e.get("value") for e in hermes_container(webhooks_on_eks)["env"]}
    assert env["SMS_WEBHOOK_HOST"] == "0.0.0.0"
    assert env["SMS_WEBHOOK_URL"] == "https://hermes-hooks.corp-internal.net/webhooks/twilio"
    assert "SMS_INSECURE_NO_SIGNATURE" not in env


def test_the_webhook_ports_are_admitted_only_from_the_public_load_balancer_subnets(webhooks_on_eks):
    policy = next(o for o in webhooks_on_eks.kubernetes_objects() if o["kind"] == "NetworkPolicy")
    webhook_rules = [r for r in policy["spec"]["ingress"] if {p["port"] for p in r["ports"]} == {8090, 8080}]
    assert len(webhook_rules) == 1
    assert all(block["ipBlock"]["cidr"].startswith("10.") for block in webhook_rules[0]["from"])
    others = [r for r in policy["spec"]["ingress"] if r is not webhook_rules[0]]
    assert all({p["port"] for p in r["ports"]} == {8642, 9119} for r in others)


def test_without_webhook_platforms_there_is_no_webhook_host_and_no_webhook_ingress():
    problems = refused("dev", {"messagingWebhookHost": "hermes-hooks.corp-internal.net"})
    assert problems == ['hermes-eks:messagingWebhookHost in Pulumi.dev.yaml is "hermes-hooks.corp-internal.net"; '
                        "allowed: empty unless a platform that needs inbound webhooks (whatsappCloud, sms) is configured"]
    problems = refused("dev", {"messaging": WEBHOOK_PLATFORMS["messaging"]})
    assert problems == ["hermes-eks:messagingWebhookHost is not set in Pulumi.dev.yaml; allowed: the public host "
                        "SMS (Twilio), WhatsApp (Cloud API) call back (they deliver messages by webhook; only the "
                        "webhook paths are routed there)"]


# --- the policy pack allows exactly that Ingress on the internet -----------------------------------

def _pack_violations(program: Program, ingress_spec: dict | None = None) -> list[str]:
    policy = BY_NAME["dashboard-not-internet-facing"]
    r = program.one("kubernetes:networking.k8s.io/v1:Ingress", "hermes-webhooks")
    props = r.plain | ({"spec": ingress_spec} if ingress_spec else {})
    return run_policy(policy, resource_args(r, engine_config(policy, "dev"), props=props))


def test_the_pack_lets_the_webhook_ingress_face_the_internet(webhooks_on_eks):
    assert _pack_violations(webhooks_on_eks) == []


@pytest.mark.parametrize("change", ["prefix", "root", "dashboard-service", "api-port"])
def test_the_pack_refuses_a_webhook_ingress_that_exposes_anything_more(webhooks_on_eks, change):
    spec = json.loads(json.dumps(webhooks_on_eks.one("kubernetes:networking.k8s.io/v1:Ingress",
                                                     "hermes-webhooks").plain["spec"]))
    path = spec["rules"][0]["http"]["paths"][0]
    if change == "prefix":
        path["pathType"] = "Prefix"
    elif change == "root":
        spec["rules"][0]["http"]["paths"].append({"path": "/", "pathType": "Exact", "backend": path["backend"]})
    elif change == "dashboard-service":
        path["backend"] = {"service": {"name": "hermes-dashboard", "port": {"name": "whatsapp"}}}
    else:
        path["backend"] = {"service": {"name": "hermes-webhooks", "port": {"name": "http"}}}
    assert len(_pack_violations(webhooks_on_eks, spec)) == 1


def test_the_pack_knows_the_webhook_routes_the_program_renders():
    assert hp.MESSAGING_WEBHOOK_ROUTES == {(p.webhook.path, p.webhook.port_name) for p in PLATFORMS.values() if p.webhook}


# --- the README section -------------------------------------------------------------------------

README_VARIABLES = {  # what the README's commands take from the shell, as realistic stand-ins
    "$TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN, "$SLACK_BOT_TOKEN": SLACK_BOT, "$SLACK_APP_TOKEN": SLACK_APP,
    "$DISCORD_BOT_TOKEN": "MTAxMjM0NTY3ODkwMTIzNDU2Nw.GAbCdE.abcdefghijklmnopqrstuvwxyz0123456789",
    "$MATRIX_ACCESS_TOKEN": "syt_aGVybWVz_abcdefghijklmnopqrst_0AbCdE", "$EMAIL_PASSWORD": "app-password-0123456789",
    "$WHATSAPP_ACCESS_TOKEN": "EAAGm0PX4ZCpsBAKZCZAabcdefghijklmnop",
    "$WHATSAPP_APP_SECRET": "0123456789abcdef0123456789abcdef", "$WHATSAPP_VERIFY_TOKEN": "a-verify-token-we-chose",
    "$TWILIO_AUTH_TOKEN": "0123456789abcdef0123456789abcdef",
}


def readme_section() -> str:
    return (ROOT / "README.md").read_text().split("## Talk to Hermes on Slack, Telegram, ...", 1)[1].split("\n## ", 1)[0]


def test_the_readmes_commands_for_every_platform_build_a_stack_the_program_accepts():
    config = cli_config("local", BASE)
    commands = [line for block in re.findall(r"```sh\n(.*?)```", readme_section(), re.S)
                for line in block.splitlines() if line.startswith("pulumi config set")]
    assert len(commands) >= 20
    for command in commands:
        words = shlex.split(command)[3:]
        key, value = [w for w in words if not w.startswith("--")]
        cli.config_set(config, PROJECT, key, README_VARIABLES.get(value, value), path="--path" in words,
                       secret="--secret" in words)
    p = run_program("local", cli.stack_yaml_values(config))
    env = {e["name"]: e for e in hermes_container(p)["env"]}
    for spec in PLATFORMS.values():
        for item in spec.fields.values():
            if item.kind == "secret":
                assert "valueFrom" in env[item.env], item.env
            elif item.required:
                assert env[item.env]["value"], item.env


def test_the_readmes_per_agent_commands_give_the_second_agent_its_own_bot():
    """README "Add an agent": the instance's messaging commands, replayed through the CLI port."""
    add_an_agent = (ROOT / "README.md").read_text().split("## Add an agent", 1)[1].split("\n## ", 1)[0]
    commands = [c for c in re.findall(r"^pulumi config set .*$", add_an_agent, re.M) if "instances.research.messaging" in c]
    assert len(commands) == 2
    config = cli_config("local", BASE)
    cli.config_set(config, PROJECT, "instances.hermes.namespace", "hermes", path=True)
    cli.config_set(config, PROJECT, "instances.research.namespace", "hermes-research", path=True)
    for command in commands:
        words = shlex.split(command)[3:]
        key, value = [w for w in words if not w.startswith("--")]
        value = {"$RESEARCH_TELEGRAM_BOT_TOKEN": RESEARCH_TOKEN}.get(value, value)
        cli.config_set(config, PROJECT, key, value, path=True, secret="--secret" in words)
    p = run_program("local", cli.stack_yaml_values(config))
    assert secret_data(p)["research-credentials"]["TELEGRAM_BOT_TOKEN"] == RESEARCH_TOKEN
    assert "TELEGRAM_BOT_TOKEN" not in secret_data(p)["hermes-credentials"]


def test_the_readme_table_names_every_setting_variable_and_host_of_each_platform():
    section = readme_section()
    for name, spec in PLATFORMS.items():
        row = next(line for line in section.splitlines() if line.startswith(f"| `{name}`"))
        for key, item in spec.fields.items():
            shown = f"_{key}_" if item.required else key
            assert (f"**{shown}**" if item.kind == "secret" else shown) in row, (name, key)
            assert item.env in row, (name, item.env)
        assert ", ".join(spec.egress) in row, name
        if spec.webhook:
            assert f"`https://<messagingWebhookHost>{spec.webhook.path}`" in row


def test_a_phone_number_the_cli_stored_as_a_number_gets_its_plus_back():
    """`pulumi config set --path ... +4915112345678` stores the integer 4915112345678 (object.go `coerce`)."""
    config = cli_config("local", BASE)
    for key, value in (("messaging.signal.httpUrl", "http://signal-cli.signal.svc:8080"),
                       ("messaging.signal.account", "+4915112345678"),
                       ("messaging.signal.allowedUsers[0]", "+4915187654321"),
                       ("messaging.signal.homeChannel", "+4915187654321")):
        cli.config_set(config, PROJECT, key, value, path=True)
    assert cli.stack_yaml_values(config)["hermes-eks:messaging"]["signal"]["account"] == 4915112345678
    env = {e["name"]: e.get("value") for e in hermes_container(run_program("local", cli.stack_yaml_values(config)))["env"]}
    assert (env["SIGNAL_ACCOUNT"], env["SIGNAL_ALLOWED_USERS"], env["SIGNAL_HOME_CHANNEL"]) == (
        "+4915112345678", "+4915187654321", "+4915187654321")  # the adapter reads only '+...' as a number


# --- the optional egress policy -----------------------------------------------------------------

def egress_policy(p: Program) -> dict | None:
    found = [o for o in p.kubernetes_objects() if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "hermes-egress"]
    return found[0]["spec"] if found else None


def test_there_is_no_egress_policy_unless_asked_for(telegram_and_slack):
    assert egress_policy(telegram_and_slack) is None


def test_the_egress_policy_opens_dns_and_443_but_not_the_metadata_service_nor_other_ports():
    p = run_program("local", {**BASE, **TELEGRAM_AND_SLACK, "egressPolicy": True})
    assert egress_policy(p) == {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "hermes-agent", "app.kubernetes.io/instance": "hermes"}},
        "policyTypes": ["Egress"],
        "egress": [
            {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
            {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}],
             "ports": [{"protocol": "TCP", "port": 443}]},
        ],
    }


def test_the_egress_policy_opens_exactly_the_ports_the_settings_need():
    p = run_program("dev", {"egressPolicy": True, "podIdentityMode": "pod-identity", "messaging": {
        "email": {"password": {"secure": "app-password-123"}, "address": "hermes@corp-internal.net",
                  "imapHost": "imap.corp-internal.net", "smtpHost": "smtp.corp-internal.net", "smtpPort": 465},
        "signal": {"httpUrl": "http://signal-cli.signal.svc:8080", "account": "+4915112345678"}}})
    extra = [(r["to"][0]["ipBlock"]["cidr"], r["ports"]) for r in egress_policy(p)["egress"][2:]]
    assert extra == [
        ("0.0.0.0/0", [{"protocol": "TCP", "port": 465}]),
        ("0.0.0.0/0", [{"protocol": "TCP", "port": 993}]),
        ("0.0.0.0/0", [{"protocol": "TCP", "port": 8080}]),
        ("169.254.170.23/32", [{"protocol": "TCP", "port": 80}]),
    ]


def test_an_example_host_in_a_platforms_settings_is_refused_like_any_placeholder():
    problems = refused("dev", {"messaging": {"email": {
        "password": {"secure": "app-password-123"}, "address": "hermes@corp-internal.net",
        "imapHost": "imap.example.com", "smtpHost": "smtp.corp-internal.net"}}})
    assert problems == ['hermes-eks:messaging.email.imapHost in Pulumi.dev.yaml is "imap.example.com"; allowed: a host '
                        "name of your own: example.com is reserved for documentation and testing (RFC 2606, RFC 6761); "
                        "replace the placeholder"]


def test_every_policy_of_the_pack_passes_a_render_with_webhook_platforms(webhooks_on_eks):
    assert {p.name: resource_violations(p, webhooks_on_eks, "dev") for p in hp.POLICIES} == {
        p.name: [] for p in hp.POLICIES}


@pytest.mark.parametrize("bad", ["it's", 'say "hi"', "back\\slash", "two words", "line\nbreak"])
def test_no_value_configure_could_not_write_into_env_is_accepted(bad):
    """`configure` writes each pinned value single-quoted into .env and refuses quotes, backslashes and line
    breaks (components/hermes_agent.py CONFIGURE_SCRIPT): such a value must fail at preview instead."""
    for name, spec in PLATFORMS.items():
        for key, item in spec.fields.items():
            value = [bad] if item.kind in ("ids", "phone_ids") else bad
            assert parse_messaging({name: {key: value}}).problems, (name, key)


def test_a_token_python_dotenv_would_expand_is_refused_at_preview():
    """configure pins it into .env, where python-dotenv expands ${...} even inside quotes
    (components/hermes_agent.py env_file_problem)."""
    problems = refused("dev", {"messaging": {"discord": {"botToken": {"secure": "abc${HOME}def0123456789"}}}})
    assert problems == ["hermes-eks:messaging.discord.botToken in Pulumi.dev.yaml is <secret value hidden>; allowed: a "
                        "value without `${`, which python-dotenv expands even inside quotes: Hermes would read it "
                        "from its .env changed"]


def test_a_messaging_value_that_is_not_a_map_is_refused_with_the_platforms_and_nothing_shown():
    problems = refused("dev", {"messaging": [{"botToken": {"secure": TELEGRAM_TOKEN}}]})
    assert problems == ["hermes-eks:messaging in Pulumi.dev.yaml is <hidden: it may hold secret values>; allowed: a "
                        "YAML mapping from platform (telegram, slack, discord, matrix, email, signal, whatsappCloud, "
                        "sms) to its settings"]


# --- messaging per agent (issue 16): each instance its own bots, Secret, webhook host and egress policy ------

RESEARCH_TOKEN = "7098765432:AAGx1y2z3A4b5C6d7E8f9G0h1I2j3K4l5M6"
RESEARCH_TELEGRAM = {"telegram": {"botToken": {"secure": RESEARCH_TOKEN}, "allowedUsers": [333333333]}}


def secret_data(p: Program) -> dict[str, dict]:
    return {o["metadata"]["name"]: o["stringData"] for o in p.kubernetes_objects() if o["kind"] == "Secret"}


def container_of(p: Program, deployment: str, container: str = "hermes") -> dict:
    spec = next(o for o in p.kubernetes_objects() if o["kind"] == "Deployment"
                and o["metadata"]["name"] == deployment)["spec"]["template"]["spec"]
    return next(c for c in spec["containers"] + spec.get("initContainers", []) if c["name"] == container)


@pytest.fixture(scope="module")
def research_with_its_own_bot() -> Program:
    return run_program("local", {**BASE, **TELEGRAM_AND_SLACK, "instances": {
        "hermes": {}, "research": {"namespace": "hermes-research", "messaging": RESEARCH_TELEGRAM}}})


def test_a_second_agents_secret_holds_only_its_own_tokens_and_the_firsts_is_unchanged(
        research_with_its_own_bot, telegram_and_slack):
    secrets = secret_data(research_with_its_own_bot)
    assert secrets["hermes-credentials"] == secret_data(telegram_and_slack)["hermes-credentials"]
    assert secrets["research-credentials"]["TELEGRAM_BOT_TOKEN"] == RESEARCH_TOKEN
    assert not {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"} & secrets["research-credentials"].keys()
    assert not any(token in json.dumps(secrets["research-credentials"]) for token in (TELEGRAM_TOKEN, SLACK_BOT, SLACK_APP))


def test_a_second_agents_pod_reads_and_pins_its_own_bot_from_its_own_secret(research_with_its_own_bot):
    env = {e["name"]: e for e in container_of(research_with_its_own_bot, "research")["env"]}
    assert env["TELEGRAM_BOT_TOKEN"] == {"name": "TELEGRAM_BOT_TOKEN", "valueFrom": {
        "secretKeyRef": {"name": "research-credentials", "key": "TELEGRAM_BOT_TOKEN"}}}
    assert env["TELEGRAM_ALLOWED_USERS"]["value"] == "333333333"
    assert "SLACK_BOT_TOKEN" not in env
    configure = container_of(research_with_its_own_bot, "research", "configure")
    pinned = configure["args"][configure["args"].index("--") + 1:]
    assert {"TELEGRAM_BOT_TOKEN", "TELEGRAM_ALLOWED_USERS"} <= set(pinned)
    assert not {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"} & set(pinned)


def test_an_instance_without_messaging_of_its_own_may_turn_the_top_level_bots_off():
    p = run_program("local", {**BASE, **TELEGRAM_AND_SLACK, "instances": {
        "hermes": {}, "research": {"namespace": "hermes-research", "messaging": {}}}})
    assert "TELEGRAM_BOT_TOKEN" not in secret_data(p)["research-credentials"]
    assert not any(e["name"].startswith(("TELEGRAM_", "SLACK_")) for e in container_of(p, "research")["env"])


@pytest.fixture(scope="module")
def research_webhooks_on_eks() -> Program:
    return run_program("dev", {"instances": {"hermes": {}, "research": {
        "namespace": "hermes-research", "messagingWebhookHost": "research-hooks.corp-internal.net",
        "messaging": WEBHOOK_PLATFORMS["messaging"]}}})


def test_a_second_agents_webhook_ingress_uses_its_own_host_and_reaches_only_its_own_pod(research_webhooks_on_eks):
    p = research_webhooks_on_eks
    objects = p.kubernetes_objects()
    assert [(o["metadata"]["name"], o["spec"]["rules"][0]["host"]) for o in objects if o["kind"] == "Ingress"] == [
        ("research-webhooks", "research-hooks.corp-internal.net")]
    service = next(o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == "research-webhooks")
    assert service["spec"]["selector"] == {"app.kubernetes.io/name": "hermes-agent", "app.kubernetes.io/instance": "research"}
    env = {e["name"]: e.get("value") for e in container_of(p, "research")["env"]}
    assert env["SMS_WEBHOOK_URL"] == "https://research-hooks.corp-internal.net/webhooks/twilio"
    assert "SMS_WEBHOOK_URL" not in {e["name"] for e in container_of(p, "hermes")["env"]}


def test_every_policy_of_the_pack_passes_a_second_agents_webhook_ingress(research_webhooks_on_eks):
    assert {p.name: resource_violations(p, research_webhooks_on_eks, "dev") for p in hp.POLICIES} == {
        p.name: [] for p in hp.POLICIES}


def test_allow_all_users_of_an_agents_own_bot_warns_naming_the_instance():
    p = run_program("local", {**BASE, "instances": {"hermes": {}, "research": {"namespace": "hermes-research", "messaging": {
        "telegram": {"botToken": {"secure": RESEARCH_TOKEN}, "allowAllUsers": True}}}}})
    assert [w.split(" is true")[0] for w in p.warnings if "allowAllUsers" in w] == [
        "hermes-eks:instances.research.messaging.telegram.allowAllUsers"]


def test_an_agents_egress_policy_is_its_own_in_its_own_namespace():
    p = run_program("local", {**BASE, "instances": {"hermes": {}, "research": {
        "namespace": "hermes-research", "egressPolicy": True}}})
    policies = [o for o in p.kubernetes_objects() if o["kind"] == "NetworkPolicy" and "Egress" in o["spec"]["policyTypes"]]
    assert [(o["metadata"]["name"], o["metadata"]["namespace"]) for o in policies] == [("research-egress", "hermes-research")]
    assert policies[0]["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/instance"] == "research"


def test_a_bad_instance_messaging_value_names_the_instance_and_its_own_command():
    problems = refused("dev", {"instances": {"hermes": {}, "research": {"namespace": "hermes-research", "messaging": {
        "telegram": {"botToken": {"secure": "not a token"}}, "slack": {"botToken": {"secure": SLACK_BOT}}}}}})
    assert problems == [
        "hermes-eks:instances.research.messaging.telegram.botToken in Pulumi.dev.yaml is <secret value hidden>; allowed: "
        "the bot token from @BotFather (123456:ABC...), without spaces or quotes",
        "hermes-eks:instances.research.messaging.slack.appToken in Pulumi.dev.yaml is not set; allowed: the app-level "
        "token for Socket Mode (xapp-...), required for Slack: `pulumi config set --secret --path "
        "'instances.research.messaging.slack.appToken' ...`, or key SLACK_APP_TOKEN of existingSecretName"]


def test_a_plain_text_token_under_an_instance_is_refused():
    problems = refused("dev", {"instances": {"hermes": {}, "research": {
        "namespace": "hermes-research", "messaging": {"telegram": {"botToken": RESEARCH_TOKEN}}}}})
    assert problems == [
        "hermes-eks:instances.research.messaging.telegram.botToken in Pulumi.dev.yaml is stored in plain text; allowed: "
        "an encrypted value set with `pulumi config set --secret --path 'instances.research.messaging.telegram.botToken' ...`"]
    assert not any(RESEARCH_TOKEN in p for p in problems)


def test_a_plain_text_token_under_an_instance_beside_an_encrypted_value_is_refused_from_the_stack_file():
    """Any {secure: ...} in `instances` makes the engine mark the whole key secret; the stack file shows the plain leaf."""
    problems = refused("dev", {"instances": {"hermes": {}, "research": {
        "namespace": "hermes-research", "apiServerKey": {"secure": "0123456789abcdef" * 4},
        "messaging": {"slack": {"botToken": {"secure": SLACK_BOT}, "appToken": SLACK_APP}}}}})
    assert problems == [
        "hermes-eks:instances.research.messaging.slack.appToken in Pulumi.dev.yaml is stored in plain text; allowed: "
        "an encrypted value set with `pulumi config set --secret --path 'instances.research.messaging.slack.appToken' ...`"]


def test_two_agents_on_one_bot_are_refused_without_showing_the_token():
    problems = refused("dev", {"instances": {
        "hermes": {"messaging": RESEARCH_TELEGRAM},
        "research": {"namespace": "hermes-research", "messaging": RESEARCH_TELEGRAM}}})
    assert problems == [
        "hermes-eks:instances.research.messaging.telegram.botToken in Pulumi.dev.yaml is <secret value hidden>; allowed: "
        "a Telegram botToken no other instance uses (instance hermes has the same): two gateways on one account take "
        "each other's messages; give each agent its own"]
    assert not any(RESEARCH_TOKEN in p for p in problems)


def test_top_level_messaging_shared_by_several_agents_is_refused_as_one_bot_for_two():
    problems = refused("dev", {"instances": {"hermes": {}, "research": {"namespace": "hermes-research"}},
                               "messaging": {"telegram": {"botToken": {"secure": TELEGRAM_TOKEN}}}})
    assert problems == [
        "hermes-eks:instances.research.messaging is not set in Pulumi.dev.yaml, so the top-level default applies: "
        "hermes-eks:messaging.telegram.botToken in Pulumi.dev.yaml is <secret value hidden>; allowed: a Telegram "
        "botToken no other instance uses (instance hermes has the same): two gateways on one account take each "
        "other's messages; give each agent its own"]


def test_two_agents_may_not_share_a_webhook_host():
    hooks = {"messagingWebhookHost": "hermes-hooks.corp-internal.net", "messaging": {"sms": {
        "authToken": {"secure": "0123456789abcdef0123456789abcdef"}, "accountSid": "AC0123456789abcdef0123456789abcdef"}}}
    problems = refused("dev", {"instances": {
        "hermes": {**hooks, "messaging": {"sms": {**hooks["messaging"]["sms"], "phoneNumber": "+15005550006"}}},
        "research": {**hooks, "namespace": "hermes-research",
                     "messaging": {"sms": {**hooks["messaging"]["sms"], "phoneNumber": "+15005550007"}}}}})
    assert problems == [
        'hermes-eks:instances.research.messagingWebhookHost in Pulumi.dev.yaml is "hermes-hooks.corp-internal.net"; '
        "allowed: a host no other instance uses (hermes-eks:instances.hermes.messagingWebhookHost is "
        "\"hermes-hooks.corp-internal.net\" too): a host routes to one instance's Service"]


def test_one_instance_declared_explicitly_keeps_its_messaging():
    p = run_program("local", {**BASE, **TELEGRAM_AND_SLACK, "instances": {"hermes": {}}})
    env = {e["name"]: e for e in hermes_container(p)["env"]}
    assert "valueFrom" in env["TELEGRAM_BOT_TOKEN"]
