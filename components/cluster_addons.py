"""ClusterAddons: the cluster-wide pieces Hermes needs on EKS, each with its own least-privilege identity.

- `ebs-csi-driver`: the aws-ebs-csi-driver EKS add-on. EKS ships no CSI driver, and the in-tree EBS
  provisioner cannot make gp3 volumes (seed-review 7; pulumi-eks issue #510).
- `gp3-storage-class`: an encrypted gp3 StorageClass on ebs.csi.aws.com, WaitForFirstConsumer (the
  volume is made in the zone the pod is scheduled to), expandable, reclaim policy from config, and on
  a created cluster restricted to the zones that have a node group of their own (allowedTopologies).
- `pod-identity-agent`: the eks-pod-identity-agent add-on, needed for EKS Pod Identity.
- `load-balancer-controller`: the AWS Load Balancer Controller (Helm), which turns the Hermes Ingress
  into an ALB; its IAM policy is vendored from the same release (components/vendor/).

Each controller is installed after, and removed before, its role, policy, attachment and Pod Identity
binding; workloads depend on the whole component and on the nodes (`ready_for_workloads`), so `pulumi
destroy` removes what the controllers clean up (Ingress, claims) while they still can. With reclaim
policy Delete a Command also waits, on destroy, for the deleted claims' EBS volumes, and outlives the
agent and the nodes' deletion order needs (it depends on them).

The EKS add-ons do not wait for the nodes, nor for each other: EKS accepts an add-on once the cluster
is ACTIVE, and pulumi-aws's Addon waits while it is CREATING or DEGRADED (no nodes for its pods yet)
until it is ACTIVE (hashicorp/terraform-provider-aws internal/service/eks/addon.go, waitAddonCreated:
Pending CREATING, DEGRADED; Target ACTIVE; 20 minutes), so they install while the node groups are
created. Only the Load Balancer Controller's Helm release waits for the nodes (an atomic install with a
timeout). scripts/critical_path.py prints what that does to a first `pulumi up`.

On a created cluster all of them are installed (the agent only in pod-identity mode); on an adopted
cluster only those its stack lists in `existingClusterAddons`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_command as command
import pulumi_kubernetes as k8s

from components.addon_versions import EBS_CSI_DRIVER, POD_IDENTITY_AGENT, addon_version
from components.labels import MANAGED_BY
from components.workload_identity import ClusterIdentity, WorkloadRole

ADDONS = ("ebs-csi-driver", "gp3-storage-class", "pod-identity-agent", "load-balancer-controller")

# kubernetes-sigs/aws-load-balancer-controller v3.5.0: chart 3.5.0 (appVersion v3.5.0) from the
# eks-charts repository, and docs/install/iam_policy.json at tag v3.5.0, vendored byte for byte.
LOAD_BALANCER_CONTROLLER_CHART = "aws-load-balancer-controller"
LOAD_BALANCER_CONTROLLER_CHART_VERSION = "3.5.0"
LOAD_BALANCER_CONTROLLER_REPOSITORY = "https://aws.github.io/eks-charts"
LOAD_BALANCER_CONTROLLER_POLICY = Path(__file__).parent / "vendor" / "aws-load-balancer-controller-iam-policy.json"
LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT = "aws-load-balancer-controller"

# AWS managed policy for the EBS CSI controller (awsdocs amazon-eks-user-guide, ebs-csi.adoc).
EBS_CSI_POLICY_ARN = "arn:{partition}:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
EBS_CSI_SERVICE_ACCOUNT = "ebs-csi-controller-sa"
GP3_STORAGE_CLASS = "gp3"
# The zone label every node carries; the EBS CSI driver reports and honours it as a topology key
# (kubernetes-sigs/aws-ebs-csi-driver pkg/driver: WellKnownZoneTopologyKey in NodeGetInfo and in
# CreateVolume's pickAvailabilityZone).
ZONE_TOPOLOGY_KEY = "topology.kubernetes.io/zone"
# Waits, on `pulumi destroy`, for the EBS volumes of deleted claims (reclaim policy Delete) to be gone.
WAIT_FOR_RELEASED_VOLUMES = Path(__file__).parent / "wait_for_released_volumes.sh"
RELEASED_VOLUMES_TIMEOUT_SECONDS = 900


@dataclass(frozen=True)
class ClusterAddonsArgs:
    cluster: ClusterIdentity
    kubernetes_version: pulumi.Input[str]  # the cluster's: picks the pinned add-on versions
    region: str
    vpc_id: pulumi.Input[str]
    install: tuple[str, ...] = ADDONS
    volume_reclaim_policy: str = "Delete"
    default_storage_class: bool = True  # False on an adopted cluster, which may have a default already
    ssl_policy: str = "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
    depends_on: tuple[pulumi.Resource, ...] = ()  # the node groups: the Helm release and the workloads need them
    volume_tags: tuple[tuple[str, str], ...] = ()  # put on every EBS volume the gp3 class provisions
    addon_versions: tuple[tuple[str, str], ...] = ()  # overrides of components/addon_versions.py
    volume_zones: tuple[str, ...] = ()  # the only zones gp3 volumes may be made in; empty: any
    # With both, `pulumi destroy` waits for the EBS volumes of deleted claims in this namespace before
    # the driver goes (reclaim policy Delete only): the cluster's kubeconfig, and the workload's namespace.
    kubeconfig: pulumi.Input[str] | None = None
    volume_namespace: str = ""
    # Further Hermes instances' namespaces (several agents in one stack): one wait each, named for it.
    more_volume_namespaces: tuple[str, ...] = ()


class ClusterAddons(pulumi.ComponentResource):
    storage_class: k8s.storage.v1.StorageClass | None
    ready: list[pulumi.Resource]

    def __init__(self, name: str, args: ClusterAddonsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("hermes-eks:index:ClusterAddons", name, None, opts)
        unknown = set(args.install) - set(ADDONS)
        if unknown:
            raise ValueError(f"unknown cluster add-ons {sorted(unknown)}; known: {', '.join(ADDONS)}")
        self._name, self._args = name, args
        self.partition = aws.get_partition_output().partition
        self.ready: list[pulumi.Resource] = []

        self.pod_identity_agent = None
        if "pod-identity-agent" in args.install:
            self.pod_identity_agent = self._eks_addon(POD_IDENTITY_AGENT)
            self.ready.append(self.pod_identity_agent)
        self.ebs_csi_driver = self._ebs_csi_driver() if "ebs-csi-driver" in args.install else None
        self.storage_class = self._gp3_storage_class() if "gp3-storage-class" in args.install else None
        self.released_volumes = None
        if (self.ebs_csi_driver is not None and self.storage_class is not None and args.volume_reclaim_policy == "Delete"
                and args.kubeconfig is not None and args.volume_namespace):
            self.released_volumes = self._wait_for_released_volumes(args.volume_namespace, f"{name}-released-volumes")
            for namespace in args.more_volume_namespaces:
                self._wait_for_released_volumes(namespace, f"{name}-released-volumes-{namespace}")
        self.load_balancer_controller = (
            self._load_balancer_controller() if "load-balancer-controller" in args.install else None
        )
        self.register_outputs({"storage_class_name": self.storage_class.metadata.name if self.storage_class else None})

    @property
    def ready_for_workloads(self) -> list[pulumi.Resource]:
        """What a workload's namespace, volume and Ingress depend on: every controller here with its
        role, policy, attachment and Pod Identity binding, and the nodes they run on.

        Creating, they wait for the CSI driver and its StorageClass (the provider reads the class's
        binding mode to await the claim) and the controller's webhook. On `pulumi destroy` the engine
        deletes a resource only after everything depending on it (pulumi/pulumi
        pkg/resource/deploy/step_generator.go, ScheduleDeletes), so the Ingress, the claim and the
        namespace holding the controller's TargetGroupBindings are gone while the Load Balancer
        Controller and the EBS CSI driver may still delete the ALB and the volume. A dependency on a
        local component is one on each of its custom children (pulumi SDK runtime/rpc.py,
        _add_dependency); the nodes are named too, not left to be reached through the add-ons.
        """
        return [self, *self._args.depends_on]

    # -----------------------------------------------------------------------------------------
    def _eks_addon(self, addon: str, depends_on: tuple[pulumi.Resource, ...] = (), **extra) -> aws.eks.Addon:
        args = self._args
        overrides = dict(args.addon_versions)
        version = pulumi.Output.from_input(args.kubernetes_version).apply(
            lambda kubernetes_version: addon_version(addon, kubernetes_version, overrides)
        )
        # Not on the nodes: the add-on installs alongside the node groups (module docstring).
        return aws.eks.Addon(
            f"{self._name}-{addon}",
            cluster_name=args.cluster.name,
            addon_name=addon,
            addon_version=version,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            **extra,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(depends_on)),
        )

    def _credentials_of_controllers(self) -> tuple[pulumi.Resource, ...]:
        # Under Pod Identity the agent on each node hands every controller its credentials.
        return (self.pod_identity_agent,) if self.pod_identity_agent is not None else ()

    def _role(self, purpose: str, namespace: str, service_account: str) -> WorkloadRole:
        # The add-on APIs take the Pod Identity binding themselves, so no association is made here
        # for add-ons; the controller installed by Helm gets one below.
        return WorkloadRole(
            f"{self._name}-{purpose}", cluster=self._args.cluster, namespace=namespace,
            service_account=service_account, parent=self, create_association=False,
        )

    def _ebs_csi_driver(self) -> aws.eks.Addon:
        identity = self._role("ebs-csi", "kube-system", EBS_CSI_SERVICE_ACCOUNT)
        attachment = aws.iam.RolePolicyAttachment(
            f"{self._name}-ebs-csi",
            role=identity.role.name,
            policy_arn=self.partition.apply(lambda p: EBS_CSI_POLICY_ARN.format(partition=p)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # The driver is installed after its permissions exist and removed before they go. Not after the
        # agent: its pods retry until the agent runs, and released_volumes keeps the agent for the
        # driver's last work on destroy.
        addon = self._eks_addon(EBS_CSI_DRIVER, (attachment,), **identity.addon_binding)
        self.ready.append(addon)
        return addon

    def _gp3_storage_class(self) -> k8s.storage.v1.StorageClass:
        return k8s.storage.v1.StorageClass(
            f"{self._name}-gp3",
            metadata={
                "name": GP3_STORAGE_CLASS,
                "labels": {"app.kubernetes.io/managed-by": MANAGED_BY},
                # The class every claim without storageClassName gets (EKS marks no CSI class default).
                "annotations": {"storageclass.kubernetes.io/is-default-class":
                                "true" if self._args.default_storage_class else "false"},
            },
            provisioner="ebs.csi.aws.com",
            parameters={
                "type": "gp3", "encrypted": "true", "csi.storage.k8s.io/fstype": "ext4",
                # The driver tags each volume it creates with every `tagSpecification*` parameter's
                # key=value (kubernetes-sigs/aws-ebs-csi-driver docs/tagging.md); AWS Backup selects by it.
                **{f"tagSpecification_{i}": f"{key}={value}"
                   for i, (key, value) in enumerate(self._args.volume_tags, start=1)},
            },
            volume_binding_mode="WaitForFirstConsumer",
            allowed_topologies=[{"matchLabelExpressions": [
                {"key": ZONE_TOPOLOGY_KEY, "values": list(self._args.volume_zones)},
            ]}] if self._args.volume_zones else None,
            allow_volume_expansion=True,
            reclaim_policy=self._args.volume_reclaim_policy,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.ebs_csi_driver] if self.ebs_csi_driver else []),
        )

    def _wait_for_released_volumes(self, namespace: str, resource_name: str) -> command.local.Command:
        """Kubernetes deletes a claim's EBS volume asynchronously, after the claim; pulumi-kubernetes
        awaits only the claim. This resource's `delete` (components/wait_for_released_volumes.sh)
        bridges the gap: the workload's claim and namespace depend on it (ready_for_workloads), and it
        depends on the driver and its class, so the driver, its role and its nodes are deleted only
        once the volumes are gone. It runs nothing on create or update."""
        args = self._args
        return command.local.Command(
            resource_name,
            delete=WAIT_FOR_RELEASED_VOLUMES.read_text(),
            interpreter=["/bin/sh", "-c"],
            environment={
                "KUBECONFIG_JSON": pulumi.Output.secret(args.kubeconfig),
                "NAMESPACE": namespace,
                "STORAGE_CLASS": GP3_STORAGE_CLASS,
                "TIMEOUT_SECONDS": str(RELEASED_VOLUMES_TIMEOUT_SECONDS),
            },
            # The driver deletes the volumes with its credentials (the agent) on its nodes: all of
            # them are deleted only after this wait.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.ebs_csi_driver, self.storage_class,
                                                                 *self._credentials_of_controllers(), *args.depends_on],
                                        custom_timeouts=pulumi.CustomTimeouts(delete="20m")),
        )

    def _load_balancer_controller(self) -> k8s.helm.v3.Release:
        args = self._args
        namespace, service_account = "kube-system", LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT
        identity = WorkloadRole(
            f"{self._name}-load-balancer-controller", cluster=args.cluster, namespace=namespace,
            service_account=service_account, parent=self,
        )
        policy = aws.iam.Policy(
            f"{self._name}-load-balancer-controller",
            description=f"AWS Load Balancer Controller v{LOAD_BALANCER_CONTROLLER_CHART_VERSION} (vendored iam_policy.json)",
            policy=LOAD_BALANCER_CONTROLLER_POLICY.read_text(),
            opts=pulumi.ResourceOptions(parent=self),
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{self._name}-load-balancer-controller",
            role=identity.role.name, policy_arn=policy.arn, opts=pulumi.ResourceOptions(parent=self),
        )
        values = {
            "clusterName": args.cluster.name,
            "region": args.region,
            "vpcId": args.vpc_id,  # set, so the controller never needs the node's IMDS to find it
            "serviceAccount": {"create": True, "name": service_account,
                               "annotations": identity.service_account_annotations},
            # The chart generates new webhook certificates on every render unless it may reuse the
            # existing Secret (needs a real Helm release: helm.v3.Release, not helm.v4.Chart).
            "keepTLSSecret": True,
            "replicaCount": 2,
            "podDisruptionBudget": {"maxUnavailable": 1},
            "defaultTargetType": "ip",
            # The controller's own default is the weak ELBSecurityPolicy-2016-08.
            "defaultSSLPolicy": args.ssl_policy,
            # Leave other teams' `type: LoadBalancer` Services to whatever controller they use now.
            "enableServiceMutatorWebhook": False,
        }
        return k8s.helm.v3.Release(
            f"{self._name}-load-balancer-controller",
            name="aws-load-balancer-controller",
            chart=LOAD_BALANCER_CONTROLLER_CHART,
            version=LOAD_BALANCER_CONTROLLER_CHART_VERSION,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=LOAD_BALANCER_CONTROLLER_REPOSITORY),
            namespace=namespace,
            values=values,
            atomic=True,
            cleanup_on_fail=True,
            max_history=5,
            timeout=600,
            opts=pulumi.ResourceOptions(
                parent=self,
                # Installed after, and removed before, its permissions, its binding and the nodes. Not
                # after the agent: EKS's Pod Identity webhook sets the pods' credential variables
                # whether or not the agent runs yet, and the controller retries its AWS calls; on
                # destroy the workload (its Ingress) still goes before the agent (ready_for_workloads).
                depends_on=[*args.depends_on, attachment,
                            *([identity.association] if identity.association else [])],
            ),
        )


def load_balancer_controller_policy() -> dict:
    return json.loads(LOAD_BALANCER_CONTROLLER_POLICY.read_text())
