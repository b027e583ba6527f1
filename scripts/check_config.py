#!/usr/bin/env python3
"""Check a stack file without the cloud:  python3 scripts/check_config.py dev   (or a path to Pulumi.<stack>.yaml)

Runs, with no Pulumi CLI, no AWS account and no cluster:
  1. the Pulumi CLI's own config rules: Pulumi.yaml's declared types merged over the stack file
     (tests/engine_config.py, our port of pulumi/pulumi `mergeConfig`/`validateStackConfigValues`);
  2. the program's settings validation (settings.parse_settings);
  3. when both pass, the program itself under Pulumi mocks (tests/harness.py run_program).
It prints every problem at once, each naming the key, the stack file, the bad value and what is
allowed, and lists what only the AWS account can answer (checked at preview, preflight.py).
Exit status: 0 no problem, 1 problems, 2 usage. Needs nothing but Python 3: outside a virtualenv
with the program's requirements it creates .venvs/test as scripts/test.py does and runs itself there.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
USAGE = "usage: python3 scripts/check_config.py <stack name | path to Pulumi.<stack>.yaml>"


# The program's requirements (requirements.txt) by import name.
PROGRAM_MODULES = ("pulumi", "pulumi_aws", "pulumi_eks", "pulumi_kubernetes", "pulumi_random",
                   "pulumi_docker_build", "pulumi_awsx", "pulumi_command", "pydantic", "yaml")


def _in_a_prepared_virtualenv() -> bool:
    return sys.prefix != sys.base_prefix and all(importlib.util.find_spec(m) is not None for m in PROGRAM_MODULES)


def test_runner():
    """scripts/test.py as a module (its name would clash with the standard library's `test` package)."""
    spec = importlib.util.spec_from_file_location("hermes_eks_test_runner", ROOT / "scripts" / "test.py")
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    return runner


def _run_in_test_virtualenv() -> None:
    """Create or reuse .venvs/test exactly as the test runner does, and run this script in it."""
    runner = test_runner()
    python = runner.ensure("test", runner.ENVIRONMENTS["test"], runner.ensure_uv())
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])


if __name__ == "__main__" and not _in_a_prepared_virtualenv():
    _run_in_test_virtualenv()

sys.path.insert(0, str(ROOT))

import settings  # noqa: E402 - after the virtualenv is chosen
from components.messaging import PLATFORMS  # noqa: E402
from preflight import certificate_hosts  # noqa: E402
from settings import INSTANCE_KEYS, ConfigError, StackSettings, config_key, plaintext_secret_settings  # noqa: E402
from tests import engine_config as cli  # noqa: E402
from tests import fake_cloud  # noqa: E402
from tests.harness import PROJECT, PROJECT_DECLARATION, run_program  # noqa: E402

# An encrypted value's plaintext is known only to the Pulumi CLI (the stack's secrets provider);
# where settings/ checks a secret's form, the program runs here on a stand-in of that form, made from
# the sha256 hex digest of the ciphertext: one ciphertext, one stand-in, so agents given the same
# encrypted token are still refused as sharing one bot (components/messaging.py ACCOUNT_SETTINGS).
# Top-level keys and instances.<name>.<key> by attribute (settings/values.py _api_server_key):
ENCRYPTED_STAND_INS = {"api_server_key": lambda digest: digest}
# Messaging leaves (hermes-eks:messaging.<platform>.<setting>, also under instances.<name>.) by the
# setting's format in components/messaging.py PLATFORMS: a token's own pattern, else _TOKEN, which
# 64 hex characters match; a setting that is not a secret, by its KINDS entry.
TOKEN_STAND_INS = {
    "telegram.botToken": lambda digest: f"{int(digest[:12], 16) % 10**10:010d}:{digest[:35]}",
    "slack.botToken": lambda digest: f"xoxb-{digest[:24]}",
    "slack.appToken": lambda digest: f"xapp-{digest[:24]}",
}
KIND_STAND_INS = {
    "secret": lambda digest: digest,
    "ids": lambda digest: str(int(digest[:12], 16)),  # one element of the list
    "phone_ids": lambda digest: f"+49{int(digest[:12], 16) % 10**11:011d}",
    "channel": lambda digest: digest[:20],
    "phone_or_group": lambda digest: f"+49{int(digest[:12], 16) % 10**11:011d}",
    "url": lambda digest: f"https://h{digest[:12]}.corp-internal.net",
    "https_url": lambda digest: f"https://h{digest[:12]}.corp-internal.net",
    "host": lambda digest: f"h{digest[:12]}.corp-internal.net",
    "port": lambda digest: "443",
    "email": lambda digest: f"h{digest[:12]}@corp-internal.net",
    "phone": lambda digest: f"+49{int(digest[:12], 16) % 10**11:011d}",
    "matrix_user": lambda digest: f"@h{digest[:12]}:corp-internal.net",
    "text": lambda digest: digest[:32],
    "bool": lambda digest: "false",
}
ATTRIBUTES = {config_key(attribute): attribute for attribute in StackSettings.model_fields}
INSTANCE_ATTRIBUTES = {config_key(attribute).split(":", 1)[1]: attribute for attribute in INSTANCE_KEYS}

