"""What a routine change touches: render the program twice, one config value changed, diff by URN.

verification.md, "What mocks never run": the engine's preview diffs each resource's new inputs against
its state; two renders under mocks, compared registration by registration, show the same set of
resources a `pulumi preview` would list as created, deleted or updated, and which inputs differ.
Values that are equal are ignored (a secret and its plain value count as equal: the provider sees the
same value). A remote component (eks.Cluster, awsx Vpc) is compared by its own inputs only.

    before, after = render_change("dev", {"hermesImage": NEW_RELEASE})
    changes = diff_registrations(before, after)   # {urn: Change}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from tests.harness import Program, reveal, run_program


@dataclass(frozen=True)
class Change:
    urn: str
    kind: Literal["create", "delete", "update"]
    paths: tuple[str, ...] = ()  # the inputs that differ, e.g. spec.template.spec.containers[0].image

    @property
    def type(self) -> str:
        return self.urn.split("::")[-2].split("$")[-1]

    @property
    def name(self) -> str:
        return self.urn.split("::")[-1]


def render_change(
    stack: str,
    change: Mapping[str, Any],
    *,
    base: Mapping[str, Any] | None = None,
    secrets: Mapping[str, str] | None = None,
) -> tuple[Program, Program]:
    """The program for `stack` (with `base` overrides) before and after `change` is applied."""
    before = run_program(stack, dict(base or {}), secrets=secrets)
    after = run_program(stack, {**(base or {}), **change}, secrets=secrets)
    return before, after


def diff_registrations(before: Program, after: Program) -> dict[str, Change]:
    old = {r.urn: r for r in before.resources}
    new = {r.urn: r for r in after.resources}
    changes: dict[str, Change] = {}
    for urn in new.keys() - old.keys():
        changes[urn] = Change(urn, "create")
    for urn in old.keys() - new.keys():
        changes[urn] = Change(urn, "delete")
    for urn in old.keys() & new.keys():
        paths = tuple(differences(reveal(old[urn].inputs), reveal(new[urn].inputs)))
        if paths:
            changes[urn] = Change(urn, "update", paths)
    return dict(sorted(changes.items()))


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """The paths at which two input values differ; [] when they are equal."""
    if isinstance(a, dict) and isinstance(b, dict):
        found = []
        for key in sorted(a.keys() | b.keys(), key=str):
            step = f"{path}.{key}" if path and "." not in str(key) and "/" not in str(key) else (
                f"{path}[{key!r}]" if path else str(key))
            if key not in a or key not in b:
                found.append(step)
            else:
                found += differences(a[key], b[key], step)
        return found
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [p for i, (x, y) in enumerate(zip(a, b, strict=True)) for p in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [path or "(whole value)"]


def summary(changes: Mapping[str, Change]) -> list[str]:
    """One line per touched resource: `update kubernetes:apps/v1:Deployment hermes: spec...image`."""
    return [f"{c.kind} {c.type} {c.name}" + (f": {', '.join(c.paths)}" if c.paths else "") for c in changes.values()]
