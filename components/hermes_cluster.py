"""HermesCluster: an EKS cluster with everything Hermes needs, created from nothing or adopted by name.

Create: a VPC laid out by `subnet_layout` (node subnets, small subnets for internal load balancers,
public ones for internet-facing load balancers and NAT), a pulumi-eks Cluster in API authentication
mode with an access entry per admin principal (never its creator: see `cluster_creator`), its OIDC
provider, the VPC CNI with NetworkPolicy enforcement, one AL2023 managed node group per node zone,
control plane logs as configured, and the ClusterAddons (EBS CSI driver, a gp3 class whose volumes
are only made in the node zones, Load Balancer Controller, Pod Identity agent when used). Every EKS
add-on version comes from components/addon_versions.py, never "most recent".

Adopt (the seed article's situation): look up the endpoint, CA, Kubernetes version and (IRSA only)
OIDC provider of an existing cluster, build the Kubernetes provider, and install only the add-ons
the stack lists, at the versions pinned for the cluster's real Kubernetes version.

Either way it hands the rest of the program a Kubernetes provider, the cluster identity workload
roles need, and the StorageClass for the Hermes volume.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Literal, NamedTuple

import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx
import pulumi_eks as eks
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.addon_versions import KUBE_PROXY, VPC_CNI, addon_version
from components.cluster_addons import ADDONS, ClusterAddons, ClusterAddonsArgs
from components.workload_identity import ClusterIdentity, IdentityMode

CLUSTER_ADMIN_POLICY = "arn:{partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
# Read-only: no Secrets, no writes (EKS User Guide, access-policy-permissions). A server-side dry run is
# authorized like the write itself (Kubernetes api-concepts, dry-run authorization), so pulumi-kubernetes
# previews with this policy fall back to a client-side preview on 403 (pulumi/pulumi-kubernetes
# provider/pkg/provider/provider.go, Create ~1800 and Update ~2455).
CLUSTER_VIEW_POLICY = "arn:{partition}:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly", "AmazonEKS_CNI_Policy")
AMI_TYPES = {"x86_64": eks.AmiType.AL2023_X86_64_STANDARD, "arm64": eks.AmiType.AL2023_ARM64_STANDARD}
# The cluster already existed when this stack first recorded who created it (see cluster_creator).
UNKNOWN_CREATOR = "unknown"


@dataclass(frozen=True)
class HermesClusterArgs:
    source: Literal["create", "existing"]
    region: str
    kubernetes_version: str
    identity_mode: IdentityMode = "irsa"
    volume_reclaim_policy: str = "Delete"
    ssl_policy: str = "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
    tags: tuple[tuple[str, str], ...] = ()
    volume_tags: tuple[tuple[str, str], ...] = ()  # on every EBS volume the gp3 class provisions
    # create
    cluster_name: str = ""
    admin_principal_arns: tuple[str, ...] = ()
    viewer_principal_arns: tuple[str, ...] = ()
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
    control_plane_log_retention_days: int = 30
    protect: bool = False
    node_zone_count: int = 1  # the first N zones get a node group each, and only they hold volumes
    creator: str = UNKNOWN_CREATOR  # the principal creating the cluster, from cluster_creator()
    addon_versions: tuple[tuple[str, str], ...] = ()  # overrides of components/addon_versions.py
    # existing
    existing_cluster_name: str = ""
    existing_addons: tuple[str, ...] = ()
    # The namespace whose deleted claims' EBS volumes `pulumi destroy` waits for (ClusterAddonsArgs).
    workload_namespace: str = ""
    more_workload_namespaces: tuple[str, ...] = ()  # further Hermes instances' namespaces


class SubnetLayout(NamedTuple):
    """Every subnet's CIDR, one per zone in zone order."""

    nodes: list[str]  # private: nodes and pods (pods take VPC IPs with the VPC CNI)
    load_balancers: list[str]  # isolated: internal load balancers only
    public: list[str]  # internet-facing load balancers and the NAT gateways


