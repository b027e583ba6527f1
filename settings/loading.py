"""Reading and validating a stack's config."""

from __future__ import annotations

import difflib
import json
import re
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import pulumi
import yaml
from pydantic import ValidationError
from pydantic.alias_generators import to_camel

from components.messaging import ACCOUNT_SETTINGS, parse_messaging, plaintext_secret_paths
from settings.key_docs import KEY_DOCS
from settings.models import (
    INSTANCE_KEYS,
    INSTANCE_NAME_MAX,
    SECRET_KEYS,
    Agent,
    InstanceSettings,
    StackSettings,
    config_key,
    instance_key,
)
from settings.problems import ConfigError, Problem, _shown
from settings.rules import _cross_field_problems, _instance_problems, _stack_problems
from settings.values import DNS_LABEL, PROJECT, _json_text

# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------

def parse_settings(
    stack_config: Mapping[str, Any],
    *,
    stack: str,
    secret_keys: frozenset[str] | set[str] = frozenset(),
    stack_file_keys: frozenset[str] | set[str] | None = None,
    plaintext_paths: tuple[str, ...] = (),
) -> StackSettings:
    """Validate a stack's config (full keys such as 'hermes-eks:namespace' -> raw values).

    `stack_file_keys`: the keys the stack file itself sets (the CLI merges Pulumi.yaml's defaults in,
    so the rest came from there); None: every key given is the stack file's. `plaintext_paths`: secret
    settings inside a map that the stack file holds unencrypted, as paths below the project
    (messaging.telegram.botToken, instances.research.openrouterApiKey; plaintext_secret_settings).
    Raises ConfigError listing every problem; returns the immutable settings otherwise.
    """
    stack_file = f"Pulumi.{stack}.yaml"
    by_key = {config_key(name): name for name in StackSettings.model_fields}
    values: dict[str, Any] = {}
    problems: list[str] = []

    for key, raw in stack_config.items():
        if key in by_key:
            values[by_key[key]] = raw
        elif key.startswith(PROJECT + ":"):
            close = difflib.get_close_matches(key, list(by_key), n=1)
            hint = f"did you mean {close[0]}?" if close else "see the README's configuration table"
            problems.append(f"{key} in {stack_file} is not a setting of this program; {hint}")
        else:
            problems += _misspelt_namespace(key, raw, stack_file, list(by_key), secret=key in secret_keys)

    def describe(attribute: str, value: Any, allowed: str) -> str:
        key = config_key(attribute)
        head = attribute.partition(".")[0]  # a path below a map key comes from where the map does
        in_stack_file = head in values and (stack_file_keys is None or config_key(head) in stack_file_keys)
        if not in_stack_file and value in (None, "", (), {}):
            return f"{key} is not set in {stack_file}; allowed: {allowed}"
        source = stack_file if in_stack_file else "Pulumi.yaml (default)"
        return f"{key} in {source} is {_shown(attribute, value)}; allowed: {allowed}"

    for attribute in sorted(SECRET_KEYS):
        if attribute in values and config_key(attribute) not in secret_keys:
            problems.append(
                f"{config_key(attribute)} in {stack_file} is stored in plain text; allowed: an encrypted value set "
                f"with `pulumi config set --secret {config_key(attribute).split(':', 1)[1]} ...`"
            )
    problems += _plaintext_messaging(values.get("messaging"), stack_file, config_key("messaging") in secret_keys,
                                     plaintext_paths, "messaging")

    try:
        settings = StackSettings.model_validate(values)
    except ValidationError as error:
        failed = set()
        for item in error.errors():
            attribute = str(item["loc"][0]) if item["loc"] else ""
            failed.add(attribute)
            allowed = str(item.get("ctx", {}).get("error", "")) or _pydantic_allowed(item)
            problems.append(describe(attribute, values.get(attribute), allowed))
        problems += [describe(p.attribute, p.value, p.allowed) for p in _independent_problems(values, failed)]
        # Each instance's own values are checked on their own too, so one run lists every problem.
        if "instances" not in failed and values.get("instances"):
            instances = _json_text(values["instances"])
            if isinstance(instances, Mapping):
                problems += _instance_value_problems(instances, stack_file, secret_keys, plaintext_paths)
        raise ConfigError(stack, problems) from None

    if not settings.instances:
        problems += [describe(p.attribute, p.value, p.allowed) for p in _cross_field_problems(settings)]
    else:
        instance_problems = _instance_value_problems(settings.instances, stack_file, secret_keys, plaintext_paths)
        problems += instance_problems
        if not instance_problems:  # with an invalid value, cross-field rules would only repeat it
            problems += [describe(p.attribute, p.value, p.allowed) for p in _stack_problems(settings)]
            problems += _instance_cross_field_problems(settings, stack_file, describe)
    if problems:
        raise ConfigError(stack, problems)
    return settings



