"""PolicyEnforcement: Pulumi Cloud runs the policy pack on every update of `dev` and `prod`, wherever it
runs (a laptop, GitHub Actions, Pulumi Deployments), with the stack's policy config.

Why server-side: a Deployments `pulumi up` cannot be given `--policy-pack`, so pre_run.sh can only run
a preview first, and at preview a rule that reads an unknown value (a role ARN in a trust policy, the
image digest before the build) is reported as advisory and does not block. A policy group makes the
CLI fetch the group's packs at the start of every update and run them as its own: Pulumi Cloud answers
an update request with `RequiredPolicies`, "a list of required Policy Packs to run during the update",
and GetStackPolicyPacksResponse "allows the CLI to download the packs prior to starting an update"
(pulumi/pulumi sdk/go/common/apitype). So at `pulumi up`, where values are known, each mandatory rule
blocks. That Deployments runs get them too is inferred: they run the same CLI.

- One `preventative` PolicyGroup per stack (pulumi-pulumiservice 1.5.0 `PolicyGroup(name,
  organization_name, entity_type, mode, policy_packs, stacks)`, policy_group.py), because each stack has
  its own policy config (policy/config/<stack>.json: its allowed exceptions) and a group gives one
  config per pack.
- The pack itself is published with `pulumi policy publish` (README, "Policy as code"); the groups name
  it and the version in policy/PulumiPolicy.yaml, so a change to the rules needs a new version there.
- Review stacks are named by Deployments when their pull request opens, so no group can list them:
  they are checked by pre_run.sh's preview only.
- Edition: preventative policy groups are a paid Pulumi Cloud feature; current pricing lists them from
  Pro (older pages: Team, Enterprise, Business Critical). `enforcePolicyPack: false` turns this off.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_pulumiservice as ps
import yaml

PACK_NAME = "hermes-eks"  # policy/__main__.py: PolicyPack(name=...)

def policy_pack_version(pack_dir: Path) -> str:
    return str(yaml.safe_load((pack_dir / "PulumiPolicy.yaml").read_text())["version"])


def stack_policy_config(pack_dir: Path, stack: str) -> dict:
    """The stack's allowed exceptions, as `--policy-pack-config` takes them; none: the pack's defaults."""
    path = pack_dir / "config" / f"{stack}.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def group_name(project: str, stack: str) -> str:
    return f"{project}-{stack}"


@dataclass(frozen=True)
class PolicyEnforcementArgs:
    organization: str
    project: str
    pack_dir: Path  # the policy pack's folder in this checkout
    stacks: tuple[str, ...]  # the long-lived stacks this delivery stack manages


class PolicyEnforcement(pulumi.ComponentResource):
    def __init__(self, name: str, args: PolicyEnforcementArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("hermes-eks-deployments:index:PolicyEnforcement", name, None, opts)
        version = policy_pack_version(args.pack_dir)
        self.groups: dict[str, ps.PolicyGroup] = {}
        for stack in args.stacks:
            self.groups[stack] = ps.PolicyGroup(
                f"{name}-{stack}",
                name=group_name(args.project, stack),
                organization_name=args.organization,
                entity_type="stacks",
                mode="preventative",
                policy_packs=[ps.PolicyGroupPolicyPackReferenceInputArgs(
                    name=PACK_NAME, version_tag=version, config=stack_policy_config(args.pack_dir, stack))],
                stacks=[ps.PolicyGroupStackReferenceArgs(name=stack, routing_project=args.project)],
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({"groups": {s: g.name for s, g in self.groups.items()}})
