"""EKS add-on versions never change by themselves: every version is the pinned table's
(components/addon_versions.py) or the stack's addonVersions, for the cluster's REAL Kubernetes version.

pulumi-eks resolves the vpc-cni and kube-proxy versions with `mostRecent: true` unless given one
(pulumi/pulumi-eks nodejs/eks/cluster/cluster.ts, nodejs/eks/addons/cni-addon.ts): those invokes run
inside the remote component, invisible under mocks, so the Cluster's inputs must carry both versions.
"""

from __future__ import annotations

import functools
import re

import pytest

from components.addon_versions import (
    ADDON_VERSION_PATTERN,
    ADDON_VERSIONS,
    EBS_CSI_DRIVER,
    EKS_ADDONS,
    KUBE_PROXY,
    POD_IDENTITY_AGENT,
    VPC_CNI,
    addon_version,
)
from settings import SUPPORTED_KUBERNETES_VERSIONS, ConfigError
from tests import fake_cloud
from tests.harness import Program, run_program

ADDON, CLUSTER = "aws:eks/addon:Addon", "eks:index:Cluster"
ALL_ADDONS = ("ebs-csi-driver", "gp3-storage-class", "pod-identity-agent", "load-balancer-controller")


@functools.cache
def stack(name: str, **config) -> Program:
    return run_program(name, config)


def adopted(mode: str) -> Program:
    return stack("dev", clusterSource="existing", existingClusterName="platform", podIdentityMode=mode,
                 existingClusterAddons=ALL_ADDONS)


def programs() -> list[Program]:
    return [stack("dev"), stack("prod"), adopted("irsa"), adopted("pod-identity")]


def versions(program: Program) -> dict[str, str]:
    """The versions of the add-ons the table pins (the CloudWatch add-on is pinned by
    components/observability.py, which explains why its 5.x line is avoided)."""
    found = {a.plain["addonName"]: a.plain["addonVersion"] for a in program.of_type(ADDON)
             if a.plain["addonName"] != "amazon-cloudwatch-observability"}
    for cluster in program.of_type(CLUSTER):
        found[VPC_CNI] = cluster.plain["vpcCniOptions"]["addonVersion"]
        found[KUBE_PROXY] = cluster.plain["kubeProxyAddonOptions"]["version"]
    return found


def test_nothing_the_program_invokes_asks_for_the_most_recent_version():
    for program in programs():
        # (An ACM certificate lookup may ask for the newest certificate: that is not an add-on version.)
        assert not [(token, args) for token, args in program.invokes
                    if args.get("mostRecent") and token.startswith("aws:eks/")], program.stack
        assert not [token for token, _ in program.invokes if token == "aws:eks/getAddonVersion:getAddonVersion"]


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_a_created_cluster_gets_the_tables_versions_for_its_kubernetes_version(name):
    expected = ADDON_VERSIONS["1.34"]
    found = versions(stack(name))
    wanted = {VPC_CNI, KUBE_PROXY, EBS_CSI_DRIVER} | ({POD_IDENTITY_AGENT} if name == "prod" else set())
    assert found == {addon: expected[addon] for addon in wanted}


def test_pulumi_eks_creates_no_coredns_add_on_and_keeps_the_self_managed_one():
    assert stack("dev").one(CLUSTER).plain["corednsAddonOptions"]["enabled"] is False


def test_the_stacks_addon_versions_override_the_table():
    program = run_program("prod", {"addonVersions": {EBS_CSI_DRIVER: "v1.99.0-eksbuild.1", VPC_CNI: "v1.99.1-eksbuild.2"}})
    found = versions(program)
    assert found[EBS_CSI_DRIVER] == "v1.99.0-eksbuild.1" and found[VPC_CNI] == "v1.99.1-eksbuild.2"
    assert found[KUBE_PROXY] == ADDON_VERSIONS["1.34"][KUBE_PROXY]


def test_an_adopted_cluster_uses_its_real_kubernetes_version_not_the_configured_one(monkeypatch):
    monkeypatch.setitem(ADDON_VERSIONS, "1.33", {**ADDON_VERSIONS["1.33"], EBS_CSI_DRIVER: "v1.33.0-eksbuild.1"})
    monkeypatch.setitem(ADDON_VERSIONS, "1.34", {**ADDON_VERSIONS["1.34"], EBS_CSI_DRIVER: "v1.34.0-eksbuild.1"})
    monkeypatch.setattr(fake_cloud, "EXISTING_CLUSTER_VERSION", "1.33")
    program = run_program("dev", {"clusterSource": "existing", "existingClusterName": "platform",
                                  "existingClusterAddons": ["ebs-csi-driver"], "kubernetesVersion": "1.34"})
    assert versions(program) == {EBS_CSI_DRIVER: "v1.33.0-eksbuild.1"}


def test_a_kubernetes_version_without_pinned_versions_is_refused_at_validation():
    unpinned = next(v for v in SUPPORTED_KUBERNETES_VERSIONS if v not in ADDON_VERSIONS)
    program = run_program("dev", {"kubernetesVersion": unpinned}, raise_errors=False)
    assert isinstance(program.error, ConfigError) and program.resources == []
    message = str(program.error)
    assert "hermes-eks:addonVersions" in message and f"kubernetesVersion {unpinned}" in message
    assert "vpc-cni, kube-proxy, aws-ebs-csi-driver" in message
    pinned = {VPC_CNI: "v1.21.0-eksbuild.1", KUBE_PROXY: f"v{unpinned}.0-eksbuild.1", EBS_CSI_DRIVER: "v1.60.0-eksbuild.1"}
    assert versions(run_program("dev", {"kubernetesVersion": unpinned, "addonVersions": pinned})) == pinned


@pytest.mark.parametrize(("value", "expected"), [
    ({"coredns": "v1.11.4-eksbuild.2"}, "hermes-eks:addonVersions"),
    ({VPC_CNI: "latest"}, "an EKS add-on version such as v1.20.1-eksbuild.3"),
])
def test_an_unknown_add_on_or_a_malformed_version_is_refused(value, expected):
    program = run_program("dev", {"addonVersions": value}, raise_errors=False)
    assert isinstance(program.error, ConfigError) and expected in str(program.error)


def test_every_pinned_version_is_well_formed_and_every_table_row_is_complete():
    for kubernetes_version, row in ADDON_VERSIONS.items():
        assert kubernetes_version in SUPPORTED_KUBERNETES_VERSIONS
        assert set(row) == set(EKS_ADDONS)
        assert all(re.fullmatch(ADDON_VERSION_PATTERN, version) for version in row.values())
    assert set(ADDON_VERSIONS) >= {"1.34"}  # the default kubernetesVersion


def test_an_adopted_cluster_of_an_unpinned_version_is_told_how_to_pin_it():
    # Adopted clusters learn their version at run time; the lookup refuses with the fix in the message.
    with pytest.raises(ValueError, match=r"""pulumi config set --path 'addonVersions\["aws-ebs-csi-driver"\]'"""):
        addon_version(EBS_CSI_DRIVER, "1.99", {})
    assert addon_version(EBS_CSI_DRIVER, "1.99", {EBS_CSI_DRIVER: "v1.0.0-eksbuild.1"}) == "v1.0.0-eksbuild.1"