def _instance_value_problems(instances: Mapping[str, Any], stack_file: str, secret_keys: frozenset[str] | set[str],
                             plaintext_paths: tuple[str, ...] = ()) -> list[str]:
    """The instance names, the keys each instance sets and their values, one instance at a time."""
    problems: list[str] = []
    per_instance = {to_camel(a): a for a in INSTANCE_KEYS}
    stack_wide = {to_camel(a) for a in StackSettings.model_fields} - per_instance.keys()
    for name, other in ((a, b) for a in instances for b in instances if b.startswith(f"{a}-")):
        problems.append(f"{PROJECT}:instances in {stack_file} names the instances {json.dumps(name)} and "
                        f"{json.dumps(other)}; allowed: names of which none is another's followed by '-' (an "
                        f"instance's objects are named <instance>-..., so {other}'s could be taken for {name}'s, "
                        "e.g. by the policy pack's per-instance exceptions)")
    for name, raw in instances.items():
        if not (re.fullmatch(DNS_LABEL, name) and len(name) <= INSTANCE_NAME_MAX):
            problems.append(f"{PROJECT}:instances in {stack_file} names an instance {json.dumps(name)}; allowed: a DNS-1123 "
                            f"label of at most {INSTANCE_NAME_MAX} characters (lowercase letters, digits and '-'): it "
                            "names the instance's Kubernetes objects and IAM role")
            continue
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            problems.append(f"{PROJECT}:instances.{name} in {stack_file} is {json.dumps(raw, default=str)}; allowed: a "
                            "mapping of the instance's own keys ({} for every top-level default)")
            continue
        values: dict[str, Any] = {}
        for key, value in raw.items():
            if key in per_instance:
                values[per_instance[key]] = value
            elif key in stack_wide:
                problems.append(f"{PROJECT}:instances.{name}.{key} in {stack_file} is a setting of the whole stack, shared "
                                f"by every instance; allowed: the per-instance keys (README \"Add an agent\"); set "
                                f"{PROJECT}:{key} at the top level instead")
            else:
                close = difflib.get_close_matches(key, list(per_instance), n=1)
                hint = f"did you mean {close[0]}?" if close else "see README \"Add an agent\" for the per-instance keys"
                problems.append(f"{PROJECT}:instances.{name}.{key} in {stack_file} is not a setting of this program; {hint}")
        # The engine keeps a map with one secure value in it as one secret (`pulumi config set --secret
        # --path 'instances.<name>.<key>'` encrypts the value; the whole key is then secret to the program).
        # Once any value under `instances` is encrypted the whole key is secret to the program, so a plain
        # credential beside it shows only in the stack file (plaintext_secret_settings reads it).
        for attribute in sorted(SECRET_KEYS & values.keys()):
            if (f"{PROJECT}:instances" not in secret_keys
                    or f"instances.{name}.{to_camel(attribute)}" in plaintext_paths):
                problems.append(f"{instance_key(name, attribute)} in {stack_file} is stored in plain text; allowed: an "
                                f"encrypted value set with `pulumi config set --secret --path "
                                f"'instances.{name}.{to_camel(attribute)}' ...`")
        if "messaging" in values:
            problems += _plaintext_messaging(values["messaging"], stack_file, f"{PROJECT}:instances" in secret_keys,
                                             plaintext_paths, f"instances.{name}.messaging")
        try:
            InstanceSettings.model_validate(values)
        except ValidationError as error:
            for item in error.errors():
                attribute = str(item["loc"][0]) if item["loc"] else ""
                allowed = str(item.get("ctx", {}).get("error", "")) or _pydantic_allowed(item)
                problems.append(f"{instance_key(name, attribute)} in {stack_file} is "
                                f"{_shown(attribute, values.get(attribute))}; allowed: {allowed}")
    return problems


