"""Messaging platforms as code: what `hermes-eks:messaging` may hold and what it becomes in the pod.

The gateway of Hermes 0.19.0 enables a platform from environment variables (gateway/config.py
`_apply_env_overrides`, lines cited per field below) and decides who may talk to the agent in
gateway/authz_mixin.py `_is_user_authorized` (line 279):
  1. `<PLATFORM>_ALLOW_ALL_USERS` true: everyone (line 443);
  2. a pairing the operator approved (`hermes pairing approve`);
  3. `<PLATFORM>_ALLOWED_USERS` (comma-separated ids); "*" in it means everyone (line 585);
  4. `GATEWAY_ALLOW_ALL_USERS` true: everyone on every platform; otherwise nobody, and unknown direct
     messages get a pairing code (the gateway logs "No env user allowlists configured..." at start,
     gateway/run.py line 7452).
This stack never sets GATEWAY_ALLOW_ALL_USERS, refuses "*" in an allow-list, and sets the per-platform
flag only for `allowAllUsers: true`. The startup abort for an open dm/group policy without opt-in
(gateway/run.py `_own_policy_open_startup_violation`, line 1971) concerns platforms whose policy the
stack does not set (WeCom, Weixin, Yuanbao, QQ, the WhatsApp bridge): none of them is offered here.

One table (PLATFORMS) is the single place for each platform's variables, required settings, secret
settings, the hosts it must reach and whether it needs inbound HTTP. settings/ validates the stack's
map with it; wiring.py turns the result into the pod's env, the Secret's keys and the webhook Ingress.
Nothing here reads config: each agent (settings/models.py INSTANCE_KEYS) has its own map.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# --- value kinds: a regex of the text and what is allowed, for the error message ------------------
_ID = r"[^\s,*'\"\\]{1,128}"
KINDS: dict[str, tuple[str, str]] = {
    "ids": (_ID, "a YAML list of user ids as the platform shows them (no spaces, commas or '*')"),
    "phone_ids": (_ID, "a YAML list of phone numbers (+4915112345678) or ids (no spaces, commas or '*')"),
    "channel": (r"[^\s,'\"\\]{1,256}", "a chat, channel or room id without spaces"),
    # Signal's home channel is a number (+ and digits) or a group id; the adapter takes only a value
    # starting with '+' for a number (gateway/platforms/signal.py ~232).
    "phone_or_group": (r"[^\s,'\"\\]{1,256}", "a phone number (+4915112345678) or a Signal group id"),
    "url": (r"https?://[^\s/?#'\"\\]+[^\s'\"\\]*", "an http(s):// URL"),
    "https_url": (r"https://[^\s/?#'\"\\]+[^\s'\"\\]*", "an https:// URL"),
    "host": (r"(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)*[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?",
             "a lowercase host name such as imap.mail.corp-internal.net"),
    "port": (r"[1-9][0-9]{0,4}", "a TCP port number"),
    "email": (r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}", "an e-mail address"),
    "phone": (r"\+[1-9][0-9]{6,14}", "a phone number in E.164 form, e.g. +4915112345678"),
    "matrix_user": (r"@[a-z0-9._=/+-]+:[A-Za-z0-9.-]+(:[0-9]+)?", "a Matrix user id such as @hermes:matrix.org"),
    "text": (r"[^\s'\"\\]{1,256}", "a value without spaces or quotes"),
    "bool": (r"true|false", "true or false"),
}
# A token becomes a single-quoted line of .env (components/hermes_agent.py CONFIGURE_SCRIPT refuses
# quotes, backslashes and line breaks): printable, no spaces, no quotes.
_TOKEN = r"[!#-&(-\[\]-~]{8,4096}"


@dataclass(frozen=True)
class Field:
    env: str  # the variable Hermes reads (the Secret key too, for a secret)
    kind: str  # "secret", or a key of KINDS
    meaning: str  # for messages and the README
    required: bool = False
    pattern: str = ""  # a secret's own format (a token prefix); empty: _TOKEN


@dataclass(frozen=True)
class Webhook:
    """An HTTP listener of the gateway the platform's servers call (inbound)."""

    port: int
    path: str  # the one route the platform calls; the Ingress exposes nothing else
    port_name: str  # the container port's name (at most 15 characters)


