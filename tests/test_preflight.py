"""What only the account can answer is asked before anything is registered (preflight.py).

Bedrock: each geographic inference profile's destinations come from GetInferenceProfile, not only
from the built-in table, and a model the Region does not offer fails the preview naming the key.
Certificates: Ingress hosts no ISSUED ACM certificate covers fail the preview naming hosts and keys,
matching hosts as the AWS Load Balancer Controller's discovery does (wildcards included).
"""

from __future__ import annotations

import json

import pytest

from components.bedrock_access import GEO_REGIONS, ModelUnavailable, invoke_policy, profile_destinations, resolve_destinations
from components.ingress_certificates import candidate_domains, domain_matches_host, find_certificates
from preflight import Lookups, check_account
from settings import ConfigError, parse_settings
from tests import fake_cloud
from tests.harness import Program, run_program

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
DEV_BEDROCK = {"clusterSource": "create", "aws:region": "eu-central-1", "modelProvider": "bedrock", "modelDefault": "eu.anthropic.claude-sonnet-4-6"}
SONNET = "eu.anthropic.claude-sonnet-4-6"
NEW_REGION = "eu-west-4"  # a destination AWS added after GEO_REGIONS' snapshot
CERT = "arn:aws:acm:eu-central-1:210987654321:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
ACM = "aws:acm/getCertificate:getCertificate"


def refused(stack: str, config: dict | None = None) -> ConfigError:
    program = run_program(stack, config, raise_errors=False)
    assert isinstance(program.error, ConfigError), program.error
    assert program.resources == []  # nothing registered, so nothing half-created
    return program.error


def invoke_statements(program: Program) -> dict[str, dict]:
    policy = json.loads(program.one(ROLE_POLICY, "hermes-bedrock-invoke").plain["policy"])
    return {statement["Sid"]: statement for statement in policy["Statement"]}


# --- Bedrock: destinations from the account ---------------------------------------------------------

def test_the_role_may_invoke_the_model_in_a_destination_region_aws_added_after_the_table(monkeypatch):
    regions = (*GEO_REGIONS["eu"], NEW_REGION)
    monkeypatch.setattr(fake_cloud, "BEDROCK_PROFILE_REGIONS", {SONNET: regions})
    statement = invoke_statements(run_program("dev"))["ModelsBehindEuAnthropicClaudeSonnet46"]
    assert f"arn:aws:bedrock:{NEW_REGION}::foundation-model/anthropic.claude-sonnet-4-6" in statement["Resource"]
    assert statement["Resource"] == sorted(f"arn:aws:bedrock:{r}::foundation-model/anthropic.claude-sonnet-4-6" for r in regions)
    assert statement["Condition"] == {"StringEquals": {
        "bedrock:InferenceProfileArn": f"arn:aws:bedrock:eu-central-1:{fake_cloud.ACCOUNT}:inference-profile/{SONNET}"}}


def test_the_role_is_granted_exactly_the_destinations_bedrock_reports(monkeypatch):
    monkeypatch.setattr(fake_cloud, "BEDROCK_PROFILE_REGIONS", {SONNET: ("eu-central-1", "eu-west-1")})
    statement = invoke_statements(run_program("dev"))["ModelsBehindEuAnthropicClaudeSonnet46"]
    assert statement["Resource"] == [f"arn:aws:bedrock:{r}::foundation-model/anthropic.claude-sonnet-4-6"
                                     for r in ("eu-central-1", "eu-west-1")]


def test_every_configured_profile_is_looked_up_in_the_bedrock_region():
    program = run_program("prod")
    looked_up = [args for token, args in program.invokes if token == "aws:bedrock/getInferenceProfile:getInferenceProfile"]
    assert sorted(a["inferenceProfileId"] for a in looked_up) == ["eu.anthropic.claude-haiku-4-5-20251001-v1:0", SONNET]
    assert {a["region"] for a in looked_up} == {"eu-central-1"}


