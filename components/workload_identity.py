"""An IAM role that exactly one Kubernetes service account can assume: IRSA or EKS Pod Identity.

The one place trust policies are built; used for Hermes (Bedrock), the EBS CSI driver, the AWS
Load Balancer Controller and the CloudWatch agent, so every workload identity in the stack follows
the same rules.

- IRSA (awsdocs/amazon-eks-user-guide, associate-service-account-role.adoc): Federated principal =
  the cluster's OIDC provider, sts:AssumeRoleWithWebIdentity, StringEquals on BOTH
  `<issuer>:aud = sts.amazonaws.com` and `<issuer>:sub = system:serviceaccount:<ns>:<sa>`; the
  service account carries the `eks.amazonaws.com/role-arn` annotation.
- EKS Pod Identity (pod-id-role.adoc): Service principal pods.eks.amazonaws.com with sts:AssumeRole
  and sts:TagSession; the binding is an aws.eks.PodIdentityAssociation, not an annotation, and the
  eks-pod-identity-agent add-on must run on the nodes. The service principal alone admits EVERY Pod
  Identity association in the account: EKS tags each session with the pod's cluster, namespace and
  service account (pod-id-abac.adoc, session tags eks-cluster-arn, kubernetes-namespace,
  kubernetes-service-account), so the trust pins all three with StringEquals on aws:RequestTag/<tag>.
  The ARN does not tell a re-created cluster of the same name from the old one (EKS best-practices
  guide, identity and access management). An association made with disableSessionTags carries no
  tags, and the conditions then fail closed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

IdentityMode = Literal["irsa", "pod-identity"]
IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"


def irsa_trust_policy(oidc_provider_arn: str, oidc_issuer: str, namespace: str, service_account: str) -> dict:
    """`oidc_issuer` without https:// (pulumi-eks `oidc_issuer`), as IAM condition keys need it."""
    issuer = oidc_issuer.removeprefix("https://")
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": oidc_provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                f"{issuer}:aud": "sts.amazonaws.com",
                f"{issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
            }},
        }],
    }


def pod_identity_trust_policy(cluster_arn: str, namespace: str, service_account: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": {"StringEquals": {
                "aws:RequestTag/eks-cluster-arn": cluster_arn,
                "aws:RequestTag/kubernetes-namespace": namespace,
                "aws:RequestTag/kubernetes-service-account": service_account,
            }},
        }],
    }


@dataclass(frozen=True)
class ClusterIdentity:
    """What a workload role needs to know about the cluster."""

    name: pulumi.Input[str]
    arn: pulumi.Input[str]  # what Pod Identity tags the session with (eks-cluster-arn)
    oidc_provider_arn: pulumi.Input[str] | None  # IRSA only; None for a Pod Identity cluster
    oidc_issuer: pulumi.Input[str]  # without https://
    mode: IdentityMode = "irsa"


class WorkloadRole:
    """An aws.iam.Role assumable only by `namespace/service_account`, plus its Pod Identity binding.

    Not a component of its own: its resources are children of the component that owns the workload
    (`parent`), e.g. BedrockAccess or ClusterAddons.
    """

    def __init__(
        self,
        name: str,
        *,
        cluster: ClusterIdentity,
        namespace: str,
        service_account: str,
        parent: pulumi.Resource,
        create_association: bool = True,
        depends_on: list[pulumi.Resource] | None = None,
    ):
        opts = pulumi.ResourceOptions(parent=parent)
        if cluster.mode == "irsa":
            trust = pulumi.Output.all(cluster.oidc_provider_arn, cluster.oidc_issuer).apply(
                lambda v: json.dumps(irsa_trust_policy(v[0], v[1], namespace, service_account))
            )
        else:
            trust = pulumi.Output.from_input(cluster.arn).apply(
                lambda arn: json.dumps(pod_identity_trust_policy(arn, namespace, service_account))
            )
        self.role = aws.iam.Role(
            name,
            assume_role_policy=trust,
            description=f"Assumed by Kubernetes service account {namespace}/{service_account} ({cluster.mode})",
            max_session_duration=3600,
            opts=opts,
        )
        self.association = None
        if cluster.mode == "pod-identity" and create_association:
            self.association = aws.eks.PodIdentityAssociation(
                name,
                cluster_name=cluster.name,
                namespace=namespace,
                service_account=service_account,
                role_arn=self.role.arn,
                opts=pulumi.ResourceOptions(parent=parent, depends_on=depends_on or []),
            )
        self.mode = cluster.mode
        self.service_account = service_account

    @property
    def addon_binding(self) -> dict:
        """How an EKS add-on (aws.eks.Addon) takes this role: the add-on API makes the binding itself,
        `service_account_role_arn` under IRSA, a pod identity association under Pod Identity."""
        if self.mode == "irsa":
            return {"service_account_role_arn": self.role.arn}
        return {"pod_identity_associations": [aws.eks.AddonPodIdentityAssociationArgs(
            role_arn=self.role.arn, service_account=self.service_account)]}

    @property
    def service_account_annotations(self) -> dict[str, pulumi.Output[str]]:
        """Annotations for the service account: the role ARN under IRSA, nothing under Pod Identity."""
        return {IRSA_ANNOTATION: self.role.arn} if self.mode == "irsa" else {}
