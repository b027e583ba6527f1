"""The Deployments settings program (deployments/), run whole under mocks: what it registers per stack."""

from __future__ import annotations

import functools
import importlib.metadata
import json
import re
from pathlib import PurePosixPath

import pytest
import yaml

from tests.deployments_harness import PROGRAM, STACKS, WEBHOOK, import_program_module, run_deployments
from tests.harness import ROOT, Program, is_secret, reveal
from tests.harness import STACKS as MAIN_STACKS

SETTINGS = "pulumiservice:index:DeploymentSettings"
DRIFT = "pulumiservice:index:DriftSchedule"
WEBHOOK_TYPE = "pulumiservice:index:Webhook"
ROLE = "aws:iam/role:Role"
plan_module = import_program_module("delivery_plan")


@functools.cache
def program() -> Program:
    """The delivery stack of prod's account (Pulumi.delivery.yaml): dev and prod."""
    return run_deployments(secrets={"webhookUrl": WEBHOOK})


@functools.cache
def sandbox() -> Program:
    """The delivery stack of the review stacks' account (Pulumi.sandbox.yaml): pr."""
    return run_deployments("sandbox", secrets={"webhookUrl": WEBHOOK})


def settings_of(stack: str, run: Program | None = None) -> dict:
    run = run or (sandbox() if stack == "pr" else program())
    [found] = [r for r in run.of_type(SETTINGS) if r.inputs["stack"] == stack]
    return found.plain


# --- the program and the main program share only names ----------------------------------------------

def test_the_program_has_a_stack_file_per_aws_account_and_its_own_project():
    assert STACKS == ["delivery", "sandbox"]
    assert yaml.safe_load((PROGRAM / "Pulumi.yaml").read_text())["name"] == "hermes-eks-deployments"


def test_it_knows_every_stack_file_of_the_main_program():
    """A new Pulumi.<stack>.yaml must be placed in the plan (or its path filters would deploy it everywhere)."""
    assert set(plan_module.MAIN_PROGRAM_STACKS) == set(MAIN_STACKS)
    assert {plan.stack for plan in plan_module.PLANS} == set(MAIN_STACKS) - {"local"}


def test_the_default_project_is_the_main_programs_name():
    settings = import_program_module("delivery_settings")
    assert settings.MAIN_PROJECT == yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["name"]
    assert {settings_of(s)["project"] for s in ("dev", "prod", "pr")} == {settings.MAIN_PROJECT}


def _pins(path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.strip()] = version.strip()
    return pins


def test_requirements_pin_the_sdk_and_aws_like_the_main_program_and_pulumiservice_1_5_0():
    own, main, dev = _pins(PROGRAM / "requirements.txt"), _pins(ROOT / "requirements.txt"), _pins(ROOT / "requirements-dev.txt")
    for shared in ("pulumi", "pulumi-aws", "pydantic"):
        assert own[shared] == main[shared]
    assert own["pulumi-pulumiservice"] == dev["pulumi-pulumiservice"] == "1.5.0"
    assert importlib.metadata.version("pulumi-pulumiservice") == "1.5.0"


# --- triggers -----------------------------------------------------------------------------------------

def test_dev_deploys_on_push_and_never_previews_a_pull_request_with_its_deploy_role():
    vcs = settings_of("dev")["vcs"]
    assert (vcs["deployCommits"], vcs["previewPullRequests"], vcs["pullRequestTemplate"]) == (True, False, False)


def test_prod_never_runs_a_pull_requests_code_and_never_deploys_on_push():
    """A Deployments PR preview runs the branch's code with the stack's one OIDC role and an admin stack
    token (pulumi/docs deployments/operations/permissions): prod is previewed by pull-request.yml instead."""
    vcs = settings_of("prod")["vcs"]
    assert (vcs["deployCommits"], vcs["previewPullRequests"], vcs["pullRequestTemplate"]) == (False, False, False)


def test_only_review_stacks_run_a_pull_requests_code_in_deployments():
    runs_pr_code = {s for s in ("dev", "prod", "pr")
                    if settings_of(s)["vcs"]["previewPullRequests"] or settings_of(s)["vcs"]["pullRequestTemplate"]}
    assert runs_pr_code == {"pr"}
    roles = {r.plain["name"]: r.outputs["arn"] for r in sandbox().of_type(ROLE)}
    assert roles == {"hermes-eks-deploy-pr": settings_of("pr")["operationContext"]["oidc"]["aws"]["roleARN"]}


