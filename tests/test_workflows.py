"""The GitHub Actions workflows (.github/workflows/): valid for GitHub, and doing what the README promises.

Validated offline with check-jsonschema's bundled GitHub workflow schema and its timeout rule, then
read as data: every AWS stack previewed with the policy pack on pull requests, `dev` updated on pushes
to main, `prod` only by hand through the protected environment, OIDC only, least privilege, actions
pinned by full commit SHA, one update per stack at a time.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from tests.deployments_harness import PROGRAM as DELIVERY_PROGRAM
from tests.deployments_harness import STACKS as DELIVERY_STACKS
from tests.deployments_harness import import_program_module, run_deployments
from tests.deployments_harness import stack_file_config as delivery_stack_file_config
from tests.harness import ROOT, STACKS, stack_file_config

github_access = import_program_module("github_actions_access")

WORKFLOWS = ROOT / ".github" / "workflows"
PULL_REQUEST = WORKFLOWS / "pull-request.yml"
DEPLOY = WORKFLOWS / "deploy.yml"

# The release each pinned action stands for, and its commit, read from the action's own repository
# (`git rev-parse <tag>^{commit}` on a snapshot of github.com/<action>): bump both together.
PINNED_ACTIONS = {
    "actions/checkout": ("v7.0.1", "3d3c42e5aac5ba805825da76410c181273ba90b1"),
    "actions/setup-python": ("v7.0.0", "5fda3b95a4ea91299a34e894583c3862153e4b97"),
    "aws-actions/configure-aws-credentials": ("v6.2.3", "e6de054238d6b7531b4efff3b6587d9aade6a06c"),
    "pulumi/auth-actions": ("v2.1.0", "141415910c3beb54e03b48e9057c204c97b956f2"),
    "pulumi/actions": ("v7.0.0", "8e5e406f4007fca908480587cb9893c07090f58d"),
}
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+?)@(\S+)(?:\s+#\s*(\S+))?\s*$")

# Pulumi Deployments' review-stack template (deployments/): previewed by Deployments, not by Actions.
REVIEW_STACK_TEMPLATES = {"pr"}


def load(path) -> dict:
    document = yaml.safe_load(path.read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads the key `on` as true
    return document


def steps(job: dict, action: str) -> list[dict]:
    return [s for s in job["steps"] if s.get("uses", "").split("@")[0] == action]


def pulumi_steps(job: dict) -> list[dict]:
    return [s["with"] for s in steps(job, "pulumi/actions")]


def aws_stacks() -> set[str]:
    return {s for s in STACKS if "aws:region" in stack_file_config(s)} - REVIEW_STACK_TEMPLATES


def _pin(requirements: str, package: str) -> str:
    line = next(l for l in (ROOT / requirements).read_text().splitlines() if l.startswith(f"{package}=="))
    return line.split("==", 1)[1].strip()


# ---------------------------------------------------------------------------------------------
# What GitHub accepts
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("schema", ["vendor.github-workflows", "custom.github-workflows-require-timeout"])
def test_workflows_pass_check_jsonschema(schema):
    files = sorted(str(p) for p in WORKFLOWS.glob("*.y*ml"))
    assert files == [str(DEPLOY), str(PULL_REQUEST)]
    result = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *files],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_jsonschema_rejects_a_job_without_timeout(tmp_path):
    """The timeout rule really runs: a copy of a workflow without one job's timeout fails it."""
    text = PULL_REQUEST.read_text().replace("    timeout-minutes: 45\n", "", 1)
    assert text != PULL_REQUEST.read_text()
    broken = tmp_path / "broken.yml"
    broken.write_text(text)
    result = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema",
                             "custom.github-workflows-require-timeout", str(broken)], capture_output=True, text=True)
    assert result.returncode != 0