def subnet_layout(vpc_cidr: str, zone_count: int) -> SubnetLayout:
    """Node subnets get 1/8 of the VPC each; the last eighth is cut into 1/64s for load balancers and
    public subnets. Room for three zones whatever the VPC's size, and no pod or node ever takes an
    address in a load balancer subnet: the NetworkPolicy admits those subnets and nothing else."""
    eighths = list(ipaddress.ip_network(vpc_cidr).subnets(prefixlen_diff=3))
    small = list(eighths[7].subnets(prefixlen_diff=3))
    return SubnetLayout(
        nodes=[str(block) for block in eighths[:zone_count]],
        load_balancers=[str(block) for block in small[:zone_count]],
        public=[str(block) for block in small[3:3 + zone_count]],
    )


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
        self.zones: list[str] = []
        self.node_zones: list[str] = []
        if args.source == "create":
            vpc_id, ready = self._create()
            kubernetes_version = pulumi.Output.from_input(args.kubernetes_version)
            install = tuple(a for a in ADDONS if a != "pod-identity-agent" or args.identity_mode == "pod-identity")
        else:
            vpc_id, kubernetes_version, ready = *self._adopt(), []
            install = args.existing_addons
        self._vpc_id = vpc_id
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
                cluster=self.identity, kubernetes_version=kubernetes_version, region=args.region,
                vpc_id=vpc_id, install=install, volume_reclaim_policy=args.volume_reclaim_policy,
                ssl_policy=args.ssl_policy, default_storage_class=args.source == "create", depends_on=tuple(ready),
                volume_tags=args.volume_tags,
                addon_versions=args.addon_versions, volume_zones=tuple(self.node_zones),
                kubeconfig=self.kubeconfig, volume_namespace=args.workload_namespace,
                more_volume_namespaces=args.more_workload_namespaces,
            ),
            opts=pulumi.ResourceOptions(parent=self, providers={"kubernetes": self.provider}),
        )
        self.storage_class_name = self.addons.storage_class.metadata.name if self.addons.storage_class else None
        self.register_outputs({"name": self.name, "kubeconfig": self.kubeconfig})

    def load_balancer_source_cidrs(self, scheme: str) -> pulumi.Output[list[str]]:
        """Where the ALB's connections to the pod (target type ip) come from.

        Created cluster: the subnets the Load Balancer Controller puts the ALB in, found by their role
        tag (its docs, "Subnet auto-discovery"): the load balancer subnets for `internal`, the public
        ones for `internet-facing`. Adopted cluster: the load balancer may be in any of its subnets, so
        the whole VPC (narrow it with ingressSourceCidrs).
        """
        if self._args.source == "create":
            return pulumi.Output.from_input(list(self.layout.load_balancers if scheme == "internal" else self.layout.public))
        return aws.ec2.get_vpc_output(id=self._vpc_id).cidr_block.apply(lambda cidr: [cidr])

    # -----------------------------------------------------------------------------------------
    def _create(self) -> tuple[pulumi.Output[str], list[pulumi.Resource]]:
        args, name = self._args, self._name
        tags = dict(args.tags)
        protect = pulumi.ResourceOptions(parent=self, protect=args.protect)
        # The zones are named here, not left to awsx, so each node group can be put in exactly one of
        # them. Local and Wavelength zones are opt-in and excluded.
        self.zones = list(aws.get_availability_zones(
            state="available", filters=[aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])],
        ).names[:args.availability_zone_count])
        self.node_zones = self.zones[:args.node_zone_count]
        self.layout = subnet_layout(args.vpc_cidr, len(self.zones))
        self.vpc = awsx.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.vpc_cidr,
            availability_zone_names=self.zones,
            enable_dns_hostnames=True,  # EKS nodes and private endpoints need DNS hostnames
            enable_dns_support=True,
            subnet_strategy=awsx.ec2.SubnetAllocationStrategy.AUTO,
            subnet_specs=[
                # awsx lists each type's subnet ids in zone order (pulumi/pulumi-awsx awsx/ec2/vpc.ts,
                # the subnet loop over availabilityZones): private_subnet_ids[i] is in zones[i].
                awsx.ec2.SubnetSpecArgs(type=awsx.ec2.SubnetType.PRIVATE, name="nodes", cidr_blocks=self.layout.nodes),
                # The Load Balancer Controller picks subnets by these role tags (its docs, "Subnet
                # auto-discovery"). Internal ALBs get subnets of their own, with no route out: they
                # only talk to clients and pods inside the VPC.
                awsx.ec2.SubnetSpecArgs(type=awsx.ec2.SubnetType.ISOLATED, name="load-balancers",
                                        cidr_blocks=self.layout.load_balancers,
                                        tags={"kubernetes.io/role/internal-elb": "1"}),
                awsx.ec2.SubnetSpecArgs(type=awsx.ec2.SubnetType.PUBLIC, name="public", cidr_blocks=self.layout.public,
                                        tags={"kubernetes.io/role/elb": "1"}),
            ],
            nat_gateways=awsx.ec2.NatGatewayConfigurationArgs(
                strategy=awsx.ec2.NatGatewayStrategy.SINGLE if args.nat_gateways == "single"
                else awsx.ec2.NatGatewayStrategy.ONE_PER_AZ
            ),
            tags=tags,
            opts=protect,
        )
        # Who created the cluster, in state. It follows the caller until the cluster exists (a first
        # `up` that failed before creating it may be retried by someone else), then is kept for good
        # (ignore_changes): a later `up` by CI or Pulumi Deployments neither rewrites nor loses it.
        cluster_exists = args.creator == UNKNOWN_CREATOR
        creator = random.RandomId(
            f"{name}-creator",
            byte_length=4,
            keepers={"principal": args.creator},
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["keepers"] if cluster_exists else []),
        )
        # Every access entry waits for this check, so a listed creator stops the update before
        # CreateAccessEntry answers 409 (see refuse_listed_creator).
        checked = creator.keepers.apply(
            lambda keepers: refuse_listed_creator((keepers or {}).get("principal", UNKNOWN_CREATOR),
                                                  args.admin_principal_arns, args.cluster_name)
        )

        def access_entry(arn: str, association: str, policy: str) -> eks.AccessEntryArgs:
            return eks.AccessEntryArgs(
                principal_arn=checked.apply(lambda _: arn),
                type=eks.AccessEntryType.STANDARD,
                access_policies={association: eks.AccessPolicyAssociationArgs(
                    policy_arn=self.partition.apply(lambda p: policy.format(partition=p)),
                    access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                )},
            )

        access_entries = {
            _entry_name(arn): access_entry(arn, "cluster-admin", CLUSTER_ADMIN_POLICY) for arn in args.admin_principal_arns
        } | {
            _entry_name(arn): access_entry(arn, "view", CLUSTER_VIEW_POLICY) for arn in args.viewer_principal_arns
        }
        # With logging on, EKS writes to /aws/eks/<name>/cluster and creates that group itself, with no
        # retention (kept forever), when it does not exist yet (amazon-eks-user-guide, control-plane-logs):
        # the stack creates it first, with one.
        cluster_opts = protect
        self.control_plane_log_group = None
        if args.control_plane_log_types:
            self.control_plane_log_group = aws.cloudwatch.LogGroup(
                f"{name}-control-plane-logs",
                name=f"/aws/eks/{args.cluster_name}/cluster",
                retention_in_days=args.control_plane_log_retention_days,
                tags=tags,
                opts=protect,
            )
            cluster_opts = pulumi.ResourceOptions.merge(
                protect, pulumi.ResourceOptions(depends_on=[self.control_plane_log_group]))
        versions = dict(args.addon_versions)
        self.cluster = eks.Cluster(
            f"{name}-eks",
            name=args.cluster_name,
            version=args.kubernetes_version,
            vpc_id=self.vpc.vpc_id,
            private_subnet_ids=self.vpc.private_subnet_ids,
            public_subnet_ids=self.vpc.public_subnet_ids,
            node_associate_public_ip_address=False,
            skip_default_node_group=True,
            # API mode: access entries instead of the deprecated aws-auth ConfigMap. pulumi-eks sets
            # bootstrapClusterCreatorAdminPermissions whenever authenticationMode is set
            # (nodejs/eks/cluster/cluster.ts, accessConfig; pulumi/pulumi-eks#2373): the creator has
            # an entry already, everyone else needs one.
            authentication_mode=eks.AuthenticationMode.API,
            access_entries=access_entries,
            create_oidc_provider=True,
            # pulumi-eks creates the vpc-cni and kube-proxy add-ons itself and, unless given a version,
            # resolves the most recent one on every run (cluster.ts, cni-addon.ts): pin both. Network
            # policy support makes the VPC CNI enforce the Hermes NetworkPolicy (otherwise it is
            # accepted and ignored; awsdocs amazon-eks-user-guide cni-network-policy.adoc).
            vpc_cni_options=eks.VpcCniOptionsArgs(
                addon_version=addon_version(VPC_CNI, args.kubernetes_version, versions),
                enable_network_policy=True,
            ),
            kube_proxy_addon_options=eks.KubeProxyAddonOptionsArgs(
                version=addon_version(KUBE_PROXY, args.kubernetes_version, versions),
            ),
            # Without a default node group pulumi-eks makes no coredns add-on (cluster.ts): the
            # self-managed coredns EKS installs at creation stays, and nothing upgrades it by itself.
            coredns_addon_options=eks.CoreDnsAddonOptionsArgs(enabled=False),
            endpoint_private_access=True,
            endpoint_public_access=args.endpoint_public_access,
            public_access_cidrs=list(args.endpoint_public_access_cidrs) if args.endpoint_public_access else None,
            enabled_cluster_log_types=list(args.control_plane_log_types),
            deletion_protection=args.protect,
            tags=tags,
            opts=cluster_opts,
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
        # One managed node group per node zone, each in that zone's subnet only. An EBS volume is
        # zonal and the gp3 class makes volumes only in these zones, so whatever zone the Hermes
        # volume is in always has min_size >= 1 nodes; a replaced or upgraded node (the group surges
        # a new one first) comes back in the same zone. One group spanning zones could put the only
        # node in another zone: "volume node affinity conflict", Pending (the Cluster Autoscaler's
        # AWS docs give the same advice: a node group per zone for EBS-backed workloads).
        self.node_groups = [
            eks.ManagedNodeGroup(
                f"{name}-nodes-{zone}",
                cluster=self.cluster,
                node_role=node_role,
                ami_type=AMI_TYPES[args.node_architecture].value,
                instance_types=list(args.node_instance_types),
                scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                    min_size=args.node_min_size, desired_size=args.node_desired_size, max_size=args.node_max_size,
                ),
                subnet_ids=self.vpc.private_subnet_ids.apply(lambda ids, index=index: [ids[index]]),
                disk_size=args.node_disk_size_gib,
                capacity_type="ON_DEMAND",
                labels={"hermes-eks/pool": "default"},
                tags=tags,
                # Scaling is the autoscaler's (or an operator's) business after creation.
                ignore_scaling_changes=True,
                opts=pulumi.ResourceOptions(parent=self, depends_on=attachments),
            )
            for index, zone in enumerate(self.node_zones)
        ]
        # The name is ours (`name=` above); read through an output so users of it wait for the cluster.
        self.name = self.cluster.kubeconfig_json.apply(lambda _: args.cluster_name)
        self.kubeconfig = pulumi.Output.secret(self.cluster.kubeconfig_json)
        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        self.identity = ClusterIdentity(
            name=self.name,
            arn=pulumi.Output.all(self.partition, account_id, self.name).apply(
                lambda v: eks_cluster_arn(v[0], args.region, v[1], v[2])),
            oidc_provider_arn=self.cluster.oidc_provider_arn,
            oidc_issuer=self.cluster.oidc_issuer, mode=args.identity_mode,
        )
        return self.vpc.vpc_id, list(self.node_groups)

    def _adopt(self) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
        args = self._args
        found = aws.eks.get_cluster_output(name=args.existing_cluster_name)
        issuer_url = found.identities.apply(lambda ids: ids[0].oidcs[0].issuer)
        # Only IRSA trusts the IAM OIDC provider; a Pod Identity cluster often has none registered,
        # and the lookup fails when there is none.
        oidc_arn = None
        if args.identity_mode == "irsa":
            oidc_arn = aws.iam.get_open_id_connect_provider_output(url=issuer_url).arn
        self.name = found.name
        ca_data = found.certificate_authorities.apply(lambda authorities: authorities[0].data)
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(found.name, found.endpoint, ca_data).apply(
                lambda v: json.dumps(kubeconfig(v[0], v[1], v[2], args.region))
            )
        )
        self.identity = ClusterIdentity(
            name=self.name, arn=found.arn, oidc_provider_arn=oidc_arn,
            oidc_issuer=issuer_url.apply(lambda u: u.removeprefix("https://")), mode=args.identity_mode,
        )
        # The cluster's real Kubernetes version picks the add-on versions, not kubernetesVersion.
        return found.vpc_config.vpc_id, found.version


