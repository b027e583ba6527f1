"""`pulumi destroy` leaks nothing: every controller keeps its permissions until what it reconciles is gone.

The AWS Load Balancer Controller deletes the ALB, its listeners, target groups and security groups
only when the Ingress is deleted, and only then clears the Ingress's finalizer (pulumi-kubernetes
awaits the deletion until the object is gone). The EBS CSI driver detaches and, with reclaim policy
Delete, deletes the EBS volume once the claim is gone. Each needs its IAM role, policy, attachment,
Pod Identity binding (and the agent), its own Deployment and the nodes it runs on until then.
Delete order is computed by tests/delete_order.py, the engine's scheduler ported.
"""

from __future__ import annotations

import pytest

from tests.conftest import stack_program
from tests.delete_order import delete_waves, deleted_after, forced_before, wave_of
from tests.harness import Program, Registered, run_program

INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
NAMESPACE = "kubernetes:core/v1:Namespace"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
RELEASE = "kubernetes:helm.sh/v3:Release"
ADDON = "aws:eks/addon:Addon"
NODES = "eks:index:ManagedNodeGroup"

# What a controller or the Hermes pod needs while it cleans up: identities, permissions, the
# controllers themselves (EKS add-ons, the Helm release), the storage class, the nodes, the cluster.
PLATFORM_TYPES = (
    "aws:iam/role:Role", "aws:iam/policy:Policy", "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/rolePolicy:RolePolicy", "aws:eks/podIdentityAssociation:PodIdentityAssociation", ADDON, RELEASE,
    "kubernetes:storage.k8s.io/v1:StorageClass", NODES, "eks:index:Cluster", "awsx:ec2:Vpc",
)

VARIANTS = {
    "dev": ("dev", {}),
    "prod": ("prod", {}),
    "dev-pod-identity-with-ingress": ("dev", {"podIdentityMode": "pod-identity", "dashboardHost": "hermes.dev.corp-internal.net",
                                              "ingressCertificateArn": "arn:aws:acm:eu-central-1:210987654321:certificate/"
                                                                       "0a1b2c3d-4e5f-6789-abcd-ef0123456789"}),
    "adopted-with-every-add-on": ("dev", {"clusterSource": "existing", "existingClusterName": "platform",
                                          "existingClusterAddons": ["ebs-csi-driver", "gp3-storage-class",
                                                                    "load-balancer-controller", "pod-identity-agent"],
                                          "podIdentityMode": "pod-identity",
                                          # An Ingress, so the controller installed here has one to outlive.
                                          "dashboardHost": "hermes.platform.corp-internal.net",
                                          "ingressCertificateArn": "arn:aws:acm:eu-central-1:210987654321:certificate/"
                                                                   "0a1b2c3d-4e5f-6789-abcd-ef0123456789"}),
}
WITHOUT_INGRESS = {"dev"}  # Pulumi.dev.yaml sets no dashboardHost or apiHost


def program(variant: str) -> Program:
    stack, config = VARIANTS[variant]
    return stack_program(stack) if not config else run_program(stack, config)


def hermes_objects(p: Program) -> list[Registered]:
    component = p.one("hermes-eks:index:HermesAgent")
    return [r for r in p.resources if r.parent == component.urn and r.type.startswith("kubernetes:")]


def children_of(p: Program, component_type: str) -> list[Registered]:
    urns = {r.urn for r in p.of_type(component_type)}
    found, grew = [], True
    while grew:
        grew = False
        for r in p.resources:
            if r.parent in urns and r.urn not in urns:
                urns.add(r.urn)
                found.append(r)
                grew = True
    return found


@pytest.fixture(params=VARIANTS, scope="module")
def aws_program(request) -> Program:
    return program(request.param)


# --- the controllers, their credentials and their nodes outlive what they reconcile ----------------

def test_the_load_balancer_controller_and_everything_it_needs_outlive_the_ingress(aws_program, request):
    variant = request.node.callspec.params["aws_program"]
    ingresses = aws_program.of_type(INGRESS)
    assert bool(ingresses) == (variant not in WITHOUT_INGRESS), variant
    if not ingresses:
        pytest.skip(f"{variant} has no Ingress")
    controller = [r for r in children_of(aws_program, "hermes-eks:index:ClusterAddons") if "load-balancer-controller" in r.name]
    assert {r.type for r in controller} >= {RELEASE, "aws:iam/role:Role", "aws:iam/policy:Policy",
                                            "aws:iam/rolePolicyAttachment:RolePolicyAttachment"}
    problems = [p for credential in [*controller, *aws_program.of_type(NODES)]
                for p in deleted_after(aws_program.resources, credential, ingresses)]
    assert problems == []


