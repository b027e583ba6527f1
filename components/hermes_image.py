"""HermesImage: the Hermes image in this stack's own ECR repository, deployed by digest.

Two sources (stack setting `imageSource`):
  - `mirror`: `image/mirror.Dockerfile`, i.e. FROM the pinned upstream release plus labels;
  - `git`: upstream's own Dockerfile at one full commit of the Hermes repository.

The repository is immutable (a tag, once pushed, always names the same image), scanned on push,
encrypted with the AWS-managed KMS key and trimmed by a lifecycle policy. Callers deploy
`image_ref` (`<repository_url>@sha256:...`), never a tag.

Tags are content-addressed, and an immutable repository refuses a second push of a tag even for the
same image (aws/containers-roadmap#2380), while docker-build rebuilds and pushes on any change of its
inputs (pulumi-docker-build provider/internal/image.go, Diff). So a tag the repository already holds
is never built again: going back to an earlier image or architecture (A -> B -> A), or re-running an
`up` that was interrupted after its push, deploys the digest ECR holds under that tag.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pulumi
import pulumi_aws as aws
import pulumi_docker_build as docker_build

from components.labels import image_tag

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The mirror build's context and Dockerfile, relative to the project root: Pulumi runs the program
# and its providers there. docker-build keeps both paths in state and rebuilds when they change, so
# an absolute path would differ between a laptop and CI and push again under the same tag.
MIRROR_CONTEXT = "image"
MIRROR_DOCKERFILE = f"{MIRROR_CONTEXT}/mirror.Dockerfile"
# What decides docker-build's context hash of the mirror build (pulumi/pulumi-docker-build
# provider/internal/context.go, hashBuildContext): the Dockerfile's content, and the ignore file
# that leaves no other file in the context.
MIRROR_BUILD_FILES = (MIRROR_DOCKERFILE, f"{MIRROR_CONTEXT}/.dockerignore")

PLATFORMS = ("linux/amd64", "linux/arm64")
DIGEST_PINNED = re.compile(r"[^\s@]+@sha256:[0-9a-f]{64}")
GIT_COMMIT = re.compile(r"[0-9a-f]{40}")
# BuildKit treats an http(s) context as a git repository only when its path ends in `.git`
# (moby/buildkit frontend/dockerfile/builder: gitURLPathWithFragmentSuffix `\.git(?:#.+)?$`).
GIT_HTTPS_URL = re.compile(r"https://[^\s#]+\.git")
# ECR CreateRepository: repositoryName, 2-256 characters.
REPOSITORY_NAME = re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
TAG_MAX = 128  # OCI distribution spec: tags are at most 128 characters

UNTAGGED_EXPIRY_DAYS = 1


@dataclass(frozen=True)
class HermesImageArgs:
    source: Literal["mirror", "git"]
    upstream_image: str  # name:tag@sha256:<64 hex>; the base of the mirror build
    git_repository: str  # https://....git; built at git_commit when source is "git"
    git_commit: str  # full 40-character commit SHA
    platform: Literal["linux/amd64", "linux/arm64"]  # the nodes' architecture
    repository_name: str
    force_delete: bool = False  # let `pulumi destroy` delete the repository with its images
    max_images: int = 20
    protect: bool = False  # protect the repository from deletion and replacement


def lifecycle_policy_document(max_images: int) -> dict:
    """The repository's lifecycle policy document.

    Rules are evaluated from the lowest `rulePriority`; the rule with tagStatus `any` must have the
    highest priority, and an image is expired by at most one rule (AWS ECR user guide,
    lifecycle_policy_parameters.html). ECR also reorders rules by priority, so they are listed in
    ascending order or the provider sees a diff on every run (Pulumi aws.ecr.LifecyclePolicy docs).

    Untagged images referenced by a tagged image index (per-platform and attestation manifests)
    are not expired by rule 1: "If an image is referenced by a manifest list, it cannot be expired
    ... without the manifest list being deleted ... first" (ECR user guide, LifecyclePolicies.html).
    Rule 2 counts them, though: `max_images` counts manifests, not builds.
    """
    return {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"Expire untagged images {UNTAGGED_EXPIRY_DAYS} day after push",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": UNTAGGED_EXPIRY_DAYS,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": f"Keep only the newest {max_images} images",
                "selection": {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countNumber": max_images,
                },
                "action": {"type": "expire"},
            },
        ]
    }


def mirror_tag(upstream_image: str, platform: str) -> str:
    """`<upstream tag>-<arch>-<12 hex>`: a hash of everything that decides the mirror's content."""
    content = hashlib.sha256(upstream_image.encode() + b"\0")
    for path in MIRROR_BUILD_FILES:
        content.update(path.encode() + b"\0" + (PROJECT_ROOT / path).read_bytes() + b"\0")
    suffix = f"-{_arch(platform)}-{content.hexdigest()[:12]}"
    release = image_tag(upstream_image.split("@", 1)[0]) or "mirror"
    return release[: TAG_MAX - len(suffix)] + suffix


