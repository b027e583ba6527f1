"""deployments/delivery_settings.py: the Deployments program's own config, validated before anything is registered."""

from __future__ import annotations

import json

import pytest

from tests.deployments_harness import WEBHOOK, import_program_module, run_deployments

settings_module = import_program_module("delivery_settings")


def problems(config=None, *, secrets=None, remove=()) -> list[str]:
    run = run_deployments(config=config, secrets=secrets, remove=remove, raise_errors=False)
    assert isinstance(run.error, settings_module.DeliveryConfigError), run.error
    assert run.resources == [], "nothing may be registered when the config is wrong"
    return run.error.problems


def test_the_stack_file_is_valid_and_its_defaults_are_the_documented_ones():
    run = run_deployments()
    assert run.error is None
    settings = settings_module.parse_settings(
        {"aws:region": "eu-central-1", "hermes-eks-deployments:organization": "acme",
         "hermes-eks-deployments:repository": "acme/hermes-eks"}, stack="delivery")
    assert (settings.branch, settings.program_dir, settings.policy_pack_dir, settings.project) == ("main", "", "policy", "hermes-eks")
    assert (settings.oidc_provider, settings.review_stack_pattern, settings.drift_schedule) == ("create", "pr-*", "0 6 * * *")
    assert settings.webhook_url is None and settings.github_actions is False
    # prod's account by default: never the review stacks, whose role runs unreviewed code (delivery_plan.py).
    assert settings.stacks == ("dev", "prod")


def test_required_keys_name_the_key_the_file_and_what_they_are():
    assert problems(remove=("organization", "aws:region")) == [
        "hermes-eks-deployments:organization is not set in Pulumi.delivery.yaml; allowed: "
        + settings_module.KEY_DOCS["organization"],
        "aws:region is not set in Pulumi.delivery.yaml; allowed: " + settings_module.KEY_DOCS["aws_region"],
    ]


@pytest.mark.parametrize("key, value, allowed", [
    ("oidcProvider", "reuse", "one of create or existing"),
    ("repository", "hermes-eks", "a GitHub repository as owner/name, e.g. acme/hermes-eks"),
    ("branch", "refs/heads/main", "a branch name without refs/heads/, e.g. main"),
    ("programDir", "/infra", "empty or a folder relative to the repository root"),
    ("programDir", "../elsewhere", "empty or a folder relative to the repository root"),
    ("driftSchedule", "daily", "a five-field cron expression"),
    ("driftSchedule", "0 6 * *", "a five-field cron expression"),
    ("webhookFormat", "discord", "one of slack, ms_teams, raw or pulumi_deployments"),
    ("reviewStackPattern", "*", "a stack name, or a prefix ending in '*' such as pr-*"),
    # IAM StringLike's `*` would admit prod's (or dev's, or the template's) tokens to the review-stack role.
    ("reviewStackPattern", "pr*", "a pattern that matches none of the main program's stacks (local, dev, prod, pr); this one matches prod, pr"),
    ("reviewStackPattern", "prod", "this one matches prod"),
    ("reviewStackPattern", "d*", "this one matches dev"),
    ("stacks", "dev", "a YAML list of the main program's stacks, e.g. [dev, prod]"),
    ("stacks", [], "a list of distinct stacks out of dev, prod, pr, e.g. [dev, prod]"),
    ("stacks", ["local"], "a list of distinct stacks out of dev, prod, pr"),
    ("stacks", ["dev", "dev"], "a list of distinct stacks out of dev, prod, pr"),
    ("stacks", ["dev", "prod", "pr"], "run review stacks from a delivery stack in a separate AWS account"),
    ("organization", "acme corp", "a Pulumi organization or project name"),
])
def test_a_bad_value_names_key_file_value_and_what_is_allowed(key, value, allowed):
    [problem] = problems({key: value})
    assert problem.startswith(f'hermes-eks-deployments:{key} in Pulumi.delivery.yaml is {json.dumps(value)}; allowed: ')
    assert allowed in problem


def test_the_webhook_url_must_be_a_secret_and_is_never_shown():
    [problem] = problems({"webhookUrl": WEBHOOK})
    assert "stored in plain text" in problem and "pulumi config set --secret webhookUrl" in problem
    assert WEBHOOK not in problem
    [problem] = problems(secrets={"webhookUrl": "http://hooks.example.com/x"})
    assert problem == ("hermes-eks-deployments:webhookUrl in Pulumi.delivery.yaml is <secret value hidden>; "
                       "allowed: an https:// URL (the webhook endpoint, e.g. a Slack incoming-webhook URL)")


def test_a_misspelt_key_is_reported_with_the_likely_one():
    [problem] = problems({"hermes-eks-deployments:organisation": "acme"})
    assert problem == ("hermes-eks-deployments:organisation in Pulumi.delivery.yaml is not a setting of "
                       "hermes-eks-deployments; did you mean hermes-eks-deployments:organization?")


def test_every_problem_is_reported_at_once():
    assert len(problems({"oidcProvider": "reuse", "driftSchedule": "daily", "branch": "refs/heads/x"})) == 3


def test_every_setting_is_documented():
    assert set(settings_module.KEY_DOCS) == set(settings_module.DeliverySettings.model_fields)


def test_the_sandbox_preview_is_refused_where_prod_could_be_and_beside_a_secret():
    """Every pull request previews that stack without a reviewer: only in the account of the review
    stacks (`stacks` holding `pr`, so never prod), and its Stack Read must decrypt no secret."""
    assert problems({"githubSandboxPreview": True}) == [
        'hermes-eks-deployments:githubSandboxPreview in Pulumi.delivery.yaml is true and '
        'hermes-eks-deployments:stacks is ["dev", "prod"]; allowed: hermes-eks-deployments:githubSandboxPreview '
        'only on the delivery stack whose stacks hold pr (as Pulumi.sandbox.yaml), or false']
    run = run_deployments("sandbox", config={"githubSandboxPreview": True}, secrets={"webhookUrl": WEBHOOK},
                          raise_errors=False)
    assert run.resources == []
    assert run.error.problems == [
        "hermes-eks-deployments:webhookUrl in Pulumi.sandbox.yaml is <secret value hidden> and "
        "hermes-eks-deployments:githubSandboxPreview is true; allowed: no secret on a stack every pull request "
        "may read (unset it with `pulumi config rm webhookUrl`), or hermes-eks-deployments:githubSandboxPreview: false"]
    assert WEBHOOK not in str(run.error)


def test_the_sandbox_preview_is_accepted_on_the_sandbox_stack_file_and_off_by_default():
    assert run_deployments("sandbox", config={"githubSandboxPreview": True}).error is None
    assert run_deployments("sandbox", config={"githubSandboxPreview": True, "stacks": ["dev", "pr"]}).error is None
    settings = settings_module.parse_settings(
        {"aws:region": "eu-central-1", "hermes-eks-deployments:organization": "acme",
         "hermes-eks-deployments:repository": "acme/hermes-eks", "hermes-eks-deployments:stacks": ["pr"]},
        stack="sandbox")
    assert settings.github_sandbox_preview is False
