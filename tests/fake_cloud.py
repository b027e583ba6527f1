"""Realistic answers for the mocked engine: what AWS, EKS, ECR and Kubernetes would hand back.

Remote components (eks:index:Cluster, eks:index:ManagedNodeGroup, awsx:ec2:Vpc) have no children under
mocks; their outputs are what real deployments return, in the engine's camelCase.
"""

from __future__ import annotations

import base64
import hashlib
import json

ACCOUNT = "210987654321"  # not AWS's documentation account, which settings/ refuses as a placeholder
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


# Which deployment of the stack this run is: 0, the first; a test that replays a teardown and a new
# `pulumi up` (FakeAccount) sets it, so values drawn on create (RandomId) differ as they would.
DEPLOYMENT = 0


class InvokeFailure(Exception):
    """A data source's own error (not found, not authorized): the engine hands it to the program as a
    failed invoke, which the program may catch (pulumi SDK runtime/invoke.py), not as a crash."""


class ImageTagAlreadyExists(Exception):
    """What ECR answers a push to a tag an IMMUTABLE repository already holds, even for the same image
    (ImageTagAlreadyExistsException; aws/containers-roadmap#2380)."""


class FakeEcr:
    """The account's ECR registry across program runs: repositories, and the tags pushed to each.

    A run starts with an empty registry unless the test hands one over (harness `run_program(ecr=...)`),
    which is how a sequence of `pulumi up`s (A -> B -> A, an interrupted `up`) is replayed.
    """

    def __init__(self):
        self.repositories: dict[str, dict[str, str]] = {}  # name -> tag -> digest
        self.pushes: list[str] = []  # every "<repository>:<tag>" pushed, in order

    @staticmethod
    def digest(repository: str, tag: str) -> str:
        return "sha256:" + hashlib.sha256(f"{repository}:{tag}".encode()).hexdigest()

    def create_repository(self, name: str) -> None:
        self.repositories.setdefault(name, {})

    def push(self, reference: str) -> str:
        """Push `<registry>/<repository>:<tag>`; returns the manifest digest."""
        path, tag = reference.rsplit(":", 1)
        repository = path.split("/", 1)[1]
        if repository not in self.repositories:
            raise KeyError(f"RepositoryNotFoundException: {repository}")
        tags = self.repositories[repository]
        if tag in tags:
            raise ImageTagAlreadyExists(
                f"ImageTagAlreadyExistsException: The image tag '{tag}' already exists in the '{repository}' "
                "repository and cannot be overwritten because the repository is immutable."
            )
        tags[tag] = self.digest(repository, tag)
        self.pushes.append(f"{repository}:{tag}")
        return tags[tag]


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


def resource(type_: str, name: str, inputs: dict, ecr: FakeEcr | None = None) -> tuple[str, dict]:
    """(id, outputs) for a registration of `type_`; ECR repositories and pushes go to `ecr`."""
    ecr = ecr if ecr is not None else FakeEcr()
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
        ecr.create_repository(repo_name)
    elif type_ == "docker-build:index:Image":
        tags = inputs.get("tags") or ["registry/image:tag"]
        repository = tags[0].rsplit(":", 1)[0]
        digest = image_digest(inputs)
        if inputs.get("push"):
            # docker-build builds and pushes every tag on create and on any update (pulumi-docker-build
            # provider/internal/image.go, Diff and Update).
            digest = [ecr.push(tag) for tag in tags][0]
        state.update(digest=digest, ref=f"{repository}@{digest}")
    elif type_ == "random:index/randomId:RandomId":
        # A RandomId created afresh (a new deployment after a teardown) draws a new value.
        state.update(hex=_hex(name if DEPLOYMENT == 0 else f"{name}#{DEPLOYMENT}", int(inputs["byteLength"])))
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
    elif type_ == "aws:budgets/budgetAction:BudgetAction":
        # ActionId is a UUID; the action's ARN is the budget's plus /action/<id> (service authorization
        # reference, list_awsbudgetservice.html, resource type budgetAction).
        h = _hex(name, 16)
        action_id = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
        state.update(actionId=action_id, arn=f"arn:aws:budgets::{ACCOUNT}:budget/{inputs['budgetName']}/action/{action_id}")
    elif type_ == "aws:ebs/volume:Volume":
        rid = "vol-0restored" + _hex(name, 4)
        state["arn"] = f"arn:aws:ec2:{inputs.get('availabilityZone', 'eu-central-1a')[:-1]}:{ACCOUNT}:volume/{rid}"
    elif type_.startswith("aws:"):
        state.setdefault("arn", f"arn:aws:{type_.split(':')[1].split('/')[0]}:eu-central-1:{ACCOUNT}:{name}")
    return rid, state


