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
    Instance,
    image_args,
    observability_args,
    restore_args,
    stack_outputs,
)

NAME = "hermes"  # names the stack-wide components; each instance's are named for the instance
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

# 3. Scheduled backups of every Hermes volume (selected by tag, whichever instance it belongs to).
backups = VolumeBackups(NAME, backup_args(settings, STACK)) if settings.uses_aws else None

# 4. The image, pinned by digest: upstream's as-is, or mirrored/built into ECR.
image = None
if settings.image_source != "reference":
    image = HermesImage(NAME, image_args(settings, STACK))

# 5. Where alerts go.
alerts = AlertTopic(NAME, alert_args(settings, STACK)) if settings.uses_aws else None

# 6. Each Hermes instance (settings.agents: one named `hermes` unless the stack lists `instances`), named
#    for its instance: its volume (restored from a snapshot when it asks), its pod's IAM role (only that
#    pod may invoke its allowed Bedrock models and, observability on, publish its volume's fill level),
#    and the workload in its own namespace.
publish_volume_metrics = cluster is not None and settings.observability
instances = {}
for agent in settings.agents:
    s = agent.settings
    restored = RestoredVolume(agent.name, restore_args(s, STACK)) if s.restore_from_snapshot else None
    role = None
    if s.model_provider == "bedrock" or publish_volume_metrics:
        role = BedrockAccess(agent.name, BedrockAccessArgs(
            models=s.effective_bedrock_models,
            region=s.effective_bedrock_region,
            discovery=s.bedrock_discovery,
            namespace=s.namespace,
            service_account=agent.name,
            cluster=cluster.identity,
            destinations=account.bedrock_destinations,
            metric_namespace=METRIC_NAMESPACE if publish_volume_metrics else "",
        ))
    hermes = HermesAgent(
        agent.name,
        agent_args(s, stack=STACK, image=image.image_ref if image else settings.hermes_image,
                   app_version=image_tag(settings.hermes_image), cluster=cluster, bedrock=role, restored=restored,
                   volume_metrics=publish_volume_metrics, messaging_key=agent.key("messaging")),
        opts=pulumi.ResourceOptions(providers=[kubernetes]),
    )
    instances[agent.name] = Instance(hermes, role if s.model_provider == "bedrock" else None)

# 7. The guardrails on the stack's Bedrock bill, over every instance's role.
guardrails = CostGuardrails(NAME, guardrail_args(settings, STACK, alerts, instances)) if settings.uses_bedrock else None

# 8. What an operator watches (AWS stacks): logs, Container Insights, alarms, a dashboard.
observability = None
if cluster is not None and settings.observability:
    observability = Observability(NAME, observability_args(settings, STACK, cluster, alerts))

# 9. Outputs: per instance, and for the `hermes` instance the flat outputs of a one-agent stack.
for key, value in stack_outputs(settings, instances, cluster, image, backups, alerts, guardrails,
                                stack=STACK, observability=observability).items():
    pulumi.export(key, value)
