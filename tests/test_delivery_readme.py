"""README.md "Delivery" and deployments/README.md: every command pastes, and names only what exists.

Commands cannot run here (no Pulumi CLI, no cloud); what they name can be checked: stacks, files,
config keys, outputs and role names, and that each shell block is valid bash.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from settings import StackSettings
from settings import config_key as main_key
from tests.deployments_harness import PROGRAM, import_program_module, run_deployments
from tests.harness import ROOT
from tests.harness import STACKS as MAIN_STACKS

delivery = import_program_module("delivery_settings")
access = import_program_module("deploy_access")
github = import_program_module("github_actions_access")
plan_module = import_program_module("delivery_plan")

README = (ROOT / "README.md").read_text()
DELIVERY = README[README.index("\n## Delivery\n"):]
DELIVERY = DELIVERY[:DELIVERY.index("\n## ", 1)]
OWN_README = (PROGRAM / "README.md").read_text()
TEXTS = {"README.md#Delivery": DELIVERY, "deployments/README.md": OWN_README}

MAIN_KEYS = {main_key(a).split(":", 1)[1] for a in StackSettings.model_fields} | {"region"}
DELIVERY_KEYS = {delivery.config_key(a).split(":", 1)[1] for a in delivery.DeliverySettings.model_fields}
# Made on other branches of this delivery work (policy pack, GitHub workflows): named, not required here.
ELSEWHERE = {"policy", "policy/", "policy/PulumiPolicy.yaml", ".github/", ".github/workflows/"}


def shell_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, flags=re.S)


def test_the_delivery_section_walks_through_the_three_ways_and_bootstrapping():
    headings = re.findall(r"^### (.+)$", DELIVERY, flags=re.M)
    assert headings == ["Bootstrap, once per AWS account and Pulumi organization", "1. From a laptop",
                        "2. Pulumi Deployments on push", "3. Pull-request previews and review stacks"]


@pytest.mark.skipif(not shutil.which("bash"), reason="needs bash")
@pytest.mark.parametrize("where", TEXTS)
def test_every_shell_block_is_valid_bash(where):
    blocks = shell_blocks(TEXTS[where])
    assert blocks
    for block in blocks:
        result = subprocess.run(["bash", "-n"], input=block, capture_output=True, text=True)
        assert result.returncode == 0, f"{where}:\n{block}\n{result.stderr}"


@pytest.mark.parametrize("where", TEXTS)
def test_every_stack_a_command_names_has_a_stack_file(where):
    text = TEXTS[where]
    named = set(re.findall(r"hermes-eks/([a-z]+)\b", text))
    named |= set(re.findall(r"pulumi stack (?:init|select) ([a-z]+)\b", text))
    assert named <= set(MAIN_STACKS)
    assert named or where != "README.md#Delivery"
    for stack in re.findall(r'pulumi stack init "\$ORG/([a-z]+)"', text):
        assert (PROGRAM / f"Pulumi.{stack}.yaml").is_file()


@pytest.mark.parametrize("where", TEXTS)
def test_every_config_key_set_belongs_to_the_program_the_command_runs_in(where):
    for block in shell_blocks(TEXTS[where]):
        in_deployments = "cd deployments" in block or where == "deployments/README.md"
        for key in re.findall(r"pulumi config set (?:--secret )?([A-Za-z]+)", block):
            assert key in (DELIVERY_KEYS if in_deployments else MAIN_KEYS), (where, key)


def test_every_config_key_mentioned_exists_in_one_of_the_programs():
    for where, text in TEXTS.items():
        for key in re.findall(r"`(?:hermes-eks(?:-deployments)?:)?([a-z]+[A-Z][A-Za-z]+)`", text):
            assert key in MAIN_KEYS | DELIVERY_KEYS, (where, key)


def test_every_file_mentioned_exists():
    for where, text in TEXTS.items():
        for path in re.findall(r"`((?:deployments/|tests/|\.github/|policy)[A-Za-z0-9_./-]*|Pulumi\.[a-z]+\.yaml)`", text):
            if path in ELSEWHERE or "<" in path:
                continue
            candidates = [ROOT / path, PROGRAM / path] if where == "deployments/README.md" else [ROOT / path]
            assert any(c.exists() for c in candidates), (where, path)


def test_the_outputs_and_role_names_mentioned_are_the_programs():
    delivery_outputs = run_deployments(config={"githubActions": True}).outputs
    sandbox_outputs = run_deployments("sandbox", config={"githubSandboxPreview": True}).outputs
    outputs = {**sandbox_outputs, **delivery_outputs}
    roles = {access.deploy_role_name(p.stack) for p in plan_module.PLANS}
    roles |= {github.role_name(kind, stack) for kind in ("preview", "deploy") for stack in github.STACKS}
    roles.add(github.role_name("preview", github.SANDBOX_STACK))
    for where, text in TEXTS.items():
        assert "deploy_role_arns" in text
        for role in re.findall(r"hermes-eks-deploy-[a-z-]*[a-z]", text):
            assert role in roles, (where, role)
        for block in shell_blocks(text):
            for output in re.findall(r"pulumi stack output ([a-z_]+)", block):
                assert output in outputs, (where, output)
        for output in re.findall(r"`(github_(?:preview|deploy)_role_arn_[a-z_]*)", text):  # also `..._<stack>`
            assert any(name.startswith(output) for name in outputs), (where, output)
    # prod's account and the review stacks' account, between them, hold every stack's deploy role.
    assert set(delivery_outputs["deploy_role_arns"]) | set(sandbox_outputs["deploy_role_arns"]) == {p.stack for p in plan_module.PLANS}


def test_the_configuration_table_lists_every_setting_with_its_default():
    rows = dict(re.findall(r"^\| `((?:hermes-eks-deployments|aws):[A-Za-z]+)` \| ([^|]+) \|", OWN_README, flags=re.M))
    assert set(rows) == {delivery.config_key(a) for a in delivery.DeliverySettings.model_fields}
    # What the table shows for a default the code cannot spell as a value.
    described = {"program_dir": "_(root)_", "github_subject_repository": "_(`repository`)_",
                 "webhook_url": "_(none)_", "agent_pool_id": "_(hosted runners)_"}
    for attribute, field in delivery.DeliverySettings.model_fields.items():
        default = field.default
        if field.is_required():
            expected = "_(required)_"
        elif attribute in described:
            assert default in ("", None), attribute
            expected = described[attribute]
        elif isinstance(default, bool):
            expected = f"`{str(default).lower()}`"
        elif isinstance(default, tuple):  # a YAML list, as the stack file spells it
            expected = f"`[{', '.join(default)}]`"
        else:
            assert isinstance(default, str) and default, attribute
            expected = f"`{default}`"
        assert rows[delivery.config_key(attribute)].strip() == expected, attribute


# --- "GitHub Actions": who can change what -------------------------------------------------------------

ACTIONS = README[README.index("\n## GitHub Actions\n"):]
ACTIONS = ACTIONS[:ACTIONS.index("\n## ", 1)]


def who_can_change_what() -> dict[str, tuple[str, str]]:
    table = ACTIONS[ACTIONS.index("| Actor | Credential | Can change |"):]
    rows = [line for line in table.splitlines()[2:] if line.startswith("|")]
    parsed = {}
    for line in rows:
        actor, credential, change = (cell.strip() for cell in line.strip("|").split(" | "))
        parsed[actor] = (credential, change)
    return parsed


def _named(pattern: str, text: str) -> set[str]:
    return set(re.findall(pattern, text))


def test_no_pull_request_row_can_change_anything_but_its_review_stack():
    rows = who_can_change_what()
    pull_request_rows = {a: r for a, r in rows.items() if "pull request" in a.split("(")[0]}
    assert len(pull_request_rows) == 5
    for actor, (credential, change) in pull_request_rows.items():
        if "review stack" in actor:
            assert change.startswith("its review stack") and "`hermes-eks-deploy-pr`" in credential
            assert "`pr-*`" in credential and plan_module.PLANS[2].pull_request_template
        else:
            assert change.startswith("nothing"), actor


def test_the_review_stack_row_never_reaches_prod_because_no_delivery_stack_holds_both():
    credential, change = next(r for a, r in who_can_change_what().items() if "review stack" in a)
    assert "made only by the `sandbox` stack of `deployments/` in an account without `prod`" in credential
    assert "never `prod`" in change
    assert stack_config("sandbox")["stacks"] == ["pr"] and stack_config("delivery")["stacks"] == ["dev", "prod"]
    refused = run_deployments(config={"stacks": ["dev", "prod", "pr"]}, raise_errors=False)
    assert refused.resources == [] and "separate AWS account" in str(refused.error)


def test_the_merge_to_main_row_says_dev_reaches_prod_when_they_share_the_default_account():
    credential, change = next(r for a, r in who_can_change_what().items() if a.startswith("Whoever merges to `main`"))
    assert change.startswith("`dev`") and "`prod`'s resources too when both share one (the default)" in change
    assert run_deployments(remove=("stacks",)).outputs["deploy_role_arns"].keys() == {"dev", "prod"}


def test_the_preview_dev_row_says_it_reads_prods_account_because_its_role_is_made_there():
    _, change = next(r for a, r in who_can_change_what().items() if a.startswith("Author of a pull request (`Preview dev`)"))
    assert change.startswith("nothing") and "`prod`'s resources, logs and S3 objects too" in change
    roles = {r.plain["name"] for r in run_deployments(config={"githubActions": True}).of_type("aws:iam/role:Role")}
    assert {"hermes-eks-deploy-github-preview-dev", "hermes-eks-deploy-prod"} <= roles  # one stack, one account


def test_the_preview_sandbox_row_is_the_pull_requests_own_identity_made_only_in_the_account_without_prod():
    credential, change = next(r for a, r in who_can_change_what().items() if a == "Author of a pull request (`Preview sandbox`)")
    assert credential.startswith("subject `repo:<owner>/<repo>:pull_request`") and change.startswith("nothing")
    assert "which holds no secret" in change and "never `prod`'s account" in change
    [role] = [r for r in github.ROLES if r.stack == github.SANDBOX_STACK]
    assert (role.subject, role.kind, role.made_by) == ("pull_request", "preview", "sandbox")
    # Made only where `pr` is managed (never beside prod), and refused beside a secret.
    sandbox_roles = {r.plain["name"] for r in run_deployments("sandbox", config={"githubSandboxPreview": True}).of_type("aws:iam/role:Role")}
    assert "hermes-eks-deploy-github-preview-sandbox" in sandbox_roles and "hermes-eks-deploy-prod" not in sandbox_roles
    assert run_deployments(config={"githubSandboxPreview": True}, raise_errors=False).resources == []
    assert run_deployments("sandbox", config={"githubSandboxPreview": True}, secrets={"webhookUrl": "https://hooks.example.com/x"},
                           raise_errors=False).resources == []


def stack_config(stack: str) -> dict:
    from tests.deployments_harness import stack_file_config

    return {k.split(":", 1)[1]: v for k, v in stack_file_config(stack).items()}


def test_the_two_accounts_table_lists_only_accepted_stacks_and_each_stack_file_is_its_first_choice():
    section = OWN_README[OWN_README.index("## Two AWS accounts"):OWN_README.index("\n## ", OWN_README.index("## Two AWS accounts") + 1)]
    rows = re.findall(r"^\| `([a-z]+)` \(`Pulumi\.([a-z]+)\.yaml`\) \| [^|]+ \| ([^|]+) \|", section, flags=re.M)
    assert [(stack, file) for stack, file, _ in rows] == [("delivery", "delivery"), ("sandbox", "sandbox")]
    base = {"aws:region": "eu-central-1", "hermes-eks-deployments:organization": "acme",
            "hermes-eks-deployments:repository": "acme/hermes-eks"}
    for stack, _, column in rows:
        choices = [[s.strip() for s in choice.split(",")] for choice in re.findall(r"`\[([a-z, ]+)\]`", column)]
        assert choices and choices[0] == stack_config(stack)["stacks"]
        for choice in choices:
            delivery.parse_settings({**base, "hermes-eks-deployments:stacks": choice}, stack=stack)
    with pytest.raises(delivery.DeliveryConfigError):
        delivery.parse_settings({**base, "hermes-eks-deployments:stacks": ["prod", "pr"]}, stack="delivery")


def test_every_team_in_the_table_has_exactly_the_stack_permissions_the_row_says():
    words = {"read": "Stack Read", "edit": "Stack Write"}
    for actor, (credential, _) in who_can_change_what().items():
        for team in _named(r"team `(hermes-eks-[a-z-]+)`", credential):
            grants = github.team_stacks(team, "hermes-eks", "hermes-eks-deployments")
            for (_, stack), permission in grants.items():
                said = re.search(rf"`{team}` \(([^)]*)\)", credential).group(1)
                assert said.startswith(words[permission]) and f"`{stack}`" in said, (actor, team, stack)
            # The subject the row names is the one Pulumi Cloud's issuer policy binds to this team.
            subjects = {r.subject for r in github.ROLES if r.team == team}
            assert any(s in credential for s in subjects), (actor, team)


def test_every_role_in_the_table_is_a_role_the_programs_make_with_those_permissions():
    preview_roles = {github.role_name(r.kind, r.stack) for r in github.ROLES if r.kind == "preview"}
    # Roles that preview a stack of the main program, which has an EKS cluster.
    main_preview_roles = {github.role_name("preview", s) for s in github.STACKS}
    for actor, (credential, _) in who_can_change_what().items():
        for role in _named(r"`(hermes-eks-deploy-[a-z-]+[a-z])`", credential):
            if role.startswith("hermes-eks-deploy-github-preview"):
                assert role in preview_roles and "(ReadOnlyAccess)" in credential, actor
            elif "ReadOnlyAccess" in credential and "-delivery" in credential:
                continue
            else:
                assert role in {access.deploy_role_name(p.stack) for p in plan_module.PLANS} | {
                    github.role_name("deploy", s) for s in github.STACKS}, actor
        if any(f"`{role}`" in credential for role in main_preview_roles):
            assert "`AmazonEKSViewPolicy`" in credential  # clusterViewerPrincipalArns, never the admin list


def test_the_prod_deployments_row_is_never_reached_by_a_pull_request():
    credential, change = next(r for a, r in who_can_change_what().items() if a.startswith("Whoever starts a Deployments update"))
    assert "never for a pull request" in credential and change.startswith("`prod`")
    # A run may override its source: the row says so rather than promise that only main's code runs.
    assert "a run request may name another branch, commit or pre-run command" in credential
    prod = next(p for p in plan_module.PLANS if p.stack == "prod")
    assert not prod.preview_pull_requests and not prod.pull_request_template
    assert {"detect-drift", "remediate-drift"} <= set(prod.operations)


def test_the_readme_claims_s3_state_only_where_the_workflows_do_not_go():
    assert "use Pulumi Cloud only" in " ".join(ACTIONS.split())
    assert "they do not work with S3 state" in " ".join(DELIVERY.split())
    # The workflows really are wired to Pulumi Cloud.
    workflows = (ROOT / ".github" / "workflows" / "pull-request.yml").read_text()
    assert "pulumi/auth-actions" in workflows and "s3://" not in workflows


def test_the_readme_says_stack_rules_run_at_preview_too():
    flat = " ".join(README.split())
    assert "only after an update" not in flat
    assert "its stack rules run once every resource is registered, in a preview as in an update" in " ".join(DELIVERY.split())
    policy_section = flat[flat.index("## Policy as code"):]
    assert 'The stack rules (marked "stack" above) run once all resources are registered, in a preview as in an update.' in policy_section


def test_the_advisory_table_names_only_rules_of_the_pack():
    from tests.test_policy_pack import BY_NAME

    policy_section = README[README.index("\n## Policy as code\n"):README.index("\n## GitHub Actions\n")]
    table = policy_section[policy_section.index("| Rule | Reads, unknown at such a preview |"):]
    table = table[:table.index("\n\n")]
    named = set(re.findall(r"`([a-z0-9-]+)`", table))
    assert named and named <= set(BY_NAME)


def test_the_path_table_says_stack_rules_report_after_the_change_where_the_pack_runs_at_up():
    from tests.test_policy_pack import BY_NAME

    policy_section = README[README.index("\n## Policy as code\n"):README.index("\n## GitHub Actions\n")]
    table = policy_section[policy_section.index("| Path | Pack at preview | Pack at update |"):]
    table = table[:table.index("\n\n")]
    stack_rules = set(re.findall(r"^\| `([a-z0-9-]+)` \(stack\) \|", policy_section, flags=re.M))
    assert stack_rules and stack_rules <= set(BY_NAME)
    for line in table.splitlines()[2:]:
        path, _, at_update, advises = (cell.strip() for cell in line.strip("|").split(" | "))
        assert "none: the update blocks" not in advises, path
        if at_update.startswith("no"):
            continue
        # The pack runs at `up`: resource rules block, stack rules run after the changes were made.
        assert "report at `up` after the changes were made" in advises, path
        assert "on a stack's first creation only advise at preview" in advises, path
        assert set(re.findall(r"`([a-z0-9-]+)`", advises)) - {"up"} == stack_rules, path


def _setup_step(number: int) -> str:
    flat = " ".join(ACTIONS.split())
    start = flat.index(f" {number}. **")
    return flat[start:flat.index(f" {number + 1}. **", start) if f" {number + 1}. **" in flat[start:] else None]


def test_the_deploy_rows_say_only_the_deployment_branch_rule_keeps_the_ref_because_the_aws_trust_matches_the_subject():
    rows = who_can_change_what()
    deploy_rows = [credential for actor, (credential, _) in rows.items()
                   if actor.startswith(("Whoever merges to `main`", "`prod` environment reviewers"))]
    assert len(deploy_rows) == 2
    for credential in deploy_rows:
        assert "only by the" in credential and "deployment-branch rule" in credential
        assert "the AWS role matches the subject only" in credential and "the team also requires that ref" in credential
    for role in (r for r in github.ROLES if r.kind == "deploy"):
        [statement] = github.trust_policy("arn:aws:iam::123456789012:oidc-provider/x", "acme/hermes-eks", role)["Statement"]
        assert statement["Condition"] == {"StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": f"repo:acme/hermes-eks:{role.subject}"}}
        assert github.issuer_rules("acme/hermes-eks", role) == {
            "sub": f"repo:acme/hermes-eks:{role.subject}", "ref": "refs/heads/main"}
    step = _setup_step(3)
    assert "The deployment-branch rule of `dev` and `prod` (`main` only) is required" in step
    assert "OIDC subject customisation (a subject template that includes `ref`), which this program does not do" in step


def test_the_prod_preview_row_holds_only_with_another_reviewer_and_a_runner_the_deploy_job_does_not_reuse():
    import yaml

    actor, (_, change) = next((a, r) for a, r in who_can_change_what().items() if "`prod-preview`" in a)
    assert "after another `prod-preview` reviewer approves" in actor and change.startswith("nothing")
    assert "`vars.PROD_RUNNER` is an ephemeral runner or not the deploy job's" in change
    workflows = ROOT / ".github" / "workflows"
    preview = yaml.safe_load((workflows / "pull-request.yml").read_text())["jobs"]["preview-prod"]
    deploy = yaml.safe_load((workflows / "deploy.yml").read_text())["jobs"]["prod"]
    # Why the caveat exists: an approved pull request's code and prod's deploy share vars.PROD_RUNNER.
    assert "vars.PROD_RUNNER" in preview["runs-on"] and "vars.PROD_RUNNER" in deploy["runs-on"]
    assert preview["permissions"].get("pull-requests") == "write"
    step = _setup_step(3)
    assert '`prod-preview` (required reviewers with "Prevent self-review" on' in step
    assert "it must be an ephemeral, just-in-time runner" in step
    assert '"Allow GitHub Actions to create and approve pull requests" (Settings, Actions, General, Workflow permissions) off' in step
