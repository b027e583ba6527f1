"""HermesAgent: the Hermes gateway and dashboard on any Kubernetes cluster.

Cluster-agnostic: it receives a Kubernetes provider (through `opts.providers`) and typed args, and
creates the namespace, credentials, the ONE volume holding HERMES_HOME, the service account, the
Deployment, two ClusterIP Services, an optional host-routed Ingress and a NetworkPolicy.

Pod layout (README "Why one container"): upstream's own. One container runs the image's entrypoint
(s6-overlay as PID 1) with `gateway run` and HERMES_DASHBOARD=1, so s6 boots HERMES_HOME once and then
supervises both the gateway (API server on 0.0.0.0:8642) and the dashboard (0.0.0.0:9119, basic auth)
in ONE process namespace. That matters: in a second container the dashboard cannot see the gateway's
PID and deletes its gateway.pid and gateway.lock, the lock that keeps a second gateway off the volume
(measured on 0.19.0, gateway/status.py _cleanup_invalid_pid_path). An init container of the same image
writes the model keys this stack manages with `hermes config set`, as the unprivileged hermes user.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.dashboard_login import generate_credentials
from components.labels import standard_labels

# Inside the image (Dockerfile at the pinned release): the virtualenv and HERMES_HOME.
IMAGE_HERMES = "/opt/hermes/.venv/bin/hermes"
HERMES_HOME = "/opt/data"
HERMES_UID = 10000  # the image's `hermes` user; s6 drops to it (HERMES_UID default)

IMAGE_PYTHON = "/opt/hermes/.venv/bin/python"

GATEWAY_PORT = 8642  # API_SERVER_PORT default
DASHBOARD_PORT = 9119  # `hermes dashboard --port` default
GATEWAY_HEALTH_PATH = "/health"  # public, served by gateway/platforms/api_server.py
DASHBOARD_HEALTH_PATH = "/api/status"  # public, served by the dashboard's web server

# Liveness for the pair: both processes must answer, or the container is restarted. s6 already
# restarts a process that exits; this catches one that hangs. Standard library only.
LIVENESS_SCRIPT = (
    "import sys, urllib.request\n"
    "for url in sys.argv[1:]:\n"
    "    urllib.request.urlopen(url, timeout=4).close()\n"
)

# The s6 stage2 hook chowns /opt/data, remaps the hermes user and drops privileges with
# s6-setuidgid; these are the capabilities that needs (hermes-upstream.md, "Container image").
S6_CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID", "KILL")

# Writes each "key value" pair given as arguments with the image's own CLI. Values travel as
# positional arguments, never spliced into the script, so no value can change what the shell runs.
CONFIGURE_SCRIPT = 'set -eu\nwhile [ "$#" -ge 2 ]; do\n  "$HERMES" config set "$1" "$2"\n  shift 2\ndone\n'

# The keys of the credentials Secret. An externally managed Secret (existingSecretName) must
# provide the same keys; see README "Bring your own Secret".
SECRET_API_SERVER_KEY = "API_SERVER_KEY"
SECRET_PASSWORD_HASH = "HERMES_DASHBOARD_BASIC_AUTH_PASSWORD_HASH"
SECRET_SIGNING_KEY = "HERMES_DASHBOARD_BASIC_AUTH_SECRET"
PROVIDER_KEY_ENV = {"openrouter": "OPENROUTER_API_KEY", "custom": "OPENAI_API_KEY"}


@dataclass(frozen=True)
class ContainerResources:
    cpu_request: str
    memory_request: str
    memory_limit: str
    cpu_limit: str = ""  # empty: no CPU limit (throttling an agent loop buys nothing)

    def as_manifest(self) -> dict:
        limits = {"memory": self.memory_limit}
        if self.cpu_limit:
            limits["cpu"] = self.cpu_limit
        return {"requests": {"cpu": self.cpu_request, "memory": self.memory_request}, "limits": limits}


@dataclass(frozen=True)
class ModelConfig:
    """What the init container writes into config.yaml; provider "none" leaves the model to the dashboard."""

    provider: str = "none"
    default: str = ""
    base_url: str = ""
    bedrock_region: str = ""

    def config_pairs(self) -> list[tuple[str, str]]:
        if self.provider == "none":
            return []
        pairs = [("model.provider", self.provider), ("model.default", self.default)]
        if self.base_url:
            pairs.append(("model.base_url", self.base_url))
        if self.provider == "bedrock" and self.bedrock_region:
            pairs.append(("bedrock.region", self.bedrock_region))
        return pairs


@dataclass(frozen=True)
class IngressConfig:
    class_name: str
    dashboard_host: str = ""
    api_host: str = ""
    annotations: Mapping[str, str] = field(default_factory=dict)


def alb_ingress_annotations(
    *, scheme: str, ssl_policy: str, certificate_arn: str = "", group_name: str = ""
) -> dict[str, str]:
    """AWS Load Balancer Controller annotations for an HTTPS-only ALB in front of the pod IPs.

    kubernetes-sigs/aws-load-balancer-controller docs/guide/ingress/annotations.md. The controller's
    own default TLS policy is the weak ELBSecurityPolicy-2016-08, so the policy is always set.
    Without a certificate ARN the controller discovers ACM certificates matching the rules' hosts.
    """
    annotations = {
        "alb.ingress.kubernetes.io/scheme": scheme,
        "alb.ingress.kubernetes.io/target-type": "ip",
        "alb.ingress.kubernetes.io/listen-ports": '[{"HTTP": 80}, {"HTTPS": 443}]',
        "alb.ingress.kubernetes.io/ssl-redirect": "443",
        "alb.ingress.kubernetes.io/ssl-policy": ssl_policy,
        "alb.ingress.kubernetes.io/backend-protocol": "HTTP",
        "alb.ingress.kubernetes.io/healthcheck-port": "traffic-port",
    }
    if certificate_arn:
        annotations["alb.ingress.kubernetes.io/certificate-arn"] = certificate_arn
    if group_name:
        annotations["alb.ingress.kubernetes.io/group.name"] = group_name
    return annotations


@dataclass(frozen=True)
class HermesAgentArgs:
    image: pulumi.Input[str]
    app_version: str = ""  # the upstream release tag, for the app.kubernetes.io/version label
    namespace: str = "hermes"
    kubernetes_version: str = "1.34"
    storage_size: str = "20Gi"
    storage_class_name: pulumi.Input[str] | None = None  # None: the cluster's default class
    resources: ContainerResources = ContainerResources("500m", "1Gi", "4Gi")
    read_only_root_filesystem: bool = False  # opt-in: s6 with S6_READ_ONLY_ROOT, unverified upstream
    model: ModelConfig = ModelConfig()
    provider_api_key: pulumi.Input[str] | None = None  # a Pulumi secret; env var per PROVIDER_KEY_ENV
    api_server_key: pulumi.Input[str] | None = None  # a Pulumi secret; generated when None
    existing_secret_name: str = ""  # use this Secret instead of creating one
    dashboard_username: str = "admin"
    dashboard_oidc_issuer: str = ""
    dashboard_oidc_client_id: str = ""
    service_account_annotations: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    ingress: IngressConfig | None = None
    # What the namespace, the volume and the Ingress need first and must outlive them on `pulumi
    # destroy` (the CSI driver, StorageClass, ingress controller, their credentials and nodes), and
    # what the pod needs first (its IAM binding).
    platform_depends_on: Sequence[pulumi.Resource] = ()
    workload_depends_on: Sequence[pulumi.Resource] = ()


class HermesAgent(pulumi.ComponentResource):
    namespace: k8s.core.v1.Namespace
    deployment: k8s.apps.v1.Deployment
    volume: k8s.core.v1.PersistentVolumeClaim
    service_account: k8s.core.v1.ServiceAccount
    api_service: k8s.core.v1.Service
    dashboard_service: k8s.core.v1.Service
    ingress: k8s.networking.v1.Ingress | None

    def __init__(self, name: str, args: HermesAgentArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("hermes-eks:index:HermesAgent", name, None, opts)
        self._name = name
        self._args = args
        self.labels = standard_labels(name, args.app_version)
        self.selector = {"app.kubernetes.io/name": "hermes-agent", "app.kubernetes.io/instance": name}
        child = pulumi.ResourceOptions(parent=self)

        # The namespace and the volume hold the agent's learned state: `protect` makes any update
        # that would delete or replace them (a rename, a namespace change) fail instead.
        self.namespace = k8s.core.v1.Namespace(
            name,
            metadata={"name": args.namespace, "labels": {**self.labels, **self._pod_security_labels()}},
            # Deleting a namespace waits for the finalizers of everything in it (the controllers'
            # TargetGroupBindings, the claim): the platform must outlive it on `pulumi destroy`.
            opts=pulumi.ResourceOptions(parent=self, protect=True, depends_on=list(args.platform_depends_on)),
        )
        ns = self.namespace.metadata.name

        self.secret_name, credentials = self._credentials(ns)
        self.volume = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-data",
            metadata={"name": f"{name}-data", "namespace": ns, "labels": self.labels},
            spec={
                "accessModes": ["ReadWriteOnce"],  # EBS; Hermes' SQLite (WAL) is unsafe on NFS/EFS
                "storageClassName": args.storage_class_name,
                "resources": {"requests": {"storage": args.storage_size}},
            },
            opts=pulumi.ResourceOptions(parent=self, protect=True, depends_on=list(args.platform_depends_on)),
        )
        self.service_account = k8s.core.v1.ServiceAccount(
            name,
            metadata={"name": name, "namespace": ns, "labels": self.labels,
                      "annotations": dict(args.service_account_annotations)},
            # IRSA and EKS Pod Identity inject their own projected token; nothing in the pod talks to
            # the Kubernetes API, so the API token is not mounted.
            automount_service_account_token=False,
            opts=child,
        )
        self.deployment = self._deployment(ns)
        self.api_service = self._service(ns, "api", GATEWAY_PORT, GATEWAY_HEALTH_PATH)
        self.dashboard_service = self._service(ns, "dashboard", DASHBOARD_PORT, DASHBOARD_HEALTH_PATH)
        self.network_policy = k8s.networking.v1.NetworkPolicy(
            name,
            metadata={"name": name, "namespace": ns, "labels": self.labels},
            spec={
                "podSelector": {"matchLabels": self.selector},
                "policyTypes": ["Ingress"],
                "ingress": [{"ports": [{"protocol": "TCP", "port": GATEWAY_PORT},
                                       {"protocol": "TCP", "port": DASHBOARD_PORT}]}],
            },
            opts=child,
        )
        self.ingress = self._ingress(ns) if args.ingress else None

        self.outputs = self._outputs(ns, credentials)
        self.register_outputs(self.outputs)

    # -----------------------------------------------------------------------------------------
    def _pod_security_labels(self) -> dict[str, str]:
        # The stock image must start as root with a few capabilities (s6-overlay), which the
        # `restricted` level forbids and `baseline` allows; warn/audit still report every gap.
        version = f"v{self._args.kubernetes_version}"
        return {
            "pod-security.kubernetes.io/enforce": "baseline",
            "pod-security.kubernetes.io/enforce-version": version,
            "pod-security.kubernetes.io/warn": "restricted",
            "pod-security.kubernetes.io/warn-version": version,
            "pod-security.kubernetes.io/audit": "restricted",
            "pod-security.kubernetes.io/audit-version": version,
        }

    def _credentials(self, ns: pulumi.Output[str]):
        args = self._args
        if args.existing_secret_name:
            return args.existing_secret_name, None
        credentials = generate_credentials(self._name, self, args.api_server_key)
        data = {
            SECRET_API_SERVER_KEY: credentials.api_server_key,
            SECRET_PASSWORD_HASH: credentials.dashboard_password_hash,
            SECRET_SIGNING_KEY: credentials.dashboard_signing_secret,
        }
        if args.provider_api_key is not None:
            data[PROVIDER_KEY_ENV[args.model.provider]] = pulumi.Output.secret(args.provider_api_key)
        secret_name = f"{self._name}-credentials"
        k8s.core.v1.Secret(
            secret_name,
            metadata={"name": secret_name, "namespace": ns, "labels": self.labels},
            type="Opaque",
            string_data=data,
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["data", "stringData"]),
        )
        return secret_name, credentials

    def _secret_env(self, env_name: str, key: str | None = None, optional: bool = False) -> dict:
        ref = {"name": self.secret_name, "key": key or env_name}
        if optional:
            ref["optional"] = True
        return {"name": env_name, "valueFrom": {"secretKeyRef": ref}}

    def _public_url(self) -> str:
        ingress = self._args.ingress
        return f"https://{ingress.dashboard_host}" if ingress and ingress.dashboard_host else ""

    def _deployment(self, ns: pulumi.Output[str]) -> k8s.apps.v1.Deployment:
        args = self._args
        data_mount = {"name": "data", "mountPath": HERMES_HOME}

        env = [
            # The gateway's OpenAI-compatible API server (gateway/config.py). Without a key it refuses
            # to start, and a short or placeholder key is refused too.
            {"name": "API_SERVER_ENABLED", "value": "true"},
            {"name": "API_SERVER_HOST", "value": "0.0.0.0"},
            {"name": "API_SERVER_PORT", "value": str(GATEWAY_PORT)},
            self._secret_env("API_SERVER_KEY", SECRET_API_SERVER_KEY),
            # The image's s6 `dashboard` service starts when HERMES_DASHBOARD is true, with its host
            # and port from these variables (their defaults changed between releases: set them).
            {"name": "HERMES_DASHBOARD", "value": "1"},
            {"name": "HERMES_DASHBOARD_HOST", "value": "0.0.0.0"},
            {"name": "HERMES_DASHBOARD_PORT", "value": str(DASHBOARD_PORT)},
            # A non-loopback dashboard refuses to start without an auth provider: basic auth, with
            # only the scrypt hash and a stable token-signing key leaving the stack.
            {"name": "HERMES_DASHBOARD_BASIC_AUTH_USERNAME", "value": args.dashboard_username},
            self._secret_env("HERMES_DASHBOARD_BASIC_AUTH_PASSWORD_HASH", SECRET_PASSWORD_HASH),
            self._secret_env("HERMES_DASHBOARD_BASIC_AUTH_SECRET", SECRET_SIGNING_KEY),
        ]
        if self._public_url():
            env += [
                # Used for the OIDC redirect URI (<public url>/auth/callback).
                {"name": "HERMES_DASHBOARD_PUBLIC_URL", "value": self._public_url()},
                # uvicorn trusts X-Forwarded-* only from these peers; behind the load balancer it must
                # trust it, or the session cookies lose `Secure` and redirects say http://.
                {"name": "FORWARDED_ALLOW_IPS", "value": "*"},
            ]
        if args.dashboard_oidc_issuer:
            env += [
                {"name": "HERMES_DASHBOARD_OIDC_ISSUER", "value": args.dashboard_oidc_issuer},
                {"name": "HERMES_DASHBOARD_OIDC_CLIENT_ID", "value": args.dashboard_oidc_client_id},
            ]
        if args.model.provider in PROVIDER_KEY_ENV and (args.provider_api_key is not None or args.existing_secret_name):
            env.append(self._secret_env(PROVIDER_KEY_ENV[args.model.provider], optional=bool(args.existing_secret_name)))

        volume_mounts = [data_mount]
        volumes = [{"name": "data", "persistentVolumeClaim": {"claimName": self.volume.metadata.name}}]
        if args.read_only_root_filesystem:
            # s6-overlay keeps its state under /run; S6_READ_ONLY_ROOT tells it the root is sealed.
            env.append({"name": "S6_READ_ONLY_ROOT", "value": "1"})
            volume_mounts += [{"name": "run", "mountPath": "/run"}, {"name": "tmp", "mountPath": "/tmp"}]
            volumes += [{"name": "run", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}]

        hermes = {
            "name": "hermes",
            "image": args.image,
            "imagePullPolicy": "IfNotPresent",
            # CMD for the image's entrypoint (/init + main-wrapper.sh): `hermes gateway run`, which
            # hands the gateway to s6's supervision; HERMES_DASHBOARD=1 adds the dashboard service.
            "args": ["gateway", "run"],
            "env": env,
            "ports": [
                {"name": "api", "containerPort": GATEWAY_PORT, "protocol": "TCP"},
                {"name": "dashboard", "containerPort": DASHBOARD_PORT, "protocol": "TCP"},
            ],
            "resources": args.resources.as_manifest(),
            # First boot seeds, migrates and syncs HERMES_HOME: allow 10 minutes before liveness counts.
            "startupProbe": _http_probe("api", GATEWAY_HEALTH_PATH, period=10, failures=60),
            # Readiness follows the API (both Services select this pod); the ALB's target groups
            # still check each process on its own path (Service annotations below).
            "readinessProbe": _http_probe("api", GATEWAY_HEALTH_PATH, period=10, failures=3),
            "livenessProbe": {
                "exec": {"command": [
                    IMAGE_PYTHON, "-c", LIVENESS_SCRIPT,
                    f"http://127.0.0.1:{GATEWAY_PORT}{GATEWAY_HEALTH_PATH}",
                    f"http://127.0.0.1:{DASHBOARD_PORT}{DASHBOARD_HEALTH_PATH}",
                ]},
                "periodSeconds": 30,
                "timeoutSeconds": 10,
                "failureThreshold": 3,
            },
            "securityContext": {
                "runAsUser": 0,  # s6-overlay's init must start as root; it drops to UID 10000 itself
                "runAsNonRoot": False,
                "allowPrivilegeEscalation": False,
                "privileged": False,
                "readOnlyRootFilesystem": args.read_only_root_filesystem,
                "capabilities": {"drop": ["ALL"], "add": list(S6_CAPABILITIES)},
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "volumeMounts": volume_mounts,
        }

        init_containers = []
        config_pairs = args.model.config_pairs()
        if config_pairs:
            init_containers.append({
                "name": "configure",
                "image": args.image,
                "imagePullPolicy": "IfNotPresent",
                # Not the entrypoint: s6's /init would refuse to run as anything but PID 1.
                "command": ["/bin/sh", "-c", CONFIGURE_SCRIPT, "configure"],
                "args": [item for pair in config_pairs for item in pair],
                "env": [
                    {"name": "HERMES", "value": IMAGE_HERMES},
                    {"name": "HERMES_HOME", "value": HERMES_HOME},
                    {"name": "HOME", "value": "/tmp"},
                ],
                "resources": ContainerResources("100m", "256Mi", "512Mi").as_manifest(),
                # As the hermes user, so every file it creates belongs to hermes, not root.
                "securityContext": _unprivileged(),
                "volumeMounts": [data_mount, {"name": "configure-tmp", "mountPath": "/tmp"}],
            })
            volumes.append({"name": "configure-tmp", "emptyDir": {"sizeLimit": "256Mi"}})

        pod_spec = {
            "serviceAccountName": self.service_account.metadata.name,
            "automountServiceAccountToken": False,
            # Service links would put HERMES_DASHBOARD_PORT=tcp://... into the environment for a
            # Service called hermes-dashboard, overriding the dashboard's port above.
            "enableServiceLinks": False,
            "securityContext": {
                # Volume files group-writable by the hermes group from the first mount, so the
                # unprivileged init container can write before s6 has chowned anything.
                "fsGroup": HERMES_UID,
                "fsGroupChangePolicy": "OnRootMismatch",
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "terminationGracePeriodSeconds": 60,
            "initContainers": init_containers,
            "containers": [hermes],
            "volumes": volumes,
        }
        return k8s.apps.v1.Deployment(
            self._name,
            metadata={"name": self._name, "namespace": ns, "labels": self.labels},
            spec={
                # One writer per HERMES_HOME (upstream: never two gateways on one data directory), and a
                # ReadWriteOnce volume can only move once the old pod is gone: Recreate, never RollingUpdate.
                "replicas": 1,
                "strategy": {"type": "Recreate"},
                "revisionHistoryLimit": 5,
                "selector": {"matchLabels": self.selector},
                "template": {"metadata": {"labels": self.labels}, "spec": pod_spec},
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=list(self._args.workload_depends_on),
                # A 5 GB image pull plus the first boot's seeding outlast the provider's 10-minute default.
                custom_timeouts=pulumi.CustomTimeouts(create="30m", update="30m"),
            ),
        )

    def _service(self, ns: pulumi.Output[str], role: str, port: int, health_path: str) -> k8s.core.v1.Service:
        service_name = f"{self._name}-{role}"
        return k8s.core.v1.Service(
            service_name,
            metadata={
                "name": service_name,
                "namespace": ns,
                "labels": self.labels,
                # Per-Service health checks for the ALB target groups (Service annotations override
                # the Ingress's), so each target group probes the process behind it.
                "annotations": {"alb.ingress.kubernetes.io/healthcheck-path": health_path},
            },
            spec={
                "type": "ClusterIP",
                "selector": self.selector,
                "ports": [{"name": "http", "port": port, "targetPort": "api" if role == "api" else "dashboard",
                           "protocol": "TCP"}],
            },
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _ingress(self, ns: pulumi.Output[str]) -> k8s.networking.v1.Ingress:
        ingress = self._args.ingress
        # Routed by host, never by path: the dashboard's own UI calls /api/status, /api/sessions,
        # /api/config... on its origin, and the gateway serves /api/sessions too.
        rules = []
        if ingress.dashboard_host:
            rules.append(_host_rule(ingress.dashboard_host, self.dashboard_service))
        if ingress.api_host:
            rules.append(_host_rule(ingress.api_host, self.api_service))
        return k8s.networking.v1.Ingress(
            self._name,
            metadata={"name": self._name, "namespace": ns, "labels": self.labels,
                      "annotations": dict(ingress.annotations)},
            spec={"ingressClassName": ingress.class_name, "rules": rules},
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(self._args.platform_depends_on)),
        )

    def _outputs(self, ns: pulumi.Output[str], credentials) -> dict:
        ingress = self._args.ingress
        api_service = self.api_service.metadata.name
        dashboard_service = self.dashboard_service.metadata.name
        dashboard_url = pulumi.Output.from_input(self._public_url() or f"http://localhost:{DASHBOARD_PORT}")
        if ingress and ingress.api_host:
            api_base_url = pulumi.Output.from_input(f"https://{ingress.api_host}/v1")
        else:
            api_base_url = pulumi.Output.from_input(f"http://localhost:{GATEWAY_PORT}/v1")
        outputs = {
            "namespace": ns,
            "api_service_name": api_service,
            "dashboard_service_name": dashboard_service,
            "dashboard_url": dashboard_url,
            "api_base_url": api_base_url,
            "dashboard_username": self._args.dashboard_username,
            "port_forward_commands": pulumi.Output.all(ns, api_service, dashboard_service).apply(
                lambda v: [
                    f"kubectl -n {v[0]} port-forward svc/{v[2]} {DASHBOARD_PORT}:{DASHBOARD_PORT}",
                    f"kubectl -n {v[0]} port-forward svc/{v[1]} {GATEWAY_PORT}:{GATEWAY_PORT}",
                ]
            ),
        }
        if credentials is not None:
            outputs["api_server_key"] = credentials.api_server_key
            outputs["dashboard_password"] = credentials.dashboard_password
        for key, value in outputs.items():
            setattr(self, key, value)
        return outputs


def _http_probe(port: str, path: str, *, period: int, failures: int, timeout: int = 3) -> dict:
    return {
        "httpGet": {"path": path, "port": port, "scheme": "HTTP"},
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": failures,
    }


def _unprivileged() -> dict:
    """A container that needs nothing: the Pod Security `restricted` profile, read-only root."""
    return {
        "runAsUser": HERMES_UID,
        "runAsGroup": HERMES_UID,
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _host_rule(host: str, service: k8s.core.v1.Service) -> dict:
    return {
        "host": host,
        "http": {"paths": [{
            "path": "/",
            "pathType": "Prefix",
            "backend": {"service": {"name": service.metadata.name, "port": {"name": "http"}}},
        }]},
    }