# ---------------------------------------------------------------------------------------------
# Who created the cluster. EKS gives its creator an admin access entry of its own (pulumi-eks sets
# bootstrapClusterCreatorAdminPermissions), so listing the creator in clusterAdminPrincipalArns makes
# CreateAccessEntry fail with 409 ResourceInUseException, after the cluster exists: a half-built
# stack. The creator is the principal of the first `up`; it is recorded in state then and checked on
# every later run, whoever runs it.
# ---------------------------------------------------------------------------------------------

class CreatorListedError(ValueError):
    def __init__(self, listed: str, creator: str, cluster_name: str):
        self.listed, self.creator = listed, creator
        super().__init__(
            f"clusterAdminPrincipalArns lists {listed}, the principal that creates cluster {cluster_name} "
            f"({creator}): EKS already gives the creator an admin access entry, and a second one fails with "
            "409 ResourceInUseException. Remove it from the list (list every OTHER principal that runs "
            "Pulumi or kubectl), or run the first `pulumi up` as a principal that is not listed"
        )


def principal_identity(arn: str) -> tuple[str, str, str] | None:
    """(account, "role" or "user", name) of an IAM role or user ARN, or of the STS assumed-role ARN
    `aws sts get-caller-identity` reports for a role session. An assumed-role ARN carries no role
    path, so roles are compared by account and name."""
    parts = arn.split(":", 5)
    if len(parts) != 6:
        return None
    service, account, resource = parts[2], parts[4], parts[5]
    kind, _, rest = resource.partition("/")
    if service == "sts" and kind == "assumed-role" and rest:
        return account, "role", rest.split("/", 1)[0]
    if service == "iam" and kind in ("role", "user") and rest:
        return account, kind, rest.rsplit("/", 1)[-1]
    return None


