#!/usr/bin/env python3
"""Print the critical path of a first `pulumi up`, from the registered dependency graph; nothing here is
asserted, and nothing is measured: the durations are typical figures (sources in DURATIONS).

    /work/main/.venvs/test/bin/python scripts/critical_path.py [--stack prod]

The program runs under mocks (tests/harness.py) and each registration waits for what it depends on
(tests/delete_order.py: `dependencies`, provider, parent, and every child of a component it depends on).
One thing the graph does not show: a resource whose pods must run (an EKS add-on, a Helm release, a
Deployment) also waits for the nodes. `pulumi-aws`'s Addon waits while the add-on is CREATING or
DEGRADED until it is ACTIVE (hashicorp/terraform-provider-aws internal/service/eks/addon.go,
waitAddonCreated: Pending CREATING, DEGRADED; Target ACTIVE), so an add-on created before the nodes
finishes once they are up and its pods run. The "EKS floor" is what no stack that creates a cluster can
skip: the VPC (or whatever the cluster waits for), the cluster, and one node group.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Seconds a create typically takes, and where the figure comes from.
DURATIONS: dict[str, tuple[int, str]] = {
    "eks:index:Cluster": (900, "control plane: 'averages 15 minutes' (aws/containers-roadmap#1227)"),
    "eks:index:ManagedNodeGroup": (240, "estimate: EC2 launch, AL2023 boot, node registration"),
    "awsx:ec2:Vpc": (150, "estimate: NAT gateways become available in 1-3 minutes"),
    "aws:eks/addon:Addon": (45, "estimate: add-on pods scheduled and Ready once nodes exist"),
    "kubernetes:helm.sh/v3:Release": (90, "estimate: Load Balancer Controller pods and webhook Ready"),
    "kubernetes:apps/v1:Deployment": (300, "estimate: Hermes image pull (5 GB) and first boot"),
    "aws:iam/role:Role": (5, "estimate: IAM is eventually consistent within seconds"),
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": (5, "estimate"),
}
DEFAULT_CUSTOM_SECONDS = 2  # anything else: one API call
NEEDS_NODES = {"aws:eks/addon:Addon", "kubernetes:helm.sh/v3:Release", "kubernetes:apps/v1:Deployment"}
NODES = "eks:index:ManagedNodeGroup"


def _urns(value) -> set[str]:
    if isinstance(value, str):
        return {value} if value.startswith("urn:pulumi:") else set()
    if isinstance(value, dict):
        return set().union(*map(_urns, value.values())) if value else set()
    if isinstance(value, (list, tuple)):
        return set().union(*map(_urns, value)) if value else set()
    return set()


def critical_path(resources) -> tuple[float, list, float]:
    """(finish of the last resource, the path to it, the EKS floor)."""
    from tests.delete_order import _transitive_children, dependencies_of  # noqa: PLC0415

    children = _transitive_children(resources)
    index_of = {r.urn: i for i, r in enumerate(resources)}
    finish: list[float] = []
    previous: list[int | None] = []
    node_indexes = [i for i, r in enumerate(resources) if r.type == NODES]
    for index, resource in enumerate(resources):
        # A resource passed as an input (a node group's `cluster`) is a dependency too; the harness
        # records such references as URNs.
        deps = dependencies_of(resources, index, children) | {
            index_of[urn] for urn in _urns(resource.inputs) if index_of.get(urn, index) < index}
        start, before = 0.0, None
        for dep in deps:
            if finish[dep] > start:
                start, before = finish[dep], dep
        if resource.type in NEEDS_NODES and node_indexes and node_indexes[-1] < index:
            nodes = max(node_indexes, key=lambda i: finish[i])
            if finish[nodes] > start:
                start, before = finish[nodes], nodes
        seconds = DURATIONS.get(resource.type, (DEFAULT_CUSTOM_SECONDS if resource.custom else 0, ""))[0]
        finish.append(start + seconds)
        previous.append(before)
    last = max(range(len(resources)), key=lambda i: finish[i])
    path, cursor = [], last
    while cursor is not None:
        path.append(cursor)
        cursor = previous[cursor]
    clusters = [i for i, r in enumerate(resources) if r.type == "eks:index:Cluster"]
    floor = (finish[clusters[0]] + DURATIONS[NODES][0]) if clusters else 0.0
    return finish[last], [(resources[i], finish[i]) for i in reversed(path)], floor


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="prod")
    stack = parser.parse_args().stack
    from tests.harness import run_program  # noqa: PLC0415

    total, path, floor = critical_path(run_program(stack).resources)
    print(f"First `pulumi up` of {stack}: critical path from the registered dependency graph")
    for resource, done in path:
        if resource.type in DURATIONS or resource.custom:
            print(f"  {done / 60:6.1f} min  {resource.type}  {resource.name}")
    namespace = next((done for r, done in path if r.type == "kubernetes:core/v1:Namespace"), None)
    if namespace is not None and floor:
        print(f"  ready for the workload (its namespace) at {namespace / 60:.1f} min = {namespace / floor:.2f}x the EKS floor")
    ratio = f" = {total / floor:.2f}x the EKS floor ({floor / 60:.1f} min: what the cluster waits for, the cluster, a node group)" if floor else ""
    print(f"  total {total / 60:.1f} min{ratio}")
    print("Durations (typical, not measured here):")
    for type_, (seconds, source) in DURATIONS.items():
        print(f"  {seconds:4d} s  {type_}: {source}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