def test_a_profile_the_region_does_not_offer_fails_the_preview_naming_key_value_and_region(monkeypatch):
    monkeypatch.setattr(fake_cloud, "BEDROCK_UNAVAILABLE", {SONNET})
    [problem] = refused("dev", {"modelDefault": "eu.anthropic.claude-haiku-4-5-20251001-v1:0"}).problems
    assert problem.startswith(f'hermes-eks:bedrockModels in Pulumi.dev.yaml names "{SONNET}", which Bedrock does not offer in eu-central-1')
    assert "ResourceNotFoundException" in problem and "aws bedrock list-inference-profiles --region eu-central-1" in problem


def test_a_lookup_the_deployer_may_not_make_says_so_instead_of_blaming_the_model():
    def denied(profile_id, region):
        raise RuntimeError("operation error Bedrock: GetInferenceProfile, AccessDeniedException: not authorized")

    lookups = Lookups(denied, lambda m, r: None, lambda d: None)
    with pytest.raises(ConfigError) as raised:
        check_account(parse_settings({k if ":" in k else f"hermes-eks:{k}": v for k, v in DEV_BEDROCK.items()},
                                     stack="dev"), "dev", lookups)
    [problem] = raised.value.problems
    assert "may not look up in eu-central-1" in problem and "bedrock:GetInferenceProfile" in problem
    assert "does not offer" not in problem


def test_a_default_model_outside_the_list_is_named_as_model_default(monkeypatch):
    monkeypatch.setattr(fake_cloud, "BEDROCK_UNAVAILABLE", {"eu.anthropic.claude-opus-4-9"})
    [problem] = refused("dev", {"modelDefault": "eu.anthropic.claude-opus-4-9"}).problems
    assert problem.startswith('hermes-eks:modelDefault in Pulumi.dev.yaml names "eu.anthropic.claude-opus-4-9"')


def test_a_foundation_model_the_region_does_not_offer_fails_the_preview(monkeypatch):
    model = "anthropic.claude-3-haiku-20240307-v1:0"
    monkeypatch.setattr(fake_cloud, "BEDROCK_UNAVAILABLE", {model})
    [problem] = refused("dev", {"modelDefault": model, "bedrockModels": [model]}).problems
    assert f'"{model}", which Bedrock does not offer in eu-central-1' in problem and "ValidationException" in problem


def test_a_foundation_model_is_checked_with_the_foundation_model_lookup():
    model = "anthropic.claude-3-haiku-20240307-v1:0"
    program = run_program("dev", {"modelDefault": model, "bedrockModels": [model]})
    assert ("aws:bedrockfoundation/getModel:getModel", {"modelId": model, "region": "eu-central-1"}) in program.invokes


def test_destinations_must_be_regional_arns_of_the_profiles_own_model():
    good = "arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-sonnet-4-6"
    assert profile_destinations(SONNET, "eu-central-1", [good, good]) == (good,)
    for bad in ("arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-opus-4-1",
                "arn:aws:bedrock:eu-west-1::foundation-model/anthropic.*",
                "arn:aws:bedrock:::foundation-model/anthropic.claude-sonnet-4-6",
                "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-sonnet-4-6"):
        with pytest.raises(ModelUnavailable):
            profile_destinations(SONNET, "eu-central-1", [good, bad])
    with pytest.raises(ModelUnavailable, match="lists no destination"):
        profile_destinations(SONNET, "eu-central-1", [])


def test_global_profiles_are_checked_but_keep_awss_documented_policy():
    seen = []
    destinations = resolve_destinations(["global.anthropic.claude-sonnet-4-6"], "eu-central-1",
                                        lambda p, r: seen.append(p) or [], lambda m, r: None)
    assert seen == ["global.anthropic.claude-sonnet-4-6"] and destinations == {}


def test_without_resolved_destinations_the_policy_builder_falls_back_to_the_table():
    # The pure builder stays usable without Pulumi (settings, tests, the policy pack).
    with_table = invoke_policy([SONNET], "eu-central-1", fake_cloud.ACCOUNT)
    resolved = invoke_policy([SONNET], "eu-central-1", fake_cloud.ACCOUNT,
                             destinations={SONNET: ("arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-sonnet-4-6",)})
    assert len(with_table["Statement"][1]["Resource"]) == len(GEO_REGIONS["eu"])
    assert resolved["Statement"][1]["Resource"] == ["arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-sonnet-4-6"]


def test_the_local_stack_asks_aws_nothing():
    assert run_program("local").invokes == []


