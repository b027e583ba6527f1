"""HermesCluster and ClusterAddons: the EKS cluster and what Hermes needs on it, as dev/prod register them.

eks:index:Cluster, eks:index:ManagedNodeGroup and awsx:ec2:Vpc are remote components: under mocks
they are boundaries whose inputs we check and whose outputs tests/fake_cloud.py supplies.
"""

from __future__ import annotations

import functools
import ipaddress
import json

import pytest

from components.addon_versions import ADDON_VERSIONS
from components.cluster_addons import LOAD_BALANCER_CONTROLLER_POLICY, load_balancer_controller_policy
from components.hermes_cluster import subnet_layout
from tests import fake_cloud
from tests.harness import Program, is_secret, reveal, run_program

CLUSTER, VPC, NODES = "eks:index:Cluster", "awsx:ec2:Vpc", "eks:index:ManagedNodeGroup"
ADDON, ROLE, RELEASE = "aws:eks/addon:Addon", "aws:iam/role:Role", "kubernetes:helm.sh/v3:Release"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
ISSUER = fake_cloud.OIDC_ISSUER
OIDC_ARN = f"arn:aws:iam::{fake_cloud.ACCOUNT}:oidc-provider/{ISSUER}"
ADMINS = "arn:aws:iam::210987654321:role/platform-admins"  # prod's SITE_VALUES (tests/harness.py)


@functools.cache
def stack(name: str, **config) -> Program:
    return run_program(name, config)


def existing(**config) -> Program:
    return stack("dev", clusterSource="existing", existingClusterName="platform-dev", **config)


def trust(role) -> dict:
    return json.loads(role.plain["assumeRolePolicy"])


def role_for(program: Program, name: str):
    return program.one(ROLE, name)


# --- the cluster ---------------------------------------------------------------------------------

def test_dev_creates_an_api_mode_cluster_with_oidc_and_no_default_node_group():
    cluster = stack("dev").one(CLUSTER).plain
    assert cluster["name"] == "hermes-dev"
    assert cluster["version"] == "1.34"
    assert cluster["authenticationMode"] == "API"
    assert cluster["skipDefaultNodeGroup"] is True
    assert cluster["createOidcProvider"] is True
    assert cluster["endpointPrivateAccess"] is True and cluster["endpointPublicAccess"] is True
    assert cluster["enabledClusterLogTypes"] == []
    assert cluster["deletionProtection"] is False
    assert cluster["vpcId"] == "vpc-0123456789abcdef0"
    assert cluster["privateSubnetIds"] == ["subnet-private-eu-central-1a", "subnet-private-eu-central-1b"]
    assert cluster["accessEntries"] == {}


def test_prod_logs_the_control_plane_and_protects_cluster_vpc_and_deletion():
    program = stack("prod")
    cluster = program.one(CLUSTER)
    assert cluster.plain["enabledClusterLogTypes"] == ["api", "audit", "authenticator"]
    assert cluster.plain["deletionProtection"] is True
    assert cluster.protect and program.one(VPC).protect
    assert not stack("dev").one(CLUSTER).protect and not stack("dev").one(VPC).protect


def test_every_admin_principal_gets_a_cluster_admin_access_entry():
    entries = stack("prod").one(CLUSTER).plain["accessEntries"]
    assert entries == {"210987654321-role-platform-admins": {
        "principalArn": ADMINS,
        "type": "STANDARD",
        "accessPolicies": {"cluster-admin": {
            "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
            "accessScope": {"type": "cluster"},
        }},
    }}


def test_public_endpoint_cidrs_follow_config():
    cluster = stack("dev", endpointPublicAccessCidrs=("198.18.0.0/24",)).one(CLUSTER).plain
    assert cluster["publicAccessCidrs"] == ["198.18.0.0/24"]