# Both webhook adapters answer GET /health on their port (gateway/platforms/whatsapp_cloud.py line 225,
# plugins/platforms/sms/adapter.py line 127): the load balancer's health check for the webhook targets.
WEBHOOK_HEALTH_PATH = "/health"


@dataclass(frozen=True)
class PlatformSpec:
    title: str
    fields: Mapping[str, Field]
    allow_all_env: str  # the per-platform allow-all flag (gateway/authz_mixin.py lines 407-425)
    egress: tuple[str, ...]  # what the gateway connects to (README "Talk to Hermes ...")
    webhook: Webhook | None = None
    fixed_env: Mapping[str, str] = field(default_factory=dict)


def _allowed_users(env: str) -> Field:
    return Field(env, "ids", "the user ids allowed to talk to the agent (without it: pairing)")


PLATFORMS: dict[str, PlatformSpec] = {
    # gateway/config.py 1721-1747; plugins/platforms/telegram/adapter.py register() (line 9396):
    # required_env TELEGRAM_BOT_TOKEN, allowed_users_env / allow_all_env. Long polling: egress only.
    "telegram": PlatformSpec(
        "Telegram",
        {
            "botToken": Field("TELEGRAM_BOT_TOKEN", "secret", "the bot token from @BotFather (123456:ABC...)",
                              required=True, pattern=r"[0-9]{5,16}:[A-Za-z0-9_-]{30,64}"),
            "allowedUsers": _allowed_users("TELEGRAM_ALLOWED_USERS"),
            # gateway/authz_mixin.py 401-405 (group senders, group chats)
            "groupAllowedUsers": Field("TELEGRAM_GROUP_ALLOWED_USERS", "ids", "user ids allowed in group chats"),
            "groupAllowedChats": Field("TELEGRAM_GROUP_ALLOWED_CHATS", "ids", "group chat ids whose members may talk"),
            "homeChannel": Field("TELEGRAM_HOME_CHANNEL", "channel", "chat id for cron and notification delivery"),
            # plugins/platforms/telegram/adapter.py line 7273 (TELEGRAM_REQUIRE_MENTION)
            "requireMention": Field("TELEGRAM_REQUIRE_MENTION", "bool", "answer in groups only when mentioned"),
        },
        "TELEGRAM_ALLOW_ALL_USERS",
        ("api.telegram.org:443",),
    ),
    # gateway/config.py 1850-1879; plugins/platforms/slack/adapter.py register() (line 5156): required_env
    # SLACK_BOT_TOKEN and SLACK_APP_TOKEN (Socket Mode, line 987): egress only.
    "slack": PlatformSpec(
        "Slack",
        {
            "botToken": Field("SLACK_BOT_TOKEN", "secret", "the bot token (xoxb-...)", required=True,
                              pattern=r"xoxb-[A-Za-z0-9-]{8,256}"),
            "appToken": Field("SLACK_APP_TOKEN", "secret", "the app-level token for Socket Mode (xapp-...)",
                              required=True, pattern=r"xapp-[A-Za-z0-9-]{8,256}"),
            "allowedUsers": _allowed_users("SLACK_ALLOWED_USERS"),
            "homeChannel": Field("SLACK_HOME_CHANNEL", "channel", "channel id for cron and notification delivery"),
        },
        "SLACK_ALLOW_ALL_USERS",
        ("slack.com:443", "wss-primary.slack.com:443 (and other *.slack.com)", "files.slack.com:443"),
    ),
    # gateway/config.py 1750-1770; plugins/platforms/discord/adapter.py register() (line 9463) and
    # DISCORD_ALLOWED_ROLES (line 1092). The gateway websocket: egress only.
    "discord": PlatformSpec(
        "Discord",
        {
            "botToken": Field("DISCORD_BOT_TOKEN", "secret", "the bot token from the Developer Portal", required=True),
            "allowedUsers": _allowed_users("DISCORD_ALLOWED_USERS"),
            "allowedRoles": Field("DISCORD_ALLOWED_ROLES", "ids", "role ids whose members may talk to the agent"),
            "homeChannel": Field("DISCORD_HOME_CHANNEL", "channel", "channel id for cron and notification delivery"),
        },
        "DISCORD_ALLOW_ALL_USERS",
        ("discord.com:443", "gateway.discord.gg:443", "cdn.discordapp.com:443"),
    ),
    # gateway/config.py 1919-1952 (MATRIX_ACCESS_TOKEN 1920, MATRIX_HOMESERVER 1921, MATRIX_USER_ID 1929,
    # MATRIX_HOME_ROOM 1946); plugins/platforms/matrix/adapter.py register() (line 4770): required_env
    # MATRIX_HOMESERVER and MATRIX_ACCESS_TOKEN. Client-server API sync: egress only.
    "matrix": PlatformSpec(
        "Matrix",
        {
            "accessToken": Field("MATRIX_ACCESS_TOKEN", "secret", "the bot account's access token", required=True),
            "homeserver": Field("MATRIX_HOMESERVER", "https_url", "the homeserver URL", required=True),
            "userId": Field("MATRIX_USER_ID", "matrix_user", "the bot's user id"),
            "allowedUsers": _allowed_users("MATRIX_ALLOWED_USERS"),
            "homeRoom": Field("MATRIX_HOME_ROOM", "channel", "room id for cron and notification delivery"),
        },
        "MATRIX_ALLOW_ALL_USERS",
        ("the homeserver (matrixHomeserver's host):443",),
    ),
    # gateway/config.py 1966-1986: enabled only with all four of address, password, IMAP and SMTP host
    # (lines 1967-1970);
    # plugins/platforms/email/adapter.py 437-441 (ports, defaults 993 and 587).
    "email": PlatformSpec(
        "Email",
        {
            "password": Field("EMAIL_PASSWORD", "secret", "the mailbox password (an app password)", required=True),
            "address": Field("EMAIL_ADDRESS", "email", "the agent's mailbox address", required=True),
            "imapHost": Field("EMAIL_IMAP_HOST", "host", "the IMAP server", required=True),
            "smtpHost": Field("EMAIL_SMTP_HOST", "host", "the SMTP server", required=True),
            "imapPort": Field("EMAIL_IMAP_PORT", "port", "the IMAP port (default 993)"),
            "smtpPort": Field("EMAIL_SMTP_PORT", "port", "the SMTP port (default 587)"),
            "allowedUsers": Field("EMAIL_ALLOWED_USERS", "ids", "sender addresses allowed to talk to the agent"),
            "homeAddress": Field("EMAIL_HOME_ADDRESS", "email", "address for cron and notification delivery"),
        },
        "EMAIL_ALLOW_ALL_USERS",
        ("the IMAP host:993 (imapPort)", "the SMTP host:587 (smtpPort)"),
    ),
    # gateway/config.py 1882-1898: enabled by SIGNAL_HTTP_URL and SIGNAL_ACCOUNT (lines 1883-1884; a
    # signal-cli REST endpoint, e.g. bbernhard/signal-cli-rest-api in the cluster);
    # gateway/platforms/signal.py 246-290 (SIGNAL_GROUP_ALLOWED_USERS line 273).
    "signal": PlatformSpec(
        "Signal",
        {
            "httpUrl": Field("SIGNAL_HTTP_URL", "url", "the signal-cli REST endpoint", required=True),
            "account": Field("SIGNAL_ACCOUNT", "phone", "the registered Signal number", required=True),
            "allowedUsers": Field("SIGNAL_ALLOWED_USERS", "phone_ids", "the numbers allowed to talk to the agent"),
            "groupAllowedUsers": Field("SIGNAL_GROUP_ALLOWED_USERS", "ids", "group ids the agent answers in"),
            "homeChannel": Field("SIGNAL_HOME_CHANNEL", "phone_or_group", "number or group for cron and notifications"),
        },
        "SIGNAL_ALLOW_ALL_USERS",
        ("the signal-cli REST endpoint (httpUrl); it reaches Signal's servers itself",),
    ),
    # gateway/config.py 1796-1846: enabled by phone number id and access token (line 1798-1799), webhook
    # host and port read at lines 1824-1827; Meta calls the webhook
    # (gateway/platforms/whatsapp_cloud.py 89-91: 0.0.0.0:8090 /whatsapp/webhook; GET verify with
    # verify_token line 1403, POST signed with app_secret line 1458, both refused when unset).
    "whatsappCloud": PlatformSpec(
        "WhatsApp (Cloud API)",
        {
            "accessToken": Field("WHATSAPP_CLOUD_ACCESS_TOKEN", "secret", "the system user's access token", required=True),
            "appSecret": Field("WHATSAPP_CLOUD_APP_SECRET", "secret", "the app secret (webhook signatures)", required=True),
            "verifyToken": Field("WHATSAPP_CLOUD_VERIFY_TOKEN", "secret", "the webhook verify token you chose", required=True),
            "phoneNumberId": Field("WHATSAPP_CLOUD_PHONE_NUMBER_ID", "text", "the phone number id", required=True),
            "allowedUsers": _allowed_users("WHATSAPP_CLOUD_ALLOWED_USERS"),
            "homeChannel": Field("WHATSAPP_CLOUD_HOME_CHANNEL", "channel", "number for cron and notifications"),
        },
        "WHATSAPP_CLOUD_ALLOW_ALL_USERS",
        ("graph.facebook.com:443",),
        webhook=Webhook(8090, "/whatsapp/webhook", "whatsapp"),
        fixed_env={"WHATSAPP_CLOUD_WEBHOOK_HOST": "0.0.0.0", "WHATSAPP_CLOUD_WEBHOOK_PORT": "8090"},
    ),
    # gateway/config.py 1989-2001; plugins/platforms/sms/adapter.py: required_env (line 502), webhook
    # 127.0.0.1:8080 by default (lines 43-44, SMS_WEBHOOK_PORT/SMS_WEBHOOK_HOST lines 72-75), route POST
    # /webhooks/twilio (line 126), and it refuses to start without SMS_WEBHOOK_URL (line 76), the public
    # URL Twilio signs (line 104).
    "sms": PlatformSpec(
        "SMS (Twilio)",
        {
            "authToken": Field("TWILIO_AUTH_TOKEN", "secret", "the Twilio auth token", required=True),
            "accountSid": Field("TWILIO_ACCOUNT_SID", "text", "the Twilio account SID (AC...)", required=True),
            "phoneNumber": Field("TWILIO_PHONE_NUMBER", "phone", "the Twilio number replies come from", required=True),
            "allowedUsers": Field("SMS_ALLOWED_USERS", "phone_ids", "phone numbers allowed to talk to the agent"),
            "homeChannel": Field("SMS_HOME_CHANNEL", "phone", "number for cron and notifications"),
        },
        "SMS_ALLOW_ALL_USERS",
        ("api.twilio.com:443",),
        webhook=Webhook(8080, "/webhooks/twilio", "twilio"),
        fixed_env={"SMS_WEBHOOK_HOST": "0.0.0.0", "SMS_WEBHOOK_PORT": "8080"},
    ),
}
ALLOW_ALL_USERS = "allowAllUsers"
# The settings that are a platform's account: two gateways on one take each other's messages, so no two
# agents of a stack may share them. Telegram answers a second getUpdates poller 409 Conflict
# (core.telegram.org/bots/api#getupdates); Slack spreads one app's Socket Mode events over its open
# connections (api.slack.com/apis/socket-mode, "Using multiple connections"); Discord sends every event
# of one bot to each gateway connection, so both agents would answer; a mailbox or number is read by
# whichever gateway fetches first.
ACCOUNT_SETTINGS: dict[str, tuple[str, ...]] = {
    "telegram": ("botToken",), "slack": ("botToken", "appToken"), "discord": ("botToken",),
    "matrix": ("accessToken",), "email": ("address",), "signal": ("account",),
    "whatsappCloud": ("phoneNumberId",), "sms": ("phoneNumber",),
}


