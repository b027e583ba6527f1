"""scripts/check_config.py checks a stack file without the cloud (issue 14 item 5): the CLI's config rules,
the settings and the program under mocks, every problem in one run with key, file, value and what is allowed."""

from __future__ import annotations

import importlib.util
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

from components.messaging import PLATFORMS, parse_messaging
from tests.harness import PROJECT, PROJECT_DECLARATION, ROOT
from tests import engine_config as cli

SCRIPT = ROOT / "scripts" / "check_config.py"
_spec = importlib.util.spec_from_file_location("check_config", SCRIPT)
check_config = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_config)

SEVERAL_MISTAKES = """\
config:
  hermes-eks:clusterSource: create
  hermes-eks:ecrMaxImages: ten
  hermes-eks:endpointPublicAccess: maybe
  hermes-eks:apiServerKey: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
  hermes-eks:natGateways: two
  hermes-eks:modelProvider: bedrok
  hermes-eks:modelDefault: eu.anthropic.claude-sonnet-4-6
"""


def run_script(*arguments: str) -> subprocess.CompletedProcess:
    """The script as a user runs it, with the test virtualenv's python (it runs in place there)."""
    return subprocess.run([sys.executable, str(SCRIPT), *arguments], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


def stack_file(tmp_path: Path, text: str, stack: str = "mistakes") -> Path:
    path = tmp_path / f"Pulumi.{stack}.yaml"
    path.write_text(text)
    return path


def listed_problems(stdout: str) -> list[str]:
    return [line[len("  - "):] for line in stdout.split("Not checked here")[0].splitlines()
            if line.startswith("  - ")]


def test_a_stack_file_with_several_mistakes_reports_every_one_in_one_run(tmp_path):
    result = run_script(str(stack_file(tmp_path, SEVERAL_MISTAKES)))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "6 problems in Pulumi.mistakes.yaml:" in result.stdout
    assert listed_problems(result.stdout) == [
        'hermes-eks:ecrMaxImages in Pulumi.mistakes.yaml is "ten"; allowed: a whole number (Pulumi.yaml declares '
        "type 'integer'); the Pulumi CLI refuses the stack before the program starts: Stack 'mistakes' with "
        "configuration key 'hermes-eks:ecrMaxImages' must be of type 'integer'",
        'hermes-eks:endpointPublicAccess in Pulumi.mistakes.yaml is "maybe"; allowed: true or false (Pulumi.yaml '
        "declares type 'boolean'); the Pulumi CLI refuses the stack before the program starts: Stack 'mistakes' "
        "with configuration key 'hermes-eks:endpointPublicAccess' must be of type 'boolean'",
        "hermes-eks:apiServerKey in Pulumi.mistakes.yaml is stored in plain text; allowed: an encrypted value set "
        "with `pulumi config set --secret apiServerKey ...`",
        'hermes-eks:modelProvider in Pulumi.mistakes.yaml is "bedrok"; allowed: one of none, bedrock, openrouter '
        "or custom; did you mean bedrock?",
        'hermes-eks:natGateways in Pulumi.mistakes.yaml is "two"; allowed: one of single or one-per-az',
        "aws:region is not set in Pulumi.mistakes.yaml; allowed: an AWS region code (required when clusterSource "
        "is 'create')",
    ]
    assert "0123456789abcdef" not in result.stdout, "a secret's value is never printed"
    assert "The program was not run under mocks" in result.stdout


def test_the_engine_refusals_are_all_collected_with_file_and_value():
    values = cli.stack_from_values({"ecrMaxImages": "ten", "nodeMinSize": [1], "observability": "yes"}, PROJECT)
    problems, keys = check_config.engine_problems("dev", "Pulumi.dev.yaml", values)
    assert keys == {"hermes-eks:ecrMaxImages", "hermes-eks:nodeMinSize", "hermes-eks:observability"}
    assert [p.split("; the Pulumi CLI")[0] for p in problems] == [
        "hermes-eks:ecrMaxImages in Pulumi.dev.yaml is \"ten\"; allowed: a whole number (Pulumi.yaml declares "
        "type 'integer')",
        "hermes-eks:nodeMinSize in Pulumi.dev.yaml is [1]; allowed: a whole number (Pulumi.yaml declares type "
        "'integer')",
        "hermes-eks:observability in Pulumi.dev.yaml is \"yes\"; allowed: true or false (Pulumi.yaml declares "
        "type 'boolean')",
    ]
    # The CLI itself names only the first, and neither the file nor the value.
    with pytest.raises(cli.EngineConfigError) as raised:
        cli.merge_config("dev", PROJECT_DECLARATION, values)
    assert str(raised.value) == "Stack 'dev' with configuration key 'hermes-eks:ecrMaxImages' must be of type 'integer'"


def test_a_key_the_settings_refuse_after_the_engine_did_is_reported_once(tmp_path):
    report = check_config.check("mistakes", stack_file(tmp_path, SEVERAL_MISTAKES))
    keys = [p.split(" ", 1)[0] for p in report.problems]
    assert keys.count("hermes-eks:ecrMaxImages") == 1




@pytest.mark.parametrize("stack", ["dev", "pr"])
def test_the_shipped_aws_stacks_pass_and_run_under_mocks(stack):
    report = check_config.check(stack, ROOT / f"Pulumi.{stack}.yaml")
    assert report.problems == []
    assert report.outcome.startswith("The program ran under Pulumi mocks and registered ")


def test_a_stack_without_problems_exits_zero_from_the_command_line():
    result = run_script("local")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No problem found in Pulumi.local.yaml." in result.stdout
    assert "The program ran under Pulumi mocks and registered " in result.stdout


def test_prod_as_shipped_is_refused_for_its_placeholders():
    report = check_config.check("prod", ROOT / "Pulumi.prod.yaml")
    # The stack's keys first, then the agent's (as for a stack with instances), each in declaration order.
    assert [p.split(" ", 1)[0] for p in report.problems] == [
        "hermes-eks:clusterAdminPrincipalArns", "hermes-eks:endpointPublicAccessCidrs",
        "hermes-eks:dashboardHost", "hermes-eks:apiHost"]


def test_bedrock_models_are_said_to_be_checked_at_preview_against_bedrock():
    report = check_config.check("dev", ROOT / "Pulumi.dev.yaml")
    assert report.at_preview == [
        f'hermes-eks:bedrockModels in Pulumi.dev.yaml names "{model}": its form is checked here; whether Bedrock '
        "offers it in eu-central-1 is checked at preview against Bedrock"
        for model in ("eu.anthropic.claude-sonnet-4-6", "eu.anthropic.claude-haiku-4-5-20251001-v1:0")]


def test_ingress_hosts_without_a_certificate_are_said_to_be_checked_at_preview_against_acm(tmp_path):
    text = (ROOT / "Pulumi.dev.yaml").read_text() + "  hermes-eks:dashboardHost: hermes.mycorp.net\n"
    report = check_config.check("dev", stack_file(tmp_path, text, "dev"))
    assert report.problems == []
    assert ("hermes-eks:ingressCertificateArn is not set in Pulumi.dev.yaml: whether an ISSUED ACM certificate "
            "covers hermes.mycorp.net (hermes-eks:dashboardHost) is checked at preview against ACM") in report.at_preview


def test_encrypted_values_are_not_decrypted_and_say_so(tmp_path):
    text = "config:\n  hermes-eks:apiServerKey:\n    secure: v1:c2VjcmV0Cg==\n"
    report = check_config.check("local", stack_file(tmp_path, text, "local"))
    assert report.outcome.startswith("The program ran under Pulumi mocks")
    assert report.problems == []
    assert report.at_preview == [
        "hermes-eks:apiServerKey in Pulumi.local.yaml: encrypted, so only whether it is set is checked here; the "
        "Pulumi CLI decrypts secrets and the program checks their form at preview"]


# As `pulumi config set --secret --path` writes them: each token a `{secure: ...}` leaf of the map.
ENCRYPTED_MESSAGING = """\
  hermes-eks:messaging:
    telegram:
      botToken:
        secure: v1:AAABAAAAAAAAAAAAAAAAAGtlcm5lbHRva2VuMQ==
      allowedUsers: [111111111]
  hermes-eks:instances:
    hermes: {}
    research:
      namespace: hermes-research
      apiServerKey:
        secure: v1:AAABAAAAAAAAAAAAAAAAAGFwaXNlcnZlcmtleQ==
      messagingWebhookHost: research-hooks.mycorp.net
      messaging:
        slack:
          botToken:
            secure: v1:AAABAAAAAAAAAAAAAAAAAHNsYWNrYm90
          appToken:
            secure: v1:AAABAAAAAAAAAAAAAAAAAHNsYWNrYXBw
          allowedUsers: [U0123ABCD]
        sms:
          authToken:
            secure: v1:AAABAAAAAAAAAAAAAAAAAHR3aWxpbw==
          accountSid: AC0123456789abcdef0123456789abcdef
          phoneNumber: "+15005550006"
"""


def test_encrypted_messaging_tokens_and_instance_secrets_are_checked_for_presence_only(tmp_path):
    text = (ROOT / "Pulumi.dev.yaml").read_text() + ENCRYPTED_MESSAGING
    report = check_config.check("dev", stack_file(tmp_path, text, "dev"))
    assert report.problems == []
    assert report.outcome.startswith("The program ran under Pulumi mocks and registered ")
    assert (
        "hermes-eks:messaging.telegram.botToken, hermes-eks:instances.research.apiServerKey, "
        "hermes-eks:instances.research.messaging.slack.appToken, hermes-eks:instances.research.messaging.slack.botToken, "
        "hermes-eks:instances.research.messaging.sms.authToken in Pulumi.dev.yaml: encrypted, so only whether they are "
        "set is checked here; the Pulumi CLI decrypts secrets and the program checks their form at preview"
    ) in report.at_preview
    # The webhook Ingress's host is asked of ACM at preview (preflight.py), so the mocks assume a certificate.
    assert ("hermes-eks:ingressCertificateArn is not set in Pulumi.dev.yaml: whether an ISSUED ACM certificate covers "
            "research-hooks.mycorp.net (hermes-eks:instances.research.messagingWebhookHost) is checked at preview "
            "against ACM") in report.at_preview


def test_a_plain_text_token_beside_encrypted_ones_is_still_refused(tmp_path):
    text = (ROOT / "Pulumi.dev.yaml").read_text() + ENCRYPTED_MESSAGING.replace(
        "appToken:\n            secure: v1:AAABAAAAAAAAAAAAAAAAAHNsYWNrYXBw",
        "appToken: xapp-1-A0123456789-1234567890123-abcdef0123456789")
    report = check_config.check("dev", stack_file(tmp_path, text, "dev"))
    assert report.problems == [
        "hermes-eks:instances.research.messaging.slack.appToken in Pulumi.dev.yaml is stored in plain text; allowed: "
        "an encrypted value set with `pulumi config set --secret --path 'instances.research.messaging.slack.appToken' ...`"]
    assert "xapp-1-A0123456789" not in "\n".join(report.problems + report.at_preview)


def test_a_plain_text_messaging_map_is_still_refused(tmp_path):
    text = (ROOT / "Pulumi.dev.yaml").read_text() + (
        "  hermes-eks:messaging:\n    telegram:\n      botToken: 7012345678:AAHf3kq9Zx0Yw1Vb2Nc3Md4Le5Kf6Jg7Ih8\n")
    report = check_config.check("dev", stack_file(tmp_path, text, "dev"))
    assert [p.split("; allowed")[0] for p in report.problems] == [
        "hermes-eks:messaging.telegram.botToken in Pulumi.dev.yaml is stored in plain text"]


def test_two_agents_given_the_same_encrypted_token_are_refused_as_sharing_one_bot(tmp_path):
    telegram = "      messaging:\n        telegram:\n          botToken: {secure: v1:AAABAAAAAAAAAAAAAAAAAGtlcm5lbHRva2VuMQ==}\n"
    text = (ROOT / "Pulumi.dev.yaml").read_text() + (
        f"  hermes-eks:instances:\n    hermes:\n{telegram}    research:\n      namespace: hermes-research\n{telegram}")
    report = check_config.check("dev", stack_file(tmp_path, text, "dev"))
    [problem] = report.problems
    assert problem.startswith("hermes-eks:instances.research.messaging.telegram.botToken in Pulumi.dev.yaml is "
                              "<secret value hidden>; allowed: a Telegram botToken no other instance uses")


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_every_encrypted_setting_of_a_platform_gets_a_stand_in_its_validation_accepts(platform):
    fields = PLATFORMS[platform].fields
    ciphertext = f"v1:{platform}"
    tree = {platform: {key: [cli.Ciphertext(ciphertext)] if item.kind in ("ids", "phone_ids") else cli.Ciphertext(ciphertext)
                       for key, item in fields.items()}}
    for key in ("hermes-eks:messaging", "hermes-eks:instances"):
        found: list[str] = []
        below = {"research": {"messaging": tree}} if key == "hermes-eks:instances" else tree
        replaced = check_config.with_stand_ins(key, (), below, found)
        plain = cli.decrypted_text(cli.marshal_string(replaced))
        messaging = json.loads(plain)["research"]["messaging"] if key == "hermes-eks:instances" else plain
        assert parse_messaging(messaging).problems == ()
        assert len(found) == len(fields)


@pytest.mark.parametrize("arguments, message", [
    ([], "usage:"),
    (["nosuchstack"], "no such stack file"),
    (["settings.py"], "a stack file is named Pulumi.<stack>.yaml"),
])
def test_a_wrong_argument_is_a_usage_error(arguments, message, capsys):
    assert check_config.main(arguments) == 2, "1 means the stack has problems"
    assert message in capsys.readouterr().err


def test_it_runs_in_the_virtualenv_the_test_runner_makes():
    """Outside a prepared virtualenv the script asks scripts/test.py for .venvs/test and runs itself there."""
    runner = check_config.test_runner()
    # The call the script makes: ensure("test", ENVIRONMENTS["test"], ensure_uv()).
    inspect.signature(runner.ensure).bind("test", runner.ENVIRONMENTS["test"], ROOT / ".venvs" / "uv" / "bin" / "uv")
    assert callable(runner.ensure_uv)
    requirements = (ROOT / "requirements.txt").read_text()
    pinned = {line.split("==")[0].lower().replace("-", "_") for line in requirements.splitlines()
              if "==" in line and not line.startswith("#")}
    assert pinned == {m for m in check_config.PROGRAM_MODULES if m != "yaml"} | {"pyyaml"}
    assert check_config._in_a_prepared_virtualenv(), "the test virtualenv runs it in place"


def test_a_key_pulumi_yaml_declares_without_a_default_is_reported_missing(monkeypatch):
    project = cli.load_project("name: hermes-eks\nconfig:\n  hermes-eks:team:\n    type: string\n")
    monkeypatch.setattr(check_config, "PROJECT_DECLARATION", project)
    problems, keys = check_config.engine_problems("dev", "Pulumi.dev.yaml", {})
    assert keys == {"hermes-eks:team"}
    assert problems == [
        "hermes-eks:team is not set in Pulumi.dev.yaml; allowed: a value set in Pulumi.dev.yaml (Pulumi.yaml declares "
        "it without a default); the Pulumi CLI refuses the stack before the program starts: Stack 'dev' is missing "
        "configuration value 'hermes-eks:team'"]