# --- the network ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "zones", "nat"), [("dev", 2, "Single"), ("prod", 3, "OnePerAz")])
def test_vpc_zones_nat_and_load_balancer_subnet_tags(name, zones, nat):
    vpc = stack(name).one(VPC).plain
    assert vpc["availabilityZoneNames"] == fake_cloud.ZONES[:zones]
    assert "numberOfAvailabilityZones" not in vpc  # awsx refuses both together
    assert vpc["natGateways"] == {"strategy": nat}
    assert vpc["enableDnsHostnames"] is True
    specs = {spec["type"]: spec for spec in vpc["subnetSpecs"]}
    # Internal ALBs get subnets of their own (no pod or node there); nodes' subnets carry no role tag.
    assert "tags" not in specs["Private"]
    assert specs["Isolated"]["tags"] == {"kubernetes.io/role/internal-elb": "1"}
    assert specs["Public"]["tags"] == {"kubernetes.io/role/elb": "1"}
    assert all(len(spec["cidrBlocks"]) == zones for spec in specs.values())


@pytest.mark.parametrize("vpc_cidr", ["10.0.0.0/16", "10.8.0.0/20", "172.20.0.0/18"])
def test_subnet_layout_gives_every_zone_disjoint_subnets_inside_the_vpc(vpc_cidr):
    layout = subnet_layout(vpc_cidr, 3)
    vpc = ipaddress.ip_network(vpc_cidr)
    blocks = [ipaddress.ip_network(b) for b in (*layout.nodes, *layout.load_balancers, *layout.public)]
    assert all(block.subnet_of(vpc) for block in blocks)
    assert not any(a.overlaps(b) for i, a in enumerate(blocks) for b in blocks[i + 1:])
    assert {b.prefixlen for b in map(ipaddress.ip_network, layout.nodes)} == {vpc.prefixlen + 3}
    assert {b.prefixlen for b in map(ipaddress.ip_network, layout.public)} == {vpc.prefixlen + 6}
    # An ALB subnet needs at least a /27 with 8 free addresses (AWS Load Balancer Controller docs).
    assert all(ipaddress.ip_network(b).prefixlen <= 27 for b in layout.load_balancers)


def test_subnet_sizes_scale_with_the_vpc():
    specs = {s["type"]: s for s in stack("dev", vpcCidr="10.8.0.0/20").one(VPC).plain["subnetSpecs"]}
    assert specs["Private"]["cidrBlocks"] == ["10.8.0.0/23", "10.8.2.0/23"]
    assert specs["Isolated"]["cidrBlocks"] == ["10.8.14.0/26", "10.8.14.64/26"]
    assert specs["Public"]["cidrBlocks"] == ["10.8.14.192/26", "10.8.15.0/26"]


# --- nodes ---------------------------------------------------------------------------------------