@dataclass(frozen=True)
class MessagingProblem:
    path: str  # below the key, e.g. "telegram.botToken"
    shown: str  # the bad value as it may be printed ("<secret value hidden>" for a secret)
    allowed: str


@dataclass(frozen=True)
class PlatformConfig:
    """One platform as the stack file describes it, validated."""

    name: str
    values: tuple[tuple[str, str], ...]  # (variable, text): plain env
    secrets: tuple[tuple[str, str], ...]  # (variable, value): Secret keys, given in the stack's config
    allow_all_users: bool = False

    def __repr__(self) -> str:  # never print a token
        return f"PlatformConfig({self.name!r}, values={self.values!r}, secrets=<{len(self.secrets)} hidden>)"

    @property
    def spec(self) -> PlatformSpec:
        return PLATFORMS[self.name]


@dataclass(frozen=True)
class Messaging:
    platforms: tuple[PlatformConfig, ...] = ()
    problems: tuple[MessagingProblem, ...] = ()
    secret_paths: tuple[str, ...] = ()  # "telegram.botToken", ... as set in the stack's config
    given: tuple[tuple[str, tuple[str, ...]], ...] = ()  # each known platform and the keys set for it

    def __repr__(self) -> str:
        return f"Messaging({[p.name for p in self.platforms]}, problems={len(self.problems)})"

    @property
    def webhooks(self) -> tuple[tuple[str, Webhook], ...]:
        return tuple((p.name, p.spec.webhook) for p in self.platforms if p.spec.webhook)


