"""HermesImage: the ECR repository, its lifecycle policy and the docker-build image, as registered.

The component is constructed on its own under Pulumi mocks (answers from tests/fake_cloud.py); the
recording monitor keeps each registration's inputs and options.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import shutil
from dataclasses import dataclass

import pulumi
import pytest
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from components import hermes_image
from components.hermes_image import HermesImage, HermesImageArgs, git_tag, mirror_tag
from tests import fake_cloud
from tests.harness import ROOT, FakeCloudMocks, RecordingMonitor, Registered, is_secret, reveal

COMPONENT = "hermes-eks:index:HermesImage"
REPOSITORY = "aws:ecr/repository:Repository"
LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
IMAGE = "docker-build:index:Image"
AUTH_TOKEN = "aws:ecr/getAuthorizationToken:getAuthorizationToken"

UPSTREAM = "nousresearch/hermes-agent:v2026.7.20@sha256:" + "f7" * 32
COMMIT = "3ef6bbd2" + "0" * 32
REPOSITORY_NAME = "hermes-eks/test/hermes-agent"
REPOSITORY_URL = f"{fake_cloud.ACCOUNT}.dkr.ecr.eu-central-1.amazonaws.com/{REPOSITORY_NAME}"

MIRROR = HermesImageArgs(
    source="mirror",
    upstream_image=UPSTREAM,
    git_repository="https://github.com/NousResearch/hermes-agent.git",
    git_commit="",
    platform="linux/amd64",
    repository_name=REPOSITORY_NAME,
    force_delete=False,
    max_images=20,
    protect=False,
)
GIT = dataclasses.replace(MIRROR, source="git", git_commit=COMMIT, platform="linux/arm64")


# --- a small runner: the component alone under mocks ---------------------------------------------

@dataclass
class Run:
    resources: list[Registered]
    invokes: list[tuple[str, dict]]
    image_ref: str | None
    error: BaseException | None

    def one(self, type_: str) -> Registered:
        found = [r for r in self.resources if r.type == type_]
        assert len(found) == 1, f"expected one {type_}, found {[r.name for r in found]}"
        return found[0]


@functools.cache
def run(args: HermesImageArgs, name: str = "hermes") -> Run:
    return run_with(args, name)


def run_with(args: HermesImageArgs, name: str = "hermes", ecr: fake_cloud.FakeEcr | None = None) -> Run:
    """One `pulumi up` of the component; `ecr` is the registry as earlier runs left it."""
    mocks = FakeCloudMocks(ecr)
    monitor = RecordingMonitor(mocks)
    pulumi_settings.set_root_resource(None)
    pulumi.runtime.set_mocks(mocks, project="hermes-eks", stack="test", preview=False, monitor=monitor)
    captured: dict[str, str] = {}

    def program() -> None:
        image = HermesImage(name, args)
        image.image_ref.apply(lambda ref: captured.setdefault("image_ref", ref))

    error = None
    try:
        _sync_await(run_pulumi_func(program))
    except Exception as caught:  # noqa: BLE001 - asserted by the tests
        error = caught
    return Run(monitor.registered, mocks.invokes, captured.get("image_ref"), error)


def ok(args: HermesImageArgs) -> Run:
    result = run(args)
    assert result.error is None, result.error
    return result


# --- the repository ------------------------------------------------------------------------------

def test_repository_is_named_from_args_immutable_scanned_on_push_and_encrypted_with_the_aws_managed_kms_key():
    inputs = ok(MIRROR).one(REPOSITORY).plain
    assert inputs["name"] == REPOSITORY_NAME
    assert inputs["imageTagMutability"] == "IMMUTABLE"
    assert inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    assert inputs["encryptionConfigurations"] == [{"encryptionType": "KMS"}]  # no kmsKey: aws/ecr


@pytest.mark.parametrize("force_delete", [False, True])
def test_repository_force_delete_follows_args(force_delete):
    inputs = ok(dataclasses.replace(MIRROR, force_delete=force_delete)).one(REPOSITORY).plain
    assert inputs["forceDelete"] is force_delete


@pytest.mark.parametrize("protect", [False, True])
def test_repository_is_protected_per_args_and_nothing_else_is(protect):
    result = ok(dataclasses.replace(MIRROR, protect=protect))
    assert result.one(REPOSITORY).protect is protect
    assert [r.type for r in result.resources if r.protect] == ([REPOSITORY] if protect else [])


def test_children_are_parented_by_the_component_and_named_from_it():
    result = ok(MIRROR)
    component = result.one(COMPONENT)
    assert component.name == "hermes"
    children = [r for r in result.resources if r.type != COMPONENT]
    assert {(r.type, r.name) for r in children} == {
        (REPOSITORY, "hermes-repository"), (LIFECYCLE, "hermes-lifecycle"), (IMAGE, "hermes-image"),
    }
    assert {r.parent for r in children} == {component.urn}


# --- the lifecycle policy ------------------------------------------------------------------------

def test_lifecycle_policy_expires_untagged_images_after_a_day_then_keeps_the_newest_max_images():
    policy = ok(dataclasses.replace(MIRROR, max_images=7)).one(LIFECYCLE).plain
    assert policy["repository"] == REPOSITORY_NAME
    assert json.loads(policy["policy"]) == {"rules": [
        {
            "rulePriority": 1,
            "description": "Expire untagged images 1 day after push",
            "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 1},
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 2,
            "description": "Keep only the newest 7 images",
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 7},
            "action": {"type": "expire"},
        },
    ]}


def test_lifecycle_rules_are_in_ascending_priority_and_the_any_rule_comes_last():
    # ECR: the `any` rule must have the highest rulePriority; ECR reorders rules by priority, so an
    # unsorted document would show a diff on every run.
    rules = json.loads(ok(MIRROR).one(LIFECYCLE).plain["policy"])["rules"]
    priorities = [rule["rulePriority"] for rule in rules]
    assert priorities == sorted(set(priorities))
    assert [rule["selection"]["tagStatus"] for rule in rules][-1] == "any"
    assert all("countUnit" not in r["selection"] for r in rules if r["selection"]["countType"] == "imageCountMoreThan")


# --- the docker-build image ----------------------------------------------------------------------

def test_mirror_build_pushes_image_mirror_dockerfile_from_the_upstream_image():
    inputs = ok(MIRROR).one(IMAGE).plain
    assert inputs["context"] == {"location": "image"}
    assert inputs["dockerfile"] == {"location": "image/mirror.Dockerfile"}
    assert inputs["buildArgs"] == {"HERMES_IMAGE": UPSTREAM}
    assert inputs["platforms"] == ["linux/amd64"]
    assert inputs["push"] is True


def test_git_build_uses_upstreams_dockerfile_at_the_full_commit():
    inputs = ok(GIT).one(IMAGE).plain
    assert inputs["context"] == {"location": f"https://github.com/NousResearch/hermes-agent.git#{COMMIT}"}
    assert inputs.get("dockerfile") is None  # upstream's Dockerfile at the context root
    assert inputs.get("buildArgs") is None
    assert inputs["platforms"] == ["linux/arm64"]
    assert inputs["push"] is True


@pytest.mark.parametrize("args", [MIRROR, GIT], ids=["mirror", "git"])
def test_previews_never_build(args):
    assert ok(args).one(IMAGE).plain["buildOnPreview"] is False


@pytest.mark.parametrize("args", [MIRROR, GIT], ids=["mirror", "git"])
def test_image_logs_in_to_the_repositorys_registry_with_the_ecr_token_as_a_secret(args):
    result = ok(args)
    registries = result.one(IMAGE).inputs["registries"]
    assert is_secret(registries)  # the SDK marks the whole list secret when one value in it is
    assert reveal(registries) == [{"address": REPOSITORY_URL, "username": "AWS", "password": "fake-ecr-token"}]
    assert (AUTH_TOKEN, {"registryId": fake_cloud.ACCOUNT}) in result.invokes


def test_mirror_tag_is_the_upstream_tag_the_architecture_and_a_content_hash():
    tags = ok(MIRROR).one(IMAGE).plain["tags"]
    assert len(tags) == 1
    assert re.fullmatch(re.escape(REPOSITORY_URL) + r":v2026\.7\.20-amd64-[0-9a-f]{12}", tags[0])
    assert tags[0] == f"{REPOSITORY_URL}:{mirror_tag(UPSTREAM, 'linux/amd64')}"


def test_git_tag_is_the_commit_and_the_architecture():
    assert ok(GIT).one(IMAGE).plain["tags"] == [f"{REPOSITORY_URL}:git-{COMMIT}-arm64"]


def test_mirror_tag_is_stable_for_the_same_inputs_and_changes_with_each_of_them(tmp_path, monkeypatch):
    # An immutable repository rejects a second push of a tag, so every input that changes the
    # pushed content must change the tag.
    tag = mirror_tag(UPSTREAM, "linux/amd64")
    assert mirror_tag(UPSTREAM, "linux/amd64") == tag
    other_release = "nousresearch/hermes-agent:v2026.7.20@sha256:" + "e8" * 32
    assert mirror_tag(other_release, "linux/amd64") != tag
    assert mirror_tag(UPSTREAM, "linux/arm64") != tag

    shutil.copytree(ROOT / "image", tmp_path / "image")
    monkeypatch.setattr(hermes_image, "PROJECT_ROOT", tmp_path)
    assert mirror_tag(UPSTREAM, "linux/amd64") == tag
    with (tmp_path / "image" / "mirror.Dockerfile").open("a") as dockerfile:
        dockerfile.write('LABEL org.example.changed="yes"\n')
    assert mirror_tag(UPSTREAM, "linux/amd64") != tag


def test_mirror_tag_without_an_upstream_tag_and_with_a_long_one_stays_a_valid_tag():
    untagged = mirror_tag("nousresearch/hermes-agent@sha256:" + "f7" * 32, "linux/amd64")
    long_tag = mirror_tag("nousresearch/hermes-agent:" + "v" * 128 + "@sha256:" + "f7" * 32, "linux/arm64")
    assert re.fullmatch(r"mirror-amd64-[0-9a-f]{12}", untagged)
    assert re.fullmatch(r"v+-arm64-[0-9a-f]{12}", long_tag) and len(long_tag) == 128


def test_git_tag_differs_per_architecture():
    assert git_tag(COMMIT, "linux/amd64") != git_tag(COMMIT, "linux/arm64")


@pytest.mark.parametrize("args", [MIRROR, GIT], ids=["mirror", "git"])
def test_image_ref_is_the_repository_url_at_the_pushed_digest_never_a_tag(args):
    result = ok(args)
    tag = result.one(IMAGE).plain["tags"][0].rsplit(":", 1)[1]
    assert result.image_ref == f"{REPOSITORY_URL}@{fake_cloud.FakeEcr.digest(REPOSITORY_NAME, tag)}"
    assert re.fullmatch(re.escape(REPOSITORY_URL) + r"@sha256:[0-9a-f]{64}", result.image_ref)


# --- rollback with immutable tags: a tag the repository holds is never pushed again -----------------

OTHER_UPSTREAM = "nousresearch/hermes-agent:v2026.8.13@sha256:" + "e8" * 32
OTHER_COMMIT = "9a8b7c6d" + "1" * 32


def up_sequence(*steps: HermesImageArgs) -> tuple[fake_cloud.FakeEcr, list[Run]]:
    """`pulumi up` once per step against one registry, as an operator changing config would."""
    ecr = fake_cloud.FakeEcr()
    runs = [run_with(step, ecr=ecr) for step in steps]
    return ecr, runs


def deployed_tag(result: Run, ecr: fake_cloud.FakeEcr) -> str:
    digest = result.image_ref.split("@", 1)[1]
    [tag] = [t for t, d in ecr.repositories[REPOSITORY_NAME].items() if d == digest]
    return tag


ROLLBACKS = {
    "release-A-B-A": (MIRROR, dataclasses.replace(MIRROR, upstream_image=OTHER_UPSTREAM)),
    "arch-x-y-x": (MIRROR, dataclasses.replace(MIRROR, platform="linux/arm64")),
    "commit-A-B-A": (GIT, dataclasses.replace(GIT, git_commit=OTHER_COMMIT)),
}


@pytest.mark.parametrize(("a", "b"), ROLLBACKS.values(), ids=ROLLBACKS.keys())
def test_going_back_to_an_earlier_image_deploys_its_pushed_digest_without_building_again(a, b):
    ecr, (first, second, back) = up_sequence(a, b, a)
    assert [r.error for r in (first, second, back)] == [None, None, None]
    assert len(ecr.pushes) == 2  # A and B, each once; ECR would refuse A again
    assert back.image_ref == first.image_ref != second.image_ref
    assert deployed_tag(back, ecr) == deployed_tag(first, ecr)
    assert not [r for r in back.resources if r.type == IMAGE]
    assert AUTH_TOKEN not in [token for token, _ in back.invokes]  # no registry login either


def test_rerunning_an_up_interrupted_after_its_push_deploys_the_pushed_image():
    # The push happened but the state never recorded the build: the registry holds the tag.
    ecr = fake_cloud.FakeEcr()
    ecr.create_repository(REPOSITORY_NAME)
    pushed = ecr.push(f"{REPOSITORY_URL}:{mirror_tag(UPSTREAM, 'linux/amd64')}")
    rerun = run_with(MIRROR, ecr=ecr)
    assert rerun.error is None, rerun.error
    assert rerun.image_ref == f"{REPOSITORY_URL}@{pushed}"
    assert len(ecr.pushes) == 1 and not [r for r in rerun.resources if r.type == IMAGE]


def test_an_unchanged_up_after_a_build_deploys_the_same_digest_and_pushes_nothing():
    ecr, (built, again) = up_sequence(MIRROR, MIRROR)
    assert again.error is None and again.image_ref == built.image_ref
    assert len(ecr.pushes) == 1


def test_the_build_is_retained_on_delete_so_dropping_it_later_needs_no_docker_daemon():
    assert ok(MIRROR).one(IMAGE).retain_on_delete is True


def test_the_first_up_builds_without_listing_images_of_a_repository_that_does_not_exist_yet():
    result = ok(MIRROR)
    tokens = [token for token, _ in result.invokes]
    assert "aws:ecr/getRepositories:getRepositories" in tokens
    assert "aws:ecr/getImages:getImages" not in tokens  # ListImages fails on a missing repository
    assert result.one(IMAGE).plain["push"] is True


def test_a_tag_of_another_build_in_the_repository_does_not_stop_a_new_build():
    ecr = fake_cloud.FakeEcr()
    ecr.create_repository(REPOSITORY_NAME)
    ecr.push(f"{REPOSITORY_URL}:{mirror_tag(OTHER_UPSTREAM, 'linux/amd64')}")
    result = run_with(MIRROR, ecr=ecr)
    assert result.error is None and result.one(IMAGE).plain["push"] is True
    assert len(ecr.pushes) == 2


def test_the_fake_registry_refuses_a_second_push_of_a_tag_as_ecr_does():
    ecr = fake_cloud.FakeEcr()
    ecr.create_repository(REPOSITORY_NAME)
    ecr.push(f"{REPOSITORY_URL}:v1")
    with pytest.raises(fake_cloud.ImageTagAlreadyExists):
        ecr.push(f"{REPOSITORY_URL}:v1")


# --- arguments the component refuses -------------------------------------------------------------

BAD_ARGS = {
    "mirror-of-a-tag-without-digest": (dataclasses.replace(MIRROR, upstream_image="nousresearch/hermes-agent:v2026.7.20"), "upstream_image"),
    "mirror-of-a-short-digest": (dataclasses.replace(MIRROR, upstream_image="nousresearch/hermes-agent@sha256:abc"), "upstream_image"),
    "git-short-sha": (dataclasses.replace(GIT, git_commit="3ef6bbd2"), "git_commit"),
    "git-uppercase-sha": (dataclasses.replace(GIT, git_commit=COMMIT.upper()), "git_commit"),
    "git-without-commit": (dataclasses.replace(GIT, git_commit=""), "git_commit"),
    "git-url-without-.git": (dataclasses.replace(GIT, git_repository="https://github.com/NousResearch/hermes-agent"), "git_repository"),
    "git-over-http": (dataclasses.replace(GIT, git_repository="http://github.com/NousResearch/hermes-agent.git"), "git_repository"),
    "git-url-with-fragment": (dataclasses.replace(GIT, git_repository="https://github.com/NousResearch/hermes-agent.git#main"), "git_repository"),
    "source-reference": (dataclasses.replace(MIRROR, source="reference"), "source"),
    "platform-arm-v7": (dataclasses.replace(MIRROR, platform="linux/arm/v7"), "platform"),
    "no-images-kept": (dataclasses.replace(MIRROR, max_images=0), "max_images"),
    "uppercase-repository": (dataclasses.replace(MIRROR, repository_name="Hermes/Agent"), "repository_name"),
}


@pytest.mark.parametrize(("args", "named"), BAD_ARGS.values(), ids=BAD_ARGS.keys())
def test_bad_args_are_rejected_before_anything_is_registered(args, named):
    result = run(args)
    assert isinstance(result.error, ValueError)
    assert f"HermesImageArgs.{named} " in str(result.error)
    assert result.resources == []


def test_a_mirror_needs_no_git_commit_and_a_git_build_no_digest_pinned_upstream():
    assert ok(dataclasses.replace(MIRROR, git_commit="")).error is None
    assert ok(dataclasses.replace(GIT, upstream_image="unused")).error is None


# --- image/mirror.Dockerfile ---------------------------------------------------------------------

def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, comments dropped and continuation lines joined."""
    instructions, pending = [], ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        keyword, _, rest = (pending + line).strip().partition(" ")
        instructions.append((keyword.upper(), " ".join(rest.split())))
        pending = ""
    return instructions


