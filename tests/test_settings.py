"""settings/: every bad input is refused before any resource exists, with one clear message."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

import settings
from settings import ConfigError, StackSettings, parse_settings
from tests.harness import run_program

GOOD_KEY = "0123456789abcdef" * 4


def problems(config: dict, stack: str = "dev", secret_keys=()) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        parse_settings({(k if ":" in k else f"hermes-eks:{k}"): v for k, v in config.items()},
                       stack=stack, secret_keys=frozenset(secret_keys))
    return raised.value.problems


def only_problem(config: dict, **kwargs) -> str:
    found = problems(config, **kwargs)
    assert len(found) == 1, found
    return found[0]


def test_defaults_are_the_local_stack_and_valid():
    s = parse_settings({}, stack="local")
    assert s.cluster_source == "kubeconfig" and s.image_source == "reference"
    assert s.hermes_image == settings.HERMES_UPSTREAM_IMAGE
    assert s.model_provider == "none" and not s.uses_aws and not s.ingress_enabled


def test_settings_are_immutable():
    s = parse_settings({}, stack="local")
    with pytest.raises(ValidationError, match="frozen"):
        s.namespace = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("storageSize", "20GB", "a whole number of Gi or Ti"),
        ("namespace", "Hermes_Prod", "DNS-1123 label"),
        ("hermesImage", "nousresearch/hermes-agent:v2026.7.20", "pinned by digest"),
        ("hermesImage", "nousresearch/hermes-agent:latest@sha256:" + "a" * 64, "never :latest"),
        ("kubernetesVersion", "1.22", "one of 1.30"),
        ("clusterSource", "eks", "one of kubeconfig, create or existing"),
        ("memoryLimit", "4GB", "a memory quantity in Mi or Gi"),
        ("cpuRequest", "half", "a CPU quantity"),
        ("nodeInstanceTypes", '["m7i large"]', "an EC2 instance type"),
        ("vpcCidr", "10.0.0.1/16", "IPv4 CIDR block with no host bits"),
        ("vpcCidr", "8.8.0.0/16", "private (RFC 1918)"),
        ("endpointPublicAccessCidrs", '["203.0.113.0/33"]', "IPv4 CIDR"),
        ("clusterAdminPrincipalArns", '["arn:aws:iam::1234:role/admins"]', "an IAM role or user ARN"),
        ("ingressCertificateArn", "arn:aws:acm:eu-central-1:123456789012:cert/abc", "an ACM certificate ARN"),
        ("dashboardHost", "Hermes.Example.com", "fully qualified lowercase DNS name"),
        ("nodeMinSize", "0", "a whole number from 1 to 100"),
        ("nodeDiskSizeGib", "ten", "a whole number"),
        ("endpointPublicAccess", "yes please", "true or false"),
        ("bedrockModels", '["anthropic/claude-sonnet-4.5"]', "a Bedrock model id"),
        ("bedrockModels", '["xx.anthropic.claude-sonnet-4-6"]', "a Bedrock model id"),
        ("hermesGitCommit", "3ef6bbd2", "full 40-character"),
        ("awsRegion", "x", None),  # not a key: reported as unknown
    ],
)
def test_each_invalid_value_names_key_file_value_and_what_is_allowed(key, value, allowed):
    message = problems({key: value})[0]
    assert message.startswith(f"hermes-eks:{key} in Pulumi.dev.yaml")
    if allowed is None:
        assert "is not a setting of this program" in message
        return
    shown = value if value.startswith("[") else f'"{value}"'
    assert f" is {shown}; " in message, message
    assert "allowed: " in message and allowed in message


def test_several_problems_are_reported_together_including_cross_field_ones():
    found = problems({"storageSize": "20GB", "namespace": "NO", "modelProvider": "bedrock",
                      "clusterSource": "create"})
    keys = [p.split(" ", 1)[0] for p in found]
    assert sorted(keys) == sorted(["hermes-eks:storageSize", "hermes-eks:namespace", "aws:region", "hermes-eks:modelDefault"]), found


def test_cross_field_rules_still_run_when_an_unrelated_key_is_invalid():
    found = problems({"memoryLimit": "lots", "imageSource": "git", "clusterSource": "create",
                      "aws:region": "eu-central-1"})
    assert any(p.startswith("hermes-eks:memoryLimit") for p in found)
    assert any(p.startswith("hermes-eks:hermesGitCommit is not set in Pulumi.dev.yaml") for p in found)


def test_unknown_key_suggests_the_closest_one():
    assert "did you mean hermes-eks:namespace?" in only_problem({"namspace": "hermes"})


def test_error_header_says_nothing_was_created():
    with pytest.raises(ConfigError) as raised:
        parse_settings({"hermes-eks:storageSize": "1"}, stack="prod")
    assert str(raised.value).startswith("Stack 'prod' has 1 configuration problem; nothing was created or changed:")


def test_a_plain_text_secret_is_refused_and_its_value_never_printed():
    found = problems({"apiServerKey": GOOD_KEY})
    assert found == [
        "hermes-eks:apiServerKey in Pulumi.dev.yaml is stored in plain text; allowed: an encrypted value set "
        "with `pulumi config set --secret apiServerKey ...`"
    ]
    assert all(GOOD_KEY not in p for p in found)


def test_a_malformed_secret_is_refused_without_echoing_it():
    message = only_problem({"apiServerKey": "changeme"}, secret_keys={"hermes-eks:apiServerKey"})
    assert "<secret value hidden>" in message and "changeme" not in message
    assert "64 lowercase hex characters" in message


def test_a_good_secret_is_accepted_and_hidden_in_repr():
    s = parse_settings({"hermes-eks:apiServerKey": GOOD_KEY}, stack="dev",
                       secret_keys=frozenset({"hermes-eks:apiServerKey"}))
    assert s.api_server_key.get_secret_value() == GOOD_KEY
    assert GOOD_KEY not in repr(s)


@pytest.mark.parametrize(
    ("config", "key", "allowed"),
    [
        ({"clusterSource": "existing", "aws:region": "eu-central-1"}, "hermes-eks:existingClusterName", "the name of the EKS cluster"),
        ({"imageSource": "mirror"}, "hermes-eks:imageSource", "'reference' when clusterSource is 'kubeconfig'"),
        ({"modelProvider": "bedrock", "modelDefault": "anthropic.claude-sonnet-4-6"}, "hermes-eks:modelProvider", "Bedrock credentials come from the pod's IAM role"),
        ({"modelProvider": "custom", "modelDefault": "llama"}, "hermes-eks:modelBaseUrl", "required when modelProvider is 'custom'"),
        ({"modelProvider": "openrouter", "modelDefault": "claude", "existingSecretName": "hermes-credentials"}, "hermes-eks:modelDefault", "vendor/model"),
        ({"dashboardHost": "h.corp-internal.net", "apiHost": "h.corp-internal.net"}, "hermes-eks:apiHost", "a different host"),
        ({"dashboardOidcIssuer": "https://login.corp-internal.net", "dashboardHost": "h.corp-internal.net"}, "hermes-eks:dashboardOidcClientId", "set together"),
        ({"dashboardOidcIssuer": "https://login.corp-internal.net", "dashboardOidcClientId": "hermes"}, "hermes-eks:dashboardHost", "OIDC callback"),
        ({"clusterSource": "create", "aws:region": "eu-central-1", "nodeInstanceTypes": '["m7g.large"]'}, "hermes-eks:nodeInstanceTypes", "(m7g.large is arm64)"),
        ({"clusterSource": "create", "aws:region": "eu-central-1", "nodeArchitecture": "arm64", "nodeInstanceTypes": '["m7i.large"]'}, "hermes-eks:nodeInstanceTypes", "(m7i.large is x86_64)"),
        ({"clusterSource": "create", "aws:region": "eu-central-1", "nodeMinSize": "3", "nodeDesiredSize": "2"}, "hermes-eks:nodeDesiredSize", "between nodeMinSize (3)"),
        ({"existingClusterAddons": '["ebs-csi-driver"]'}, "hermes-eks:existingClusterAddons", "unless clusterSource is 'existing'"),
        ({"bedrockModels": '["anthropic.claude-sonnet-4-6"]'}, "hermes-eks:bedrockModels", "unless modelProvider is 'bedrock'"),
    ],
)
def test_cross_field_rules(config, key, allowed):
    message = only_problem(config)
    assert message.startswith(key) and allowed in message, message


def test_the_program_registers_nothing_when_config_is_invalid():
    program = run_program("local", {"storageSize": "lots", "namespace": "UPPER"}, raise_errors=False)
    assert isinstance(program.error, ConfigError)
    assert len(program.error.problems) == 2
    assert program.resources == []


def test_every_key_is_documented():
    assert set(settings.KEY_DOCS) == set(StackSettings.model_fields)


def test_every_secret_typed_key_is_treated_as_a_secret():
    assert settings.SECRET_KEYS == {"api_server_key", "openrouter_api_key", "custom_model_api_key",
                                   "dashboard_oidc_client_secret"}


@pytest.mark.parametrize("key, value", [
    ("openrouterApiKey", "sk-or-${HOME}"),
    ("customModelApiKey", "sk-it's"),
    ("dashboardOidcClientSecret", "s\u00e9cret"),
])
def test_a_credential_hermes_would_read_back_changed_from_its_env_file_is_refused_at_preview(key, value):
    config = {"modelProvider": "openrouter", "modelDefault": "vendor/model"} if key == "openrouterApiKey" else (
        {"modelProvider": "custom", "modelDefault": "m", "modelBaseUrl": "http://vllm:8000/v1"}
        if key == "customModelApiKey" else
        {"dashboardOidcIssuer": "https://login.example.com", "dashboardOidcClientId": "hermes",
         "dashboardHost": "hermes.example.com"})
    message = next(p for p in problems({**config, key: value}, secret_keys={f"hermes-eks:{key}"})
                   if p.startswith(f"hermes-eks:{key} "))
    assert "<secret value hidden>" in message and value not in message
    assert "Hermes would read it from its .env changed" in message


def test_a_credential_with_plain_dollars_is_accepted():
    s = parse_settings({"hermes-eks:modelProvider": "openrouter", "hermes-eks:modelDefault": "vendor/model",
                        "hermes-eks:openrouterApiKey": "sk-or-$HOME-pa$$"}, stack="dev",
                       secret_keys=frozenset({"hermes-eks:openrouterApiKey"}))
    assert s.openrouter_api_key.get_secret_value() == "sk-or-$HOME-pa$$"