# What a value declared in Pulumi.yaml must be, in the words of a stack file's YAML
# (project.go `ValidateConfigValue` for each simpleConfigType).
ENGINE_TYPES = {
    "string": "a string",
    "integer": "a whole number",
    "boolean": "true or false",
    "array<string>": "a YAML list of strings",
    "array<integer>": "a YAML list of whole numbers",
    "array<boolean>": "a YAML list of true/false values",
    "object": "a YAML mapping",
}


REFUSED = "the Pulumi CLI refuses the stack before the program starts"


class Report:
    def __init__(self, stack: str, stack_file: Path):
        self.stack = stack
        self.stack_file = stack_file
        self.problems: list[str] = []
        self.at_preview: list[str] = []
        self.outcome = ""


class UsageError(Exception):
    pass


def stack_file_of(argument: str) -> tuple[str, Path]:
    """A stack name (the repository's Pulumi.<stack>.yaml) or the path of a Pulumi.<stack>.yaml."""
    path = Path(argument) if "." in argument or os.sep in argument else ROOT / f"Pulumi.{argument}.yaml"
    name = path.name
    if not (name.startswith("Pulumi.") and name.endswith(".yaml")) or name == "Pulumi.yaml":
        raise UsageError(f"{argument}: a stack file is named Pulumi.<stack>.yaml")
    if not path.is_file():
        raise UsageError(f"{path}: no such stack file")
    return name[len("Pulumi."):-len(".yaml")], path


def _shown(value: cli.Value) -> str:
    if value.secure:
        return "<secret value hidden>"
    text = cli.decrypted_text(value)
    return text if value.object else json.dumps(text)


def engine_problems(stack: str, file_name: str, values: dict[str, cli.Value]) -> tuple[list[str], set[str]]:
    """Every refusal of the CLI's config rules (the CLI itself stops at the first), with file and value."""
    problems, keys = [], set()
    merged, missing = cli.merge_with_missing(PROJECT_DECLARATION, values)
    for key in missing:
        full = cli.namespaced(PROJECT, key)
        keys.add(full)
        problems.append(f"{full} is not set in {file_name}; allowed: a value set in {file_name} (Pulumi.yaml "
                        f"declares it without a default); {REFUSED}: {cli.missing_keys_message(stack, [key])}")
    for key, error in cli.stack_config_value_errors(stack, PROJECT_DECLARATION, merged):
        full = cli.namespaced(PROJECT, key)
        declared = PROJECT_DECLARATION.config[key]
        keys.add(full)
        if declared.secret and not merged[full].secure:
            allowed = f"an encrypted value set with `pulumi config set --secret {key.split(':', 1)[-1]} ...`"
        else:
            type_name = cli.infer_full_type_name(declared.type or "", declared.items)
            allowed = f"{ENGINE_TYPES.get(type_name, type_name)} (Pulumi.yaml declares type '{type_name}')"
        source = file_name if full in values else "Pulumi.yaml"
        problems.append(f"{full} in {source} is {_shown(merged[full])}; allowed: {allowed}; "
                        f"{REFUSED}: {error}")
    return problems, keys


def check(stack: str, stack_file: Path) -> Report:
    report = Report(stack, stack_file)
    file_name = stack_file.name
    try:
        values = cli.load_stack(stack_file.read_text(), PROJECT)
    except Exception as error:  # noqa: BLE001 - a file the CLI cannot read: that is the one problem
        report.problems.append(f"{file_name} cannot be read as a Pulumi stack file: {error}")
        return report

    problems, refused_keys = engine_problems(stack, file_name, values)
    report.problems += problems

    encrypted_paths: list[str] = []
    encrypted = {key: cli.marshal_string(with_stand_ins(key, (), cli.value_object(value), encrypted_paths))
                 for key, value in values.items() if value.secure}
    merged, _ = cli.merge_with_missing(PROJECT_DECLARATION, {**values, **encrypted})
    config, secret_keys = cli.program_config(merged)
    parsed: StackSettings | None = None
    try:
        parsed = settings.parse_settings(config, stack=stack, secret_keys=frozenset(secret_keys),
                                         stack_file_keys=frozenset(values),
                                         plaintext_paths=plaintext_secret_settings(cli.stack_yaml_values(values)))
    except ConfigError as error:
        report.problems += [p for p in error.problems if p.split(" ", 1)[0] not in refused_keys]
    if encrypted_paths:
        report.at_preview.append(
            f"{', '.join(encrypted_paths)} in {file_name}: encrypted, so only whether "
            f"{'they are' if len(encrypted_paths) > 1 else 'it is'} set is checked here; the Pulumi CLI decrypts "
            "secrets and the program checks their form at preview")

    if parsed is None or report.problems:
        report.outcome = "The program was not run under mocks: it would stop at the problems above."
        return report
    report.at_preview += account_questions(parsed, file_name)
    report.outcome = run_under_mocks(report, parsed, encrypted)
    return report