# --- one delivery stack per AWS account: prod's roles never beside the review stacks' ---------------

def deployed_stacks(run: Program) -> dict[str, set[str]]:
    return {
        "deploy roles": {r.plain["tags"]["stack"] for r in run.of_type(ROLE)},
        "deployment settings": {r.plain["stack"] for r in run.of_type(SETTINGS)},
        "policy groups": {r.plain["stacks"][0]["name"] for r in run.of_type("pulumiservice:index:PolicyGroup")},
        "outputs": set(run.outputs["deploy_role_arns"]),
    }


def test_a_delivery_stack_manages_dev_and_prod_by_default_and_never_the_review_stacks():
    run = run_deployments(remove=("stacks",))
    assert deployed_stacks(run) == {"deploy roles": {"dev", "prod"}, "deployment settings": {"dev", "prod"},
                                    "policy groups": {"dev", "prod"}, "outputs": {"dev", "prod"}}
    assert deployed_stacks(program()) == deployed_stacks(run)


def test_the_sandbox_delivery_stack_manages_only_the_review_stack_template():
    assert deployed_stacks(sandbox()) == {"deploy roles": {"pr"}, "deployment settings": {"pr"},
                                          "policy groups": set(), "outputs": {"pr"}}
    assert not sandbox().of_type(DRIFT)  # prod's drift schedule stays with prod


@pytest.mark.parametrize("stacks", [["dev", "prod", "pr"], ["prod", "pr"]])
def test_prod_and_the_review_stacks_in_one_delivery_stack_are_refused_before_anything_is_registered(stacks):
    run = run_deployments(config={"stacks": stacks}, raise_errors=False)
    assert run.resources == []
    assert run.error.problems == [
        f"hermes-eks-deployments:stacks in Pulumi.delivery.yaml is {json.dumps(stacks)}; allowed: `prod` and `pr` "
        "never in one delivery stack, because review stacks run a pull request's unreviewed code with "
        "PowerUserAccess on the delivery stack's whole AWS account: run review stacks from a delivery stack in "
        "a separate AWS account ([pr], as Pulumi.sandbox.yaml), and keep [dev, prod] or [prod] here"]


@pytest.mark.parametrize("stacks", [["pr"], ["dev", "pr"], ["prod"]])
def test_github_actions_roles_are_made_only_beside_both_dev_and_prod(stacks):
    """Else prod's GitHub Actions deploy role would sit in the review stacks' account, or dev's be missing."""
    run = run_deployments(config={"stacks": stacks, "githubActions": True}, raise_errors=False)
    assert run.resources == []
    assert run.error.problems == [
        f"hermes-eks-deployments:githubActions in Pulumi.delivery.yaml is true and hermes-eks-deployments:stacks "
        f"is {json.dumps(stacks)}; allowed: hermes-eks-deployments:githubActions only on the delivery stack "
        "whose stacks are [dev, prod], or false"]


def test_dev_and_the_review_stacks_may_share_an_account_prod_may_stand_alone():
    """dev runs only reviewed code merged to main; its account may hold review stacks, or prod."""
    assert deployed_stacks(run_deployments(config={"stacks": ["dev", "pr"]}))["deploy roles"] == {"dev", "pr"}
    assert deployed_stacks(run_deployments(config={"stacks": ["prod"]}))["deploy roles"] == {"prod"}


def test_pr_is_only_the_review_stack_template():
    vcs = settings_of("pr")["vcs"]
    assert (vcs["deployCommits"], vcs["previewPullRequests"], vcs["pullRequestTemplate"]) == (False, False, True)


def test_only_dev_deploys_on_push_and_only_pr_is_a_template():
    vcs = {s: settings_of(s)["vcs"] for s in ("dev", "prod", "pr")}
    assert [s for s, v in vcs.items() if v["deployCommits"]] == ["dev"]
    assert [s for s, v in vcs.items() if v["pullRequestTemplate"]] == ["pr"]


