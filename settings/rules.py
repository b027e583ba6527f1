"""The cross-field rules, split along INSTANCE_KEYS: the stack's and one agent's."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping

from pydantic import ValidationError

from components.addon_versions import missing_versions
from components.bedrock_access import check_models
from components.hermes_agent import env_file_problem
from components.messaging import PLATFORMS, completeness_problems
from components.operator_commands import SHOWN_UNSAFE, UNSAFE_CHARACTERS
from settings.models import INSTANCE_KEYS, SECRET_KEYS, StackSettings
from settings.problems import Problem
from settings.values import BEDROCK_MODEL_ID, HOSTNAME

# ---------------------------------------------------------------------------------------------
# Cross-field rules: each returns problems naming the key a user should change. Split along the line
# INSTANCE_KEYS draws: the stack's rules run once per stack, an agent's once per instance, on that
# instance's settings (parse_settings); a stack without `instances` is one agent, checked by both.
# ---------------------------------------------------------------------------------------------

_GRAVITON_FAMILY = re.compile(r"^(a1|[a-z]+[0-9]+g[a-z]*)\.")


def _cross_field_problems(s: StackSettings) -> list[Problem]:
    """Every cross-field problem of one agent's settings: the stack's rules and the agent's."""
    return _stack_problems(s) + _instance_problems(s)


def _collector(s: StackSettings) -> tuple[list[Problem], Callable[[str, str], None]]:
    """A list of problems and `need`, which adds one naming a key of `s`. _stack_problems names only
    stack-wide keys, _instance_problems only INSTANCE_KEYS (tests/test_instances.py reads both)."""
    problems: list[Problem] = []

    def need(attribute: str, allowed: str) -> None:
        problems.append(Problem(attribute, getattr(s, attribute), allowed))

    return problems, need


