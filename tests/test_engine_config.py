"""The Pulumi CLI's config rules (tests/engine_config.py, our port of pulumi/pulumi `mergeConfig` and its
checks) applied to Pulumi.yaml, every stack file, every config the tests run and the README's commands.

The CLI runs these before the program starts; Pulumi mocks never do. Each rule the port carries is
first shown to refuse what the CLI refuses, so a pass below means something.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

import settings
from settings import ConfigError
from tests import engine_config as cli
from tests.harness import (
    PROJECT,
    PROJECT_DECLARATION,
    ROOT,
    SITE_VALUES,
    STACKS,
    cli_config,
    program_config,
    run_program,
    stack_file_config,
)
from tests.integration.test_automation import config_set_calls

PULUMI_YAML = (ROOT / "Pulumi.yaml").read_text()
API_KEY = "0123456789abcdef" * 4


def project(config: dict, name: str = PROJECT) -> cli.Project:
    return cli.load_project(yaml.safe_dump({"name": name, "runtime": "python", "config": config}))


def refused(project_: cli.Project, stack_values: dict, stack: str = "dev") -> str:
    with pytest.raises(cli.EngineConfigError) as raised:
        cli.merge_config(stack, project_, cli.stack_from_values(stack_values, project_.name))
    return str(raised.value)


# --- the port refuses what the CLI refuses ---------------------------------------------------------

def test_a_project_key_declared_without_default_is_required():
    declared = project({"hermes-eks:a": {"type": "string"}, "hermes-eks:b": {"type": "string", "secret": True},
                        "hermes-eks:c": {"type": "string", "default": "x"}})
    assert refused(declared, {}) == "Stack 'dev' is missing configuration values 'hermes-eks:a' and 'hermes-eks:b'"
    cli.merge_config("dev", declared, cli.stack_from_values({"a": "1", "b": {"secure": "2"}}, PROJECT))


def test_a_secret_key_must_be_encrypted_and_a_secret_default_cannot_make_it_optional():
    declared = project({"hermes-eks:key": {"type": "string", "secret": True}})
    assert refused(declared, {"key": "plain"}) == "Stack 'dev' with configuration key 'hermes-eks:key' must be encrypted as it's secret"
    # The default is merged in as a plain value, so a stack that does not set the key is refused too
    # (config.go mergeConfig -> createConfigValue -> validateStackConfigValue).
    with_default = project({"hermes-eks:key": {"type": "string", "secret": True, "default": ""}})
    assert "must be encrypted as it's secret" in refused(with_default, {})


@pytest.mark.parametrize(
    ("declaration", "value", "type_name"),
    [
        ({"type": "array", "items": {"type": "string"}}, '["m7i.large"]', "array<string>"),  # `config set` of a list
        ({"type": "array", "items": {"type": "string"}}, [1, 2], "array<string>"),
        ({"type": "integer"}, "ten", "integer"),
        ({"type": "integer"}, "1.5", "integer"),
        ({"type": "boolean"}, "yes", "boolean"),  # YAML 1.2: `yes` is text, not a boolean
        ({"type": "string"}, ["a"], "string"),
    ],
)
def test_declared_types_are_checked_on_the_values_text(declaration, value, type_name):
    assert refused(project({"hermes-eks:k": declaration}), {"k": value}) == (
        f"Stack 'dev' with configuration key 'hermes-eks:k' must be of type '{type_name}'")


def test_integers_and_booleans_arrive_as_yaml_text_and_pass_their_types():
    declared = project({"hermes-eks:n": {"type": "integer"}, "hermes-eks:b": {"type": "boolean"},
                        "hermes-eks:s": {"type": "string"}})
    merged = cli.merge_config("dev", declared, cli.load_stack("config:\n  hermes-eks:n: 3\n  hermes-eks:b: true\n"
                                                              "  hermes-eks:s: 1.30\n", PROJECT))
    # An unquoted 1.30 is a YAML float: the program receives "1.3" (quote versions in stack files).
    assert cli.program_config(merged) == ({"hermes-eks:n": "3", "hermes-eks:b": "true", "hermes-eks:s": "1.3"}, [])


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        ({"type": "string"}, "Configuration key 'aws:region' is not namespaced by the project and should not define a type"),
        ({"default": "eu-central-1"}, "Configuration key 'aws:region' is not namespaced by the project and should not define a default value"),
        ({"description": "x"}, "Configuration key 'aws:region' is namespaced and must provide an attribute 'value'"),
    ],
)
def test_a_foreign_namespace_key_may_only_carry_a_value(declaration, message):
    with pytest.raises(cli.EngineConfigError, match=re.escape(message)):
        project({"aws:region": declaration})


def test_shorthand_is_a_default_for_project_keys_and_a_value_for_others():
    declared = project({"size": "20Gi", "aws:region": "eu-central-1"})
    assert declared.config["size"].default == "20Gi" and declared.config["aws:region"].value == "eu-central-1"


def test_an_array_declaration_needs_items_and_a_default_of_its_type():
    with pytest.raises(cli.EngineConfigError, match="does not specify the underlying type"):
        project({"hermes-eks:l": {"type": "array"}})
    with pytest.raises(cli.EngineConfigError, match="is not of the expected type 'integer'"):
        project({"hermes-eks:n": {"type": "integer", "default": "ten"}})


def test_the_old_secret_declarations_made_every_stack_fail():
    """The declarations this repository shipped before: secret keys with a type and no default."""
    old = yaml.safe_load(PULUMI_YAML)
    for attribute in sorted(settings.SECRET_KEYS):
        old["config"][settings.config_key(attribute)] = {"type": "string", "secret": True}
    old_project = cli.load_project(yaml.safe_dump(old))
    for stack in STACKS:
        with pytest.raises(cli.EngineConfigError, match=rf"Stack '{stack}' is missing configuration values "
                                                        r"'hermes-eks:apiServerKey'"):
            cli.merge_config(stack, old_project, cli_config(stack))


# --- Pulumi.yaml and every stack file as shipped ---------------------------------------------------

def test_pulumi_yaml_loads_under_the_cli_rules_and_declares_no_required_key():
    assert PROJECT_DECLARATION.name == PROJECT
    required = [k for k, d in PROJECT_DECLARATION.config.items() if not d.has_default and not d.has_value]
    assert required == []


def test_no_secret_key_is_declared_in_pulumi_yaml():
    declared = set(PROJECT_DECLARATION.config)
    assert not declared & {settings.config_key(a) for a in settings.SECRET_KEYS}
    assert not any(d.secret for d in PROJECT_DECLARATION.config.values())


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_file_as_shipped_passes_the_cli(stack):
    merged = cli.merge_config(stack, PROJECT_DECLARATION, cli.load_stack((ROOT / f"Pulumi.{stack}.yaml").read_text(), PROJECT))
    assert set(PROJECT_DECLARATION.config) <= set(merged)


@pytest.mark.parametrize("stack", STACKS)
def test_optional_secrets_stay_optional_and_are_accepted_encrypted(stack):
    secrets = {settings.config_key(a): "x" for a in settings.SECRET_KEYS}
    config, secret_keys = program_config(stack, cli_config(stack, secrets=secrets))
    assert set(secrets) <= set(secret_keys) and config[settings.config_key("api_server_key")] == "x"


def test_every_declared_default_is_the_programs_default():
    for key, declared in PROJECT_DECLARATION.config.items():
        attribute = next(a for a in settings.StackSettings.model_fields if settings.config_key(a) == key)
        default = settings.StackSettings.model_fields[attribute].default
        assert declared.default == (list(default) if isinstance(default, tuple) else default), key


# --- the harness hands the program its config as the engine does ----------------------------------

def test_the_program_receives_defaults_merged_in_and_values_as_the_engine_serializes_them():
    config, secret_keys = program_config("dev", cli_config("dev", secrets={"apiServerKey": API_KEY}))
    assert config["hermes-eks:storageSize"] == "20Gi"  # the stack file's
    assert config["hermes-eks:namespace"] == "hermes"  # Pulumi.yaml's default
    assert config["hermes-eks:ecrMaxImages"] == "10" and config["hermes-eks:ecrForceDelete"] == "true"
    assert config["hermes-eks:bedrockModels"] == '["eu.anthropic.claude-sonnet-4-6","eu.anthropic.claude-haiku-4-5-20251001-v1:0"]'
    assert config["hermes-eks:controlPlaneLogTypes"] == "[]"  # an array default, as JSON
    assert secret_keys == ["hermes-eks:apiServerKey"]


def test_a_test_config_the_cli_would_refuse_fails_loudly_before_the_program_runs():
    with pytest.raises(cli.EngineConfigError, match="must be of type 'array<string>'"):
        run_program("dev", {"bedrockModels": '["eu.anthropic.claude-sonnet-4-6"]'}, raise_errors=False)


def test_errors_name_the_stack_file_or_pulumi_yaml_as_the_value_really_came_from():
    # nodeInstanceTypes equal to its default, once written in the stack file and once merged from Pulumi.yaml.
    written = run_program("dev", {"nodeArchitecture": "arm64", "nodeInstanceTypes": ["m7i.large"]}, raise_errors=False)
    merged = run_program("dev", {"nodeArchitecture": "arm64"}, remove=("nodeInstanceTypes",), raise_errors=False)
    assert any(p.startswith('hermes-eks:nodeInstanceTypes in Pulumi.dev.yaml is ["m7i.large"]') for p in written.error.problems)
    assert any(p.startswith('hermes-eks:nodeInstanceTypes in Pulumi.yaml (default) is ["m7i.large"]') for p in merged.error.problems)


def test_a_plain_value_for_an_undeclared_secret_key_is_refused_by_the_program():
    p = run_program("local", {"apiServerKey": API_KEY}, raise_errors=False)
    assert isinstance(p.error, ConfigError) and p.resources == []
    assert "hermes-eks:apiServerKey in Pulumi.local.yaml is stored in plain text" in str(p.error)


# --- the Automation API and the README set config the way the CLI accepts ---------------------------

@pytest.mark.parametrize("stack", STACKS)
def test_the_automation_api_calls_rebuild_each_stack_file_exactly(stack):
    values = stack_file_config(stack, site_values=True)
    rebuilt: dict[str, cli.Value] = {}
    for key, value, path in config_set_calls(values):
        cli.config_set(rebuilt, PROJECT, key, value, path=path)
    expected = cli_config(stack)
    assert program_config(stack, rebuilt) == program_config(stack, expected)


def readme_config_set_commands() -> list[str]:
    """Every `pulumi config set` in the README that names a key (code blocks, the table, the prose)."""
    text = (ROOT / "README.md").read_text()
    found = [m.strip() for m in re.findall(r"(pulumi config set(?:-all)?(?: [^\n`]*)?)", text)]
    return [c for c in found if any(not w.startswith(("--", "<")) for w in shlex.split(c)[3:])]


def apply_command(config: dict[str, cli.Value], command: str) -> None:
    command = command.replace("$(openssl rand -hex 32)", API_KEY)
    words = shlex.split(command)[3:]
    flags = {w for w in words if w.startswith("--")}
    assert flags <= {"--path", "--secret", "--plaintext"}, command
    key, *value = [w for w in words if not w.startswith("--")]
    cli.config_set(config, PROJECT, key, " ".join(value), path="--path" in flags, secret="--secret" in flags)


LIST_OR_MAP_KEYS = {settings.config_key(a).split(":", 1)[1] for a, f in settings.StackSettings.model_fields.items()
                    if isinstance(f.default, (tuple, dict))}


def test_the_readme_shows_config_set_commands_and_each_one_is_accepted_by_the_cli():
    commands = readme_config_set_commands()
    assert any("--path" in c for c in commands), "the README shows how to set a list item"
    for command in commands:
        config = cli_config("dev")
        apply_command(config, command)
        key = next(w for w in shlex.split(command)[3:] if not w.startswith("--"))
        if re.split(r"[\[.]", key.split(":")[-1])[0] in LIST_OR_MAP_KEYS:
            # A property path names a list item as key[i] and a map entry as key.name or key["name"].
            assert "--path" in command and re.search(r"[\[.]", key), f"a list/map item needs --path 'key[i]': {command}"
        cli.merge_config("dev", PROJECT_DECLARATION, config)


def test_the_readme_configuration_example_runs_through_the_cli_and_the_program():
    """The example block of README "Configuration", replayed on the dev stack."""
    section = (ROOT / "README.md").read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    config = cli_config("dev")
    for line in (l for l in block.splitlines() if l.startswith("pulumi config set")):
        apply_command(config, line)
    values = cli.stack_yaml_values(config)
    program = run_program("dev", values)
    assert program.error is None and program.resources


def test_a_whole_list_given_as_one_value_is_what_the_cli_refuses():
    config = cli_config("dev")
    cli.config_set(config, PROJECT, "bedrockModels", '["eu.anthropic.claude-sonnet-4-6"]')
    with pytest.raises(cli.EngineConfigError, match="must be of type 'array<string>'"):
        cli.merge_config("dev", PROJECT_DECLARATION, config)


def test_site_values_are_only_what_an_operator_replaces():
    for stack, values in SITE_VALUES.items():
        shipped = stack_file_config(stack)
        assert set(values) <= set(shipped), "site values replace placeholders the stack file ships"
        assert Path(ROOT / f"Pulumi.{stack}.yaml").exists()


def test_config_set_path_builds_lists_item_by_item_and_keeps_items_it_does_not_touch():
    config: dict[str, cli.Value] = {}
    cli.config_set(config, PROJECT, "bedrockModels[0]", "a", path=True)
    cli.config_set(config, PROJECT, "bedrockModels[1]", "b", path=True)
    assert config["hermes-eks:bedrockModels"] == cli.Value('["a","b"]', object=True)
    cli.config_set(config, PROJECT, "bedrockModels[0]", "c", path=True)  # why the README says `config rm` first
    assert config["hermes-eks:bedrockModels"].text == '["c","b"]'
    cli.config_set(config, PROJECT, 'ingressAnnotations["a.b/c"]', "true", path=True)
    assert config["hermes-eks:ingressAnnotations"].text == '{"a.b/c":true}'  # --path coerces true/false and integers
    with pytest.raises(cli.EngineConfigError, match="array index out of range"):
        cli.config_set(config, PROJECT, "bedrockModels[5]", "x", path=True)


def test_a_map_value_coerced_by_config_set_path_still_reaches_the_program_as_text():
    config = cli_config("local", {"dashboardHost": "hermes.corp-internal.net", "ingressClassName": "nginx"})
    cli.config_set(config, PROJECT, 'ingressAnnotations["nginx.ingress.kubernetes.io/ssl-redirect"]', "true", path=True)
    cli.config_set(config, PROJECT, 'ingressAnnotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]', "300", path=True)
    program = run_program("local", cli.stack_yaml_values(config))
    annotations = program.one("kubernetes:networking.k8s.io/v1:Ingress").plain["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/ssl-redirect"] == "true"
    assert annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "300"