# ---------------------------------------------------------------------------------------------
# Supply chain and privileges
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [PULL_REQUEST, DEPLOY], ids=lambda p: p.name)
def test_every_action_is_pinned_by_full_sha_with_its_version(path):
    uses = [USES_LINE.match(line) for line in path.read_text().splitlines() if re.match(r"^\s*(-\s+)?uses:", line)]
    assert uses and all(uses), "every uses: line is `owner/repo@<sha> # <version>`"
    for match in uses:
        action, ref, comment = match.groups()
        assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{action}@{ref} is not pinned by a full commit SHA"
        assert PINNED_ACTIONS[action] == (comment, ref), f"{action}: {ref} # {comment} is not the verified pair"


@pytest.mark.parametrize("path", [PULL_REQUEST, DEPLOY], ids=lambda p: p.name)
def test_permissions_are_granted_per_job_and_minimal(path):
    workflow = load(path)
    assert workflow["permissions"] == {}
    for name, job in workflow["jobs"].items():
        granted = job["permissions"]
        allowed = {"contents": "read"}
        if steps(job, "aws-actions/configure-aws-credentials") or steps(job, "pulumi/auth-actions"):
            allowed["id-token"] = "write"
        if any(w.get("comment-on-pr") for w in pulumi_steps(job)):
            allowed["pull-requests"] = "write"
        assert granted == allowed, f"{path.name} job {name}"


@pytest.mark.parametrize("path", [PULL_REQUEST, DEPLOY], ids=lambda p: p.name)
def test_cloud_credentials_come_only_from_oidc(path):
    text = path.read_text()
    assert "secrets." not in text, "no long-lived secret: AWS and Pulumi Cloud are reached through OIDC"
    assert "aws-access-key-id" not in text and "PULUMI_ACCESS_TOKEN" not in text
    for name, job in load(path)["jobs"].items():
        if pulumi_steps(job):
            aws, = (s["with"] for s in steps(job, "aws-actions/configure-aws-credentials"))
            pulumi, = (s["with"] for s in steps(job, "pulumi/auth-actions"))
            assert aws["role-to-assume"].startswith("${{ vars") and aws["aws-region"]
            assert pulumi["organization"] == "${{ vars.PULUMI_ORGANIZATION }}"
            assert pulumi["requested-token-type"] == "urn:pulumi:token-type:access_token:team"
            order = [s.get("uses", "").split("@")[0] for s in job["steps"]]
            assert order.index("aws-actions/configure-aws-credentials") < order.index("pulumi/actions")
            assert order.index("pulumi/auth-actions") < order.index("pulumi/actions")


@pytest.mark.parametrize("path", [PULL_REQUEST, DEPLOY], ids=lambda p: p.name)
def test_checkouts_keep_no_token_and_every_job_has_a_timeout(path):
    for name, job in load(path)["jobs"].items():
        assert isinstance(job["timeout-minutes"], int) and 0 < job["timeout-minutes"] <= 120, name
        for step in steps(job, "actions/checkout"):
            assert step["with"]["persist-credentials"] is False


def test_pull_requests_never_run_with_the_base_repository_token():
    workflow = load(PULL_REQUEST)
    assert set(workflow["on"]) == {"pull_request"}  # not pull_request_target: a PR's code never sees write tokens
    for name, job in workflow["jobs"].items():
        if name != "test":
            assert job["if"] == "github.event.pull_request.head.repo.full_name == github.repository", name


# ---------------------------------------------------------------------------------------------
# Who each job is: the OIDC subject it presents decides its Pulumi Cloud team and its AWS role
# ---------------------------------------------------------------------------------------------

def presented_subject(path, job: dict) -> str:
    """GitHub OIDC docs: a job with an environment presents `environment:<name>`, else its event's subject."""
    if "environment" in job:
        return f"environment:{job['environment']}"
    assert set(load(path)["on"]) == {"pull_request"}, "only pull-request.yml has jobs without an environment"
    return "pull_request"