# --- certificates for the Ingress hosts ------------------------------------------------------------

def test_prod_hosts_without_any_certificate_fail_the_preview_naming_hosts_and_keys(monkeypatch):
    monkeypatch.setattr(fake_cloud, "ACM_CERTIFICATES", {})
    [problem] = refused("prod").problems
    assert problem.startswith("hermes-eks:ingressCertificateArn is not set in Pulumi.prod.yaml and no ISSUED ACM "
                              "certificate in eu-central-1 is named for hermes.corp-internal.net, "
                              "hermes-api.corp-internal.net (hermes-eks:dashboardHost and hermes-eks:apiHost)")
    assert "*.corp-internal.net" in problem


def test_only_the_host_without_a_certificate_is_named(monkeypatch):
    monkeypatch.setattr(fake_cloud, "ACM_CERTIFICATES", {"hermes.corp-internal.net": CERT})
    [problem] = refused("prod").problems
    assert "named for hermes-api.corp-internal.net (hermes-eks:apiHost)" in problem


@pytest.mark.parametrize("names", [
    ["*.corp-internal.net"],
    ["hermes.corp-internal.net", "hermes-api.corp-internal.net"],
    ["hermes.corp-internal.net", "*.corp-internal.net"],
], ids=["one-wildcard", "exact-names", "exact-and-wildcard"])
def test_a_certificate_named_for_each_host_or_its_wildcard_passes(monkeypatch, names):
    monkeypatch.setattr(fake_cloud, "ACM_CERTIFICATES", dict.fromkeys(names, CERT))
    program = run_program("prod")
    assert program.error is None
    assert {args["domain"] for token, args in program.invokes if token == ACM} <= {
        "hermes.corp-internal.net", "*.corp-internal.net", "hermes-api.corp-internal.net"}


def test_a_wildcard_one_level_up_does_not_cover_a_host_two_levels_down(monkeypatch):
    monkeypatch.setattr(fake_cloud, "ACM_CERTIFICATES", {"*.corp-internal.org": CERT})
    assert "hermes.corp-internal.net" in refused("prod").problems[0]


def test_only_issued_certificates_of_every_key_type_are_looked_up():
    calls = [args for token, args in run_program("prod").invokes if token == ACM]
    assert calls and all(a["statuses"] == ["ISSUED"] and "EC_prime256v1" in a["keyTypes"] and a["mostRecent"] for a in calls)


@pytest.mark.parametrize("config", [
    {"ingressCertificateArn": CERT},
    {"ingressAnnotations": {"alb.ingress.kubernetes.io/certificate-arn": CERT}},
    {"ingressClassName": "nginx"},
], ids=["certificate-arn", "annotation", "not-alb"])
def test_no_certificate_lookup_when_the_certificate_is_given_or_the_controller_is_not_the_alb(monkeypatch, config):
    monkeypatch.setattr(fake_cloud, "ACM_CERTIFICATES", {})
    program = run_program("prod", config)
    assert program.error is None and not [token for token, _ in program.invokes if token == ACM]


def test_stacks_without_an_ingress_look_up_no_certificate():
    assert not [token for token, _ in run_program("dev").invokes if token == ACM]


HOSTS = ["hermes.example.com", "a.b.example.com", "example.com", "x.y"]
DOMAINS = ["hermes.example.com", "*.example.com", "*.b.example.com", "*.com", "example.com", "*.y", "b.example.com"]


@pytest.mark.parametrize("host", HOSTS)
def test_candidate_domains_are_exactly_the_names_the_controller_matches(host):
    assert {d for d in DOMAINS + list(candidate_domains(host)) if domain_matches_host(d, host)} == set(candidate_domains(host))


def test_the_controllers_wildcard_rule_needs_the_same_number_of_labels():
    assert domain_matches_host("*.example.com", "hermes.example.com")
    assert not domain_matches_host("*.example.com", "a.hermes.example.com")
    assert not domain_matches_host("*.example.com", "example.com")
    assert not domain_matches_host("hermes.example.com", "Hermes.example.com.")


