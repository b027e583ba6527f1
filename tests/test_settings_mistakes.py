"""Config a user gets wrong is refused before anything is registered (issue 6 item 11): keys in a misspelt
namespace, host names and ARNs copied from examples, a model provider without the key it needs.
Each message names the key, the file, the value and what is allowed."""

from __future__ import annotations

import pytest

import settings
from settings import ConfigError
from tests import engine_config as cli
from tests.harness import PROJECT, PROJECT_DECLARATION, ROOT, Program, run_program

CERTIFICATE = "arn:aws:acm:eu-central-1:210987654321:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"


def refused(stack: str, config: dict, **kwargs) -> list[str]:
    p: Program = run_program(stack, config, raise_errors=False, **kwargs)
    assert isinstance(p.error, ConfigError), p.error
    assert p.resources == [], "nothing may be registered when config is refused"
    return p.error.problems


def accepted(stack: str, config: dict, **kwargs) -> Program:
    p = run_program(stack, config, raise_errors=False, **kwargs)
    assert p.error is None, p.error
    return p


# --- misspelt namespaces ----------------------------------------------------------------------------

@pytest.mark.parametrize("namespace", ["hermes_eks", "hermeseks", "hermes-eks2", "Hermes-EKS", "hermes-ek"])
def test_a_key_in_a_misspelt_namespace_is_refused_with_the_key_it_meant(namespace):
    [problem] = refused("local", {f"{namespace}:storageSize": "50Gi"})
    assert problem.startswith(f'{namespace}:storageSize in Pulumi.local.yaml is "50Gi"')
    assert f"namespace '{namespace}' is not this program's" in problem
    assert problem.endswith("did you mean hermes-eks:storageSize?")


def test_a_secret_in_a_misspelt_namespace_is_refused_without_showing_it():
    p = run_program("local", secrets={"hermes_eks:apiServerKey": "super-secret-value"}, raise_errors=False)
    assert isinstance(p.error, ConfigError) and "super-secret-value" not in str(p.error)
    assert "hermes_eks:apiServerKey in Pulumi.local.yaml is <secret value hidden>" in str(p.error)


def test_other_programs_namespaces_are_left_alone():
    accepted("local", {"kubernetes:context": "kind-hermes", "pulumi:tags": {"team": "ml"}, "random:x": "1"})
    accepted("dev", {"aws:profile": "platform", "aws:defaultTags": {"tags": {"team": "ml"}}})


# --- placeholders copied from examples --------------------------------------------------------------

def test_prod_as_shipped_passes_the_cli_but_the_program_refuses_its_placeholders():
    cli.merge_config("prod", PROJECT_DECLARATION, cli.load_stack((ROOT / "Pulumi.prod.yaml").read_text(), PROJECT))
    problems = refused("prod", {}, site_values=False)
    assert len(problems) == 4, problems
    keys = ["dashboardHost", "apiHost", "clusterAdmin", "endpointPublicAccessCidrs"]
    host, api, admins, cidrs = sorted(problems, key=lambda m: keys.index(
        next(k for k in keys if k in m.split(" ", 1)[0])))
    assert cidrs.startswith('hermes-eks:endpointPublicAccessCidrs in Pulumi.prod.yaml is ["203.0.113.0/24"]; '
                            "allowed: your own address range: 203.0.113.0/24 is reserved for documentation (RFC 5737)")
    assert host.startswith('hermes-eks:dashboardHost in Pulumi.prod.yaml is "hermes.internal.example.com"; allowed: '
                           "a host name of your own: example.com is reserved")
    assert api.startswith('hermes-eks:apiHost in Pulumi.prod.yaml is "hermes-api.internal.example.com"')
    assert admins.startswith('hermes-eks:clusterAdminPrincipalArns in Pulumi.prod.yaml is '
                             '["arn:aws:iam::123456789012:role/platform-admins"]; allowed: an ARN in your own AWS account')
    assert all("replace" in m for m in problems)


@pytest.mark.parametrize(
    "host",
    ["example.com", "hermes.example.com", "hermes.example.net", "a.b.example.org", "hermes.example",
     "hermes.invalid", "hermes.test", "hermes.localhost"],
)
def test_reserved_host_names_are_refused_on_aws(host):
    [problem] = refused("dev", {"dashboardHost": host})
    assert problem.startswith(f'hermes-eks:dashboardHost in Pulumi.dev.yaml is "{host}"; allowed: a host name of your own')


@pytest.mark.parametrize("cidr", ["192.0.2.0/24", "198.51.100.0/25", "203.0.113.7/32"])
def test_documentation_address_ranges_are_refused(cidr):
    [problem] = refused("dev", {"endpointPublicAccessCidrs": [cidr]})
    assert "reserved for documentation (RFC 5737)" in problem


@pytest.mark.parametrize("host", ["hermes.test", "hermes.localhost"])
def test_test_and_localhost_names_are_fine_for_a_local_cluster(host):
    accepted("local", {"dashboardHost": host, "ingressClassName": "nginx"})