def _stack_problems(s: StackSettings) -> list[Problem]:
    """The rules on the keys the whole stack shares: cluster, network, nodes, add-ons, image, backups,
    alerts, the Bedrock budget. They read an agent's keys only through the stack's (`uses_bedrock`)."""
    problems, need = _collector(s)

    if s.uses_aws and not s.aws_region:
        need("aws_region", f"an AWS region code (required when clusterSource is '{s.cluster_source}')")
    if s.cluster_source == "existing" and not s.existing_cluster_name:
        need("existing_cluster_name", "the name of the EKS cluster to adopt (required when clusterSource is 'existing')")
    if s.cluster_source != "existing" and s.existing_cluster_addons:
        need("existing_cluster_addons", "an empty list unless clusterSource is 'existing' (a created cluster gets every add-on)")
    both = sorted(set(s.cluster_admin_principal_arns) & set(s.cluster_viewer_principal_arns))
    if both:
        # EKS holds one access entry per principal: a second one fails with 409 ResourceInUse.
        need("cluster_viewer_principal_arns", f"principals not in clusterAdminPrincipalArns too ({', '.join(both)}): "
             "an IAM principal has one access entry, admin or view-only")
    if s.cluster_source != "kubeconfig" and s.kubeconfig_context:
        need("kubeconfig_context", "empty unless clusterSource is 'kubeconfig' (EKS stacks build their own kubeconfig)")

    if s.image_source in ("mirror", "git") and not s.uses_aws:
        need("image_source", "'reference' when clusterSource is 'kubeconfig' ('mirror' and 'git' push to ECR and need AWS)")
    if s.image_source == "git" and not s.hermes_git_commit:
        need("hermes_git_commit", "a full 40-character commit SHA of the Hermes repository (required when imageSource is 'git')")
    if s.image_source != "git" and s.hermes_git_commit:
        need("hermes_git_commit", "empty unless imageSource is 'git'")

    if s.uses_aws:
        if not s.node_min_size <= s.node_desired_size <= s.node_max_size:
            need("node_desired_size", f"between nodeMinSize ({s.node_min_size}) and nodeMaxSize ({s.node_max_size})")
        for instance_type in s.node_instance_types:
            arm = bool(_GRAVITON_FAMILY.match(instance_type))
            if arm != (s.node_architecture == "arm64"):
                need("node_instance_types", f"instance types of the {s.node_architecture} architecture "
                     f"({instance_type} is {'arm64' if arm else 'x86_64'}); change nodeArchitecture or the types")
                break
        if not s.endpoint_public_access and s.endpoint_public_access_cidrs != ("0.0.0.0/0",):
            need("endpoint_public_access_cidrs", "left at its default when endpointPublicAccess is false")

    # --- backups ---------------------------------------------------------------------------------
    if s.backup_copy_region and not s.uses_aws:
        need("backup_copy_region", "empty when clusterSource is 'kubeconfig' (backups are AWS Backup's)")
    if s.backup_copy_region and s.backup_copy_region == s.aws_region:
        need("backup_copy_region", f"a region other than aws:region ({s.aws_region}), or empty for no copy")
    # --- alerts and the Bedrock cost guardrails ----------------------------------------------
    if s.alert_emails and not s.uses_aws:
        need("alert_emails", "an empty list when clusterSource is 'kubeconfig' (alerts are SNS's)")
    if s.bedrock_budget_deny_invoke and not _any_bedrock(s):
        need("bedrock_budget_deny_invoke", "false unless modelProvider is 'bedrock'")

    # --- cluster network: node zones, add-on versions -----------------------------------------
    if s.cluster_source != "create" and s.node_zone_count != 1:
        need("node_zone_count", "left at 1 unless clusterSource is 'create' (it lays out the nodes of a created cluster)")
    if s.cluster_source == "create" and s.node_zone_count > s.availability_zone_count:
        need("node_zone_count", f"at most availabilityZoneCount ({s.availability_zone_count}): node groups go in the VPC's zones")
    if s.cluster_source == "kubeconfig" and s.addon_versions:
        need("addon_versions", "empty unless clusterSource is 'create' or 'existing' (EKS add-ons)")
    if s.cluster_source == "create":
        missing = missing_versions(s.kubernetes_version, s.created_cluster_addons, s.addon_versions)
        if missing:
            need("addon_versions", f"a version for {', '.join(missing)}: kubernetesVersion {s.kubernetes_version} has "
                 "no pinned add-on versions in components/addon_versions.py (see `aws eks describe-addon-versions`)")

    # --- commands the stack exports (run as `$(pulumi stack output ...)`, operator_commands.py) ---
    if UNSAFE_CHARACTERS.search(s.kubeconfig_context):
        need("kubeconfig_context", f"a context name without {SHOWN_UNSAFE} (the exported kubectl commands "
             "name it and run through $(...)); rename it with `kubectl config rename-context`")

    # --- the Bedrock budget's services -----------------------------------------------------------
    if len(set(s.bedrock_budget_services)) != len(s.bedrock_budget_services):
        need("bedrock_budget_services", "a list without duplicates")
    if not s.bedrock_budget_services:
        need("bedrock_budget_services", "at least one service name (the budget counts only their cost)")

    # --- placeholders copied from examples (issue 6 item 11) ----------------------------------
    problems += _placeholder_problems(s, [a for a in StackSettings.model_fields if a not in INSTANCE_KEYS])
    return problems


