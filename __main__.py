"""hermes-eks: Hermes Agent on AWS EKS (or any Kubernetes cluster) as one Pulumi stack.

settings -> cluster -> image -> Bedrock identity -> the Hermes workload -> outputs.
"""

import pulumi
import pulumi_kubernetes as k8s

from components.bedrock_access import BedrockAccess, BedrockAccessArgs
from components.cost_guardrails import CostGuardrails
from components.hermes_agent import HermesAgent
from components.hermes_cluster import HermesCluster
from components.hermes_image import HermesImage
from components.labels import image_tag
from preflight import check_account
from settings import load_settings
from wiring import agent_args, cluster_args, cost_guardrails_args, image_args, stack_outputs

NAME = "hermes"  # names the components, the Kubernetes objects and the service account

# 1. Every input validated before anything is registered: the stack's config, then what only the AWS
#    account can answer (Bedrock models offered in the Region, certificates for the Ingress hosts).
settings = load_settings()
account = check_account(settings, pulumi.get_stack())

# 2. Where Hermes runs: an EKS cluster (created or adopted) or the current kubeconfig's cluster.
cluster = None
if settings.uses_aws:
    cluster = HermesCluster(NAME, cluster_args(settings, pulumi.get_stack()))
    kubernetes = cluster.provider
else:
    kubernetes = k8s.Provider(f"{NAME}-kubernetes", context=settings.kubeconfig_context or None)

# 3. The image, pinned by digest: upstream's as-is, or mirrored/built into ECR.
image = None
if settings.image_source != "reference":
    image = HermesImage(NAME, image_args(settings, pulumi.get_stack()))

# 4. The identity that lets only the Hermes pod invoke the allowed Bedrock models.
bedrock = None
if settings.model_provider == "bedrock":
    bedrock = BedrockAccess(NAME, BedrockAccessArgs(
        models=settings.effective_bedrock_models,
        region=settings.effective_bedrock_region,
        discovery=settings.bedrock_discovery,
        namespace=settings.namespace,
        service_account=NAME,
        cluster=cluster.identity,
        destinations=account.bedrock_destinations,
    ))

# 4b. What watches its bill: a Bedrock budget (optionally denying invocation when exhausted), alarms.
guardrails = None
if bedrock is not None and settings.cost_guardrails_enabled:
    guardrails = CostGuardrails(NAME, cost_guardrails_args(settings, pulumi.get_stack(), bedrock))

# 5. The Hermes workload.
hermes = HermesAgent(
    NAME,
    agent_args(settings, image=image.image_ref if image else settings.hermes_image,
               app_version=image_tag(settings.hermes_image), cluster=cluster, bedrock=bedrock),
    opts=pulumi.ResourceOptions(providers=[kubernetes]),
)

# 6. Outputs.
for key, value in stack_outputs(settings, hermes, cluster, image, bedrock).items():
    pulumi.export(key, value)
if guardrails is not None:
    pulumi.export("cost_alerts_topic_arn", guardrails.topic.arn)