def test_every_trigger_is_set_explicitly_because_the_package_defaults_deploy_commits_to_true(monkeypatch):
    ps = pytest.importorskip("pulumi_pulumiservice")
    assert ps.DeploymentSettingsVcsArgs(provider="github").deploy_commits is True
    # Under mocks an omitted trigger registers as the package's default, so the program's own call is
    # what is checked: each trigger passed as a bool, never left to (or set to None for) the default.
    passed, construct = [], ps.DeploymentSettingsVcsArgs.__init__

    def recording(self, *args, **kwargs):
        passed.append(kwargs)
        construct(self, *args, **kwargs)

    monkeypatch.setattr(ps.DeploymentSettingsVcsArgs, "__init__", recording)
    # Both delivery stacks: prod's account (dev, prod) and the sandbox account (the pr template).
    runs = [run_deployments(secrets={"webhookUrl": WEBHOOK}), run_deployments("sandbox", secrets={"webhookUrl": WEBHOOK})]
    assert len(passed) == sum(len(run.of_type(SETTINGS)) for run in runs) == 3
    for kwargs in passed:
        triggers = {k: kwargs.get(k) for k in ("deploy_commits", "preview_pull_requests", "pull_request_template")}
        assert all(type(value) is bool for value in triggers.values()), triggers


def test_settings_use_the_vcs_block_for_github_never_the_deprecated_github_block():
    for found in program().of_type(SETTINGS):
        assert "github" not in found.inputs
        assert found.plain["vcs"]["provider"] == "github"
        assert found.plain["vcs"]["repository"] == "example-org/hermes-eks"


def test_git_source_is_the_branch_with_the_repository_named_in_vcs():
    for stack in ("dev", "prod", "pr"):
        git = settings_of(stack)["sourceContext"]["git"]
        assert git == {"branch": "refs/heads/main"}  # repoUrl is for non-VCS git sources; root: no repoDir


def test_a_program_in_a_folder_sets_repo_dir_and_includes_only_that_folder_and_the_policy_pack():
    # This checkout has the program at its root, so the pack is not under infra/: no policy groups here.
    run = run_deployments(config={"programDir": "infra/hermes", "branch": "release", "enforcePolicyPack": False})
    settings = settings_of("dev", run)
    assert settings["sourceContext"]["git"] == {"branch": "refs/heads/release", "repoDir": "infra/hermes"}
    assert settings["vcs"]["paths"][:2] == ["infra/hermes/**", "policy/**"]
    assert settings["operationContext"]["environmentVariables"]["HERMES_EKS_PROGRAM_DIR"] == "infra/hermes"
    assert settings["operationContext"]["preRunCommands"] == [
        'bash "$(git rev-parse --show-toplevel)/infra/hermes/deployments/pre_run.sh"']


# --- path filters ---------------------------------------------------------------------------------------

def _glob(pattern: str) -> re.Pattern:
    """A path-filter glob as documented: matches the whole path; `**` spans folders, `*` does not."""
    regex = ""
    for part in re.split(r"(\*\*/|\*\*|\*)", pattern):
        regex += {"**/": "(.*/)?", "**": ".*", "*": "[^/]*"}.get(part, re.escape(part))
    return re.compile(regex)


def triggers(paths: list[str], changed: str) -> bool:
    """pulumi/docs deployments/concepts/settings/path-filtering: a file matches when it matches an include
    filter (or there are none) and no `!` exclude filter."""
    includes = [p for p in paths if not p.startswith("!")]
    excludes = [p[1:] for p in paths if p.startswith("!")]
    included = not includes or any(_glob(p).fullmatch(changed) for p in includes)
    return included and not any(_glob(p).fullmatch(changed) for p in excludes)


CHANGES = {
    # changed file: the stacks it deploys or previews
    "README.md": set(),
    "deployments/README.md": set(),
    "tests/test_stacks.py": set(),
    "scripts/test.py": set(),
    ".github/workflows/pull-request.yml": set(),
    "deployments/__main__.py": set(),
    "requirements-dev.txt": set(),
    "Pulumi.local.yaml": set(),
    "Pulumi.dev.yaml": {"dev"},
    "Pulumi.prod.yaml": {"prod"},
    "Pulumi.pr.yaml": {"pr"},
    "__main__.py": {"dev", "prod", "pr"},
    "settings/models.py": {"dev", "prod", "pr"},
    "components/hermes_agent.py": {"dev", "prod", "pr"},
    "components/vendor/aws-load-balancer-controller-iam-policy.json": {"dev", "prod", "pr"},
    "requirements.txt": {"dev", "prod", "pr"},
    "Pulumi.yaml": {"dev", "prod", "pr"},
    "policy/PulumiPolicy.yaml": {"dev", "prod", "pr"},
    "a_module_added_later.py": {"dev", "prod", "pr"},
}