def _instance_problems(s: StackSettings) -> list[Problem]:
    """The rules on the keys of one agent (INSTANCE_KEYS): its models and credentials, dashboard login,
    hosts, restore. `s` is that agent's settings: the stack's, with the instance's own values in place."""
    problems, need = _collector(s)

    if s.model_provider != "none" and not s.model_default:
        need("model_default", f"the default model id for provider '{s.model_provider}'")
    if s.model_provider == "none" and s.model_default:
        need("model_default", "empty while modelProvider is 'none' (set modelProvider too)")
    if s.model_provider == "bedrock":
        if not s.uses_aws:
            need("model_provider", "'none', 'openrouter' or 'custom' when clusterSource is 'kubeconfig' "
                 "(Bedrock credentials come from the pod's IAM role on EKS)")
        if s.model_default and not re.fullmatch(BEDROCK_MODEL_ID, s.model_default):
            need("model_default", "a Bedrock model or inference profile id, e.g. anthropic.claude-sonnet-4-5-20250929-v1:0 "
                 "or eu.anthropic.claude-sonnet-4-5-20250929-v1:0")
        elif s.effective_bedrock_region:
            try:
                check_models(s.effective_bedrock_models, s.effective_bedrock_region)
            except ValueError as error:
                need("bedrock_models" if s.bedrock_models else "model_default",
                     f"models and profiles callable from {s.effective_bedrock_region} ({error})")
    elif s.bedrock_models:
        need("bedrock_models", "an empty list unless modelProvider is 'bedrock'")
    if s.model_provider == "custom" and not s.model_base_url:
        need("model_base_url", "the base URL of the OpenAI-compatible API (required when modelProvider is 'custom')")
    if s.model_provider != "custom" and s.model_base_url:
        need("model_base_url", "empty unless modelProvider is 'custom'")
    if s.model_provider == "openrouter" and s.model_default and "/" not in s.model_default:
        need("model_default", "an OpenRouter model id of the form vendor/model, e.g. anthropic/claude-sonnet-4.5")
    if s.openrouter_api_key is not None and s.model_provider != "openrouter":
        need("openrouter_api_key", "unset unless modelProvider is 'openrouter'")
    if s.custom_model_api_key is not None and s.model_provider != "custom":
        need("custom_model_api_key", "unset unless modelProvider is 'custom'")

    if s.existing_secret_name:
        for attribute in ("api_server_key", "openrouter_api_key", "custom_model_api_key"):
            if getattr(s, attribute) is not None:
                need(attribute, "unset when existingSecretName is set (that Secret holds every credential)")

    if bool(s.dashboard_oidc_issuer) != bool(s.dashboard_oidc_client_id):
        need("dashboard_oidc_client_id" if s.dashboard_oidc_issuer else "dashboard_oidc_issuer",
             "set together with the other dashboardOidc* key (or leave both empty)")
    if s.dashboard_oidc_issuer and not s.dashboard_host:
        need("dashboard_host", "the dashboard's public host (the OIDC callback is https://<dashboardHost>/auth/callback)")

    if s.dashboard_host and s.dashboard_host == s.api_host:
        need("api_host", "a different host than dashboardHost (the dashboard and the API both serve /api/*)")
    if s.ingress_enabled and s.ingress_class_name != "alb":
        for attribute in ("ingress_certificate_arn", "ingress_group_name"):
            if getattr(s, attribute):
                need(attribute, "empty unless ingressClassName is 'alb' (an AWS Load Balancer Controller setting)")

    # --- a model provider and the credential it needs (issue 6 item 11) -----------------------
    # OpenRouter answers 401 to every call without a key. A `custom` endpoint may be an in-cluster
    # server that needs none (vLLM, Ollama), so its key is required only for the hosted APIs that
    # always need one. With existingSecretName the key is that Secret's business.
    if not s.existing_secret_name:
        if s.model_provider == "openrouter" and s.openrouter_api_key is None:
            need("openrouter_api_key", "an OpenRouter API key, set with `pulumi config set --secret openrouterApiKey "
                 "sk-or-...` (required when modelProvider is 'openrouter'), or existingSecretName")
        if s.model_provider == "custom" and s.custom_model_api_key is None and _hosted_api(s.model_base_url):
            need("custom_model_api_key", f"the API key of {_url_host(s.model_base_url)}, set with `pulumi config set "
                 "--secret customModelApiKey ...` (that hosted API refuses calls without one), or existingSecretName")

    # --- dashboard OIDC client secret (issue 7 item 9) ----------------------------------------
    if s.dashboard_oidc_client_secret is not None:
        if not (s.dashboard_oidc_issuer and s.dashboard_oidc_client_id):
            need("dashboard_oidc_client_secret", "unset unless dashboardOidcIssuer and dashboardOidcClientId are set "
                 "(it is the secret of that OIDC client)")
        if s.existing_secret_name:
            need("dashboard_oidc_client_secret", "unset when existingSecretName is set (that Secret holds every "
                 "credential: put HERMES_DASHBOARD_OIDC_CLIENT_SECRET into it)")

    # --- restore -------------------------------------------------------------------------------
    if s.restore_from_snapshot and not s.uses_aws:
        need("restore_from_snapshot", "empty when clusterSource is 'kubeconfig' (it restores an EBS snapshot)")
    if (s.restore_from_snapshot and s.cluster_source == "existing" and not s.storage_class_name
            and "gp3-storage-class" not in s.existing_cluster_addons):
        need("storage_class_name", "the StorageClass of the Hermes volume (the restored volume's PersistentVolume "
             "must name it) when restoreFromSnapshot is set on an adopted cluster without gp3-storage-class")
    # A recovery point ARN names its Region (arn:<partition>:ec2:<region>::snapshot/snap-...:
    # docs.aws.amazon.com/aws-backup/latest/devguide/restoring-ebs.html); EC2 makes a volume only from a
    # snapshot in its own Region, and the volume is made in aws:region.
    snapshot_region = s.restore_from_snapshot.split(":")[3] if s.restore_from_snapshot.startswith("arn:") else ""
    if snapshot_region and s.aws_region and snapshot_region != s.aws_region:
        need("restore_from_snapshot", f"a snapshot id or a recovery point ARN of aws:region {s.aws_region} (this one is "
             f"in {snapshot_region}; copy it to {s.aws_region} first with `aws backup start-copy-job`)")
    if s.restore_availability_zone and not s.restore_from_snapshot:
        need("restore_availability_zone", "empty unless restoreFromSnapshot is set")
    if s.restore_availability_zone and s.aws_region and not s.restore_availability_zone.startswith(s.aws_region):
        need("restore_availability_zone", f"a zone of aws:region {s.aws_region}, e.g. {s.aws_region}a")

    # --- messaging platforms (issue 15): each agent's own bots ------------------------------------
    problems += _messaging_problems(s)

    # --- placeholders copied from examples (issue 6 item 11) ----------------------------------
    problems += _placeholder_problems(s, INSTANCE_KEYS)
    return problems