def test_managed_node_groups_are_al2023_one_per_node_zone_with_their_own_role():
    program = stack("prod")
    groups = {group.name: group.plain for group in program.of_type(NODES)}
    assert set(groups) == {"hermes-nodes-eu-central-1a", "hermes-nodes-eu-central-1b"}
    for zone in ("eu-central-1a", "eu-central-1b"):
        nodes = groups[f"hermes-nodes-{zone}"]
        assert nodes["amiType"] == "AL2023_x86_64_STANDARD"
        assert nodes["instanceTypes"] == ["m7i.xlarge"]
        assert nodes["scalingConfig"] == {"minSize": 1, "desiredSize": 1, "maxSize": 2}
        assert nodes["diskSize"] == 80
        assert nodes["subnetIds"] == [f"subnet-private-{zone}"]
        assert nodes["capacityType"] == "ON_DEMAND"
    node_role = role_for(program, "hermes-nodes")
    assert trust(node_role)["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    attached = {a.plain["policyArn"] for a in program.of_type(ATTACHMENT) if a.name.startswith("hermes-nodes-")}
    assert attached == {f"arn:aws:iam::aws:policy/{p}" for p in
                        ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly", "AmazonEKS_CNI_Policy")}


def test_arm64_nodes_get_the_arm_ami():
    nodes = stack("dev", nodeArchitecture="arm64", nodeInstanceTypes=("m7g.large",)).one(NODES).plain
    assert nodes["amiType"] == "AL2023_ARM_64_STANDARD"


# --- add-ons -------------------------------------------------------------------------------------

def addons(program: Program) -> dict[str, dict]:
    """The ClusterAddons' EKS add-ons (the CloudWatch one is Observability's: tests/test_observability.py)."""
    return {a.plain["addonName"]: a.plain for a in program.of_type(ADDON) if "ClusterAddons" in a.parent}


def test_dev_installs_the_ebs_csi_driver_with_its_own_irsa_role_and_no_pod_identity_agent():
    program = stack("dev")
    found = addons(program)
    assert set(found) == {"aws-ebs-csi-driver"}
    ebs = found["aws-ebs-csi-driver"]
    assert ebs["addonVersion"] == ADDON_VERSIONS["1.34"]["aws-ebs-csi-driver"]
    assert ebs["clusterName"] == fake_cloud.CLUSTER_NAME
    role = role_for(program, "hermes-addons-ebs-csi")
    assert ebs["serviceAccountRoleArn"] == role.outputs["arn"]
    assert trust(role)["Statement"][0]["Condition"] == {"StringEquals": {
        f"{ISSUER}:aud": "sts.amazonaws.com", f"{ISSUER}:sub": "system:serviceaccount:kube-system:ebs-csi-controller-sa"}}
    assert program.one(ATTACHMENT, "hermes-addons-ebs-csi").plain["policyArn"] == \
        "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"


def test_prod_uses_pod_identity_for_the_ebs_csi_driver_and_installs_the_agent():
    program = stack("prod")
    found = addons(program)
    assert set(found) == {"aws-ebs-csi-driver", "eks-pod-identity-agent"}
    role = role_for(program, "hermes-addons-ebs-csi")
    assert found["aws-ebs-csi-driver"]["podIdentityAssociations"] == [
        {"roleArn": role.outputs["arn"], "serviceAccount": "ebs-csi-controller-sa"}]
    assert trust(role)["Statement"] == [{
        "Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:TagSession"],
        "Condition": {"StringEquals": {
            "aws:RequestTag/eks-cluster-arn": "arn:aws:eks:eu-central-1:210987654321:cluster/hermes-prod",
            "aws:RequestTag/kubernetes-namespace": "kube-system",
            "aws:RequestTag/kubernetes-service-account": "ebs-csi-controller-sa",
        }},
    }]


@pytest.mark.parametrize(("name", "reclaim", "zones"), [
    ("dev", "Delete", ["eu-central-1a"]), ("prod", "Retain", ["eu-central-1a", "eu-central-1b"])])
def test_encrypted_gp3_storage_class_on_the_csi_driver(name, reclaim, zones):
    program = stack(name)
    storage_class = program.one(STORAGE_CLASS).plain
    assert storage_class == {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": "gp3", "labels": {"app.kubernetes.io/managed-by": "pulumi-hermes-eks"},
                     "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "ebs.csi.aws.com",
        "parameters": {"type": "gp3", "encrypted": "true", "csi.storage.k8s.io/fstype": "ext4",
                       # the stack's backup plan selects the volumes by this tag
                       "tagSpecification_1": f"hermes-eks/backup=hermes-eks-{name}"},
        "volumeBindingMode": "WaitForFirstConsumer",
        "allowedTopologies": [{"matchLabelExpressions": [
            {"key": "topology.kubernetes.io/zone", "values": zones}]}],
        "allowVolumeExpansion": True,
        "reclaimPolicy": reclaim,
    }
    claim = program.one("kubernetes:core/v1:PersistentVolumeClaim")
    assert claim.plain["spec"]["storageClassName"] == "gp3"
    assert program.one(STORAGE_CLASS).urn in claim.dependencies


def test_load_balancer_controller_release_is_pinned_with_stable_webhook_certs():
    program = stack("dev")
    release = program.one(RELEASE).plain
    assert (release["chart"], release["version"]) == ("aws-load-balancer-controller", "3.5.0")
    assert release["repositoryOpts"] == {"repo": "https://aws.github.io/eks-charts"}
    assert release["namespace"] == "kube-system" and release["atomic"] is True
    role = role_for(program, "hermes-addons-load-balancer-controller")
    assert release["values"] == {
        "clusterName": fake_cloud.CLUSTER_NAME,
        "region": "eu-central-1",
        "vpcId": "vpc-0123456789abcdef0",
        "serviceAccount": {"create": True, "name": "aws-load-balancer-controller",
                           "annotations": {"eks.amazonaws.com/role-arn": role.outputs["arn"]}},
        "keepTLSSecret": True,
        "replicaCount": 2,
        "podDisruptionBudget": {"maxUnavailable": 1},
        "defaultTargetType": "ip",
        "defaultSSLPolicy": "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09",
        "enableServiceMutatorWebhook": False,
    }
    assert trust(role)["Statement"][0]["Condition"]["StringEquals"][f"{ISSUER}:sub"] == \
        "system:serviceaccount:kube-system:aws-load-balancer-controller"


def test_load_balancer_controller_policy_is_the_vendored_file():
    policy = stack("dev").one("aws:iam/policy:Policy", "hermes-addons-load-balancer-controller").plain
    assert policy["policy"] == LOAD_BALANCER_CONTROLLER_POLICY.read_text()
    document = load_balancer_controller_policy()
    assert document["Version"] == "2012-10-17" and len(document["Statement"]) == 16


def test_prod_binds_the_controller_with_pod_identity():
    program = stack("prod")
    association = program.one(ASSOCIATION, "hermes-addons-load-balancer-controller").plain
    assert (association["namespace"], association["serviceAccount"]) == ("kube-system", "aws-load-balancer-controller")
    assert program.one(RELEASE).plain["values"]["serviceAccount"]["annotations"] == {}
    assert trust(role_for(program, "hermes-addons-load-balancer-controller"))["Statement"][0]["Condition"] == {
        "StringEquals": {
            "aws:RequestTag/eks-cluster-arn": "arn:aws:eks:eu-central-1:210987654321:cluster/hermes-prod",
            "aws:RequestTag/kubernetes-namespace": "kube-system",
            "aws:RequestTag/kubernetes-service-account": "aws-load-balancer-controller",
        }}


def test_kubernetes_objects_use_the_clusters_kubeconfig():
    program = stack("dev")
    providers = [r for r in program.of_type("pulumi:providers:kubernetes")]
    assert [p.name for p in providers] == ["hermes-kubernetes"]
    assert json.loads(providers[0].plain["kubeconfig"])["clusters"][0]["name"] == fake_cloud.CLUSTER_NAME
    namespace = program.one("kubernetes:core/v1:Namespace")
    assert namespace.urn.startswith("urn:pulumi:dev::hermes-eks::hermes-eks:index:HermesAgent$")


# --- an existing cluster -------------------------------------------------------------------------

def test_existing_cluster_creates_nothing_cluster_wide_by_default():
    program = existing()
    assert not program.of_type(CLUSTER) and not program.of_type(VPC) and not program.of_type(NODES)
    assert not program.of_type(ADDON) and not program.of_type(RELEASE) and not program.of_type(STORAGE_CLASS)
    assert ("aws:eks/getCluster:getCluster", {"name": "platform-dev"}) in [
        (token, {k: v for k, v in args.items() if k == "name"}) for token, args in program.invokes]
    assert "storageClassName" not in program.one("kubernetes:core/v1:PersistentVolumeClaim").plain["spec"]


def test_existing_cluster_kubeconfig_comes_from_the_lookup():
    program = existing()
    config = json.loads(program.one("pulumi:providers:kubernetes").plain["kubeconfig"])
    assert config["clusters"][0]["cluster"] == {
        "server": "https://EXISTING0123456789.gr7.eu-central-1.eks.amazonaws.com",
        "certificate-authority-data": fake_cloud.CA_DATA}
    assert config["users"][0]["user"]["exec"]["args"] == [
        "eks", "get-token", "--cluster-name", "platform-dev", "--region", "eu-central-1", "--output", "json"]
    assert is_secret(program.outputs["kubeconfig"])


def test_existing_cluster_installs_only_the_listed_addons_and_trusts_its_oidc_issuer():
    program = existing(existingClusterAddons=("ebs-csi-driver", "gp3-storage-class"))
    assert set(addons(program)) == {"aws-ebs-csi-driver"}
    assert program.one(STORAGE_CLASS).plain["metadata"]["annotations"] == {
        "storageclass.kubernetes.io/is-default-class": "false"}
    assert not program.of_type(RELEASE)
    role = role_for(program, "hermes-addons-ebs-csi")
    assert trust(role)["Statement"][0]["Principal"] == {"Federated": OIDC_ARN}


def test_adopting_a_pod_identity_cluster_needs_no_iam_oidc_provider():
    program = existing(podIdentityMode="pod-identity", existingClusterAddons=("ebs-csi-driver", "pod-identity-agent"))
    tokens = [token for token, _ in program.invokes]
    assert "aws:eks/getCluster:getCluster" in tokens
    assert "aws:iam/getOpenIdConnectProvider:getOpenIdConnectProvider" not in tokens
    role = role_for(program, "hermes-addons-ebs-csi")
    assert trust(role)["Statement"][0]["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    # The adopted cluster's ARN is the one EKS reports (aws.eks.get_cluster), not one spelled here.
    assert trust(role)["Statement"][0]["Condition"]["StringEquals"]["aws:RequestTag/eks-cluster-arn"] == \
        "arn:aws:eks:eu-central-1:210987654321:cluster/platform-dev"


def test_adopting_an_irsa_cluster_looks_up_its_oidc_provider():
    tokens = [token for token, _ in existing(existingClusterAddons=("ebs-csi-driver",)).invokes]
    assert "aws:iam/getOpenIdConnectProvider:getOpenIdConnectProvider" in tokens


# --- outputs -------------------------------------------------------------------------------------

def test_kubeconfig_is_a_secret_output_and_cluster_name_is_exported():
    program = stack("dev")
    assert is_secret(program.outputs["kubeconfig"])
    assert json.loads(reveal(program.outputs["kubeconfig"]))["kind"] == "Config"
    assert program.outputs["cluster_name"] == fake_cloud.CLUSTER_NAME
    assert program.outputs["write_kubeconfig"] == (
        f"aws eks update-kubeconfig --region eu-central-1 --name {fake_cloud.CLUSTER_NAME} --kubeconfig hermes-eks-dev.kubeconfig")
    assert program.outputs["open_dashboard"] == (
        "kubectl --kubeconfig hermes-eks-dev.kubeconfig -n hermes port-forward svc/hermes-dashboard 9119:9119")


# --- a first `up`: the add-ons install alongside the node groups ------------------------------------

@pytest.mark.parametrize("name", ["dev", "prod"])
def test_eks_add_ons_wait_neither_for_the_nodes_nor_for_each_other(name):
    """EKS accepts an add-on once the cluster is ACTIVE and pulumi-aws waits through CREATING/DEGRADED
    until ACTIVE (terraform-provider-aws internal/service/eks/addon.go, waitAddonCreated): waiting for the
    nodes first, or for another add-on, only lengthens a first `up` (scripts/critical_path.py)."""
    from tests.delete_order import forced_before  # noqa: PLC0415 - a transitive dependency

    program = stack(name)
    nodes = program.of_type("eks:index:ManagedNodeGroup")
    installed = [a for a in program.of_type(ADDON) if a.name.startswith("hermes-addons-")]
    assert len(installed) == (2 if name == "prod" else 1)
    for addon in installed:
        assert not [n.name for n in nodes if forced_before(program.resources, addon, n)], addon.name
        assert not [o.name for o in installed if o is not addon and forced_before(program.resources, addon, o)], addon.name
    release = program.one(RELEASE)
    assert not [a.name for a in installed if forced_before(program.resources, release, a)]
    assert all(forced_before(program.resources, release, n) for n in nodes)  # an atomic install waits for pods


@pytest.mark.parametrize("mode", ["irsa", "pod-identity"])
def test_on_destroy_the_volume_wait_still_precedes_the_driver_the_agent_and_the_nodes(mode):
    """The driver deletes the released volumes (dev: reclaim policy Delete) on its nodes, with the agent's
    credentials under Pod Identity."""
    from tests.delete_order import forced_before  # noqa: PLC0415

    program = stack("dev", podIdentityMode=mode)
    wait = program.one("command:local:Command", "hermes-addons-released-volumes")
    must_outlive = [*program.of_type("eks:index:ManagedNodeGroup"), *[a for a in program.of_type(ADDON)
                                                                       if a.name.startswith("hermes-addons-")]]
    assert all(forced_before(program.resources, wait, r) for r in must_outlive)