def git_tag(commit: str, platform: str) -> str:
    """`git-<commit>-<arch>`: a remote context is fixed by its commit (docker-build does not hash it)."""
    return f"git-{commit}-{_arch(platform)}"


def _arch(platform: str) -> str:
    return platform.split("/", 1)[1]


def validate(args: HermesImageArgs) -> None:
    """Reject args no build could honour; settings/ checks the same for stack config."""
    if args.source not in ("mirror", "git"):
        raise ValueError(f"HermesImageArgs.source is {args.source!r}; allowed: 'mirror' or 'git'")
    if args.platform not in PLATFORMS:
        raise ValueError(f"HermesImageArgs.platform is {args.platform!r}; allowed: {', '.join(PLATFORMS)}")
    if not (2 <= len(args.repository_name) <= 256 and REPOSITORY_NAME.fullmatch(args.repository_name)):
        raise ValueError(f"HermesImageArgs.repository_name is {args.repository_name!r}; allowed: an ECR "
                         "repository name (lowercase letters, digits, . _ - separators, / namespaces)")
    if args.max_images < 1:
        raise ValueError(f"HermesImageArgs.max_images is {args.max_images}; allowed: 1 or more")
    if args.source == "mirror" and not DIGEST_PINNED.fullmatch(args.upstream_image):
        raise ValueError(f"HermesImageArgs.upstream_image is {args.upstream_image!r}; allowed: an image "
                         "pinned by digest, name:tag@sha256:<64 hex>")
    if args.source == "git":
        if not GIT_COMMIT.fullmatch(args.git_commit):
            raise ValueError(f"HermesImageArgs.git_commit is {args.git_commit!r}; allowed: a full "
                             "40-character lowercase commit SHA (remote build contexts need the full SHA)")
        if not GIT_HTTPS_URL.fullmatch(args.git_repository):
            raise ValueError(f"HermesImageArgs.git_repository is {args.git_repository!r}; allowed: an "
                             "https:// URL ending in .git, without a #fragment")


def pushed_digest(repository_name: str, tag: str, opts: pulumi.InvokeOptions | None = None) -> str | None:
    """The digest the account's ECR repository holds under `tag`, or None: also when the repository
    does not exist yet (the first `up`), since ListImages fails on a missing repository
    (RepositoryNotFoundException) where ListRepositories just leaves it out.

    Plain invokes, not outputs: whether to build decides which resources are registered, during
    `pulumi preview` as during `up`. pulumi-aws 7.51.1: aws.ecr.get_repositories -> names,
    aws.ecr.get_images -> image_ids[].image_tag / image_digest.
    """
    if repository_name not in aws.ecr.get_repositories(opts=opts).names:
        return None
    for image in aws.ecr.get_images(repository_name=repository_name, opts=opts).image_ids:
        if image.image_tag == tag:
            return image.image_digest
    return None