def _messaging_problems(s: StackSettings) -> list[Problem]:
    m = s.messaging_config
    problems = [Problem(f"messaging.{p.path}", p.shown, p.allowed) for p in m.problems]
    problems += [Problem(f"messaging.{p.path}", None, p.allowed)
                 for p in completeness_problems(m, existing_secret=bool(s.existing_secret_name))]
    if s.existing_secret_name:
        for path in m.secret_paths:
            name, key = path.split(".")
            problems.append(Problem(f"messaging.{path}", "<secret value hidden>", "unset when existingSecretName is "
                                    f"set (that Secret holds every credential: put {PLATFORMS[name].fields[key].env} into it)"))
    # Hosts, URLs and addresses copied from examples (the placeholder rule below sees only top-level keys).
    for platform in m.platforms:
        keys = {item.env: key for key, item in platform.spec.fields.items()}
        # configure pins every messaging variable into .env, which Hermes reads back through python-dotenv.
        for env, text in (*platform.secrets, *platform.values):
            problem = env_file_problem(text)
            if problem:
                shown = "<secret value hidden>" if env in dict(platform.secrets) else json.dumps(text)
                problems.append(Problem(f"messaging.{platform.name}.{keys[env]}", shown,
                                        f"a value without {problem}: Hermes would read it from its .env changed"))
        for env, text in platform.values:
            for item in text.split(","):
                host = item.lower() if re.fullmatch(HOSTNAME, item.lower()) else _url_host(item)
                host = host or (item.rsplit("@", 1)[1].lower() if "@" in item and "." in item else "")
                domain = _reserved_domain(host, local_ok=s.cluster_source == "kubeconfig") if host else ""
                if domain:
                    problems.append(Problem(f"messaging.{platform.name}.{keys[env]}", json.dumps(item), (
                        f"a host name of your own: {domain} is reserved for documentation and testing (RFC 2606, "
                        "RFC 6761); replace the placeholder")))
                    break
    needs_webhook = [p.spec.title for p in m.platforms if p.spec.webhook]
    if needs_webhook and not s.messaging_webhook_host:
        problems.append(Problem("messaging_webhook_host", "", f"the public host {', '.join(needs_webhook)} call back "
                                "(they deliver messages by webhook; only the webhook paths are routed there)"))
    if s.messaging_webhook_host and not needs_webhook:
        problems.append(Problem("messaging_webhook_host", s.messaging_webhook_host,
                                "empty unless a platform that needs inbound webhooks (whatsappCloud, sms) is configured"))
    if s.messaging_webhook_host and s.messaging_webhook_host in (s.dashboard_host, s.api_host):
        problems.append(Problem("messaging_webhook_host", s.messaging_webhook_host,
                                "a host of its own, not dashboardHost or apiHost (it is internet-facing)"))
    return problems