def set_command(path: str, example: str, *, secret: bool) -> str:
    return f"`pulumi config set {'--secret ' if secret else ''}--path 'messaging.{path}' {example}`"


def _phone(value: Any) -> Any:
    """`pulumi config set --path 'messaging.sms.phoneNumber' +15005550006` stores the NUMBER 15005550006:
    the CLI turns a base-10 integer text, sign included, into an integer (sdk/go/common/resource/config
    object.go `coerce`; tests/engine_config.py coerce). An E.164 number is '+' and digits, so an integer
    here is one that lost its '+'."""
    return f"+{value}" if isinstance(value, int) and not isinstance(value, bool) and value > 0 else value


def _text(value: Any) -> str | None:
    """A scalar as the text Hermes will read; None for a map or list."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, str)):
        return str(value)
    return None


def _shown(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) or value[:1] not in "[{" else value


def platform_map(raw: Any) -> Any:
    """The shape check before any other: a map (the engine's JSON text already parsed)."""
    if raw is not None and not isinstance(raw, dict):
        raise ValueError("a YAML mapping from platform (" + ", ".join(PLATFORMS) + ") to its settings")
    return raw or {}


def parse_messaging(raw: Any) -> Messaging:
    """The stack's map (JSON text from the engine, or parsed) -> the platforms, or the problems found.

    Raises ValueError only when the value is not a map of maps at all; everything else becomes a
    MessagingProblem naming its path, so every problem is reported at once.
    """
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as error:
            raise ValueError("a YAML mapping from platform to its settings") from error
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValueError("a YAML mapping from platform (" + ", ".join(PLATFORMS) + ") to its settings")
    problems: list[MessagingProblem] = []
    platforms: list[PlatformConfig] = []
    secret_paths: list[str] = []
    given: list[tuple[str, tuple[str, ...]]] = []
    for name, settings in raw.items():
        spec = PLATFORMS.get(name)
        if spec is None:
            problems.append(MessagingProblem(name, "set", "one of the platforms " + ", ".join(PLATFORMS)))
            continue
        if not isinstance(settings, dict):
            problems.append(MessagingProblem(name, _shown(settings), "a mapping of this platform's settings: "
                                             + ", ".join([*spec.fields, ALLOW_ALL_USERS])))
            continue
        given.append((name, tuple(settings)))
        parsed = _parse_platform(name, spec, settings, problems)
        secret_paths += [f"{name}.{key}" for key in settings if key in spec.fields and spec.fields[key].kind == "secret"]
        if parsed:
            platforms.append(parsed)
    return Messaging(tuple(platforms), tuple(problems), tuple(secret_paths), tuple(given))


def _parse_platform(name: str, spec: PlatformSpec, settings: Mapping[str, Any],
                    problems: list[MessagingProblem]) -> PlatformConfig | None:
    start = len(problems)
    values: list[tuple[str, str]] = []
    secrets: list[tuple[str, str]] = []
    allow_all = settings.get(ALLOW_ALL_USERS, False)
    if allow_all not in (True, False, "true", "false"):
        problems.append(MessagingProblem(f"{name}.{ALLOW_ALL_USERS}", _shown(allow_all), "true or false"))
    allow_all = allow_all in (True, "true")
    for key, value in settings.items():
        if key == ALLOW_ALL_USERS:
            continue
        item = spec.fields.get(key)
        path = f"{name}.{key}"
        if item is None:
            problems.append(MessagingProblem(path, "set", f"a setting of {spec.title}: "
                                             + ", ".join([*spec.fields, ALLOW_ALL_USERS])))
        elif item.kind == "secret":
            text = _text(value)
            if text is None or not re.fullmatch(item.pattern or _TOKEN, text):
                problems.append(MessagingProblem(path, "<secret value hidden>", f"{item.meaning}, "
                                                 "without spaces or quotes"))
            else:
                secrets.append((item.env, text))
        elif item.kind in ("ids", "phone_ids"):
            entries = value if isinstance(value, list) else None
            if entries is not None and item.kind == "phone_ids":
                entries = [_phone(v) for v in entries]
            texts = [_text(v) for v in entries] if entries is not None else []
            if entries is None or not entries or any(t is None for t in texts):
                problems.append(MessagingProblem(path, _shown(value), KINDS[item.kind][1]))
            elif "*" in texts:
                problems.append(MessagingProblem(path, _shown(value), (
                    "explicit ids: '*' lets everyone talk to the agent, which runs tools; to open the bot to "
                    f"everyone set {set_command(f'{name}.{ALLOW_ALL_USERS}', 'true', secret=False)} instead")))
            elif any(not re.fullmatch(KINDS[item.kind][0], t) for t in texts):
                problems.append(MessagingProblem(path, _shown(value), KINDS[item.kind][1]))
            else:
                values.append((item.env, ",".join(texts)))
        else:
            regex, allowed = KINDS[item.kind]
            text = _text(_phone(value) if item.kind in ("phone", "phone_or_group") else value)
            if text is None or not re.fullmatch(regex, text) or (item.kind == "port" and int(text) > 65535):
                problems.append(MessagingProblem(path, _shown(value), f"{allowed} ({item.meaning})"))
            else:
                values.append((item.env, text))
    return PlatformConfig(name, tuple(values), tuple(secrets), allow_all) if len(problems) == start else None


def completeness_problems(m: Messaging, *, existing_secret: bool) -> list[MessagingProblem]:
    """Required settings missing, per platform; a secret may instead come from existingSecretName."""
    problems = []
    for name, settings in m.given:
        spec = PLATFORMS[name]
        for key, item in spec.fields.items():
            if not item.required or key in settings:
                continue
            if item.kind == "secret":
                if existing_secret:
                    continue
                how = set_command(f"{name}.{key}", "...", secret=True) + f", or key {item.env} of existingSecretName"
            else:
                how = set_command(f"{name}.{key}", "...", secret=False)
            problems.append(MessagingProblem(f"{name}.{key}", "not set",
                                             f"{item.meaning}, required for {spec.title}: {how}"))
    return problems


def plaintext_secret_paths(document_value: Any) -> list[str]:
    """Secret settings written in plain text in the stack file's `hermes-eks:messaging` map.

    The engine hands a map to the program as ONE JSON text, decrypted, and lists the whole key as
    secret as soon as any leaf is `{secure: ...}` (sdk/go/common/resource/config value.go and object.go
    `Secure`, map.go `SecureKeys`; ported in tests/engine_config.py marshal_string/object_secure; the
    Python SDK reads only that text and PULUMI_CONFIG_SECRET_KEYS, pulumi/runtime/config.py lines 58
    and 84). So a plain token beside an encrypted one is invisible to the program in the config it
    receives: only the stack file itself tells them apart.
    """
    found = []
    if not isinstance(document_value, dict):
        return found
    for name, settings in document_value.items():
        spec = PLATFORMS.get(name)
        if spec is None or not isinstance(settings, dict):
            continue
        for key, value in settings.items():
            item = spec.fields.get(key)
            secure = isinstance(value, dict) and set(value) == {"secure"}
            if item is not None and item.kind == "secret" and not secure:
                found.append(f"{name}.{key}")
    return found


# --- what the pod gets ---------------------------------------------------------------------------

def webhook_url(host: str, webhook: Webhook) -> str:
    return f"https://{host}{webhook.path}"


def plain_env(m: Messaging, webhook_host: str) -> list[tuple[str, str]]:
    """Every plain variable of the configured platforms, in table order."""
    env: list[tuple[str, str]] = []
    for platform in m.platforms:
        env += list(platform.values)
        env += list(platform.spec.fixed_env.items())
        if platform.allow_all_users:
            env.append((platform.spec.allow_all_env, "true"))
        if platform.name == "sms" and webhook_host:
            # Twilio signs the public URL it called; the adapter checks the signature against this.
            env.append(("SMS_WEBHOOK_URL", webhook_url(webhook_host, platform.spec.webhook)))
    return env


def secret_env_names(m: Messaging, *, existing_secret: bool) -> list[str]:
    """Variables taken from the Secret: the ones set in config, or with existingSecretName every
    secret setting of each configured platform (required ones must be in that Secret)."""
    names = []
    for platform in m.platforms:
        given = [env for env, _ in platform.secrets]
        if existing_secret:
            given = [item.env for item in platform.spec.fields.values() if item.kind == "secret" and item.required]
        names += given
    return names



@dataclass(frozen=True)
class WebhookIngress:
    """The separate, internet-facing Ingress for platforms that call Hermes back."""

    host: str
    class_name: str
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MessagingWorkload:
    """What the Hermes pod gets for the configured platforms (components/hermes_agent.py)."""

    env: tuple[tuple[str, str], ...] = ()  # plain variables: allow-lists, home channels, hosts
    secret_values: Mapping[str, Any] = field(default_factory=dict)  # variable -> a Pulumi secret (own Secret)
    secret_names: tuple[str, ...] = ()  # variables taken from the Secret and pinned into .env by `configure`
    webhooks: tuple[Webhook, ...] = ()
    webhook_ingress: WebhookIngress | None = None


def webhook_rule(host: str, webhooks: tuple[Webhook, ...], service_name: Any) -> dict:
    """One host, and on it exactly each platform's webhook path (pathType Exact) to its port: never `/`,
    so the dashboard and the API are unreachable through this Ingress."""
    return {
        "host": host,
        "http": {"paths": [{
            "path": webhook.path,
            "pathType": "Exact",
            "backend": {"service": {"name": service_name, "port": {"name": webhook.port_name}}},
        } for webhook in webhooks]},
    }


def _url_port(url: str) -> int:
    from urllib.parse import urlparse
    parsed = urlparse(url)
    return parsed.port or (443 if parsed.scheme == "https" else 80)


def egress_ports(m: Messaging) -> list[int]:
    """Ports other than 443 the configured platforms connect to (components/egress_policy.py)."""
    ports = []
    for platform in m.platforms:
        values = dict(platform.values)
        if platform.name == "email":
            # plugins/platforms/email/adapter.py lines 440-441: IMAP 993 and SMTP 587 by default.
            ports += [int(values.get("EMAIL_IMAP_PORT", 993)), int(values.get("EMAIL_SMTP_PORT", 587))]
        ports += [_url_port(values[env]) for env in ("SIGNAL_HTTP_URL", "MATRIX_HOMESERVER") if env in values]
    return ports