@pytest.mark.parametrize("changed", CHANGES)
def test_path_filters_deploy_a_stack_only_for_changes_that_can_alter_it(changed):
    deployed = {s for s in ("dev", "prod", "pr") if triggers(settings_of(s)["vcs"]["paths"], changed)}
    assert deployed == CHANGES[changed]


def test_the_path_filter_matcher_follows_the_documented_examples():
    assert triggers(["infrastructure/Pulumi.dev.yaml"], "infrastructure/Pulumi.dev.yaml")
    assert not triggers(["infrastructure/Pulumi.dev.yaml"], "infrastructure/Pulumi.prod.yaml")
    assert triggers(["infrastructure/**", "!infrastructure/docs/**"], "infrastructure/a/b.py")
    assert not triggers(["infrastructure/**", "!infrastructure/docs/**"], "infrastructure/docs/x.md")
    assert not triggers(["infrastructure/**"], "app/x.py")


# --- review stacks, drift, notifications ------------------------------------------------------------

def test_review_stacks_are_deleted_once_destroyed_and_unprotected_before_it():
    for stack in ("dev", "prod", "pr"):
        context = settings_of(stack)["operationContext"]
        ephemeral = stack == "pr"
        assert context["options"]["deleteAfterDestroy"] is ephemeral
        assert context["environmentVariables"]["HERMES_EKS_EPHEMERAL"] == ("true" if ephemeral else "false")


def test_drift_is_detected_on_prod_only_on_the_configured_schedule_and_never_auto_remediated():
    [drift] = program().of_type(DRIFT)
    assert drift.plain == {"organization": "example-org", "project": "hermes-eks", "stack": "prod",
                           "scheduleCron": "0 6 * * *", "autoRemediate": False}
    assert run_deployments(config={"driftSchedule": "30 4 * * 1-5"}).one(DRIFT).plain["scheduleCron"] == "30 4 * * 1-5"


def test_failed_deployments_of_dev_and_prod_and_prod_drift_reach_the_webhook():
    hooks = {r.plain["stackName"]: r for r in program().of_type(WEBHOOK_TYPE)}
    assert set(hooks) == {"dev", "prod"}
    assert hooks["dev"].plain["filters"] == ["deployment_failed"]
    assert hooks["prod"].plain["filters"] == ["deployment_failed", "drift_detected", "drift_detection_failed"]
    for hook in hooks.values():
        assert is_secret(hook.inputs["payloadUrl"]) and reveal(hook.inputs["payloadUrl"]) == WEBHOOK
        assert (hook.plain["format"], hook.plain["active"], hook.plain["projectName"]) == ("slack", True, "hermes-eks")


def test_no_webhook_without_a_url():
    assert not run_deployments().of_type(WEBHOOK_TYPE)


def test_the_webhook_url_never_appears_in_plain_text():
    plain_inputs = json.dumps([r.inputs for r in program().resources if r.type != WEBHOOK_TYPE], default=str)
    assert WEBHOOK not in plain_inputs and WEBHOOK not in json.dumps(program().outputs, default=str)


# --- OIDC, policy pack, runners -------------------------------------------------------------------

def test_each_stack_assumes_its_own_deploy_role_for_no_longer_than_the_role_allows():
    for stack in ("dev", "prod", "pr"):
        run = sandbox() if stack == "pr" else program()
        roles = {r.plain["name"]: r for r in run.of_type(ROLE)}
        aws = settings_of(stack)["operationContext"]["oidc"]["aws"]
        role = roles[f"hermes-eks-deploy-{stack}"]
        assert aws["roleARN"] == role.outputs["arn"] == run.outputs["deploy_role_arns"][stack]
        hours, minutes, seconds = map(int, re.fullmatch(r"(\d+)h(\d+)m(\d+)s", aws["duration"]).groups())
        assert hours * 3600 + minutes * 60 + seconds == role.plain["maxSessionDuration"] == 7200
        assert len(aws["sessionName"]) <= 64