@pytest.mark.parametrize("host", ["hermes.corp-internal.net", "myexample.com", "example.company.com", "tested.io"])
def test_real_host_names_are_not_mistaken_for_placeholders(host):
    # With a certificate named, so the preflight's ACM lookup (preflight.py) does not decide the test.
    accepted("dev", {"dashboardHost": host, "ingressCertificateArn": CERTIFICATE})


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"dashboardHost": "hermes.corp-internal.net", "dashboardOidcIssuer": "https://login.example.com/realms/main",
          "dashboardOidcClientId": "hermes"}, "dashboardOidcIssuer"),
        ({"clusterAdminPrincipalArns": ["arn:aws:iam::210987654321:role/a", "arn:aws:iam::123456789012:role/b"]},
         "clusterAdminPrincipalArns"),
        ({"dashboardHost": "hermes.corp-internal.net",
          "ingressCertificateArn": "arn:aws:acm:eu-central-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"},
         "ingressCertificateArn"),
        ({"dashboardHost": "hermes.corp-internal.net",
          "ingressAnnotations": {"alb.ingress.kubernetes.io/wafv2-acl-arn":
                                 "arn:aws:wafv2:eu-central-1:123456789012:regional/webacl/x/1"}}, "ingressAnnotations"),
    ],
)
def test_example_urls_and_the_documentation_account_are_refused_wherever_they_appear(config, key):
    [problem] = refused("dev", config)
    assert problem.startswith(f"hermes-eks:{key} in Pulumi.dev.yaml is ") and "replace the placeholder" in problem


# --- a model provider without the key it needs --------------------------------------------------------

def test_openrouter_without_a_key_is_refused():
    [problem] = refused("local", {"modelProvider": "openrouter", "modelDefault": "anthropic/claude-sonnet-4.6"})
    assert problem.startswith("hermes-eks:openrouterApiKey is not set in Pulumi.local.yaml; allowed: an OpenRouter API key")
    assert "existingSecretName" in problem


def test_openrouter_with_its_key_in_an_own_secret_is_accepted():
    accepted("local", {"modelProvider": "openrouter", "modelDefault": "anthropic/claude-sonnet-4.6",
                       "existingSecretName": "hermes-from-vault"})


def test_a_custom_in_cluster_endpoint_may_need_no_key():
    accepted("local", {"modelProvider": "custom", "modelDefault": "qwen3",
                       "modelBaseUrl": "http://vllm.models.svc:8000/v1"})


@pytest.mark.parametrize("url", ["https://api.openai.com/v1", "https://my-resource.openai.azure.com/openai/v1"])
def test_a_custom_endpoint_at_a_hosted_api_needs_its_key(url):
    [problem] = refused("local", {"modelProvider": "custom", "modelDefault": "gpt-5.1", "modelBaseUrl": url})
    assert problem.startswith("hermes-eks:customModelApiKey is not set in Pulumi.local.yaml; allowed: the API key of ")
    accepted("local", {"modelProvider": "custom", "modelDefault": "gpt-5.1", "modelBaseUrl": url},
             secrets={"customModelApiKey": "sk-test"})


# --- the configuration table's own examples ------------------------------------------------------------

@pytest.mark.parametrize("attribute", [a for a in settings.KEY_DOCS if a not in settings.SECRET_KEYS])
def test_every_example_in_the_configuration_table_is_a_value_the_program_accepts(attribute):
    """A user copying an example from the README table must not get it refused as invalid or a placeholder."""
    written = cli.go_yaml_load(settings.KEY_DOCS[attribute][1])  # as if pasted into the stack file
    raw = cli.decrypted_text(cli.value_from_yaml(written))
    parsed = settings.StackSettings.model_validate({attribute: raw})
    assert settings._placeholder_problems(parsed) == []


def test_an_unquoted_version_in_yaml_is_refused_with_the_reason():
    """The CLI keeps an unquoted 1.30 as the YAML number's text, "1.3" (tests/engine_config.py)."""
    problems = refused("dev", {"kubernetesVersion": 1.30})
    assert problems == ['hermes-eks:kubernetesVersion in Pulumi.dev.yaml is "1.3"; allowed: one of 1.30, 1.31, 1.32, '
                        "1.33, 1.34, 1.35, 1.36, 1.37 (quoted in YAML: an unquoted 1.30 is the number 1.3)"]


# --- one mistake, one problem (issue 14 item 5) --------------------------------------------------------

@pytest.mark.parametrize("stack, config, key", [
    ("dev", {"modelProvider": "bedrok"}, "hermes-eks:modelProvider"),
    ("local", {"modelProvider": "openroutr", "modelDefault": "anthropic/claude-sonnet-4.5"}, "hermes-eks:modelProvider"),
    ("dev", {"clusterSource": "creat"}, "hermes-eks:clusterSource"),
    ("local", {"dashboardOidcIssuer": "http://login.corp-internal.net", "dashboardOidcClientId": "hermes",
               "dashboardHost": "hermes.corp-internal.net"}, "hermes-eks:dashboardOidcIssuer"),
])
def test_an_invalid_key_is_not_followed_by_problems_that_depend_on_its_value(stack, config, key):
    """Rules reading a key that failed are judged for every value it may have meant: dev's Bedrock model
    list is no mistake because 'bedrok' is not 'bedrock'."""
    [problem] = refused(stack, config)
    assert problem.startswith(f"{key} in Pulumi.{stack}.yaml is "), problem


def test_problems_that_hold_whatever_the_invalid_key_meant_are_still_reported():
    problems = refused("dev", {"modelProvider": "bedrok", "nodeDesiredSize": 5, "backupCopyRegion": "eu-central-1"})
    assert [p.split(" ", 1)[0] for p in problems] == [
        "hermes-eks:modelProvider", "hermes-eks:nodeDesiredSize", "hermes-eks:backupCopyRegion"], problems


@pytest.mark.parametrize("config, suggestion", [
    ({"modelProvider": "bedrok"}, "did you mean bedrock?"),
    ({"controlPlaneLogTypes": ["api", "audti"]}, "did you mean audit?"),
    ({"natGateways": "two"}, None),
])
def test_a_mistyped_choice_suggests_the_closest_one(config, suggestion):
    [problem] = refused("dev", config)
    assert problem.endswith(suggestion) if suggestion else "did you mean" not in problem, problem