def identities(path) -> dict[str, tuple[str, str, str]]:
    """job -> (subject it presents, Pulumi team it asks for, AWS role variable it assumes)."""
    found = {}
    for name, job in load(path)["jobs"].items():
        if steps(job, "pulumi/auth-actions"):
            pulumi, = (s["with"] for s in steps(job, "pulumi/auth-actions"))
            aws, = (s["with"] for s in steps(job, "aws-actions/configure-aws-credentials"))
            team = pulumi["scope"].removeprefix("team:")
            variable = re.fullmatch(r"\$\{\{ vars\.([A-Z_]+) \}\}", aws["role-to-assume"]).group(1)
            found[name] = (presented_subject(path, job), team, variable)
    return found


def test_each_job_asks_for_exactly_the_identities_its_subject_is_given():
    """The team and role a job names must be the ones deployments/ binds to the subject it presents,
    or Pulumi Cloud and AWS refuse it."""
    by_subject = {}
    for role in github_access.ROLES:
        by_subject.setdefault(role.subject, set()).add(
            (role.team, f"AWS_{role.kind.upper()}_ROLE_ARN" + ("" if role.kind == "deploy" else f"_{role.stack.upper()}")))
    for path in (PULL_REQUEST, DEPLOY):
        for name, (subject, team, variable) in identities(path).items():
            assert (team, variable) in by_subject[subject], (path.name, name)


def test_no_pull_request_job_can_obtain_an_identity_that_writes():
    """Every identity a pull_request job can ask for is read-only: the Pulumi team reads its stacks
    (Stack Read runs previews, never `pulumi up`) and the AWS role is a preview role (ReadOnlyAccess)."""
    jobs = identities(PULL_REQUEST)
    assert set(jobs) == {"preview-dev", "preview-prod", "preview-delivery", "preview-sandbox"}
    for name, (subject, team, variable) in jobs.items():
        assert subject in ("pull_request", "environment:prod-preview"), name
        grants = github_access.team_stacks(team, "hermes-eks", "hermes-eks-deployments")
        assert grants and set(grants.values()) == {"read"}, name
        assert variable.startswith("AWS_PREVIEW_ROLE_ARN_"), name
        assert {r.kind for r in github_access.ROLES if r.subject == subject} == {"preview"}


def test_prod_and_the_delivery_stack_are_previewed_only_after_a_reviewer_approves():
    jobs = load(PULL_REQUEST)["jobs"]
    assert jobs["preview-prod"]["environment"] == jobs["preview-delivery"]["environment"] == "prod-preview"
    assert "environment" not in jobs["preview-dev"]
    # A pull request's job never names an environment that deploys (those admit only main).
    for job in jobs.values():
        assert job.get("environment") not in ("dev", "prod")


def test_the_sandbox_stack_is_previewed_at_once_with_the_pull_requests_own_read_only_identity():
    """No reviewer, like dev: the role it assumes is made only by `sandbox`, in the account without prod
    where the pull request's review stack already runs, and its team reads that stack, which holds no secret."""
    job = load(PULL_REQUEST)["jobs"]["preview-sandbox"]
    assert "environment" not in job
    assert identities(PULL_REQUEST)["preview-sandbox"] == (
        "pull_request", "hermes-eks-preview-dev", "AWS_PREVIEW_ROLE_ARN_SANDBOX")
    made = {stack: {r.plain["name"] for r in run.of_type("aws:iam/role:Role")} for stack, run in (
        ("delivery", run_deployments(config={"githubActions": True})),
        ("sandbox", run_deployments("sandbox", config={"githubSandboxPreview": True})))}
    assert "hermes-eks-deploy-github-preview-sandbox" in made["sandbox"] - made["delivery"]
    assert "hermes-eks-deploy-prod" not in made["sandbox"] and "hermes-eks-deploy-pr" in made["sandbox"]


def test_deploy_jobs_get_the_write_identities_of_their_own_environment():
    for stack, job in _deploy_jobs().items():
        assert identities(DEPLOY)[stack] == (f"environment:{stack}", f"hermes-eks-deploy-{stack}", "AWS_DEPLOY_ROLE_ARN")