def test_every_operation_runs_the_pre_run_script_that_applies_the_policy_pack():
    for stack in ("dev", "prod", "pr"):
        context = settings_of(stack)["operationContext"]
        assert context["preRunCommands"] == ['bash "$(git rev-parse --show-toplevel)/deployments/pre_run.sh"']
        assert context["environmentVariables"]["HERMES_EKS_POLICY_PACK_DIR"] == "policy"
        # A review stack is checked with its template's exceptions.
        assert context["environmentVariables"]["HERMES_EKS_POLICY_CONFIG"] == f"policy/config/{stack}.json"
    script = PurePosixPath("deployments/pre_run.sh")
    assert (ROOT / script).is_file() and (ROOT / script).stat().st_mode & 0o111


def test_hosted_runners_by_default_and_an_agent_pool_when_configured():
    assert "agentPoolId" not in settings_of("dev")
    run = run_deployments(config={"agentPoolId": "a1b2c3d4-0000-4000-8000-000000000000"})
    assert {r.plain.get("agentPoolId") for r in run.of_type(SETTINGS)} == {"a1b2c3d4-0000-4000-8000-000000000000"}


def test_the_oidc_provider_is_created_for_the_org_audience_by_default():
    provider = program().one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert provider.plain["url"] == "https://api.pulumi.com/oidc"
    assert provider.plain["clientIdLists"] == ["example-org"]
    assert program().outputs["oidc_provider_arn"] == "arn:aws:iam::210987654321:oidc-provider/api.pulumi.com/oidc"