def _instance_cross_field_problems(s: StackSettings, stack_file: str, describe) -> list[str]:
    """The cross-field rules on the keys that belong to one agent, for each instance, and what no two
    instances may share. A problem every instance has with the same top-level default is that key's."""
    agents = s.agents
    found = {a.name: _instance_problems(a.settings) for a in agents}
    messages: list[str] = []

    def name(agent: Agent, p: Problem) -> str:
        head = p.attribute.partition(".")[0]  # a path below a map key is set where the map is
        if head in agent.own_keys:
            # A messaging rule's command names the top-level path (components/messaging.py set_command).
            allowed = p.allowed.replace("--path 'messaging.", f"--path 'instances.{agent.name}.messaging.")
            return f"{instance_key(agent.name, p.attribute)} in {stack_file} is {_shown(p.attribute, p.value)}; allowed: {allowed}"
        if all(p in found[b.name] and head not in b.own_keys for b in agents):
            return describe(p.attribute, p.value, p.allowed)
        return (f"{instance_key(agent.name, head)} is not set in {stack_file}, so the top-level default applies: "
                + describe(p.attribute, p.value, p.allowed))

    for agent in agents:
        messages += [name(agent, p) for p in found[agent.name]]

    # Each instance's objects, Secret and NetworkPolicy live in its own namespace; an Ingress host
    # routes to one Service.
    taken: dict[str, str] = {}
    for agent in agents:
        for attribute in ("namespace", "dashboard_host", "api_host", "messaging_webhook_host"):
            value = getattr(agent.settings, attribute)
            owner = taken.setdefault(f"{attribute == 'namespace'}:{value}", f"{agent.name}.{to_camel(attribute)}")
            if value and owner != f"{agent.name}.{to_camel(attribute)}":
                what = "namespace" if attribute == "namespace" else "host"
                messages.append(name(agent, Problem(attribute, value, (
                    f"a {what} no other instance uses ({PROJECT}:instances.{owner} is {json.dumps(value)} too): "
                    + ("each instance's objects, credentials and NetworkPolicy live in a namespace of its own"
                       if attribute == "namespace" else "a host routes to one instance's Service")))))

    # Two gateways on one bot or account take each other's messages (components/messaging.py
    # ACCOUNT_SETTINGS). Tokens are compared here, decrypted, and never shown.
    accounts: dict[tuple[str, str, str], str] = {}
    for agent in agents:
        for platform in agent.settings.messaging_config.platforms:
            given = dict(platform.secrets + platform.values)
            for key in ACCOUNT_SETTINGS[platform.name]:
                item = platform.spec.fields[key]
                value = given.get(item.env)
                owner = accounts.setdefault((platform.name, key, value), agent.name) if value else agent.name
                if owner != agent.name:
                    shown = "<secret value hidden>" if item.kind == "secret" else json.dumps(value)
                    messages.append(name(agent, Problem(f"messaging.{platform.name}.{key}", shown, (
                        f"a {platform.spec.title} {key} no other instance uses (instance {owner} has the same): two "
                        "gateways on one account take each other's messages; give each agent its own"))))
    return list(dict.fromkeys(messages))


def _independent_problems(values: Mapping[str, Any], failed: set[str]) -> list[Problem]:
    """The cross-field problems of the keys that passed, reported only when they hold whatever valid
    value each failed key was meant to have (an invalid modelProvider says nothing about modelDefault)."""
    rest = {k: v for k, v in values.items() if k not in failed}
    found = _cross_field_problems(StackSettings.model_validate(rest))
    for attribute in failed & set(StackSettings.model_fields):
        for stand_in in _stand_ins(attribute):
            with_stand_in = _cross_field_problems(StackSettings.model_validate({**rest, attribute: stand_in}))
            found = [p for p in found if p in with_stand_in]
    return [p for p in found if p.attribute not in failed]


