"""The order in which `pulumi destroy` deletes what a program registered: the engine's own rule, ported.

Mocks never delete anything, so this replays the engine's scheduler on the registrations the harness
recorded (URN, dependencies, parent, provider, deletedWith, custom or component), in registration
order, which is the snapshot's order (a resource is registered only after the URNs it depends on).

Ported from pulumi/pulumi (commit 1b59498, 2026-08-21):
- `pkg/resource/graph/dependency_graph.go`, `DependenciesOf`: a resource's direct dependencies are its
  `dependencies` (explicit `depends_on` and property dependencies: the Python SDK sends their union),
  `deletedWith`, its provider and its parent; a dependency on a component also counts every transitive
  child of that component registered before the resource ("for remote components, the dependencies
  will not include the transitive set of children directly").
- `pkg/resource/deploy/step_generator.go`, `ScheduleDeletes`: repeatedly take every condemned resource
  none of whose dependencies is still condemned (an antichain), remove them, and finally reverse the
  list of antichains. `pkg/resource/deploy/deployment_executor.go` runs each antichain to completion
  before starting the next, so a resource is deleted only after everything that depends on it.

Under mocks a remote component (eks.Cluster, awsx Vpc, ManagedNodeGroup) has no children, so the
waves here are those of a graph smaller than the real one: the real depths differ. What holds in
every schedule the engine may produce is what the dependency relation forces, which is why the tests
also check `forced_before` (a transitive dependency), not only the wave numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tests.harness import Registered


def _provider_urn(reference: str) -> str:
    # A provider reference is "<urn>::<id>" (sdk/go/common/resource/providers/reference.go).
    return reference.rsplit("::", 1)[0] if reference else ""


def _transitive_children(resources: Sequence[Registered]) -> dict[str, list[int]]:
    """Registration index of every descendant, per URN (dependency_graph.go, NewDependencyGraph)."""
    by_urn = {r.urn: r for r in resources}
    children: dict[str, list[int]] = {r.urn: [] for r in resources}
    for index, resource in enumerate(resources):
        parent = resource.parent
        while parent in by_urn:
            children[parent].append(index)
            parent = by_urn[parent].parent
    return children


def dependencies_of(resources: Sequence[Registered], index: int, children: dict[str, list[int]] | None = None) -> set[int]:
    """`DependencyGraph.DependenciesOf`: indexes of what resources[index] directly depends on."""
    children = _transitive_children(resources) if children is None else children
    resource = resources[index]
    wanted = set(resource.dependencies)
    wanted.discard("")
    if resource.deleted_with:
        wanted.add(resource.deleted_with)
    if resource.provider:
        wanted.add(_provider_urn(resource.provider))
    found: set[int] = set()
    for candidate_index in range(index - 1, -1, -1):
        candidate = resources[candidate_index]
        if candidate.urn in wanted:
            found.add(candidate_index)
            if not candidate.custom:
                found.update(i for i in children[candidate.urn] if i < index)
        if candidate.urn == resource.parent:
            found.add(candidate_index)
    return found


def delete_waves(resources: Sequence[Registered]) -> list[list[Registered]]:
    """`stepGenerator.ScheduleDeletes` for a `pulumi destroy` of everything registered."""
    children = _transitive_children(resources)
    direct = [dependencies_of(resources, i, children) for i in range(len(resources))]
    condemned = set(range(len(resources)))
    antichains: list[list[int]] = []
    while condemned:
        wave = sorted(i for i in condemned if not direct[i] & condemned)
        assert wave, "dependency cycle among " + ", ".join(resources[i].urn for i in sorted(condemned))
        condemned -= set(wave)
        antichains.append(wave)
    antichains.reverse()
    return [[resources[i] for i in wave] for wave in antichains]


def wave_of(waves: Sequence[Sequence[Registered]]) -> dict[str, int]:
    return {r.urn: number for number, wave in enumerate(waves) for r in wave}


def forced_before(resources: Sequence[Registered], first: Registered, then: Registered) -> bool:
    """Whether every schedule deletes `first` before `then`: `first` depends on `then`, transitively."""
    children = _transitive_children(resources)
    index = {r.urn: i for i, r in enumerate(resources)}
    target, seen, frontier = index[then.urn], set(), [index[first.urn]]
    while frontier:
        current = frontier.pop()
        for dependency in dependencies_of(resources, current, children):
            if dependency == target:
                return True
            if dependency not in seen:
                seen.add(dependency)
                frontier.append(dependency)
    return False


def deleted_after(resources: Sequence[Registered], credential: Registered, users: Iterable[Registered]) -> list[str]:
    """Problems, one line each, where `credential` may be deleted before (or with) one of `users`."""
    waves = wave_of(delete_waves(resources))
    problems = []
    for user in users:
        if not (forced_before(resources, user, credential) and waves[user.urn] < waves[credential.urn]):
            problems.append(
                f"{credential.type} {credential.name} (wave {waves[credential.urn]}) is not forced to outlive "
                f"{user.type} {user.name} (wave {waves[user.urn]})"
            )
    return problems
