"""A Hermes release bump is a small diff: the image and the workload change, nothing that holds state.

Rendered twice under mocks with `hermesImage` (or, for `imageSource: git`, the commit) changed, and
the registrations diffed by URN (tests/registration_diff.py). scripts/measure_change.py prints the
same for other routine changes; only the allowed sets are asserted here.
"""

from __future__ import annotations

import pytest

from tests.harness import run_program
from tests.registration_diff import Change, diff_registrations, differences, render_change, summary

NEXT_RELEASE = "nousresearch/hermes-agent:v2026.8.13@sha256:" + "1f" * 32
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
IMAGE_BUILD = "docker-build:index:Image"
# Never touched by a release: the state and the plumbing around it.
NEVER = {
    "kubernetes:core/v1:Namespace", "kubernetes:core/v1:PersistentVolumeClaim", "kubernetes:core/v1:Secret",
    "kubernetes:core/v1:Service", "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    "kubernetes:core/v1:ServiceAccount", "kubernetes:networking.k8s.io/v1:Ingress",
    "aws:ecr/repository:Repository",
}

BUMPS = {
    "local (reference)": ("local", {}, {"hermesImage": NEXT_RELEASE}, {DEPLOYMENT}),
    "dev (mirror)": ("dev", {}, {"hermesImage": NEXT_RELEASE}, {DEPLOYMENT, IMAGE_BUILD}),
    "prod (mirror)": ("prod", {}, {"hermesImage": NEXT_RELEASE}, {DEPLOYMENT, IMAGE_BUILD}),
    "dev (git)": ("dev", {"imageSource": "git", "hermesGitCommit": "3ef6bbd2" + "0" * 32},
                  {"hermesGitCommit": "4a0c1e77" + "0" * 32, "hermesImage": NEXT_RELEASE}, {DEPLOYMENT, IMAGE_BUILD}),
}


def bump(name: str) -> dict[str, Change]:
    stack, base, change, _ = BUMPS[name]
    return diff_registrations(*render_change(stack, change, base=base))


@pytest.mark.parametrize("name", BUMPS)
def test_a_release_bump_updates_only_the_image_and_the_workload(name):
    changes = bump(name)
    assert {c.type for c in changes.values()} == BUMPS[name][3], summary(changes)
    assert {c.kind for c in changes.values()} == {"update"}, summary(changes)
    assert not {c.type for c in changes.values()} & NEVER


@pytest.mark.parametrize("name", BUMPS)
def test_the_workload_update_is_the_new_image_and_its_version_label(name):
    [deployment] = [c for c in bump(name).values() if c.type == DEPLOYMENT]
    # Every container of the pod runs the release's image (the init containers use its shell and CLI,
    # the volume-metrics sidecar, on the AWS stacks only, its Python and boto3), and the Deployment and
    # its pods carry the new release's version label.
    required = {
        "metadata.labels['app.kubernetes.io/version']",
        "spec.template.metadata.labels['app.kubernetes.io/version']",
        "spec.template.spec.containers[0].image",
        "spec.template.spec.initContainers[0].image",
        "spec.template.spec.initContainers[1].image",
    }
    sidecar = set() if BUMPS[name][0] == "local" else {"spec.template.spec.containers[1].image"}
    assert set(deployment.paths) == required | sidecar


def test_only_the_workload_carries_the_release_version_label():
    program = run_program("local")
    for obj in program.kubernetes_objects():
        labels = obj["metadata"].get("labels", {})
        if obj["kind"] == "Deployment":
            assert labels["app.kubernetes.io/version"] == "v2026.7.20"
            assert obj["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/version"] == "v2026.7.20"
            assert "app.kubernetes.io/version" not in obj["spec"]["selector"]["matchLabels"]
        else:
            assert "app.kubernetes.io/version" not in labels, obj["kind"]


# --- the diff helper itself ------------------------------------------------------------------------

@pytest.mark.parametrize("stack", ["local", "dev", "prod"])
def test_rendering_twice_without_a_change_touches_nothing(stack):
    assert diff_registrations(*render_change(stack, {})) == {}


def test_the_diff_sees_a_change_that_touches_state():
    """Positive control: growing the volume is an update of the claim."""
    changes = diff_registrations(*render_change("local", {"storageSize": "30Gi"}))
    assert summary(changes) == [
        "update kubernetes:core/v1:PersistentVolumeClaim hermes-data: spec.resources.requests.storage"]


def test_differences_name_paths_and_ignore_equal_values():
    assert differences({"a": {"b": [1, 2]}, "c": 1}, {"a": {"b": [1, 3]}, "c": 1}) == ["a.b[1]"]
    assert differences({"labels": {"x/y": "1"}}, {"labels": {}}) == ["labels['x/y']"]
    assert differences([1], [1, 2]) == ["(whole value)"]


def test_every_change_the_measure_script_reports_renders():
    """scripts/measure_change.py is run by hand: its sample changes must stay valid config."""
    import importlib.util  # noqa: PLC0415

    from settings import parse_settings  # noqa: PLC0415
    from tests.harness import ROOT, stack_file_config  # noqa: PLC0415

    spec = importlib.util.spec_from_file_location("measure_change", ROOT / "scripts" / "measure_change.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    for stacks, change in script.CHANGES.values():
        for stack in stacks:
            settings = parse_settings(stack_file_config(stack, site_values=True), stack=stack)
            assert run_program(stack, change(settings)).error is None
