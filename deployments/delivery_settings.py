"""Delivery settings: the only module of the Deployments program that reads Pulumi config.

It turns `Pulumi.<stack>.yaml` of THIS program (deployments/) into one immutable, typed
DeliverySettings object and validates all of it before __main__ registers anything. Every problem
names the config key, the file the value came from, the bad value (never a secret's) and what is
allowed; all problems are reported together.
"""

from __future__ import annotations

import difflib
import fnmatch
import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import pulumi
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, SecretStr, ValidationError
from pydantic.alias_generators import to_camel

from delivery_plan import MAIN_PROGRAM_STACKS, REVIEW_TEMPLATE, STACK_NAMES

PROJECT = "hermes-eks-deployments"
# The main program's project name (../Pulumi.yaml); tests/test_deployments_program.py keeps them in step.
MAIN_PROJECT = "hermes-eks"


def _pattern(regex: str, allowed: str, *, optional: bool = False) -> AfterValidator:
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if (optional and value == "") or compiled.fullmatch(value):
            return value
        raise ValueError(("empty or " if optional else "") + allowed)

    return AfterValidator(check)


def _cron(value: str) -> str:
    # Pulumi Cloud schedules take a standard five-field cron expression (minute hour day month weekday).
    fields = value.split()
    field = r"(\*|[0-9]{1,2}(-[0-9]{1,2})?)(/[0-9]{1,2})?(,(\*|[0-9]{1,2}(-[0-9]{1,2})?)(/[0-9]{1,2})?)*"
    if len(fields) != 5 or not all(re.fullmatch(field, f) for f in fields):
        raise ValueError("a five-field cron expression (minute hour day month weekday), e.g. '0 6 * * *'")
    return value


def _https_url(value: SecretStr) -> SecretStr:
    if not re.fullmatch(r"https://[^\s/?#]+[^\s]*", value.get_secret_value()):
        raise ValueError("an https:// URL (the webhook endpoint, e.g. a Slack incoming-webhook URL)")
    return value