def with_stand_ins(key: str, path: tuple[str | int, ...], obj, found: list[str]):
    """`obj` (a config value's object tree) with each encrypted leaf replaced by its stand-in, where
    settings/ checks its form; `found` collects each encrypted leaf's config path."""
    if isinstance(obj, cli.Ciphertext):
        found.append(key + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path))
        stand_in = stand_in_of(key, path)
        return cli.Ciphertext(stand_in(hashlib.sha256(obj.text.encode()).hexdigest()) if stand_in else obj.text)
    if isinstance(obj, dict):
        return {k: with_stand_ins(key, (*path, k), v, found) for k, v in obj.items()}
    if isinstance(obj, list):
        return [with_stand_ins(key, (*path, i), v, found) for i, v in enumerate(obj)]
    return obj


def stand_in_of(key: str, path: tuple[str | int, ...]):
    """The stand-in maker for the encrypted leaf at `path` below `key`, or None: its ciphertext will do."""
    if key == config_key("instances") and len(path) >= 2:
        attribute, below = INSTANCE_ATTRIBUTES.get(str(path[1])), path[2:]
    else:
        attribute, below = ATTRIBUTES.get(key), path
    if attribute in ENCRYPTED_STAND_INS and not below:
        return ENCRYPTED_STAND_INS[attribute]
    if attribute != "messaging" or len(below) not in (2, 3):
        return None
    platform, setting = str(below[0]), str(below[1])
    item = PLATFORMS[platform].fields.get(setting) if platform in PLATFORMS else None
    if item is None or (len(below) == 3) != (item.kind in ("ids", "phone_ids")):
        return None
    if item.kind == "secret" and item.pattern:
        return TOKEN_STAND_INS.get(f"{platform}.{setting}")
    return KIND_STAND_INS[item.kind]


def account_questions(s: StackSettings, file_name: str) -> list[str]:
    """What preflight.check_account asks the AWS account before anything is registered."""
    questions = []
    if s.uses_aws and s.model_provider == "bedrock":
        for model in s.effective_bedrock_models:
            attribute = "bedrock_models" if model in s.bedrock_models else "model_default"
            questions.append(
                f"{config_key(attribute)} in {file_name} names {json.dumps(model)}: its form is checked here; whether "
                f"Bedrock offers it in {s.effective_bedrock_region} is checked at preview against Bedrock")
    if s.uses_aws:
        for agent in s.agents:
            for host, attribute in certificate_hosts(agent.settings).items():
                questions.append(
                    f"{agent.key('ingress_certificate_arn')} is not set in {file_name}: whether an ISSUED ACM "
                    f"certificate covers {host} ({agent.key(attribute)}) is checked at preview against ACM")
    return list(dict.fromkeys(questions))


def run_under_mocks(report: Report, s: StackSettings, encrypted: dict[str, cli.Value]) -> str:
    # The account's answers are assumed favourable here (they are listed as checked at preview).
    certificates = dict(fake_cloud.ACM_CERTIFICATES)
    for host in (host for agent in s.agents for host in certificate_hosts(agent.settings)):
        fake_cloud.ACM_CERTIFICATES.setdefault(
            host, f"arn:aws:acm:{s.aws_region}:{fake_cloud.ACCOUNT}:certificate/00000000-0000-4000-8000-000000000000")
    try:
        program = run_program(report.stack, cli.stack_yaml_values(encrypted), site_values=False, raise_errors=False,
                              stack_file=report.stack_file)
    finally:
        fake_cloud.ACM_CERTIFICATES.clear()
        fake_cloud.ACM_CERTIFICATES.update(certificates)
    if isinstance(program.error, ConfigError):
        report.problems += program.error.problems
        return "The program refused the stack under mocks."
    if program.error is not None:
        report.problems.append(f"the program failed under Pulumi mocks with {report.stack_file.name}: "
                               f"{type(program.error).__name__}: {program.error}")
        return "The program failed under mocks."
    return f"The program ran under Pulumi mocks and registered {len(program.resources)} resources."


def print_report(report: Report) -> None:
    name = report.stack_file.name
    print(f"Checked {name} (stack '{report.stack}') with the Pulumi CLI's config rules, the program's settings "
          "and the program under mocks; nothing was created or changed.")
    if report.problems:
        print(f"{len(report.problems)} problem{'s' if len(report.problems) > 1 else ''} in {name}:")
        print("\n".join(f"  - {p}" for p in report.problems))
    else:
        print(f"No problem found in {name}.")
    if report.at_preview:
        print("Not checked here (only the Pulumi CLI or the AWS account can answer; preflight.py):")
        print("\n".join(f"  - {q}" for q in report.at_preview))
    print(report.outcome)


def main(arguments: list[str]) -> int:
    if len(arguments) != 1 or arguments[0] in ("-h", "--help"):
        print(USAGE, file=sys.stderr)
        return 2
    try:
        stack, stack_file = stack_file_of(arguments[0])
    except UsageError as error:
        print(f"{USAGE}\n{error}", file=sys.stderr)
        return 2
    report = check(stack, stack_file.resolve())
    print_report(report)
    return 1 if report.problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
