"""What only the AWS account can answer, asked before any resource is registered.

settings/ validates what the stack files say; some mistakes only the account can reveal, and they
would otherwise surface deep into `pulumi up`: a Bedrock model or inference profile the Region does
not offer (first call denied or not found), or Ingress hosts no ACM certificate covers: each agent's
dashboardHost, apiHost and messagingWebhookHost (the Ingress waits 10 minutes, then fails). These
lookups are plain invokes, so they run, and fail, in `pulumi preview` as in `up`, with one ConfigError
naming the key, the file, the value and what to do.
They also hand the program what it needs from the account: each inference profile's destinations.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from components.bedrock_access import ModelUnavailable, bedrock_lookups, resolve_destinations
from components.ingress_certificates import acm_lookup, candidate_domains, find_certificates
from settings import ConfigError, StackSettings, config_key, instance_key

CERTIFICATE_ARN_ANNOTATION = "alb.ingress.kubernetes.io/certificate-arn"


@dataclass(frozen=True)
class AccountFacts:
    # Geographic inference profile id -> the foundation-model ARNs Bedrock routes it to.
    bedrock_destinations: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Ingress host -> the ARN of the ISSUED certificate the Load Balancer Controller will discover.
    certificates: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Lookups:
    """The account's answers; tests hand in fakes, the program the real invokes."""

    profile_model_arns: Callable[[str, str], Sequence[str]]
    foundation_model: Callable[[str, str], object]
    certificate: Callable[[str], str | None]


def aws_lookups(region: str) -> Lookups:
    profile_model_arns, foundation_model = bedrock_lookups()
    return Lookups(profile_model_arns, foundation_model, acm_lookup(region or None))


def certificate_hosts(s: StackSettings) -> dict[str, str]:
    """Each host whose certificate the Load Balancer Controller must discover -> the attribute naming it.

    wiring.py gives `ingressCertificateArn` to both Ingresses (ingress_config, messaging_workload) but
    `ingressAnnotations` only to the dashboard/API one: a certificate ARN set among those annotations
    leaves the webhook Ingress (`<instance>-webhooks`) to discovery by its host.
    """
    if s.ingress_class_name != "alb" or s.ingress_certificate_arn:
        return {}
    hosts: dict[str, str] = {}
    if s.ingress_enabled and not s.ingress_annotations.get(CERTIFICATE_ARN_ANNOTATION):
        hosts |= {s.dashboard_host: "dashboard_host", s.api_host: "api_host"}
    if s.messaging_config.webhooks:
        hosts[s.messaging_webhook_host] = "messaging_webhook_host"
    return {host: attribute for host, attribute in hosts.items() if host}


def _listed(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def check_account(s: StackSettings, stack: str, lookups: Lookups | None = None) -> AccountFacts:
    """Ask the account; raise ConfigError listing every problem, or return what it said."""
    if not s.uses_aws:
        return AccountFacts()
    lookups = lookups or aws_lookups(s.aws_region)
    stack_file = f"Pulumi.{stack}.yaml"
    problems: list[str] = []

    destinations: dict[str, tuple[str, ...]] = {}
    certificates: dict[str, str] = {}
    for agent in s.agents:
        a = agent.settings

        def key(attribute: str, agent=agent) -> str:
            """The key to change: the instance's own, else the top-level default it inherits."""
            return instance_key(agent.name, attribute) if attribute in agent.own_keys else config_key(attribute)

        if a.model_provider == "bedrock":
            region = a.effective_bedrock_region
            try:
                destinations |= resolve_destinations(a.effective_bedrock_models, region,
                                                     lookups.profile_model_arns, lookups.foundation_model)
            except ModelUnavailable as error:
                attribute = "bedrock_models" if error.model_id in a.bedrock_models else "model_default"
                if "AccessDenied" in error.reason:
                    problems.append(
                        f"{key(attribute)} in {stack_file} names {json.dumps(error.model_id)}, which the deploying "
                        f"principal may not look up in {region} ({error.reason}); allowed: a model the principal running "
                        "Pulumi may read: grant it bedrock:GetInferenceProfile and bedrock:GetFoundationModel"
                    )
                else:
                    problems.append(
                        f"{key(attribute)} in {stack_file} names {json.dumps(error.model_id)}, which Bedrock does not "
                        f"offer in {region} ({error.reason}); allowed: a model id or system inference profile id of that "
                        f"Region: `aws bedrock list-inference-profiles --region {region} --type-equals SYSTEM_DEFINED "
                        "--query 'inferenceProfileSummaries[].inferenceProfileId'` or `aws bedrock list-foundation-models "
                        f"--region {region} --query 'modelSummaries[].modelId'`"
                    )

        hosts = certificate_hosts(a)
        if hosts:
            found = find_certificates(list(hosts), lookups.certificate)
            missing = [host for host, arn in found.items() if arn is None]
            certificates |= {host: arn for host, arn in found.items() if arn}
            if missing:
                keys = _listed([key(hosts[host]) for host in missing])
                names = ", ".join(" or ".join(candidate_domains(host)) for host in missing)
                problems.append(
                    f"{key('ingress_certificate_arn')} is not set in {stack_file} and no ISSUED ACM certificate in "
                    f"{s.aws_region} is named for {', '.join(missing)} ({keys}); allowed: the ARN of an ISSUED "
                    f"certificate for those hosts, or an ISSUED certificate in ACM named {names} "
                    "(the AWS Load Balancer Controller finds it by host)"
                )

    if problems:
        raise ConfigError(stack, list(dict.fromkeys(problems)))
    return AccountFacts(bedrock_destinations=destinations, certificates=certificates)