def _yaml_list(value: Any) -> Any:
    """The engine hands a YAML list to the program as JSON text; tests may pass it parsed."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            pass
    if not isinstance(value, list | tuple):
        raise ValueError("a YAML list of the main program's stacks, e.g. [dev, prod]")
    return value


SEPARATE_ACCOUNT = (
    f"`prod` and `{REVIEW_TEMPLATE}` never in one delivery stack, because review stacks run a pull "
    f"request's unreviewed code with PowerUserAccess on the delivery stack's whole AWS account: run review "
    f"stacks from a delivery stack in a separate AWS account ([{REVIEW_TEMPLATE}], as Pulumi.sandbox.yaml), "
    f"and keep [dev, prod] or [prod] here")


def _managed_stacks(stacks: tuple[str, ...]) -> tuple[str, ...]:
    if not stacks or len(set(stacks)) != len(stacks) or not set(stacks) <= set(STACK_NAMES):
        raise ValueError(f"a list of distinct stacks out of {', '.join(STACK_NAMES)}, e.g. [dev, prod]")
    if "prod" in stacks and REVIEW_TEMPLATE in stacks:
        raise ValueError(SEPARATE_ACCOUNT)
    return stacks


def _no_main_stack(pattern: str) -> str:
    # The pattern becomes the stack part of an IAM StringLike subject, where `*` matches any characters;
    # stack names hold only letters, digits, '-', '_' and '.' (pulumi/docs iac/concepts/stacks), so it
    # cannot reach past `:stack:`. It must match no stack of the main program: `pr*` would admit `prod`.
    matched = [stack for stack in MAIN_PROGRAM_STACKS if fnmatch.fnmatchcase(stack, pattern)]
    if matched:
        raise ValueError(f"a pattern that matches none of the main program's stacks "
                         f"({', '.join(MAIN_PROGRAM_STACKS)}); this one matches {', '.join(matched)}")
    return pattern


# Pulumi organization and project names: letters, digits, '-', '_' and '.'; GitHub `owner/repo`.
PulumiName = Annotated[str, _pattern(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}", "a Pulumi organization or project name: letters, digits, '-', '_', '.'")]
GithubRepository = Annotated[str, _pattern(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}", "a GitHub repository as owner/name, e.g. acme/hermes-eks")]
GitBranch = Annotated[str, _pattern(r"(?!refs/)(?!/)[A-Za-z0-9._/-]{1,200}(?<!/)", "a branch name without refs/heads/, e.g. main")]
RepoFolder = Annotated[str, _pattern(r"(?!/)(?!.*\.\.)[A-Za-z0-9._/-]{1,200}(?<!/)", "a folder relative to the repository root, without a leading or trailing '/'", optional=True)]
GithubSubjectRepository = Annotated[str, _pattern(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}(@[0-9]+)?/[A-Za-z0-9._-]{1,100}(@[0-9]+)?", "owner/repo, or the immutable form owner@<ORG_ID>/repo@<REPO_ID>", optional=True)]
StackPattern = Annotated[str, _pattern(r"[A-Za-z0-9_.-]+\*?", "a stack name, or a prefix ending in '*' such as pr-*"),
                         AfterValidator(_no_main_stack)]
ManagedStacks = Annotated[tuple[str, ...], BeforeValidator(_yaml_list), AfterValidator(_managed_stacks)]
AwsRegion = Annotated[str, _pattern(r"(us|eu|ap|sa|ca|me|af|il|mx|us-gov)-[a-z]+-[1-9]", "an AWS region code such as eu-central-1")]
Cron = Annotated[str, AfterValidator(_cron)]


class DeliverySettings(BaseModel):
    """Attribute `snake_case` is config key `hermes-eks-deployments:camelCase`."""

    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)

    # --- where the main program lives ----------------------------------------------------------
    organization: PulumiName
    repository: GithubRepository
    branch: GitBranch = "main"
    program_dir: RepoFolder = ""
    policy_pack_dir: RepoFolder = "policy"
    project: PulumiName = MAIN_PROJECT

    # --- AWS: the Pulumi Cloud OIDC provider and the deploy roles ------------------------------
    stacks: ManagedStacks = ("dev", "prod")  # the main program's stacks whose deploy roles live in this account
    oidc_provider: Literal["create", "existing"] = "create"
    review_stack_pattern: StackPattern = "pr-*"

    # --- Pulumi Cloud: the policy pack on every update of dev and prod (a paid edition) ----------
    enforce_policy_pack: bool = True

    # --- GitHub Actions (.github/workflows/), for teams deploying without Deployments -----------
    github_actions: bool = False
    github_sandbox_preview: bool = False
    github_oidc_provider: Literal["create", "existing"] = "create"
    github_subject_repository: GithubSubjectRepository = ""

    # --- schedules, notifications, runners -----------------------------------------------------
    drift_schedule: Cron = "0 6 * * *"
    webhook_url: Annotated[SecretStr, AfterValidator(_https_url)] | None = None
    webhook_format: Literal["slack", "ms_teams", "raw", "pulumi_deployments"] = "slack"
    agent_pool_id: Annotated[str, _pattern(r"[A-Za-z0-9-]{1,64}", "a Pulumi Deployments agent pool id", optional=True)] = ""

    # --- the AWS provider's own aws:region -----------------------------------------------------
    aws_region: AwsRegion


SECRET_KEYS = frozenset({"webhook_url"})
LIST_KEYS = frozenset({"stacks"})
FOREIGN_KEYS = {"aws_region": "aws:region"}

KEY_DOCS: dict[str, str] = {
    "organization": "Pulumi Cloud organization that owns the main program's stacks (required).",
    "repository": "GitHub repository holding this code, as owner/name; the Pulumi GitHub App must be installed on it (required).",
    "branch": "Branch `dev` deploys from on every push, and that pull requests are previewed against.",
    "program_dir": "Folder of the main program (its Pulumi.yaml) in the repository; empty: the root.",
    "policy_pack_dir": "Folder of the policy pack in the repository, run before every preview and update.",
    "project": "Project name of the main program (`name:` in its Pulumi.yaml).",
    "stacks": "The main program's stacks this delivery stack manages, all in its AWS account: `[dev, prod]`, `[prod]`, or `[pr]` (review stacks) from a delivery stack in a separate account; `prod` and `pr` together are refused.",
    "oidc_provider": "`create` the IAM OIDC provider for https://api.pulumi.com/oidc, or use the `existing` one (AWS allows one per URL per account).",
    "review_stack_pattern": "Names of the review stacks Deployments creates from the `pr` template; the `pr` deploy role trusts only these.",
    "enforce_policy_pack": "Make Pulumi Cloud run the policy pack (published with `pulumi policy publish policy`) on every update of `dev` and `prod` (those in `stacks`): a preventative policy group per stack. Needs a paid edition (Pro or above); `false` leaves only pre_run.sh's preview.",
    "github_actions": "Also create the AWS side of the GitHub Actions workflows: the GitHub OIDC provider, and a preview and a deploy role for `dev` and `prod`. Only where `stacks` is `[dev, prod]`.",
    "github_sandbox_preview": "On the review stacks' delivery stack (`stacks` holding `pr`, as Pulumi.sandbox.yaml): create what the workflow's `Preview sandbox` needs, the GitHub OIDC provider (`githubOidcProvider`), a read-only role for pull requests, and Stack Read on this stack for `delivery`'s team `hermes-eks-preview-dev` (run `delivery` with `githubActions: true` first). No secret setting beside it: every pull request may read this stack.",
    "github_oidc_provider": "`create` the IAM OIDC provider for https://token.actions.githubusercontent.com, or use the `existing` one.",
    "github_subject_repository": "The repository as GitHub's OIDC subject names it; empty: `repository`. Repositories created after 2026-07-15: owner@<ORG_ID>/repo@<REPO_ID>.",
    "drift_schedule": "Cron schedule (UTC) of drift detection on `prod`.",
    "webhook_url": "Secret. Endpoint notified when a deployment fails or prod drifts; empty: no webhook.",
    "webhook_format": "Payload format of the webhook: `slack`, `ms_teams`, `raw` or `pulumi_deployments`.",
    "agent_pool_id": "Run deployments on this self-hosted agent pool instead of Pulumi's hosted runners (e.g. to reach a private EKS endpoint or a Docker daemon).",
    "aws_region": "Region of the AWS provider (IAM is global; required by the provider).",
}


def config_key(attribute: str) -> str:
    return FOREIGN_KEYS.get(attribute) or f"{PROJECT}:{to_camel(attribute)}"


class DeliveryConfigError(pulumi.RunError):
    """Raised before any resource is registered; RunError makes Pulumi print it without a traceback."""

    def __init__(self, stack: str, problems: list[str]):
        self.problems = problems
        header = (f"Stack '{stack}' of {PROJECT} has {len(problems)} configuration "
                  f"problem{'s' if len(problems) > 1 else ''}; nothing was created or changed:")
        super().__init__("\n".join([header, *(f"  - {p}" for p in problems)]))


def _shown(attribute: str, value: Any) -> str:
    if attribute in SECRET_KEYS:
        return "<secret value hidden>"
    if attribute in LIST_KEYS and isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            pass
    return json.dumps(value, default=str)


def _allowed(item: Mapping[str, Any]) -> str:
    if item["type"] == "literal_error":
        return "one of " + item["ctx"]["expected"].replace("'", "")
    return str(item.get("ctx", {}).get("error", "")) or item["msg"]


def parse_settings(stack_config: Mapping[str, Any], *, stack: str,
                   secret_keys: frozenset[str] | set[str] = frozenset()) -> DeliverySettings:
    """Validate a stack's config (full keys -> raw values); raise DeliveryConfigError listing every problem."""
    stack_file = f"Pulumi.{stack}.yaml"
    by_key = {config_key(name): name for name in DeliverySettings.model_fields}
    values: dict[str, Any] = {}
    problems: list[str] = []

    for key, raw in stack_config.items():
        if key in by_key:
            values[by_key[key]] = raw
        elif key.startswith(PROJECT + ":"):
            close = difflib.get_close_matches(key, list(by_key), n=1)
            hint = f"did you mean {close[0]}?" if close else "see deployments/README.md"
            problems.append(f"{key} in {stack_file} is not a setting of {PROJECT}; {hint}")

    for attribute in sorted(SECRET_KEYS):
        if attribute in values and config_key(attribute) not in secret_keys:
            problems.append(
                f"{config_key(attribute)} in {stack_file} is stored in plain text; allowed: an encrypted value set "
                f"with `pulumi config set --secret {config_key(attribute).split(':', 1)[1]} ...`")

    settings = None
    try:
        settings = DeliverySettings.model_validate(values)
    except ValidationError as error:
        for item in error.errors():
            # A missing key is reported under its alias (camelCase), a bad value under its attribute.
            attribute = {to_camel(n): n for n in DeliverySettings.model_fields}.get(str(item["loc"][0]), str(item["loc"][0]))
            if item["type"] == "missing":
                problems.append(f"{config_key(attribute)} is not set in {stack_file}; allowed: {KEY_DOCS[attribute]}")
            else:
                problems.append(f"{config_key(attribute)} in {stack_file} is "
                                f"{_shown(attribute, values.get(attribute))}; allowed: {_allowed(item)}")
    if settings is not None:
        problems.extend(_combination_problems(settings, stack_file))
    if problems or settings is None:
        raise DeliveryConfigError(stack, problems)
    return settings