# Names reserved for documentation and testing that can never be a deployment's own: RFC 2606
# section 3 (example.com/.net/.org) and RFC 6761 sections 6.2-6.5 (.test, .localhost, .invalid,
# .example). `.test` and `.localhost` are meant for local testing, so a `kubeconfig` stack may use
# them; on AWS no certificate or DNS record can ever exist for them.
RESERVED_DOMAINS = ("example.com", "example.net", "example.org", "example", "invalid")
LOCAL_ONLY_DOMAINS = ("test", "localhost")
# The account id in AWS's documentation examples (docs.aws.amazon.com, "123456789012").
DOCUMENTATION_ACCOUNT = "123456789012"
_DOCUMENTATION_ARN = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]*:[a-z0-9-]*:" + DOCUMENTATION_ACCOUNT + r":")
# Hosted OpenAI-compatible APIs that refuse every call without a key.
_KEYED_APIS = ("api.openai.com", "openai.azure.com", "openrouter.ai", "api.anthropic.com", "api.mistral.ai",
               "api.groq.com", "api.together.xyz", "api.deepseek.com", "generativelanguage.googleapis.com")


def _url_host(value: str) -> str:
    match = re.match(r"[a-z][a-z0-9+.-]*://([^/:?#\s]+)", value, re.IGNORECASE)
    return match.group(1).lower() if match else ""


def _hosted_api(url: str) -> bool:
    host = _url_host(url)
    return any(host == api or host.endswith("." + api) for api in _KEYED_APIS)


def _reserved_domain(host: str, *, local_ok: bool) -> str:
    for domain in RESERVED_DOMAINS + (() if local_ok else LOCAL_ONLY_DOMAINS):
        if host == domain or host.endswith("." + domain):
            return domain
    return ""


def _placeholder_problems(s: StackSettings, attributes: Iterable[str] = tuple(StackSettings.model_fields)) -> list[Problem]:
    """Every plain value of `attributes` (lists and map values included) holding an example host or account."""
    problems = []
    for attribute in attributes:
        value = getattr(s, attribute)
        if attribute in SECRET_KEYS:
            continue
        items = value.values() if isinstance(value, Mapping) else value if isinstance(value, tuple) else (value,)
        for item in (i for i in items if isinstance(i, str)):
            host = item.lower() if re.fullmatch(HOSTNAME, item.lower()) else _url_host(item)
            if not host and "@" in item:  # an e-mail address: its domain
                host = item.rsplit("@", 1)[1].lower()
            domain = _reserved_domain(host, local_ok=s.cluster_source == "kubeconfig") if host else ""
            if _DOCUMENTATION_ARN.search(item):
                problems.append(Problem(attribute, value, (
                    f"an ARN in your own AWS account: {DOCUMENTATION_ACCOUNT} is the example account of AWS's "
                    "documentation; replace the placeholder with your account id")))
                break
            if domain:
                problems.append(Problem(attribute, value, (
                    f"a host name of your own: {domain} is reserved for documentation and testing (RFC 2606, "
                    "RFC 6761) and no certificate or DNS record can exist for it; replace the placeholder")))
                break
            if _documentation_network(item):
                problems.append(Problem(attribute, value, (
                    f"your own address range: {item} is reserved for documentation (RFC 5737) and no real "
                    "client ever comes from it; replace the placeholder")))
                break
    return problems


# RFC 5737 section 3: TEST-NET-1, -2 and -3, for documentation only.
DOCUMENTATION_NETWORKS = tuple(ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))


def _documentation_network(item: str) -> bool:
    try:
        network = ipaddress.ip_network(item, strict=False)
    except ValueError:
        return False
    return any(network.version == 4 and network.subnet_of(doc) for doc in DOCUMENTATION_NETWORKS)

def _any_bedrock(s: StackSettings) -> bool:
    try:
        return s.uses_bedrock
    except (ValidationError, AttributeError, TypeError):
        return True  # an instance that does not validate is reported on its own