def test_the_ebs_csi_driver_and_everything_it_needs_outlive_the_volume_claim_and_the_pod_mounting_it(aws_program):
    users = [aws_program.one(PVC), aws_program.one(DEPLOYMENT)]
    driver = [r for r in children_of(aws_program, "hermes-eks:index:ClusterAddons")
              if "ebs-csi" in r.name or r.type == "kubernetes:storage.k8s.io/v1:StorageClass"]
    assert {r.type for r in driver} >= {ADDON, "aws:iam/role:Role", "aws:iam/rolePolicyAttachment:RolePolicyAttachment"}
    problems = [p for credential in [*driver, *aws_program.of_type(NODES)]
                for p in deleted_after(aws_program.resources, credential, users)]
    assert problems == []


def test_under_pod_identity_the_agent_outlives_every_object_of_hermes(aws_program):
    agents = [r for r in aws_program.of_type(ADDON) if r.plain["addonName"] == "eks-pod-identity-agent"]
    if not agents:
        pytest.skip("no Pod Identity agent in this stack")
    assert [p for p in deleted_after(aws_program.resources, agents[0], hermes_objects(aws_program))] == []


def test_every_credential_controller_and_node_of_the_stack_outlives_every_kubernetes_object_of_hermes(aws_program):
    """The class: nothing Hermes' objects need while being deleted may go first (TargetGroupBindings
    and the claim live in the namespace, whose deletion waits for their finalizers)."""
    platform = [r for r in children_of(aws_program, "hermes-eks:index:HermesCluster") if r.type in PLATFORM_TYPES]
    assert {r.type for r in platform} >= {ADDON, RELEASE, "aws:iam/role:Role"}
    problems = [p for credential in platform for p in deleted_after(aws_program.resources, credential, hermes_objects(aws_program))]
    assert problems == []


def test_the_hermes_pods_bedrock_role_permissions_and_binding_outlive_the_pod(aws_program):
    bedrock = children_of(aws_program, "hermes-eks:index:BedrockAccess")
    assert bedrock
    assert [p for r in bedrock for p in deleted_after(aws_program.resources, r, [aws_program.one(DEPLOYMENT)])] == []


def test_the_hermes_pod_is_gone_before_its_volume_claim_is_deleted(aws_program):
    # pulumi-kubernetes deletes with propagationPolicy Foreground (provider/pkg/metadata/overrides.go),
    # so the Deployment is gone only when its pods are; then the claim is released at once.
    assert forced_before(aws_program.resources, aws_program.one(DEPLOYMENT), aws_program.one(PVC))


def test_the_local_stack_still_deletes_hermes_before_its_namespace():
    local = stack_program("local")
    waves = wave_of(delete_waves(local.resources))
    namespace = local.one(NAMESPACE)
    assert all(waves[r.urn] < waves[namespace.urn] for r in hermes_objects(local) if r is not namespace)


# --- the port of the engine's scheduler itself -------------------------------------------------------

def _r(urn: str, parent: str = "", deps: tuple[str, ...] = (), custom: bool = True, provider: str = "") -> Registered:
    return Registered(type="t", name=urn, inputs={}, outputs={}, parent=parent, dependencies=list(deps),
                      urn=urn, custom=custom, provider=provider)


def test_scheduler_deletes_dependents_first_and_reverses_the_creation_layers():
    # role <- attachment; role <- release <- ingress (the shape of the Load Balancer Controller before the fix).
    resources = [_r("role"), _r("attachment", deps=("role",)), _r("release", deps=("role",)), _r("ingress", deps=("release",))]
    waves = [[r.urn for r in wave] for wave in delete_waves(resources)]
    assert waves == [["ingress"], ["attachment", "release"], ["role"]]
    assert not forced_before(resources, resources[3], resources[1])  # nothing makes the attachment wait


def test_scheduler_deletes_children_before_their_parent_and_users_before_their_provider():
    resources = [_r("component", custom=False), _r("provider", parent="component"),
                 _r("object", parent="component", provider="provider::id-1")]
    waves = [[r.urn for r in wave] for wave in delete_waves(resources)]
    assert waves == [["object"], ["provider"], ["component"]]


def test_scheduler_treats_a_dependency_on_a_component_as_one_on_its_earlier_children():
    resources = [_r("component", custom=False), _r("child", parent="component"), _r("user", deps=("component",))]
    assert forced_before(resources, resources[2], resources[1])