def _combination_problems(settings: DeliverySettings, stack_file: str) -> list[str]:
    problems = []
    # The workflows preview and deploy `dev` and `prod`, from one GitHub issuer and one set of teams in
    # Pulumi Cloud, with roles in the account of both (github_actions_access.py).
    if settings.github_actions and not {"dev", "prod"} <= set(settings.stacks):
        problems.append(
            f"{config_key('github_actions')} in {stack_file} is true and {config_key('stacks')} is "
            f"{_shown('stacks', list(settings.stacks))}; allowed: {config_key('github_actions')} only on the "
            f"delivery stack whose stacks are [dev, prod], or false")
    # Every pull request previews the sandbox stack without a reviewer (github_actions_access.py): only in
    # the account whose review stacks already run pull requests' code, never prod's (`pr` excludes it).
    if settings.github_sandbox_preview and REVIEW_TEMPLATE not in settings.stacks:
        problems.append(
            f"{config_key('github_sandbox_preview')} in {stack_file} is true and {config_key('stacks')} is "
            f"{_shown('stacks', list(settings.stacks))}; allowed: {config_key('github_sandbox_preview')} only on "
            f"the delivery stack whose stacks hold {REVIEW_TEMPLATE} (as Pulumi.sandbox.yaml), or false")
    # Stack Read, which that preview's team holds, decrypts the stack's secrets (Pulumi Cloud RBAC).
    for attribute in sorted(SECRET_KEYS):
        if settings.github_sandbox_preview and getattr(settings, attribute) is not None:
            problems.append(
                f"{config_key(attribute)} in {stack_file} is {_shown(attribute, getattr(settings, attribute))} and "
                f"{config_key('github_sandbox_preview')} is true; allowed: no secret on a stack every pull request "
                f"may read (unset it with `pulumi config rm {config_key(attribute).split(':', 1)[1]}`), or "
                f"{config_key('github_sandbox_preview')}: false")
    return problems


def _current_config() -> dict[str, Any]:
    # Same reasoning as the main program's settings/loading.py: the SDK has no "list every key" call, and
    # listing them is what lets a typo be reported instead of ignored.
    merged = dict(pulumi.runtime.get_config_env())
    merged.update(pulumi.runtime.config.CONFIG.get())
    return merged


def load_settings() -> DeliverySettings:
    stack = pulumi.get_stack()
    config = {k: v for k, v in _current_config().items() if k.startswith(PROJECT + ":") or k == "aws:region"}
    secret_keys = {k for k in config if pulumi.runtime.is_config_secret(k)}
    secret_keys |= set(pulumi.runtime.get_config_secret_keys_env())
    return parse_settings(config, stack=stack, secret_keys=frozenset(secret_keys))
