"""Realistic answers for the mocked engine: what AWS, EKS, ECR and Kubernetes would hand back.

Remote components (eks:index:Cluster, eks:index:ManagedNodeGroup, awsx:ec2:Vpc) have no children under
mocks; their outputs are what real deployments return, in the engine's camelCase.
"""

from __future__ import annotations

import base64
import hashlib
import json

ACCOUNT = "210987654321"  # not AWS's documentation account, which settings.py refuses as a placeholder
CLUSTER_NAME = "hermes-dev"
OIDC_ISSUER = "oidc.eks.eu-central-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"


def image_digest(build_inputs: dict) -> str:
    """A digest that, like a real build's, changes with what is built (the registry login aside)."""
    built = {k: v for k, v in build_inputs.items() if k != "registries"}
    return "sha256:" + hashlib.sha256(json.dumps(built, sort_keys=True, default=str).encode()).hexdigest()
CA_DATA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIfake\n-----END CERTIFICATE-----\n").decode()


# EBS: snapshot id -> (source volume id, size in GiB); volume id -> zone. The volume of
# snap-0feedface0000dead was deleted since.
SNAPSHOTS = {"snap-0123456789abcdef0": ("vol-0aaaabbbbccccdddd", 20),
             "snap-0feedface0000dead": ("vol-0deleted00000000", 20),
             "snap-0b16b16b16b16b16b": ("vol-0aaaabbbbccccdddd", 200)}
VOLUME_ZONES = {"vol-0aaaabbbbccccdddd": "eu-central-1b"}

REMOTE_COMPONENTS = {"eks:index:Cluster", "eks:index:ManagedNodeGroup", "awsx:ec2:Vpc"}

# What the account looks like; tests change these with pytest's monkeypatch.
# The caller as STS reports a role session: an assumed-role ARN, with no role path.
CALLER_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/ci"
EXISTING_CLUSTERS: list[str] = []  # EKS clusters already in the region (aws.eks.get_clusters)
# The creator an earlier `up` recorded in state (the hermes-creator record), or None: a first `up`.
RECORDED_CREATOR: str | None = None
ZONES = ["eu-central-1a", "eu-central-1b", "eu-central-1c"]
EXISTING_VPC_CIDR = "172.31.0.0/16"
EXISTING_CLUSTER_VERSION = "1.34"  # the Kubernetes version aws.eks.get_cluster reports


def _hex(seed: str, length: int) -> str:
    digest = b""
    counter = 0
    while len(digest) < length:
        digest += hashlib.sha256(f"{seed}/{counter}".encode()).digest()
        counter += 1
    return digest[:length].hex()


def _region(inputs: dict) -> str:
    return inputs.get("region") or "eu-central-1"


def kubeconfig(cluster_name: str, endpoint: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": CA_DATA}}],
        "contexts": [{"name": "aws", "context": {"cluster": cluster_name, "user": "aws"}}],
        "current-context": "aws",
        "users": [{"name": "aws", "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", cluster_name, "--output", "json"],
        }}}],
    }