def _stand_ins(attribute: str) -> list[Any]:
    """Valid values a key might have been meant to hold: its default, its documented example and,
    for a choice, every choice."""
    field = StackSettings.model_fields[attribute]
    candidates = [field.default, *_choices(field.annotation)]
    example = KEY_DOCS.get(attribute, ("", ""))[1]
    candidates.append(example)
    try:
        candidates.append(yaml.safe_load(example))  # an example is written as the stack file's YAML
    except yaml.YAMLError:
        pass
    valid = []
    for candidate in candidates:
        try:
            StackSettings.model_validate({attribute: candidate})
        except ValidationError:
            continue
        valid.append(candidate)
    return valid


def _choices(annotation: Any) -> tuple[Any, ...]:
    if annotation is bool:
        return (True, False)
    if typing.get_origin(annotation) is Literal:
        return typing.get_args(annotation)
    return ()


def _pydantic_allowed(item: Mapping[str, Any]) -> str:
    kind = item["type"]
    if kind == "literal_error":
        close = difflib.get_close_matches(str(item["input"]), re.findall(r"'([^']*)'", item["ctx"]["expected"]), n=1)
        return "one of " + item["ctx"]["expected"].replace("'", "") + (f"; did you mean {close[0]}?" if close else "")
    if kind in ("bool_parsing", "bool_type"):
        return "true or false"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "a whole number"
    if kind in ("tuple_type", "list_type"):
        return "a YAML list"
    if kind in ("dict_type",):
        return "a YAML mapping of strings to strings"
    if len(item["loc"]) > 1:
        return f"item {item['loc'][1]}: {item['msg']}"
    return item["msg"]


def _current_config() -> dict[str, Any]:
    """Every config value the engine handed this program.

    The Python SDK keeps config set by the language host (or by tests) in a context variable and
    falls back to the PULUMI_CONFIG environment variable; it has no public "list all keys" call, and
    listing them is what lets a typo such as `hermes-eks:namspace` be reported instead of ignored.
    """
    merged = dict(pulumi.runtime.get_config_env())
    merged.update(pulumi.runtime.config.CONFIG.get())
    return merged


def load_settings() -> StackSettings:
    """Read and validate the current stack's config. Call before registering any resource."""
    stack = pulumi.get_stack()
    # Every key, not only the project's: a key in a misspelt namespace (hermes_eks:storageSize) is
    # handed over like any provider's config and would otherwise be silently ignored.
    config = _current_config()
    secret_keys = {k for k in config if pulumi.runtime.is_config_secret(k)}
    secret_keys |= set(pulumi.runtime.get_config_secret_keys_env())
    return parse_settings(config, stack=stack, secret_keys=frozenset(secret_keys),
                          stack_file_keys=_stack_file_keys(stack, config),
                          plaintext_paths=_plaintext_secret_settings(stack))


# --- where each value came from, and misspelt namespaces (issue 6 items 1 and 11) -------------

def _stack_file_keys(stack: str, config: Mapping[str, Any]) -> frozenset[str]:
    """The keys Pulumi.<stack>.yaml itself sets, so messages can tell them from Pulumi.yaml's defaults.

    The CLI runs the program in the project directory, next to the stack file. A value the file does
    not hold (it lives elsewhere: stackConfigDir, --config-file, an ESC environment) counts as the
    default when it equals the declared default.
    """
    path = Path.cwd() / f"Pulumi.{stack}.yaml"
    if path.is_file():
        document = yaml.safe_load(path.read_text()) or {}
        in_file = frozenset(k if ":" in k else f"{PROJECT}:{k}" for k in (document.get("config") or {}))
    else:
        in_file = frozenset()
    # A value from elsewhere (an ESC environment) that differs from the default is the stack's own too.
    by_key = {config_key(name): name for name in StackSettings.model_fields}
    return in_file | {k for k, v in config.items() if k not in by_key or not _is_default(by_key[k], v)}