# ---------------------------------------------------------------------------------------------
# What each job runs
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [PULL_REQUEST, DEPLOY], ids=lambda p: p.name)
def test_the_test_suite_gates_everything_else(path):
    jobs = load(path)["jobs"]
    # The whole suite, as root (its contract tests need `unshare --net`), with setup-python's python3.
    assert [s.get("run") for s in jobs["test"]["steps"] if "run" in s] == [
        'sudo --preserve-env "$(command -v python3)" scripts/test.py']
    for name, job in jobs.items():
        if name != "test":
            assert job["needs"] == "test", name


def _preview_jobs() -> dict[str, dict]:
    """stack -> the job that previews it."""
    jobs = {}
    for job in load(PULL_REQUEST)["jobs"].values():
        for pulumi in pulumi_steps(job):
            assert pulumi["command"] == "preview"
            jobs[pulumi["stack-name"].rsplit("/", 1)[1]] = job
    return jobs


def test_every_aws_stack_is_previewed_with_the_policy_pack_and_commented():
    jobs = _preview_jobs()
    assert set(jobs) - set(DELIVERY_STACKS) == aws_stacks()
    for stack, preview in jobs.items():
        region = (delivery_stack_file_config if stack in DELIVERY_STACKS else stack_file_config)(stack)["aws:region"]
        aws, = (s["with"] for s in steps(preview, "aws-actions/configure-aws-credentials"))
        assert aws["aws-region"] == region
        assert aws["role-to-assume"] == f"${{{{ vars.AWS_PREVIEW_ROLE_ARN_{stack.upper()} }}}}"
        pulumi, = pulumi_steps(preview)
        assert pulumi["comment-on-pr"] is True and pulumi["edit-pr-comment"] is True
        failed, = [s for s in preview["steps"] if s.get("if") == "failure()"]
        assert failed["run"].startswith("gh pr comment") and "${{" not in failed["run"], "values reach the shell as env"
        if stack in DELIVERY_STACKS:
            continue
        assert pulumi["stack-name"] == f"${{{{ vars.PULUMI_ORGANIZATION }}}}/hermes-eks/{stack}"
        assert pulumi["policyPacks"] == "policy"
        assert pulumi["policyPackConfigs"] == f"policy/config/{stack}.json"


def test_a_change_under_deployments_is_tested_and_each_of_its_stacks_previewed():
    """The suite the test job runs (scripts/test.py: all of tests/) holds the deployments/ program's tests,
    and every stack of deployments/ (a Pulumi.<stack>.yaml there) is previewed from deployments/ with
    its own virtualenv."""
    for module in ("test_deployments_program.py", "test_deploy_access.py", "test_github_actions_access.py",
                   "test_delivery_settings.py", "test_pre_run.py"):
        assert (ROOT / "tests" / module).is_file()
    assert DELIVERY_STACKS == ["delivery", "sandbox"]
    project = yaml.safe_load((DELIVERY_PROGRAM / "Pulumi.yaml").read_text())["name"]
    for stack in DELIVERY_STACKS:
        preview = _preview_jobs()[stack]
        pulumi, = pulumi_steps(preview)
        assert pulumi["work-dir"] == "deployments"
        assert pulumi["stack-name"] == f"${{{{ vars.PULUMI_ORGANIZATION }}}}/{project}/{stack}"
        assert "policyPacks" not in pulumi  # the pack's rules are the main program's
        install = next(s["run"] for s in preview["steps"] if "pip install" in s.get("run", ""))
        assert "python3 -m venv deployments/.venv" in install and "-r deployments/requirements.txt" in install
    assert yaml.safe_load((DELIVERY_PROGRAM / "Pulumi.yaml").read_text())["runtime"]["options"]["virtualenv"] == ".venv"


def _deploy_jobs() -> dict[str, dict]:
    """stack -> the job that runs `pulumi up` on it."""
    jobs = {}
    for name, job in load(DEPLOY)["jobs"].items():
        for pulumi in pulumi_steps(job):
            assert pulumi["command"] == "up"
            stack = pulumi["stack-name"].rsplit("/", 1)[1]
            assert stack not in jobs, f"{stack} is updated by two jobs"
            jobs[stack] = job
    return jobs


