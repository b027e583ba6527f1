"""The EKS add-on versions this program installs, pinned per Kubernetes minor version.

Why pinned: `aws.eks.get_addon_version(most_recent=True)` (and pulumi-eks's own default for the
vpc-cni and kube-proxy add-ons it creates, nodejs/eks/cluster/cluster.ts `getAddonVersionOutput(...
mostRecent: true)` and nodejs/eks/addons/cni-addon.ts) resolves anew on every run, so a later `pulumi
up` silently upgrades an add-on the day AWS publishes a new build. Here a version changes only when
this table, the stack's `addonVersions` or the cluster's Kubernetes version changes: a reviewable diff.

coredns is not in the table: with no default node group pulumi-eks creates no coredns add-on
(cluster.ts: only with the default node group, Fargate or when enabled explicitly), so the cluster
keeps the self-managed coredns EKS installs at creation, which nothing upgrades by itself either.

Where the versions come from. No AWS API is reachable where this table was written, so each entry
says how sure it is. Check one with `aws eks describe-addon-versions --addon-name NAME
--kubernetes-version X.Y --query 'addons[].addonVersions[].addonVersion'` and override it with the
stack's `addonVersions` if AWS does not offer it for your cluster (or you want another):
- kube-proxy: the AWS EKS User Guide, "Manage kube-proxy", table "kube-proxy versions" (the latest
  add-on version per Kubernetes version; docs.amazonaws.cn/zh_cn/eks/latest/userguide/managing-kube-proxy.md,
  stored copy read 2026-11-24).
- vpc-cni, Kubernetes 1.30-1.33: the AWS EKS User Guide, "Amazon VPC CNI versions", which lists
  v1.20.1-eksbuild.3 for 1.27-1.33 (docs.aws.amazon.com/ja_jp/eks/latest/userguide/managing-vpc-cni.html).
  1.34-1.35: v1.22.3-eksbuild.1, which `describe-addon-versions` offered for 1.33 in July 2026
  (ministryofjustice/cloud-platform-infrastructure#4678); NOT VERIFIED for 1.34/1.35 themselves
  (VPC CNI builds are normally offered for every supported Kubernetes version at once).
- aws-ebs-csi-driver: v1.66.0-eksbuild.1, AWS's default version for Kubernetes 1.36 in September 2026
  (mitodl/ol-infrastructure#5959); NOT VERIFIED for the Kubernetes versions of this table.
- eks-pod-identity-agent: v1.3.9-eksbuild.1, used with CreateAddon by AWS's own EKS Hybrid Nodes
  end-to-end tests (aws/eks-hybrid#763, October 2025); NOT VERIFIED per Kubernetes version.
"""

from __future__ import annotations

from collections.abc import Mapping

VPC_CNI = "vpc-cni"
KUBE_PROXY = "kube-proxy"
EBS_CSI_DRIVER = "aws-ebs-csi-driver"
POD_IDENTITY_AGENT = "eks-pod-identity-agent"
EKS_ADDONS = (VPC_CNI, KUBE_PROXY, EBS_CSI_DRIVER, POD_IDENTITY_AGENT)

# The add-on version format of DescribeAddonVersions: vMAJOR.MINOR.PATCH-eksbuild.N.
ADDON_VERSION_PATTERN = r"v[0-9]+\.[0-9]+\.[0-9]+(-[a-z0-9]+)*-eksbuild\.[0-9]+"

_VPC_CNI_DOCUMENTED = "v1.20.1-eksbuild.3"
_VPC_CNI_RECENT = "v1.22.3-eksbuild.1"  # NOT VERIFIED for 1.34/1.35 (see above)
_EBS_CSI_DRIVER = "v1.66.0-eksbuild.1"  # NOT VERIFIED per Kubernetes version (see above)
_POD_IDENTITY_AGENT = "v1.3.9-eksbuild.1"  # NOT VERIFIED per Kubernetes version (see above)

ADDON_VERSIONS: dict[str, dict[str, str]] = {
    "1.30": {VPC_CNI: _VPC_CNI_DOCUMENTED, KUBE_PROXY: "v1.30.14-eksbuild.28",
             EBS_CSI_DRIVER: _EBS_CSI_DRIVER, POD_IDENTITY_AGENT: _POD_IDENTITY_AGENT},
    "1.31": {VPC_CNI: _VPC_CNI_DOCUMENTED, KUBE_PROXY: "v1.31.14-eksbuild.9",
             EBS_CSI_DRIVER: _EBS_CSI_DRIVER, POD_IDENTITY_AGENT: _POD_IDENTITY_AGENT},
    "1.32": {VPC_CNI: _VPC_CNI_DOCUMENTED, KUBE_PROXY: "v1.32.13-eksbuild.5",
             EBS_CSI_DRIVER: _EBS_CSI_DRIVER, POD_IDENTITY_AGENT: _POD_IDENTITY_AGENT},
    "1.33": {VPC_CNI: _VPC_CNI_DOCUMENTED, KUBE_PROXY: "v1.33.10-eksbuild.2",
             EBS_CSI_DRIVER: _EBS_CSI_DRIVER, POD_IDENTITY_AGENT: _POD_IDENTITY_AGENT},
    "1.34": {VPC_CNI: _VPC_CNI_RECENT, KUBE_PROXY: "v1.34.6-eksbuild.2",
             EBS_CSI_DRIVER: _EBS_CSI_DRIVER, POD_IDENTITY_AGENT: _POD_IDENTITY_AGENT},
    "1.35": {VPC_CNI: _VPC_CNI_RECENT, KUBE_PROXY: "v1.35.3-eksbuild.2",
             EBS_CSI_DRIVER: _EBS_CSI_DRIVER, POD_IDENTITY_AGENT: _POD_IDENTITY_AGENT},
}


def missing_versions(kubernetes_version: str, addons: tuple[str, ...], overrides: Mapping[str, str]) -> list[str]:
    """The add-ons among `addons` that neither the table (for this Kubernetes version) nor the overrides pin."""
    pinned = ADDON_VERSIONS.get(kubernetes_version, {})
    return [a for a in addons if a not in overrides and a not in pinned]


def addon_version(addon: str, kubernetes_version: str, overrides: Mapping[str, str]) -> str:
    """The version to install: the stack's override, else the table's entry for the cluster's version."""
    if addon in overrides:
        return overrides[addon]
    pinned = ADDON_VERSIONS.get(kubernetes_version, {})
    if addon not in pinned:
        raise ValueError(
            f"no pinned version of the {addon} add-on for Kubernetes {kubernetes_version} (pinned for "
            f"{', '.join(ADDON_VERSIONS)}); set hermes-eks:addonVersions with `pulumi config set --path "
            f"'addonVersions[\"{addon}\"]' <version>` (`aws eks describe-addon-versions --addon-name {addon} "
            f"--kubernetes-version {kubernetes_version}` lists them)"
        )
    return pinned[addon]