def test_mirror_dockerfile_is_the_file_the_mirror_build_references():
    dockerfile = ok(MIRROR).one(IMAGE).plain["dockerfile"]["location"]
    assert not dockerfile.startswith("/")  # relative: state must not depend on the checkout path
    assert (ROOT / dockerfile).is_file()
    assert (ROOT / dockerfile).resolve() == (ROOT / "image" / "mirror.Dockerfile").resolve()


def test_mirror_dockerfile_starts_from_the_build_arg_and_only_adds_labels():
    instructions = dockerfile_instructions((ROOT / "image" / "mirror.Dockerfile").read_text())
    assert instructions[:3] == [("ARG", "HERMES_IMAGE"), ("FROM", "${HERMES_IMAGE}"), ("ARG", "HERMES_IMAGE")]
    assert {keyword for keyword, _ in instructions[3:]} == {"LABEL"}
    labels = " ".join(arguments for keyword, arguments in instructions if keyword == "LABEL")
    assert 'org.opencontainers.image.base.name="${HERMES_IMAGE}"' in labels
    assert 'org.opencontainers.image.source="https://github.com/NousResearch/hermes-agent"' in labels


def test_mirror_build_context_is_empty():
    # docker-build hashes the context; with nothing in it, the tag's hash covers all of it.
    lines = (ROOT / "image" / ".dockerignore").read_text().splitlines()
    assert [line for line in lines if line.strip() and not line.startswith("#")] == ["*"]


def test_the_dev_stack_rolls_back_a_hermes_upgrade_with_the_same_change_in_reverse():
    from tests.harness import run_program

    ecr = fake_cloud.FakeEcr()
    before = run_program("dev", ecr=ecr)
    upgraded = run_program("dev", {"hermesImage": OTHER_UPSTREAM}, ecr=ecr)
    rolled_back = run_program("dev", ecr=ecr)

    def pod_image(program):
        return program.one("kubernetes:apps/v1:Deployment").plain["spec"]["template"]["spec"]["containers"][0]["image"]

    assert pod_image(rolled_back) == pod_image(before) != pod_image(upgraded)
    assert len(ecr.pushes) == 2
