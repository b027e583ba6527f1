"""HermesCluster: an EKS cluster with everything Hermes needs, created from nothing or adopted by name.

Create: a VPC whose private subnets are tagged for internal load balancers (and public ones for
internet-facing), a pulumi-eks Cluster in API authentication mode with an access entry per admin
principal, its OIDC provider, an AL2023 managed node group, control plane logs as configured, and the
ClusterAddons (EBS CSI driver, gp3 class, Load Balancer Controller, Pod Identity agent when used).

Adopt (the seed article's situation): look up the endpoint, CA and OIDC issuer of an existing
cluster, build the Kubernetes provider, and install only the add-ons the stack lists.

Either way it hands the rest of the program a Kubernetes provider, the cluster identity workload
roles need, and the StorageClass for the Hermes volume.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx
import pulumi_eks as eks
import pulumi_kubernetes as k8s

from components.cluster_addons import ADDONS, ClusterAddons, ClusterAddonsArgs
from components.workload_identity import ClusterIdentity, IdentityMode

CLUSTER_ADMIN_POLICY = "arn:{partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly", "AmazonEKS_CNI_Policy")
AMI_TYPES = {"x86_64": eks.AmiType.AL2023_X86_64_STANDARD, "arm64": eks.AmiType.AL2023_ARM64_STANDARD}


@dataclass(frozen=True)
class HermesClusterArgs:
    source: Literal["create", "existing"]
    region: str
    kubernetes_version: str
    identity_mode: IdentityMode = "irsa"
    volume_reclaim_policy: str = "Delete"
    ssl_policy: str = "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
    tags: tuple[tuple[str, str], ...] = ()
    # create
    cluster_name: str = ""
    admin_principal_arns: tuple[str, ...] = ()
    vpc_cidr: str = "10.0.0.0/16"
    availability_zone_count: int = 2
    nat_gateways: Literal["single", "one-per-az"] = "single"
    node_architecture: Literal["x86_64", "arm64"] = "x86_64"
    node_instance_types: tuple[str, ...] = ("m7i.large",)
    node_min_size: int = 1
    node_desired_size: int = 1
    node_max_size: int = 2
    node_disk_size_gib: int = 50
    endpoint_public_access: bool = True
    endpoint_public_access_cidrs: tuple[str, ...] = ("0.0.0.0/0",)
    control_plane_log_types: tuple[str, ...] = ()
    protect: bool = False
    # existing
    existing_cluster_name: str = ""
    existing_addons: tuple[str, ...] = ()
    # The namespace whose deleted claims' EBS volumes `pulumi destroy` waits for (ClusterAddonsArgs).
    workload_namespace: str = ""


class HermesCluster(pulumi.ComponentResource):
    provider: k8s.Provider
    name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    identity: ClusterIdentity
    storage_class_name: pulumi.Output[str] | None
    addons: ClusterAddons

    def __init__(self, name: str, args: HermesClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("hermes-eks:index:HermesCluster", name, None, opts)
        self._name, self._args = name, args
        self.partition = aws.get_partition_output().partition
        if args.source == "create":
            vpc_id, ready = self._create()
            install = tuple(a for a in ADDONS if a != "pod-identity-agent" or args.identity_mode == "pod-identity")
        else:
            vpc_id, ready = self._adopt(), []
            install = args.existing_addons
        self.provider = k8s.Provider(
            f"{name}-kubernetes",
            kubeconfig=self.kubeconfig,
            # Objects are applied server-side, so fields other controllers own are left alone.
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.addons = ClusterAddons(
            f"{name}-addons",
            ClusterAddonsArgs(
                cluster=self.identity, kubernetes_version=args.kubernetes_version, region=args.region,
                vpc_id=vpc_id, install=install, volume_reclaim_policy=args.volume_reclaim_policy,
                ssl_policy=args.ssl_policy, default_storage_class=args.source == "create", depends_on=tuple(ready),
                kubeconfig=self.kubeconfig, volume_namespace=args.workload_namespace,
            ),
            opts=pulumi.ResourceOptions(parent=self, providers={"kubernetes": self.provider}),
        )
        self.storage_class_name = self.addons.storage_class.metadata.name if self.addons.storage_class else None
        self.register_outputs({"name": self.name, "kubeconfig": self.kubeconfig})

    # -----------------------------------------------------------------------------------------
    def _create(self) -> tuple[pulumi.Output[str], list[pulumi.Resource]]:
        args, name = self._args, self._name
        tags = dict(args.tags)
        protect = pulumi.ResourceOptions(parent=self, protect=args.protect)
        # Private subnets get 1/8 of the VPC each (pods take VPC IPs with the VPC CNI), public ones
        # 1/64: room for three zones of each whatever the VPC's size.
        prefix = int(args.vpc_cidr.split("/")[1])
        self.vpc = awsx.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.vpc_cidr,
            number_of_availability_zones=args.availability_zone_count,
            enable_dns_hostnames=True,  # EKS nodes and private endpoints need DNS hostnames
            enable_dns_support=True,
            subnet_strategy=awsx.ec2.SubnetAllocationStrategy.AUTO,
            subnet_specs=[
                # The Load Balancer Controller picks subnets by these role tags (its docs,
                # "Subnet auto-discovery"): internal ALBs in private subnets, public ones in public.
                awsx.ec2.SubnetSpecArgs(type=awsx.ec2.SubnetType.PRIVATE, cidr_mask=prefix + 3,
                                        tags={"kubernetes.io/role/internal-elb": "1"}),
                awsx.ec2.SubnetSpecArgs(type=awsx.ec2.SubnetType.PUBLIC, cidr_mask=prefix + 6,
                                        tags={"kubernetes.io/role/elb": "1"}),
            ],
            nat_gateways=awsx.ec2.NatGatewayConfigurationArgs(
                strategy=awsx.ec2.NatGatewayStrategy.SINGLE if args.nat_gateways == "single"
                else awsx.ec2.NatGatewayStrategy.ONE_PER_AZ
            ),
            tags=tags,
            opts=protect,
        )
        access_entries = {
            _entry_name(arn): eks.AccessEntryArgs(
                principal_arn=arn,
                type=eks.AccessEntryType.STANDARD,
                access_policies={"cluster-admin": eks.AccessPolicyAssociationArgs(
                    policy_arn=self.partition.apply(lambda p: CLUSTER_ADMIN_POLICY.format(partition=p)),
                    access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                )},
            )
            for arn in args.admin_principal_arns
        }
        self.cluster = eks.Cluster(
            f"{name}-eks",
            name=args.cluster_name,
            version=args.kubernetes_version,
            vpc_id=self.vpc.vpc_id,
            private_subnet_ids=self.vpc.private_subnet_ids,
            public_subnet_ids=self.vpc.public_subnet_ids,
            node_associate_public_ip_address=False,
            skip_default_node_group=True,
            # API mode: access entries instead of the deprecated aws-auth ConfigMap. The creating
            # principal gets admin access automatically; everyone else needs an entry.
            authentication_mode=eks.AuthenticationMode.API,
            access_entries=access_entries,
            create_oidc_provider=True,
            endpoint_private_access=True,
            endpoint_public_access=args.endpoint_public_access,
            public_access_cidrs=list(args.endpoint_public_access_cidrs) if args.endpoint_public_access else None,
            enabled_cluster_log_types=list(args.control_plane_log_types),
            deletion_protection=args.protect,
            tags=tags,
            opts=protect,
        )
        node_role = aws.iam.Role(
            f"{name}-nodes",
            assume_role_policy=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                               "Action": "sts:AssumeRole"}],
            }),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-nodes-{policy}",
                role=node_role.name,
                policy_arn=self.partition.apply(lambda p, policy=policy: f"arn:{p}:iam::aws:policy/{policy}"),
                opts=pulumi.ResourceOptions(parent=self),
            )
            for policy in NODE_POLICIES
        ]
        self.node_group = eks.ManagedNodeGroup(
            f"{name}-nodes",
            cluster=self.cluster,
            node_role=node_role,
            ami_type=AMI_TYPES[args.node_architecture].value,
            instance_types=list(args.node_instance_types),
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=args.node_min_size, desired_size=args.node_desired_size, max_size=args.node_max_size,
            ),
            subnet_ids=self.vpc.private_subnet_ids,
            disk_size=args.node_disk_size_gib,
            capacity_type="ON_DEMAND",
            labels={"hermes-eks/pool": "default"},
            tags=tags,
            # Scaling is the autoscaler's (or an operator's) business after creation.
            ignore_scaling_changes=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=attachments),
        )
        # The name is ours (`name=` above); read through an output so users of it wait for the cluster.
        self.name = self.cluster.kubeconfig_json.apply(lambda _: args.cluster_name)
        self.kubeconfig = pulumi.Output.secret(self.cluster.kubeconfig_json)
        self.identity = ClusterIdentity(
            name=self.name, oidc_provider_arn=self.cluster.oidc_provider_arn,
            oidc_issuer=self.cluster.oidc_issuer, mode=args.identity_mode,
        )
        return self.vpc.vpc_id, [self.node_group]

    def _adopt(self) -> pulumi.Output[str]:
        args = self._args
        found = aws.eks.get_cluster_output(name=args.existing_cluster_name)
        issuer_url = found.identities.apply(lambda ids: ids[0].oidcs[0].issuer)
        oidc = aws.iam.get_open_id_connect_provider_output(url=issuer_url)
        self.name = found.name
        ca_data = found.certificate_authorities.apply(lambda authorities: authorities[0].data)
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(found.name, found.endpoint, ca_data).apply(
                lambda v: json.dumps(kubeconfig(v[0], v[1], v[2], args.region))
            )
        )
        self.identity = ClusterIdentity(
            name=self.name, oidc_provider_arn=oidc.arn,
            oidc_issuer=issuer_url.apply(lambda u: u.removeprefix("https://")), mode=args.identity_mode,
        )
        return found.vpc_config.vpc_id


def kubeconfig(cluster_name: str, endpoint: str, ca_data: str, region: str) -> dict:
    """A kubeconfig that authenticates like pulumi-eks's: `aws eks get-token` at every call."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
        "users": [{"name": cluster_name, "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", cluster_name, "--region", region, "--output", "json"],
            "interactiveMode": "Never",
        }}}],
    }


def _entry_name(arn: str) -> str:
    """A stable map key for an access entry: the principal's account and name, from its ARN."""
    _, _, _, _, account, resource = arn.split(":", 5)
    return re.sub(r"[^a-z0-9-]+", "-", f"{account}-{resource}".lower()).strip("-")[:63]