def test_dev_is_updated_on_every_push_to_main_and_prod_only_by_hand_through_its_environment():
    workflow = load(DEPLOY)
    assert workflow["on"] == {"push": {"branches": ["main"]}, "workflow_dispatch": None}
    jobs = _deploy_jobs()
    assert set(jobs) == {"dev", "prod"}
    assert jobs["dev"]["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert jobs["prod"]["if"] == "github.event_name == 'workflow_dispatch' && github.ref == 'refs/heads/main'"
    assert "push" not in jobs["prod"]["if"]
    assert jobs["prod"]["environment"] == "prod"
    assert jobs["dev"]["environment"] == "dev"


def test_every_update_runs_the_policy_pack_with_its_stacks_config():
    for stack, job in _deploy_jobs().items():
        pulumi, = pulumi_steps(job)
        assert pulumi["stack-name"] == f"${{{{ vars.PULUMI_ORGANIZATION }}}}/hermes-eks/{stack}"
        assert pulumi["policyPacks"] == "policy"
        assert pulumi["policyPackConfigs"] == f"policy/config/{stack}.json"
        assert (ROOT / pulumi["policyPackConfigs"]).exists()
        aws, = (s["with"] for s in steps(job, "aws-actions/configure-aws-credentials"))
        assert aws["aws-region"] == stack_file_config(stack)["aws:region"]
        assert aws["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"  # scoped by the job's environment


def test_two_updates_of_one_stack_never_run_at_once():
    groups = {}
    for stack, job in _deploy_jobs().items():
        assert job["concurrency"] == {"group": f"pulumi-hermes-eks-{stack}", "cancel-in-progress": False}
        groups[job["concurrency"]["group"]] = stack
    assert len(groups) == 2
    assert "concurrency" not in load(DEPLOY), "a workflow-level group would serialise dev behind prod"


@pytest.mark.parametrize("path", [PULL_REQUEST, DEPLOY], ids=lambda p: p.name)
def test_pulumi_jobs_install_the_pinned_cli_and_both_virtualenvs_first(path):
    cli = _pin("requirements.txt", "pulumi")
    for name, job in load(path)["jobs"].items():
        for pulumi in pulumi_steps(job):
            assert pulumi["pulumi-version"] == cli, name
            if pulumi.get("work-dir") == "deployments":
                continue  # test_a_change_under_deployments_is_tested_and_its_stack_previewed
            install = next(s["run"] for s in job["steps"] if "pip install" in s.get("run", ""))
            assert "-r requirements.txt" in install and ".venv/bin/pip" in install
            assert "python3 -m venv policy/venv" in install and "-r policy/requirements.txt" in install


def test_prod_runs_where_its_restricted_endpoint_is_reachable():
    """prod's EKS endpoint admits only endpointPublicAccessCidrs: its jobs may run on the team's own runner."""
    assert "0.0.0.0/0" not in stack_file_config("prod")["hermes-eks:endpointPublicAccessCidrs"]
    assert _deploy_jobs()["prod"]["runs-on"] == "${{ vars.PROD_RUNNER || 'ubuntu-24.04' }}"
    assert _preview_jobs()["prod"]["runs-on"] == "${{ vars.PROD_RUNNER || 'ubuntu-24.04' }}"


def test_policy_exceptions_and_workflows_need_code_owner_review():
    owners = {}
    for line in (ROOT / ".github" / "CODEOWNERS").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            path, *teams = line.split()
            owners[path] = teams
    for path in ("/policy/", "/policy/config/", "/.github/", "/deployments/"):
        assert owners[path] == ["@your-org/platform-team"], path
    # GitHub: the last matching pattern wins; nothing after these may take a path away from the team.
    assert list(owners)[-4:] == ["/policy/", "/policy/config/", "/.github/", "/deployments/"]