def _plaintext_secret_settings(stack: str) -> tuple[str, ...]:
    path = Path.cwd() / f"Pulumi.{stack}.yaml"
    document = (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}
    return plaintext_secret_settings(document.get("config") or {})


def plaintext_secret_settings(config: Mapping[str, Any]) -> tuple[str, ...]:
    """The secret settings a stack file holds unencrypted inside a map the engine hands over as one value
    (the messaging maps, the stack's and each instance's, and each instance's credentials), as paths
    below the project (`config`: the file's `config:` section as YAML, `{secure: ...}` leaves included)."""
    found = [f"messaging.{p}" for p in plaintext_secret_paths(config.get(config_key("messaging"), config.get("messaging")))]
    instances = config.get(config_key("instances"), config.get("instances"))
    for name, raw in (instances.items() if isinstance(instances, dict) else ()):
        if isinstance(raw, dict):
            found += [f"instances.{name}.messaging.{p}" for p in plaintext_secret_paths(raw.get("messaging"))]
            found += [f"instances.{name}.{key}" for key in sorted(raw) if to_camel(key) == key
                      and key in {to_camel(a) for a in SECRET_KEYS} and not _encrypted(raw[key])]
    return tuple(found)


def _encrypted(value: Any) -> bool:
    """A stack file's `{secure: ...}` value, as `pulumi config set --secret` writes it."""
    return isinstance(value, dict) and set(value) == {"secure"}


def _plaintext_messaging(raw: Any, stack_file: str, secret: bool, plaintext_paths: tuple[str, ...], where: str) -> list[str]:
    """Tokens inside a messaging map (`where`: its path below the project) stored unencrypted. The engine
    marks the whole key holding the map secret (`secret`) when any leaf is encrypted, so a map it hands
    over unmarked holds every token in plain text; the stack file itself shows a plain token beside
    encrypted ones (components/messaging.py plaintext_secret_paths)."""
    if raw is None:
        return []
    try:
        given = parse_messaging(raw).secret_paths
    except ValueError:
        return []
    plain = given if not secret else tuple(p for p in given if f"{where}.{p}" in plaintext_paths)
    return [f"{PROJECT}:{where}.{p} in {stack_file} is stored in plain text; allowed: an encrypted value "
            f"set with `pulumi config set --secret --path '{where}.{p}' ...`" for p in plain]


def _is_default(attribute: str, raw: Any) -> bool:
    default = StackSettings.model_fields[attribute].default
    try:
        value = _json_text(raw) if isinstance(default, (tuple, dict)) else raw
    except ValueError:
        return False
    if isinstance(default, tuple):
        return isinstance(value, (list, tuple)) and tuple(value) == default
    if isinstance(default, bool):
        return str(value).lower() == str(default).lower()
    return default is not None and str(value) == str(default)


def _edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ca != cb))
    return row[-1]


def _misspelt_namespace(key: str, raw: Any, stack_file: str, known: list[str], *, secret: bool) -> list[str]:
    """A key whose namespace looks like a typo of the project's (hermes_eks:, hermeseks:, hermes-eks2:)."""
    namespace, _, name = key.partition(":")
    squashed = re.sub(r"[^a-z0-9]", "", namespace.lower())
    if namespace == PROJECT or not (squashed == re.sub(r"[^a-z0-9]", "", PROJECT)
                                    or _edit_distance(namespace.lower(), PROJECT) <= 2):
        return []
    close = difflib.get_close_matches(f"{PROJECT}:{name}", known, n=1)
    hint = f"did you mean {close[0]}?" if close else f"this program's keys are {PROJECT}:<name> (README, Configuration)"
    shown = "<secret value hidden>" if secret else (raw if isinstance(raw, str) and raw[:1] in "[{" else json.dumps(raw, default=str))
    return [f"{key} in {stack_file} is {shown}, but namespace '{namespace}' is not this program's and would be "
            f"ignored; allowed: keys in namespace '{PROJECT}'; {hint}"]