def test_find_certificates_prefers_the_exact_name_and_reports_missing_hosts_as_none():
    names = {"a.example.com": "exact", "*.example.com": "wildcard"}
    assert find_certificates(["a.example.com", "b.example.com", "c.other.org"], names.get) == {
        "a.example.com": "exact", "b.example.com": "wildcard", "c.other.org": None}


# --- the webhook Ingress's host (messaging platforms Hermes is called back by) -----------------------

SMS = {"sms": {"authToken": {"secure": "0123456789abcdef0123456789abcdef"},
               "accountSid": "AC0123456789abcdef0123456789abcdef", "phoneNumber": "+15005550006"}}
HOOKS = "hermes-hooks.mycorp.net"  # no certificate in fake_cloud.ACM_CERTIFICATES names it or *.mycorp.net


def webhook_ingress(program: Program, name: str = "hermes-webhooks") -> dict:
    return next(o for o in program.kubernetes_objects() if o["kind"] == "Ingress" and o["metadata"]["name"] == name)


def test_a_webhook_host_without_a_certificate_fails_the_preview_naming_its_key():
    [problem] = refused("dev", {"messagingWebhookHost": HOOKS, "messaging": SMS}).problems
    assert problem.startswith("hermes-eks:ingressCertificateArn is not set in Pulumi.dev.yaml and no ISSUED ACM "
                              f"certificate in eu-central-1 is named for {HOOKS} (hermes-eks:messagingWebhookHost); "
                              f"allowed: the ARN of an ISSUED certificate for those hosts, or an ISSUED certificate "
                              f"in ACM named {HOOKS} or *.mycorp.net")


def test_an_agents_own_webhook_host_without_a_certificate_is_named_by_its_instance_key():
    [problem] = refused("dev", {"instances": {"hermes": {}, "research": {
        "namespace": "hermes-research", "messagingWebhookHost": HOOKS, "messaging": SMS}}}).problems
    assert f"is named for {HOOKS} (hermes-eks:instances.research.messagingWebhookHost)" in problem


def test_every_host_without_a_certificate_is_named_with_its_key(monkeypatch):
    monkeypatch.setattr(fake_cloud, "ACM_CERTIFICATES", {})
    [problem] = refused("prod", {"messagingWebhookHost": "hermes-hooks.corp-internal.net", "messaging": SMS}).problems
    assert ("named for hermes.corp-internal.net, hermes-api.corp-internal.net, hermes-hooks.corp-internal.net "
            "(hermes-eks:dashboardHost, hermes-eks:apiHost and hermes-eks:messagingWebhookHost)") in problem


def test_a_webhook_host_a_certificate_covers_is_looked_up_and_its_ingress_discovers_the_certificate(monkeypatch):
    monkeypatch.setattr(fake_cloud, "ACM_CERTIFICATES", {"*.mycorp.net": CERT})
    program = run_program("dev", {"messagingWebhookHost": HOOKS, "messaging": SMS})
    assert program.error is None
    assert [args["domain"] for token, args in program.invokes if token == ACM] == [HOOKS, "*.mycorp.net"]
    assert "alb.ingress.kubernetes.io/certificate-arn" not in webhook_ingress(program)["metadata"]["annotations"]


def test_a_certificate_arn_among_the_ingress_annotations_does_not_reach_the_webhook_ingress_so_its_host_is_checked(
        monkeypatch):
    monkeypatch.setattr(fake_cloud, "ACM_CERTIFICATES", {})
    [problem] = refused("prod", {"ingressAnnotations": {"alb.ingress.kubernetes.io/certificate-arn": CERT},
                                 "messagingWebhookHost": HOOKS, "messaging": SMS}).problems
    assert f"is named for {HOOKS} (hermes-eks:messagingWebhookHost)" in problem


def test_with_ingress_certificate_arn_the_webhook_ingress_gets_it_and_nothing_is_looked_up(monkeypatch):
    monkeypatch.setattr(fake_cloud, "ACM_CERTIFICATES", {})
    program = run_program("dev", {"ingressCertificateArn": CERT, "messagingWebhookHost": HOOKS, "messaging": SMS})
    assert program.error is None and not [token for token, _ in program.invokes if token == ACM]
    assert webhook_ingress(program)["metadata"]["annotations"]["alb.ingress.kubernetes.io/certificate-arn"] == CERT