def resource(type_: str, name: str, inputs: dict) -> tuple[str, dict]:
    """(id, outputs) for a registration of `type_`."""
    # A custom resource's outputs include its inputs; a remote component's are only its own outputs
    # (awsx's `natGateways` output, say, is a list of resources, not the input's configuration).
    state = {} if type_ in REMOTE_COMPONENTS else dict(inputs)
    rid = f"{name}-id"

    if type_.startswith("kubernetes:") and "metadata" in inputs:
        metadata = dict(inputs.get("metadata") or {})
        metadata.setdefault("name", f"{name}-{_hex(name, 4)[:8]}")  # the provider's auto-naming
        state["metadata"] = metadata
        rid = f"{metadata.get('namespace', '')}/{metadata['name']}".lstrip("/")
    elif type_ == "random:index/randomBytes:RandomBytes":
        raw = bytes.fromhex(_hex(name, int(inputs["length"])))
        state.update(hex=raw.hex(), base64=base64.b64encode(raw).decode())
    elif type_ == "random:index/randomPassword:RandomPassword":
        state["result"] = base64.b64encode(bytes.fromhex(_hex(name, 48))).decode().replace("+", "a").replace("/", "b")[: int(inputs["length"])]
    elif type_ == "aws:iam/role:Role":
        state.update(arn=f"arn:aws:iam::{ACCOUNT}:role/{inputs.get('name') or name + '-a1b2c3d'}", name=inputs.get("name") or f"{name}-a1b2c3d", uniqueId="AROAEXAMPLE")
    elif type_ == "aws:iam/policy:Policy":
        state["arn"] = f"arn:aws:iam::{ACCOUNT}:policy/{inputs.get('name') or name + '-a1b2c3d'}"
    elif type_ == "aws:ecr/repository:Repository":
        repo_name = inputs.get("name") or name
        state.update(
            arn=f"arn:aws:ecr:eu-central-1:{ACCOUNT}:repository/{repo_name}",
            registryId=ACCOUNT,
            repositoryUrl=f"{ACCOUNT}.dkr.ecr.eu-central-1.amazonaws.com/{repo_name}",
            name=repo_name,
        )
    elif type_ == "docker-build:index:Image":
        repository = (inputs.get("tags") or ["registry/image:tag"])[0].rsplit(":", 1)[0]
        digest = image_digest(inputs)
        state.update(digest=digest, ref=f"{repository}@{digest}")
    elif type_ == "random:index/randomId:RandomId":
        state.update(hex=_hex(name, int(inputs["byteLength"])))
        if RECORDED_CREATOR is not None and "principal" in (inputs.get("keepers") or {}):
            state["keepers"] = {"principal": RECORDED_CREATOR}  # ignore_changes keeps the first value
    elif type_ == "awsx:ec2:Vpc":
        # awsx lists each kind of subnet in zone order (awsx/ec2/vpc.ts); the ids name their zone.
        zones = inputs.get("availabilityZoneNames") or ZONES[: int(inputs.get("numberOfAvailabilityZones") or 2)]
        kinds = {spec["type"] for spec in inputs.get("subnetSpecs") or []} or {"Private", "Public"}
        state.update(
            vpcId="vpc-0123456789abcdef0",
            privateSubnetIds=[f"subnet-private-{zone}" for zone in zones] if "Private" in kinds else [],
            publicSubnetIds=[f"subnet-public-{zone}" for zone in zones] if "Public" in kinds else [],
            isolatedSubnetIds=[f"subnet-isolated-{zone}" for zone in zones] if "Isolated" in kinds else [],
        )
    elif type_ == "eks:index:Cluster":
        endpoint = "https://EXAMPLE0123456789.gr7.eu-central-1.eks.amazonaws.com"
        config = kubeconfig(inputs.get("name") or CLUSTER_NAME, endpoint)
        state.update(
            kubeconfig=config,
            kubeconfigJson=json.dumps(config),
            oidcProviderArn=f"arn:aws:iam::{ACCOUNT}:oidc-provider/{OIDC_ISSUER}",
            oidcProviderUrl=f"https://{OIDC_ISSUER}",
            oidcIssuer=OIDC_ISSUER,
            clusterSecurityGroupId="sg-0cluster0000000000",
            nodeSecurityGroupId="sg-0node000000000000",
            clusterIngressRuleId="sgr-0ingress",
        )
    elif type_ == "aws:ebs/volume:Volume":
        rid = "vol-0restored" + _hex(name, 4)
        state["arn"] = f"arn:aws:ec2:{inputs.get('availabilityZone', 'eu-central-1a')[:-1]}:{ACCOUNT}:volume/{rid}"
    elif type_.startswith("aws:"):
        state.setdefault("arn", f"arn:aws:{type_.split(':')[1].split('/')[0]}:eu-central-1:{ACCOUNT}:{name}")
    return rid, state


