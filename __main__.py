"""hermes-eks: Hermes Agent on Kubernetes, from nothing, as one Pulumi stack.

Reads like the architecture: settings -> cluster -> image -> identity -> the Hermes workload -> outputs.
"""

import pulumi
import pulumi_kubernetes as k8s

from components.hermes_agent import (
    ContainerResources,
    HermesAgent,
    HermesAgentArgs,
    IngressConfig,
    ModelConfig,
    alb_ingress_annotations,
)
from components.labels import image_tag
from settings import load_settings

# 1. Every input validated before anything is registered (settings.py).
settings = load_settings()

# 2. Where Hermes runs.
kubernetes = k8s.Provider("kubernetes", context=settings.kubeconfig_context or None)
storage_class_name = settings.storage_class_name or None

# 3. The image Hermes runs (pinned by digest).
image = settings.hermes_image

# 4. The Hermes workload.
ingress = None
if settings.ingress_enabled:
    annotations = {}
    if settings.ingress_class_name == "alb":
        annotations = alb_ingress_annotations(
            scheme=settings.ingress_scheme,
            ssl_policy=settings.ingress_ssl_policy,
            certificate_arn=settings.ingress_certificate_arn,
            group_name=settings.ingress_group_name,
        )
    ingress = IngressConfig(
        class_name=settings.ingress_class_name,
        dashboard_host=settings.dashboard_host,
        api_host=settings.api_host,
        annotations={**annotations, **settings.ingress_annotations},
    )

provider_api_key = settings.openrouter_api_key or settings.custom_model_api_key
hermes = HermesAgent(
    "hermes",
    HermesAgentArgs(
        image=image,
        app_version=image_tag(settings.hermes_image),
        namespace=settings.namespace,
        kubernetes_version=settings.kubernetes_version,
        storage_size=settings.storage_size,
        storage_class_name=storage_class_name,
        gateway_resources=ContainerResources(
            settings.gateway_cpu_request, settings.gateway_memory_request,
            settings.gateway_memory_limit, settings.gateway_cpu_limit,
        ),
        dashboard_resources=ContainerResources(
            settings.dashboard_cpu_request, settings.dashboard_memory_request,
            settings.dashboard_memory_limit, settings.dashboard_cpu_limit,
        ),
        model=ModelConfig(
            provider=settings.model_provider,
            default=settings.model_default,
            base_url=settings.model_base_url,
            bedrock_region=settings.effective_bedrock_region if settings.model_provider == "bedrock" else "",
        ),
        provider_api_key=pulumi.Output.secret(provider_api_key.get_secret_value()) if provider_api_key else None,
        api_server_key=(
            pulumi.Output.secret(settings.api_server_key.get_secret_value()) if settings.api_server_key else None
        ),
        existing_secret_name=settings.existing_secret_name,
        dashboard_username=settings.dashboard_username,
        dashboard_oidc_issuer=settings.dashboard_oidc_issuer,
        dashboard_oidc_client_id=settings.dashboard_oidc_client_id,
        ingress=ingress,
    ),
    opts=pulumi.ResourceOptions(providers=[kubernetes]),
)

# 5. Outputs.
for key, value in hermes.outputs.items():
    pulumi.export(key, value)