# Bedrock, as the account's Region answers: model ids it does not offer, and each geographic
# profile's destination Regions (tests override both; the default routes like GEO_REGIONS' snapshot).
BEDROCK_UNAVAILABLE: set[str] = set()
BEDROCK_PROFILE_REGIONS: dict[str, tuple[str, ...]] = {}

# ACM: the primary name of each ISSUED certificate -> its ARN (tests override).
ACM_CERTIFICATES: dict[str, str] = {
    "*.corp-internal.org": f"arn:aws:acm:eu-central-1:{ACCOUNT}:certificate/11111111-2222-4333-8444-555555555555",
    "*.corp-internal.net": f"arn:aws:acm:eu-central-1:{ACCOUNT}:certificate/66666666-7777-4888-9999-000000000000",
}


def _bedrock_profile(args: dict) -> dict:
    from components.bedrock_access import GEO_REGIONS, GLOBAL_SOURCE_REGIONS, parse_model_id

    profile_id, region = args["inferenceProfileId"], args.get("region") or "eu-central-1"
    if profile_id in BEDROCK_UNAVAILABLE:
        raise InvokeFailure(f"reading Bedrock Inference Profile ({profile_id}): operation error Bedrock: "
                          "GetInferenceProfile, ResourceNotFoundException: Inference profile not found")
    geo, foundation_model = parse_model_id(profile_id)
    regions = BEDROCK_PROFILE_REGIONS.get(profile_id) or GEO_REGIONS.get(geo) or GLOBAL_SOURCE_REGIONS
    return {
        "inferenceProfileId": profile_id, "inferenceProfileName": profile_id, "id": profile_id, "region": region,
        "inferenceProfileArn": f"arn:aws:bedrock:{region}:{ACCOUNT}:inference-profile/{profile_id}",
        "models": [{"modelArn": f"arn:aws:bedrock:{r}::foundation-model/{foundation_model}"} for r in regions],
        "status": "ACTIVE", "type": "SYSTEM_DEFINED", "description": "", "createdAt": "", "updatedAt": "",
    }


def invoke(token: str, args: dict, ecr: FakeEcr | None = None) -> dict:
    """The result of a data-source call (`aws.get_*`) as AWS would answer it."""
    ecr = ecr if ecr is not None else FakeEcr()
    if token == "aws:bedrock/getInferenceProfile:getInferenceProfile":
        return _bedrock_profile(args)
    if token == "aws:bedrockfoundation/getModel:getModel":
        model_id, region = args["modelId"], args.get("region") or "eu-central-1"
        if model_id in BEDROCK_UNAVAILABLE:
            raise InvokeFailure(f"reading Bedrock Foundation Model ({model_id}): ValidationException: "
                              "The provided model identifier is invalid.")
        return {"modelId": model_id, "id": model_id, "modelArn": f"arn:aws:bedrock:{region}::foundation-model/{model_id}",
                "modelName": model_id, "providerName": model_id.split(".")[0], "region": region}
    if token == "aws:acm/getCertificate:getCertificate":
        domain = args["domain"]
        if domain not in ACM_CERTIFICATES:
            raise InvokeFailure(f"no ACM Certificate matching domain ({domain})")
        return {"arn": ACM_CERTIFICATES[domain], "id": ACM_CERTIFICATES[domain], "domain": domain, "status": "ISSUED"}
    if token == "aws:ecr/getRepositories:getRepositories":
        return {"names": sorted(ecr.repositories), "id": "eu-central-1", "region": "eu-central-1"}
    if token == "aws:ecr/getImages:getImages":
        name = args["repositoryName"]
        if name not in ecr.repositories:  # ListImages: RepositoryNotFoundException
            raise InvokeFailure(f"RepositoryNotFoundException: The repository with name '{name}' does not exist")
        return {"repositoryName": name, "id": name, "registryId": ACCOUNT,
                "imageIds": [{"imageTag": tag, "imageDigest": digest} for tag, digest in ecr.repositories[name].items()]}
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


class AlreadyExists(Exception):
    """What AWS answers a create whose name the account already uses in that Region
    (CreateBackupVault, CreateLogGroup, CreateAlias: AlreadyExistsException / ResourceAlreadyExistsException)."""