def invoke(token: str, args: dict) -> dict:
    """The result of a data-source call (`aws.get_*`) as AWS would answer it."""
    if token == "aws:index/getCallerIdentity:getCallerIdentity":
        return {"accountId": ACCOUNT, "arn": CALLER_ARN, "userId": "AROAEXAMPLE:ci", "id": ACCOUNT}
    if token == "aws:eks/getClusters:getClusters":
        return {"names": list(EXISTING_CLUSTERS), "id": "eu-central-1"}
    if token == "aws:ec2/getVpc:getVpc":
        return {"id": args["id"], "cidrBlock": EXISTING_VPC_CIDR, "arn": f"arn:aws:ec2:eu-central-1:{ACCOUNT}:vpc/{args['id']}"}
    if token == "aws:index/getPartition:getPartition":
        return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
    if token == "aws:index/getRegion:getRegion":
        return {"name": "eu-central-1", "region": "eu-central-1", "id": "eu-central-1"}
    if token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
        return {"userName": "AWS", "password": "fake-ecr-token", "proxyEndpoint": f"https://{ACCOUNT}.dkr.ecr.eu-central-1.amazonaws.com",
                "authorizationToken": "QVdTOmZha2U=", "id": ACCOUNT, "expiresAt": "2026-11-24T00:00:00Z"}
    if token == "aws:eks/getCluster:getCluster":
        name = args["name"]
        return {
            "name": name,
            "arn": f"arn:aws:eks:eu-central-1:{ACCOUNT}:cluster/{name}",
            "endpoint": "https://EXISTING0123456789.gr7.eu-central-1.eks.amazonaws.com",
            "certificateAuthorities": [{"data": CA_DATA}],
            "identities": [{"oidcs": [{"issuer": f"https://{OIDC_ISSUER}"}]}],
            "vpcConfig": {"vpcId": "vpc-0existing00000000", "subnetIds": ["subnet-a", "subnet-b"],
                          "clusterSecurityGroupId": "sg-0existing", "endpointPrivateAccess": True,
                          "endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"], "securityGroupIds": []},
            "version": EXISTING_CLUSTER_VERSION,
            "accessConfigs": [{"authenticationMode": "API"}],
            "id": name,
        }
    if token == "aws:iam/getOpenIdConnectProvider:getOpenIdConnectProvider":
        url = args.get("url", f"https://{OIDC_ISSUER}")
        return {"arn": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{url.removeprefix('https://')}", "url": url.removeprefix("https://"),
                "clientIdLists": ["sts.amazonaws.com"], "thumbprintLists": [], "id": "x"}
    if token == "aws:eks/getAddonVersion:getAddonVersion":
        versions = {"aws-ebs-csi-driver": "v1.53.0-eksbuild.1", "eks-pod-identity-agent": "v1.3.10-eksbuild.2"}
        return {"addonName": args["addonName"], "kubernetesVersion": args["kubernetesVersion"],
                "version": versions.get(args["addonName"], "v1.0.0-eksbuild.1"), "id": args["addonName"]}
    if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
        return {"names": list(ZONES), "zoneIds": ["euc1-az2", "euc1-az3", "euc1-az1"], "id": "eu-central-1"}
    if token == "aws:ebs/getSnapshot:getSnapshot":
        snapshot = args["snapshotIds"][0]
        if snapshot not in SNAPSHOTS:
            raise Exception(f"reading EBS Snapshots: InvalidSnapshot.NotFound: The snapshot '{snapshot}' does not exist.")
        volume, size = SNAPSHOTS[snapshot]
        return {"snapshotId": snapshot, "id": snapshot, "volumeId": volume, "volumeSize": size, "encrypted": True,
                "state": "completed", "ownerId": ACCOUNT, "arn": f"arn:aws:ec2:eu-central-1::snapshot/{snapshot}"}
    if token == "aws:ebs/getEbsVolumes:getEbsVolumes":
        wanted = args["filters"][0]["values"]
        return {"ids": [v for v in wanted if v in VOLUME_ZONES], "id": "eu-central-1"}
    if token == "aws:ebs/getVolume:getVolume":
        volume = args["filters"][0]["values"][0]
        return {"volumeId": volume, "id": volume, "availabilityZone": VOLUME_ZONES[volume], "size": 20,
                "type": "gp3", "encrypted": True, "arn": f"arn:aws:ec2:eu-central-1:{ACCOUNT}:volume/{volume}"}
    raise NotImplementedError(f"tests/fake_cloud.py has no answer for invoke {token}: add one")