def test_an_existing_oidc_provider_is_looked_up_by_url_and_never_created():
    run = run_deployments(config={"oidcProvider": "existing"})
    assert not run.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    lookups = [args for token, args in run.invokes if token == "aws:iam/getOpenIdConnectProvider:getOpenIdConnectProvider"]
    assert lookups == [{"url": "https://api.pulumi.com/oidc"}]
    trust = json.loads(run.one(ROLE, "deploy-dev").plain["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"]["Federated"] == run.outputs["oidc_provider_arn"]


def test_every_child_is_parented_to_its_component():
    components = {r.urn: r for r in program().resources if r.type.startswith("hermes-eks-deployments:")}
    for resource in program().resources:
        if resource not in components.values():
            assert resource.parent in components, resource.name
            assert resource.name.startswith(components[resource.parent].name + "-")


# --- the `pr` template stack of the main program ----------------------------------------------------

def test_review_stacks_are_cheap_and_disposable_and_share_nothing_with_dev():
    from tests.conftest import stack_program

    pr = stack_program("pr")
    assert pr.one("eks:index:Cluster").plain["name"] == "hermes-pr"  # each review stack: hermes-<its name>
    repository = pr.one("aws:ecr/repository:Repository")  # the image as dev and prod run it (policy pack)
    assert repository.plain["forceDelete"] is True and not repository.protect
    assert not pr.of_type("kubernetes:networking.k8s.io/v1:Ingress")
    assert "bedrock_role_arn" not in pr.outputs
    assert pr.one("awsx:ec2:Vpc").plain["natGateways"] == {"strategy": "Single"}
    assert pr.one("eks:index:ManagedNodeGroup").plain["scalingConfig"]["maxSize"] == 1
    # Only what the main program always protects; pre_run.sh unprotects it before a review stack's destroy.
    assert {r.type for r in pr.resources if r.protect} == {"kubernetes:core/v1:Namespace",
                                                           "kubernetes:core/v1:PersistentVolumeClaim"}


def test_the_review_stack_role_is_the_cluster_creator_so_pr_lists_no_admin_principal():
    pr = yaml.safe_load((ROOT / "Pulumi.pr.yaml").read_text())["config"]
    assert pr["hermes-eks:clusterAdminPrincipalArns"] == []


def test_an_existing_oidc_provider_without_the_org_audience_stops_before_anything_is_registered():
    run = run_deployments(config={"oidcProvider": "existing"}, pulumi_audiences=("aws:example-org",), raise_errors=False)
    assert run.resources == []
    assert str(run.error) == (
        "hermes-eks-deployments:oidcProvider is 'existing', but the account's IAM OIDC provider for "
        "https://api.pulumi.com/oidc does not accept the audience 'example-org' (it accepts aws:example-org). "
        "Add it: aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn "
        "arn:aws:iam::210987654321:oidc-provider/api.pulumi.com/oidc --client-id example-org")


# --- the policy pack, enforced by Pulumi Cloud on every update of dev and prod ------------------------

POLICY_GROUP = "pulumiservice:index:PolicyGroup"


def test_every_update_of_dev_and_prod_is_checked_by_the_pack_with_the_stacks_own_config():
    """A Deployments `pulumi up` cannot take --policy-pack: a preventative policy group makes Pulumi Cloud
    hand the pack to every update of the stack, where values are known and mandatory rules block."""
    groups = {r.plain["name"]: r.plain for r in program().of_type(POLICY_GROUP)}
    version = yaml.safe_load((ROOT / "policy" / "PulumiPolicy.yaml").read_text())["version"]
    assert groups == {
        f"hermes-eks-{stack}": {
            "name": f"hermes-eks-{stack}",
            "organizationName": "example-org",
            "entityType": "stacks",
            "mode": "preventative",
            "policyPacks": [{"name": "hermes-eks", "versionTag": version,
                             "config": json.loads((ROOT / "policy" / "config" / f"{stack}.json").read_text())}],
            "stacks": [{"name": stack, "routingProject": "hermes-eks"}],
        }
        for stack in ("dev", "prod")
    }
    assert groups["hermes-eks-prod"]["policyPacks"][0]["config"] == {
        "image-from-stack-ecr": {"ecrRepository": "hermes-eks/prod/hermes-agent"}}


def test_the_groups_name_the_pack_as_the_pack_names_itself():
    source = (ROOT / "policy" / "__main__.py").read_text()
    assert 'name="hermes-eks",' in source
    assert {r.plain["policyPacks"][0]["name"] for r in program().of_type(POLICY_GROUP)} == {"hermes-eks"}


def test_without_a_paid_edition_the_groups_can_be_turned_off():
    assert not run_deployments(config={"enforcePolicyPack": False}).of_type(POLICY_GROUP)


def test_a_policy_pack_folder_that_does_not_exist_is_a_config_error():
    run = run_deployments(config={"policyPackDir": "policies"}, raise_errors=False)
    assert run.resources == []
    [problem] = run.error.problems
    assert problem.startswith("hermes-eks-deployments:policyPackDir is 'policies' and hermes-eks-deployments:programDir is ''")
    assert problem.endswith("allowed: the policy pack's folder relative to the repository root, "
                            "or hermes-eks-deployments:enforcePolicyPack: false")


def test_a_program_in_a_folder_finds_the_pack_from_the_repository_root(tmp_path):
    policy_enforcement = import_program_module("policy_enforcement")
    pack = tmp_path / "policy"
    (pack / "config").mkdir(parents=True)
    (pack / "PulumiPolicy.yaml").write_text("runtime: python\nversion: 2.3.4\n")
    (pack / "config" / "dev.json").write_text('{"a": {"b": true}}')
    assert policy_enforcement.policy_pack_version(pack) == "2.3.4"
    assert policy_enforcement.stack_policy_config(pack, "dev") == {"a": {"b": True}}
    assert policy_enforcement.stack_policy_config(pack, "prod") == {}  # the pack's strictest defaults


# --- deployments/README.md: the example a reader checks the setup with ---------------------------------

def test_the_readmes_end_to_end_example_triggers_what_it_says():
    text = " ".join((PROGRAM / "README.md").read_text().split())
    changed = re.search(r"open a pull request that changes `([^`]+)`\. Expect a review stack", text).group(1)
    assert triggers(settings_of("pr")["vcs"]["paths"], changed)  # a review stack
    assert triggers(settings_of("dev")["vcs"]["paths"], changed)  # dev's update once merged
    assert not any(triggers(settings_of(s)["vcs"]["paths"], "README.md") for s in ("dev", "prod", "pr"))
    assert "would make no review stack" in text and not triggers(settings_of("pr")["vcs"]["paths"], "Pulumi.dev.yaml")


def test_the_readme_creates_the_main_stacks_before_running_this_program():
    text = (PROGRAM / "README.md").read_text()
    run_it = text[text.index("## Run it"):]
    block = re.search(r"```sh\n(.*?)```", run_it, flags=re.S).group(1)
    lines = block.splitlines()
    first_main = min(i for i, l in enumerate(lines) if l.startswith('pulumi stack init "$ORG/hermes-eks/'))
    publish = next(i for i, l in enumerate(lines) if "pulumi policy publish" in l)
    assert first_main < publish < lines.index("cd deployments") < lines.index("pulumi up")
    assert {l.rsplit("/", 1)[1].rstrip('"') for l in lines if l.startswith('pulumi stack init "$ORG/hermes-eks/')} == {
        p.stack for p in plan_module.PLANS}
    assert "main program's stacks come first" in run_it