def listed_principal(principal: str, admin_principal_arns: tuple[str, ...]) -> str | None:
    """The entry of `admin_principal_arns` that names `principal`, if any."""
    who = principal_identity(principal)
    if who is None:
        return None
    return next((arn for arn in admin_principal_arns if principal_identity(arn) == who), None)


def refuse_listed_creator(creator: str, admin_principal_arns: tuple[str, ...], cluster_name: str) -> str:
    listed = listed_principal(creator, admin_principal_arns)
    if listed:
        raise CreatorListedError(listed, creator, cluster_name)
    return creator


def cluster_creator(cluster_name: str) -> str:
    """The principal that will create `cluster_name`: the caller, while the cluster does not exist.

    Called before anything is registered (so `pulumi preview` already refuses a listed creator).
    Once the cluster exists the caller is only whoever runs this `up`; the creator recorded in state
    at the first `up` is what counts then.
    """
    if cluster_name in (aws.eks.get_clusters().names or []):
        return UNKNOWN_CREATOR
    return aws.get_caller_identity().arn


def eks_cluster_arn(partition: str, region: str, account_id: str, cluster_name: str) -> str:
    """Service Authorization Reference, Amazon EKS resource type `cluster`:
    arn:${Partition}:eks:${Region}:${Account}:cluster/${ClusterName}."""
    return f"arn:{partition}:eks:{region}:{account_id}:cluster/{cluster_name}"


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
