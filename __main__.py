"""hermes-eks: Hermes Agent on AWS EKS (or any Kubernetes cluster) as one Pulumi stack.

settings -> cluster -> backups -> image -> Bedrock identity -> alerts and cost guardrails -> the Hermes
workload -> what is watched -> outputs.
"""

import pulumi
import pulumi_kubernetes as k8s

from components.alert_topic import AlertTopic
from components.bedrock_access import BedrockAccess, BedrockAccessArgs
from components.cost_guardrails import CostGuardrails
from components.hermes_agent import HermesAgent
from components.hermes_cluster import HermesCluster
from components.hermes_image import HermesImage
from components.labels import image_tag
from components.observability import Observability
from components.restored_volume import RestoredVolume
from components.volume_metrics import METRIC_NAMESPACE
from components.volume_backups import VolumeBackups
from preflight import check_account
from settings import load_settings
from wiring import (
    agent_args,
    alert_args,
    backup_args,
    cluster_args,
    guardrail_args,
    image_args,
    observability_args,
    restore_args,
    stack_outputs,
)

NAME = "hermes"  # names the components, the Kubernetes objects and the service account
STACK = pulumi.get_stack()

# 1. Every input validated before anything is registered: the stack's config, then what only the AWS
#    account can answer (Bedrock models offered in the Region, certificates for the Ingress hosts).
settings = load_settings()
account = check_account(settings, STACK)

# 2. Where Hermes runs: an EKS cluster (created or adopted) or the current kubeconfig's cluster.
cluster = None
if settings.uses_aws:
    cluster = HermesCluster(NAME, cluster_args(settings, STACK))
    kubernetes = cluster.provider
else:
    kubernetes = k8s.Provider(f"{NAME}-kubernetes", context=settings.kubeconfig_context or None)

# 3. Scheduled backups of the Hermes volume, and the volume restored from one when the stack asks.
backups = VolumeBackups(NAME, backup_args(settings, STACK)) if settings.uses_aws else None
restored = RestoredVolume(NAME, restore_args(settings, STACK)) if settings.restore_from_snapshot else None

# 4. The image, pinned by digest: upstream's as-is, or mirrored/built into ECR.
image = None
if settings.image_source != "reference":
    image = HermesImage(NAME, image_args(settings, STACK))

# 5. The Hermes pod's IAM role: only that pod may invoke the allowed Bedrock models, and (observability
#    on) publish its volume's fill level to CloudWatch.
hermes_role = None
publish_volume_metrics = cluster is not None and settings.observability
if settings.model_provider == "bedrock" or publish_volume_metrics:
    hermes_role = BedrockAccess(NAME, BedrockAccessArgs(
        models=settings.effective_bedrock_models if settings.model_provider == "bedrock" else (),
        region=settings.effective_bedrock_region,
        discovery=settings.bedrock_discovery,
        namespace=settings.namespace,
        service_account=NAME,
        cluster=cluster.identity,
        destinations=account.bedrock_destinations,
        metric_namespace=METRIC_NAMESPACE if publish_volume_metrics else "",
    ))
bedrock = hermes_role if settings.model_provider == "bedrock" else None

# 6. Where alerts go, and the guardrails on the Bedrock bill.
alerts = AlertTopic(NAME, alert_args(settings, STACK)) if settings.uses_aws else None
guardrails = CostGuardrails(NAME, guardrail_args(settings, STACK, alerts, bedrock)) if bedrock else None

# 7. The Hermes workload.
hermes = HermesAgent(
    NAME,
    agent_args(settings, stack=STACK, image=image.image_ref if image else settings.hermes_image,
               app_version=image_tag(settings.hermes_image), cluster=cluster, bedrock=hermes_role, restored=restored,
               volume_metrics=publish_volume_metrics),
    opts=pulumi.ResourceOptions(providers=[kubernetes]),
)

# 8. What an operator watches (AWS stacks): logs, Container Insights, alarms, a dashboard.
observability = None
if cluster is not None and settings.observability:
    observability = Observability(NAME, observability_args(settings, STACK, cluster, alerts, workload=NAME))

# 9. Outputs.
for key, value in stack_outputs(settings, hermes, cluster, image, bedrock, backups, alerts, guardrails,
                                stack=STACK, observability=observability).items():
    pulumi.export(key, value)