# Resource types whose name AWS keeps unique per account and Region (or per account: IAM, Budgets), and
# the input that holds the name. Types left out are named by AWS (ids) or not unique by name.
UNIQUE_NAMES = {
    "aws:backup/vault:Vault": "name",  # API_CreateBackupVault.html: AlreadyExistsException
    "aws:cloudwatch/logGroup:LogGroup": "name",  # CreateLogGroup: ResourceAlreadyExistsException
    "aws:kms/alias:Alias": "name",  # CreateAlias: AlreadyExistsException
    "aws:budgets/budget:Budget": "name",
    "aws:iam/role:Role": "name",
    "aws:iam/policy:Policy": "name",
}
GLOBAL_TYPES = {"aws:budgets/budget:Budget", "aws:iam/role:Role", "aws:iam/policy:Policy"}


class FakeAccount:
    """The named resources of one AWS account across `pulumi up`s and `pulumi destroy`s.

    `up(program)` creates what a first `pulumi up` of the program's registrations would and refuses a
    name the account already holds in that Region (AlreadyExists), as AWS does; `destroy(program)`
    deletes what `pulumi destroy` deletes and leaves what is `retain_on_delete` in the account, no
    longer in any stack's state."""

    def __init__(self, default_region: str = "eu-central-1"):
        self.default_region = default_region
        self.names: dict[tuple[str, str, str], str] = {}  # (type, region, name) -> owning stack URN

    def _named(self, program) -> list[tuple[tuple[str, str, str], object]]:
        regions = {r.urn: r.plain.get("region") for r in program.resources if r.type == "pulumi:providers:aws"}
        named = []
        for r in program.resources:
            field = UNIQUE_NAMES.get(r.type)
            name = r.plain.get(field) if field else None  # given names only: AWS-generated ones never collide
            if not name:
                continue
            provider = r.provider.rsplit("::", 1)[0] if r.provider else ""
            region = "" if r.type in GLOBAL_TYPES else (regions.get(provider) or self.default_region)
            named.append(((r.type, region, name), r))
        return named

    def up(self, program) -> None:
        for key, resource in self._named(program):
            if key in self.names:
                raise AlreadyExists(f"{key[0]} {key[2]!r} already exists in {key[1] or 'the account'} "
                                    f"(kept from an earlier deployment); creating {resource.name} fails")
            self.names[key] = resource.urn

    def destroy(self, program) -> None:
        """`pulumi destroy` in the engine's waves (tests/delete_order.py), with the CloudWatch add-on's
        Fluent Bit as AWS runs it: its pods keep writing, and create any missing log group
        (`auto_create_group true`, helm-charts values.yaml at amazon-cloudwatch-observability-4.10.3),
        from before the add-on is deleted until they are gone: after a Command waiting for them, or
        with the nodes (the cluster or its node groups). Resources of one wave are deleted together."""
        from tests.delete_order import delete_waves  # noqa: PLC0415 - delete_order imports the harness, which imports this

        named = {resource.urn: key for key, resource in self._named(program)}
        writers = "absent"
        if any(_is_cloudwatch_addon(r) for r in program.resources):
            writers = "running"
        for wave in delete_waves(program.resources):
            for resource in wave:
                key = named.get(resource.urn)
                if key is None or resource.retain_on_delete:
                    continue
                recreated = (writers != "absent" and key[0] == "aws:cloudwatch/logGroup:LogGroup"
                             and key[2].startswith("/aws/containerinsights/"))
                if recreated:
                    self.names[key] = "created by Fluent Bit during the destroy"
                else:
                    self.names.pop(key, None)
            if any(_is_cloudwatch_addon(r) for r in wave) and writers == "running":
                writers = "terminating"
            if writers == "terminating" and any(_waits_for_cloudwatch_pods(r) for r in wave):
                writers = "absent"
            if any(r.type in ("eks:index:Cluster", "eks:index:ManagedNodeGroup") for r in wave):
                writers = "absent"

    def kept(self, type_: str) -> list[tuple[str, str]]:
        """(region, name) of every resource of `type_` still in the account."""
        return sorted((region, name) for (t, region, name) in self.names if t == type_)


def _is_cloudwatch_addon(resource) -> bool:
    return resource.type == "aws:eks/addon:Addon" and resource.plain.get("addonName") == "amazon-cloudwatch-observability"


def _waits_for_cloudwatch_pods(resource) -> bool:
    """A Command whose delete waits until the add-on's namespace has no pods left."""
    plain = resource.plain
    return (resource.type == "command:local:Command" and "--for=delete pod" in (plain.get("delete") or "")
            and (plain.get("environment") or {}).get("NAMESPACE") == "amazon-cloudwatch")