class HermesImage(pulumi.ComponentResource):
    repository: aws.ecr.Repository
    lifecycle_policy: aws.ecr.LifecyclePolicy
    image: docker_build.Image | None  # None: the tag is in the repository already, nothing is built
    tag: str
    repository_url: pulumi.Output[str]
    image_ref: pulumi.Output[str]

    def __init__(self, name: str, args: HermesImageArgs, opts: pulumi.ResourceOptions | None = None):
        validate(args)
        super().__init__("hermes-eks:index:HermesImage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.repository = aws.ecr.Repository(
            f"{name}-repository",
            name=args.repository_name,
            # A pushed tag can never be moved to other content (AWS: ImageTagAlreadyExistsException).
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            # No kms_key: ECR's AWS-managed key (aws/ecr), which needs no key policy for node pulls.
            # ECR cannot change a repository's encryption after creation; changing this replaces it.
            encryption_configurations=[{"encryption_type": "KMS"}],
            force_delete=args.force_delete,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        self.repository_url = self.repository.repository_url

        self.lifecycle_policy = aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=self.repository.name,
            policy=json.dumps(lifecycle_policy_document(args.max_images)),
            opts=child,
        )

        if args.source == "mirror":
            tag = mirror_tag(args.upstream_image, args.platform)
            build = {
                "context": {"location": MIRROR_CONTEXT},
                "dockerfile": {"location": MIRROR_DOCKERFILE},
                "build_args": {"HERMES_IMAGE": args.upstream_image},
            }
        else:
            tag = git_tag(args.git_commit, args.platform)
            # A remote git context must be pinned to a full SHA (aws-pulumi brief, "Images to ECR");
            # upstream's own Dockerfile at that commit is used.
            build = {"context": {"location": f"{args.git_repository}#{args.git_commit}"}}

        self.tag = tag
        existing = pushed_digest(args.repository_name, tag, pulumi.InvokeOptions(parent=self))
        if existing is not None:
            # Built and pushed by an earlier `up`: a rebuild would push the tag again and be refused.
            self.image = None
            self.image_ref = self.repository_url.apply(lambda url: f"{url}@{existing}")
            self.register_outputs({"repository_url": self.repository_url, "image_ref": self.image_ref})
            return

        # The tag changes whenever anything that decides the image's content changes (the commit,
        # or the upstream reference, platform, Dockerfile and context of the mirror). docker-build
        # rebuilds and pushes when its inputs or context hash change; with an unchanged tag that
        # push would hit an immutable tag and fail.
        token = aws.ecr.get_authorization_token_output(registry_id=self.repository.registry_id)
        self.image = docker_build.Image(
            f"{name}-image",
            push=True,
            # docker-build builds during `pulumi preview` by default (its schema: a safeguard
            # against broken images merging). PR previews and Pulumi Deployments may run without a
            # Docker daemon, so previews skip the build and show the image as an update instead.
            build_on_preview=False,
            platforms=[args.platform],
            tags=[self.repository_url.apply(lambda url: f"{url}:{tag}")],
            # docker-build ignores password changes when diffing registries, so the 12-hour ECR
            # token does not cause a rebuild (pulumi-docker-build provider/internal/image.go, Diff).
            registries=[{
                "address": self.repository_url,
                "username": token.user_name,
                "password": pulumi.Output.secret(token.password),
            }],
            **build,
            # Once its tag is in the repository, the next `up` registers no build (see above). The
            # provider's Delete only removes the image from the local Docker daemon
            # (provider/internal/image.go, Delete): retained, that step needs no daemon.
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )

        # Deploy by digest: the exact manifest pushed, whatever happens to tags later.
        self.image_ref = pulumi.Output.all(self.repository_url, self.image.digest).apply(
            lambda values: f"{values[0]}@{values[1]}"
        )

        self.register_outputs({
            "repository_url": self.repository_url,
            "image_ref": self.image_ref,
        })
