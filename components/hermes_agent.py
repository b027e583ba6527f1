"""HermesAgent: the Hermes gateway and dashboard on any Kubernetes cluster.

Cluster-agnostic: it receives a Kubernetes provider (through `opts.providers`) and typed args, and
creates the namespace, credentials, the ONE volume holding HERMES_HOME, the service account, the
Deployment, two ClusterIP Services, an optional host-routed Ingress and a NetworkPolicy.

Pod layout (README "Why one container"): upstream's own. One container runs the image's entrypoint
(s6-overlay as PID 1) with `gateway run` and HERMES_DASHBOARD=1, so s6 boots HERMES_HOME once and then
supervises both the gateway (API server on 0.0.0.0:8642) and the dashboard (0.0.0.0:9119, basic auth)
in ONE process namespace. That matters: in a second container the dashboard cannot see the gateway's
PID and deletes its gateway.pid and gateway.lock, the lock that keeps a second gateway off the volume
(measured on 0.19.0, gateway/status.py _cleanup_invalid_pid_path).

Two init containers of the same image run before the image's own boot, on every pod start
(README "Credentials the stack manages"): `volume-owner` (root, CHOWN + DAC_OVERRIDE only) gives every
file on the volume back to the hermes user, so a restore done as root or an old HERMES_UID cannot
lock the next step out; `configure` (the hermes user, nothing else) writes the model keys with
`hermes config set` and pins the credentials this stack manages into $HERMES_HOME/.env.

When the stack asks for it (`volume_metrics`), a second container of the same image, unprivileged and
with the volume mounted read-only, publishes the volume's fill level (components/volume_metrics.py).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.dashboard_login import generate_credentials
from components.egress_policy import EgressPort, egress_policy_spec
from components.labels import standard_labels
from components.messaging import WEBHOOK_HEALTH_PATH, MessagingWorkload, webhook_rule
from components.operator_commands import port_forward
from components.volume_metrics import SIDECAR_VOLUMES, VolumeMetrics, metric_dimensions, sidecar_container

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

# How long a stopping pod may take (the kubelet's SIGTERM-to-SIGKILL), and what s6 keeps of it for the
# gateway. The image pins s6-overlay 3.2.3.0 (the tag's Dockerfile, S6_OVERLAY_VERSION), which bundles
# s6-linux-init 1.2.0.1 (s6-overlay conf/versions). At this tag the gateway is not an s6-rc service: the
# image's `gateway run` writes a service directory under /run/service that s6-svscan supervises
# (hermes_cli/gateway.py ~6556, service_manager.py ~624). On SIGTERM, stage 3 (`s6-rc -bda change`)
# stops only s6-rc services (the dashboard); then s6-linux-init-shutdownd sends the remaining
# supervisors and every process TERM, sleeps S6_KILL_GRACETIME ms and SIGKILLs what is left
# (s6-linux-init-shutdownd.c ~365-389; stage0 passes the variable as -q). So S6_KILL_GRACETIME is the
# gateway's window. S6_SERVICES_GRACETIME only bounds the wait for /etc/services.d services
# (scripts/services-down), of which this image has none; it is set to the same value for images that
# add some. Both default to 3000 (s6-overlay README v3.2.3.0, "Customizing s6-overlay behaviour"). The
# margin is for stage 3 and the container runtime. The cost: that sleep is unconditional (deepsleepuntil,
# no check for live processes), so every stop of the pod takes about 50 s. Hermes itself drains
# in-flight agent turns only when agent.restart_drain_timeout is set (default 0: interrupt, clean up,
# exit; gateway/restart.py).
TERMINATION_GRACE_SECONDS = 60
S6_SHUTDOWN_MARGIN_SECONDS = 10
S6_GRACE_MILLISECONDS = str((TERMINATION_GRACE_SECONDS - S6_SHUTDOWN_MARGIN_SECONDS) * 1000)

# The `volume-owner` init container: everything on the volume not owned by UID:GID $2 is given to it.
# The image's boot hook (docker/stage2-hook.sh) would repair most of it too, but it runs AFTER the init
# containers, and `hermes config set` fails on any root-owned file it reads or appends to (config.yaml,
# .env, logs/*.log: measured on 0.19.0). `find` never follows symlinks and `chown -h` changes a link
# itself, so a link planted on the volume cannot redirect the chown; -xdev stays on this filesystem.
REPAIR_OWNERSHIP_SCRIPT = 'find "$1" -xdev \\( ! -user "$2" -o ! -group "$2" \\) -exec chown -h "$2:$2" {} +\n'
# CHOWN to change owners; DAC_OVERRIDE to walk directories hermes created 0700 (Pod Security
# `baseline` admits DAC_OVERRIDE but not the narrower DAC_READ_SEARCH). No SETUID/SETGID: this
# container never changes user, the `configure` container runs as the hermes user from the start.
VOLUME_OWNER_CAPABILITIES = ("CHOWN", "DAC_OVERRIDE")

# Upstream's first-boot files, in the image (the tag's docker/stage2-hook.sh `seed_one`, INSTALL_DIR
# /opt/hermes): the stage2 hook copies each to HERMES_HOME only when absent, but it runs after the init
# containers, so `configure` seeds them first and a new volume starts from upstream's defaults.
IMAGE_CONFIG_EXAMPLE = "/opt/hermes/cli-config.yaml.example"  # -> config.yaml
IMAGE_ENV_EXAMPLE = "/opt/hermes/.env.example"  # -> .env


def env_file_problem(value: str) -> str:
    """Why `configure` cannot write `value` into $HERMES_HOME/.env for Hermes to read back unchanged; "" if it can.

    configure writes NAME='value'. Hermes 0.19.0 reads .env twice: python-dotenv 1.2.2 with interpolation
    on (hermes_cli/env_loader.py _load_dotenv_with_fallback -> load_dotenv), which expands ${NAME} and
    ${NAME:-default} even inside single quotes, has no escape for `$` (dotenv/variables.py
    _posix_variable, dotenv/main.py resolve_variables) and decodes \\ and \\' in single quotes
    (dotenv/parser.py); and its own parser, which keeps single-quoted text as it is
    (hermes_cli/config.py _parse_env_value). It also strips non-ASCII characters from credentials
    (env_loader.py _sanitize_loaded_credentials). Runs at preview (settings/) and, for a Secret of
    your own, in the pod (CONFIGURE_SCRIPT embeds this function's source).
    """
    if any(c in value for c in "\r\n\0"):
        return "a line break or NUL character"
    if any(c in value for c in "'\\"):
        return "a quote (') or backslash"
    if "${" in value:
        return "`${`, which python-dotenv expands even inside quotes"
    if not value.isascii():
        return "a non-ASCII character, which Hermes strips from credentials"
    return ""


# The `configure` init container, run by the image's Python as the hermes user, on every pod start.
# argv: the config "key value" pairs for `hermes config set`, then "--", then the names of the
# environment variables to pin in $HERMES_HOME/.env.
#   1. The pinned values are checked first (below), so a refused one changes nothing on the volume.
#   2. A volume without config.yaml or .env gets upstream's example (IMAGE_CONFIG_EXAMPLE, ...); then
#      the config pairs are set, in the root profile: a bare `hermes` follows $HERMES_HOME/active_profile
#      (a profile switched to in the dashboard or with `hermes profile use`), the image's supervised
#      gateway never does (HERMES_S6_SUPERVISED_CHILD: the reserved gateway-default slot is the root
#      profile; hermes_cli/main.py _apply_profile_override), so `--profile default` writes where the
#      gateway reads; a value that is only a reference `${NAME}` to a variable the pod lacks
#      (an optional key a Secret of your own does not hold) is written empty: Hermes keeps an unresolved
#      reference as literal text (hermes_cli/config.py _expand_env_vars) and would send `${NAME}` as the key.
#   3. The pinned variables are written into .env. Hermes loads that file with override on
#      (hermes_cli/env_loader.py load_hermes_dotenv) and reads provider keys from it before the
#      environment (hermes_cli/auth.py, get_env_value_prefer_dotenv), so a key the dashboard or CLI
#      saved there, or the random API_SERVER_KEY later images' boot hook appends when .env has none,
#      would beat the Secret. Every line assigning a pinned name (plain or `export`) is
#      replaced by NAME='value'; every other line is kept as it was. A pinned name whose variable is
#      unset is left alone. Values come from the environment (secretKeyRef), never argv. A value
#      env_file_problem refuses, or one Hermes' own loaders (run here, in a scratch HERMES_HOME) would
#      not read back unchanged, stops the pod start with the variable's name, never its value.
CONFIGURE_BODY = r"""
import json, os, re, shutil, subprocess, sys, tempfile
separator = sys.argv.index("--")
settings, pinned = sys.argv[1:separator], sys.argv[separator + 1:]
home = os.environ["HERMES_HOME"]
env_file = os.path.join(home, ".env")
values = {name: os.environ[name] for name in pinned if os.environ.get(name)}
for name, value in values.items():
    problem = env_file_problem(value)
    if problem:
        sys.exit(f"configure: {name} contains {problem}; Hermes cannot read it from .env unchanged")
pins = [f"{name}='{value}'\n" for name, value in values.items()]
READ_BACK = (
    "import json, os, sys\n"
    "from hermes_cli.env_loader import load_hermes_dotenv\n"
    "from hermes_cli.config import load_env\n"
    "load_hermes_dotenv()\n"
    "own = load_env()\n"
    "print(json.dumps({n: [os.environ.get(n), own.get(n)] for n in sys.argv[1:]}))\n"
)
if values:
    with tempfile.TemporaryDirectory() as scratch:
        with open(os.path.join(scratch, ".env"), "w", encoding="utf-8") as f:
            f.writelines(pins)
        clean = {k: v for k, v in os.environ.items() if k not in values}
        result = subprocess.run([sys.executable, "-c", READ_BACK, *values], capture_output=True, text=True,
                                env={**clean, "HERMES_HOME": scratch, "HOME": scratch}, check=True)
    read = json.loads(result.stdout.strip().splitlines()[-1])
    for name, value in values.items():
        if read[name] != [value, value]:
            sys.exit(f"configure: Hermes would read {name} from .env changed; use another value")
for target, example in (("config.yaml", os.environ["CONFIG_EXAMPLE"]), (".env", os.environ["ENV_EXAMPLE"])):
    path = os.path.join(home, target)
    if not os.path.lexists(path) and os.path.isfile(example):
        with open(example, "rb") as source, open(path, "xb") as copy:
            shutil.copyfileobj(source, copy)
        print(f"configure: seeded {path} from {example}")
for key, value in zip(settings[::2], settings[1::2]):
    reference = re.fullmatch(r"\$\{(\w+)\}", value)
    if reference and not os.environ.get(reference[1]):
        print(f"configure: {reference[1]} is not set: {key} is left empty")
        value = ""
    subprocess.run([os.environ["HERMES"], "--profile", "default", "config", "set", key, value], check=True)
try:
    with open(env_file, encoding="utf-8") as f:
        lines = f.readlines()
except FileNotFoundError:
    lines = []
def assigned(line):
    text = line.strip()
    if text.startswith("export "):
        text = text[7:].lstrip()
    return text.partition("=")[0].strip() if "=" in text else None
kept = [line if line.endswith("\n") else line + "\n" for line in lines if assigned(line) not in values]
fd, tmp = tempfile.mkstemp(dir=home, prefix=".env_", suffix=".tmp")
with os.fdopen(fd, "w", encoding="utf-8") as f:
    f.writelines(kept + pins)
    f.flush()
    os.fsync(f.fileno())
os.replace(tmp, env_file)
print(f"configure: pinned {sorted(values)} in {env_file}")
"""
CONFIGURE_SCRIPT = inspect.getsource(env_file_problem) + CONFIGURE_BODY

# The keys of the credentials Secret. An externally managed Secret (existingSecretName) must
# provide the same keys; see README "Bring your own Secret".
SECRET_API_SERVER_KEY = "API_SERVER_KEY"
SECRET_PASSWORD_HASH = "HERMES_DASHBOARD_BASIC_AUTH_PASSWORD_HASH"
SECRET_SIGNING_KEY = "HERMES_DASHBOARD_BASIC_AUTH_SECRET"
PROVIDER_KEY_ENV = {"openrouter": "OPENROUTER_API_KEY", "custom": "OPENAI_API_KEY"}
# Read by Hermes 0.19.0 for a confidential OIDC client ("optional; set for a confidential client",
# plugins/dashboard_auth/self_hosted/__init__.py); the Secret key and the variable share the name.
SECRET_OIDC_CLIENT_SECRET = "HERMES_DASHBOARD_OIDC_CLIENT_SECRET"


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

    def config_pairs(self, api_key_env: str = "") -> list[tuple[str, str]]:
        """`api_key_env`: the pod env variable holding the provider key, if the pod has one."""
        if self.provider == "none":
            return []
        pairs = [("model.provider", self.provider), ("model.default", self.default)]
        if self.base_url:
            pairs.append(("model.base_url", self.base_url))
        if self.provider == "custom":
            # Hermes sends OPENAI_API_KEY only to openai.com/Azure hosts; any other custom endpoint
            # gets model.api_key or nothing (hermes_cli/runtime_provider.py
            # _resolve_openrouter_runtime, upstream #28660). Config values expand ${VAR} from the
            # process env when loaded (hermes_cli/config.py _expand_env_vars), so config.yaml names
            # the variable and never holds the secret; empty when the stack has no key.
            pairs.append(("model.api_key", f"${{{api_key_env}}}" if api_key_env else ""))
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


# On the claim and PersistentVolume of a restored volume: the snapshot they were restored from.
RESTORED_FROM_ANNOTATION = "hermes-eks/restored-from-snapshot"


@dataclass(frozen=True)
class RestoredClaim:
    """An existing EBS volume (components/restored_volume.py) for Hermes to run on instead of `<name>-data`."""

    snapshot_id: str  # names the claim and the PersistentVolume
    volume_id: pulumi.Input[str]
    availability_zone: pulumi.Input[str]
    size_gib: pulumi.Input[int]


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
    dashboard_oidc_client_secret: pulumi.Input[str] | None = None  # a Pulumi secret; confidential client
    service_account_annotations: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    ingress: IngressConfig | None = None
    restored: RestoredClaim | None = None  # run on this volume; `<name>-data` is kept as it is
    # Where traffic to the two ports may come from (NetworkPolicy) and whose X-Forwarded-* headers
    # Hermes trusts (FORWARDED_ALLOW_IPS): the load balancer's addresses. Empty: nothing from outside
    # the pod, which still leaves `kubectl port-forward` (it connects through the pod's own loopback,
    # and a pod cannot block access to itself) and the kubelet's probes (traffic from the pod's node
    # is always allowed): kubernetes.io docs, concepts/services-networking/network-policies.
    allowed_source_cidrs: pulumi.Input[Sequence[str]] = ()
    # What the namespace, the volume and the Ingress need first and must outlive them on `pulumi
    # destroy` (the CSI driver, StorageClass, ingress controller, their credentials and nodes), and
    # what the pod needs first (its IAM binding).
    platform_depends_on: Sequence[pulumi.Resource] = ()
    workload_depends_on: Sequence[pulumi.Resource] = ()
    # kubectl's flags that reach this cluster from where `pulumi up` runs (`--context <name>`,
    # `--kubeconfig <file>`), for the exported port-forward commands; none: the current context.
    kubectl_flags: tuple[str, ...] = ()
    # A sidecar that publishes the volume's fill level to CloudWatch (components/volume_metrics.py);
    # None: no sidecar. The pod's IAM role must allow it (wiring.py asks for both together).
    volume_metrics: VolumeMetrics | None = None
    # Messaging platforms (components/messaging.py): their env, Secret keys, webhook ports and Ingress.
    messaging: MessagingWorkload = field(default_factory=MessagingWorkload)
    # Where the webhook Ingress's load balancer connects from (NetworkPolicy of the webhook ports).
    webhook_source_cidrs: pulumi.Input[Sequence[str]] = ()
    # An egress NetworkPolicy (components/egress_policy.py) opening these ports beyond DNS and 443; None: none.
    egress_ports: Sequence[EgressPort] | None = None


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
        # The release's version label only on the workload it describes: on every object, a release
        # bump would also update the namespace, the volume, the Secret and the Services.
        self.labels = standard_labels(name)
        self.workload_labels = standard_labels(name, args.app_version)
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
        self.restored_volume = self._restored_claim(ns) if args.restored else None
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
        webhook_ports = [w.port for w in args.messaging.webhooks]
        self.network_policy = k8s.networking.v1.NetworkPolicy(
            name,
            metadata={"name": name, "namespace": ns, "labels": self.labels},
            spec=pulumi.Output.all(args.allowed_source_cidrs, args.webhook_source_cidrs).apply(
                lambda v: network_policy_spec(self.selector, list(v[0]), webhook_ports, list(v[1]))
            ),
            opts=child,
        )
        self.ingress = self._ingress(ns) if args.ingress else None
        self.webhook_service = self._webhook_service(ns) if args.messaging.webhooks else None
        self.egress_policy = k8s.networking.v1.NetworkPolicy(
            f"{name}-egress",
            metadata={"name": f"{name}-egress", "namespace": ns, "labels": self.labels},
            spec=egress_policy_spec(self.selector, args.egress_ports),
            opts=child,
        ) if args.egress_ports is not None else None
        self.webhook_ingress = self._webhook_ingress(ns) if args.messaging.webhook_ingress else None

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
        if args.dashboard_oidc_client_secret is not None:
            data[SECRET_OIDC_CLIENT_SECRET] = pulumi.Output.secret(args.dashboard_oidc_client_secret)
        for env_name, value in args.messaging.secret_values.items():  # Secret key = the variable's name
            data[env_name] = pulumi.Output.secret(value)
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
            # s6 gives the gateway the pod's grace period to stop, not its 3 s default.
            {"name": "S6_KILL_GRACETIME", "value": S6_GRACE_MILLISECONDS},
            {"name": "S6_SERVICES_GRACETIME", "value": S6_GRACE_MILLISECONDS},
        ]
        if self._public_url():
            env += [
                # Used for the OIDC redirect URI (<public url>/auth/callback).
                {"name": "HERMES_DASHBOARD_PUBLIC_URL", "value": self._public_url()},
                # uvicorn trusts X-Forwarded-* only from these peers: the load balancer's addresses,
                # or the session cookies lose `Secure` and redirects say http://. Never "*": any
                # other peer could then claim to be https or another client. uvicorn 0.54 (what
                # hermes-agent 0.19.0 runs) takes addresses and CIDRs, comma separated
                # (uvicorn/middleware/proxy_headers.py, _TrustedHosts).
                {"name": "FORWARDED_ALLOW_IPS",
                 "value": pulumi.Output.from_input(args.allowed_source_cidrs).apply(lambda cidrs: ",".join(cidrs))},
            ]
        if args.dashboard_oidc_issuer:
            env += [
                {"name": "HERMES_DASHBOARD_OIDC_ISSUER", "value": args.dashboard_oidc_issuer},
                {"name": "HERMES_DASHBOARD_OIDC_CLIENT_ID", "value": args.dashboard_oidc_client_id},
            ]
            # A public client (PKCE only) has no secret; an own Secret (existingSecretName) may hold one.
            if args.dashboard_oidc_client_secret is not None or args.existing_secret_name:
                env.append(self._secret_env(SECRET_OIDC_CLIENT_SECRET, optional=bool(args.existing_secret_name)))
        provider_key_env = ""
        if args.model.provider in PROVIDER_KEY_ENV and (args.provider_api_key is not None or args.existing_secret_name):
            provider_key_env = PROVIDER_KEY_ENV[args.model.provider]
            env.append(self._secret_env(provider_key_env, optional=bool(args.existing_secret_name)))
        # Messaging: tokens only through the Secret (so `configure` pins them below), the rest plain.
        env += [self._secret_env(env_name) for env_name in args.messaging.secret_names]
        env += [{"name": env_name, "value": value} for env_name, value in args.messaging.env]

        volume_mounts = [data_mount]
        data_claim = (self.restored_volume or self.volume).metadata.name
        volumes = [{"name": "data", "persistentVolumeClaim": {"claimName": data_claim}}]
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
                *({"name": w.port_name, "containerPort": w.port, "protocol": "TCP"} for w in args.messaging.webhooks),
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

        # The credentials Hermes must take from the Secret, whatever .env on the volume says.
        # Messaging settings too (allow-lists, home channels): .env, which the dashboard edits, would
        # otherwise replace them (hermes_cli/env_loader.py load_hermes_dotenv, override=True, line 314).
        messaging_plain = {name for name, _ in args.messaging.env}
        pinned = [e for e in env if "valueFrom" in e or e["name"] in messaging_plain]
        init_containers = _init_containers(args.image, args.model.config_pairs(provider_key_env), pinned, data_mount)
        volumes.append({"name": "configure-tmp", "emptyDir": {"sizeLimit": "256Mi"}})
        sidecars = []
        if args.volume_metrics:
            sidecars.append(sidecar_container(
                args.image, IMAGE_PYTHON, HERMES_HOME, HERMES_UID, args.volume_metrics.region,
                metric_dimensions(args.volume_metrics.cluster_name, args.namespace, self._name),
            ))
            volumes += SIDECAR_VOLUMES

        pod_spec = {
            "serviceAccountName": self.service_account.metadata.name,
            "automountServiceAccountToken": False,
            # Service links would put HERMES_DASHBOARD_PORT=tcp://... into the environment for a
            # Service called hermes-dashboard, overriding the dashboard's port above.
            "enableServiceLinks": False,
            "securityContext": {
                # The kubelet gives the volume to the hermes group when its root looks wrong (Hermes'
                # 0700 chmod of HERMES_HOME makes it so on most starts); never on hostPath volumes.
                # Ownership proper is the volume-owner init container's job.
                "fsGroup": HERMES_UID,
                "fsGroupChangePolicy": "OnRootMismatch",
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
            "initContainers": init_containers,
            "containers": [hermes, *sidecars],
            "volumes": volumes,
        }
        return k8s.apps.v1.Deployment(
            self._name,
            metadata={"name": self._name, "namespace": ns, "labels": self.workload_labels},
            spec={
                # One writer per HERMES_HOME (upstream: never two gateways on one data directory), and a
                # ReadWriteOnce volume can only move once the old pod is gone: Recreate, never RollingUpdate.
                "replicas": 1,
                "strategy": {"type": "Recreate"},
                "revisionHistoryLimit": 5,
                "selector": {"matchLabels": self.selector},
                "template": {"metadata": {"labels": self.workload_labels}, "spec": pod_spec},
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=list(self._args.workload_depends_on),
                # A 5 GB image pull plus the first boot's seeding outlast the provider's 10-minute default.
                custom_timeouts=pulumi.CustomTimeouts(create="30m", update="30m"),
            ),
        )

    def _restored_claim(self, ns: pulumi.Output[str]) -> k8s.core.v1.PersistentVolumeClaim:
        """A PersistentVolume for the restored EBS volume and a claim bound to it (static provisioning,
        kubernetes-sigs/aws-ebs-csi-driver examples/kubernetes/static-provisioning)."""
        args, restored = self._args, self._args.restored
        claim_name = f"{self._name}-data-{restored.snapshot_id}"
        # Cluster-scoped: the namespace in the name keeps two stacks on one cluster apart.
        volume_name = pulumi.Output.concat(ns, "-", claim_name)
        size = pulumi.Output.from_input(restored.size_gib).apply(lambda n: f"{n}Gi")
        # Dropping these from the stack (clearing restoreFromSnapshot) must never delete the data
        # written since the restore: retain, and Retain in the volume's reclaim policy.
        kept = pulumi.ResourceOptions(parent=self, retain_on_delete=True, depends_on=list(args.platform_depends_on))
        # Says what this claim is to readers that cannot see resource options (the policy pack).
        restored_from = {RESTORED_FROM_ANNOTATION: restored.snapshot_id}
        persistent_volume = k8s.core.v1.PersistentVolume(
            claim_name,
            metadata={"name": volume_name, "labels": self.labels, "annotations": restored_from},
            spec={
                "capacity": {"storage": size},
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": args.storage_class_name,
                "claimRef": {"namespace": ns, "name": claim_name},
                "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": restored.volume_id, "fsType": "ext4"},
                # EBS volumes are zonal: only nodes in the volume's zone can attach it.
                "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [{
                    "key": "topology.kubernetes.io/zone", "operator": "In", "values": [restored.availability_zone],
                }]}]}},
            },
            opts=kept,
        )
        return k8s.core.v1.PersistentVolumeClaim(
            claim_name,
            metadata={"name": claim_name, "namespace": ns, "labels": self.labels, "annotations": restored_from},
            spec={
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": args.storage_class_name,
                "volumeName": persistent_volume.metadata.name,
                "resources": {"requests": {"storage": size}},
            },
            opts=kept,
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

    def _webhook_service(self, ns: pulumi.Output[str]) -> k8s.core.v1.Service:
        """Only the webhook ports: the webhook Ingress cannot name the API or dashboard ports."""
        service_name = f"{self._name}-webhooks"
        return k8s.core.v1.Service(
            service_name,
            metadata={"name": service_name, "namespace": ns, "labels": self.labels,
                      "annotations": {"alb.ingress.kubernetes.io/healthcheck-path": WEBHOOK_HEALTH_PATH}},
            spec={
                "type": "ClusterIP",
                "selector": self.selector,
                "ports": [{"name": w.port_name, "port": w.port, "targetPort": w.port_name, "protocol": "TCP"}
                          for w in self._args.messaging.webhooks],
            },
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _webhook_ingress(self, ns: pulumi.Output[str]) -> k8s.networking.v1.Ingress:
        config = self._args.messaging.webhook_ingress
        ingress_name = f"{self._name}-webhooks"
        return k8s.networking.v1.Ingress(
            ingress_name,
            metadata={"name": ingress_name, "namespace": ns, "labels": self.labels,
                      "annotations": dict(config.annotations)},
            spec={"ingressClassName": config.class_name,
                  "rules": [webhook_rule(config.host, self._args.messaging.webhooks,
                                         self.webhook_service.metadata.name)]},
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
            # Runnable as `$(pulumi stack output ...)`: components/operator_commands.py.
            "port_forward_commands": pulumi.Output.all(ns, api_service, dashboard_service).apply(
                lambda v: [
                    port_forward(self._args.kubectl_flags, v[0], v[2], DASHBOARD_PORT),
                    port_forward(self._args.kubectl_flags, v[0], v[1], GATEWAY_PORT),
                ]
            ),
            "api_port_forward": pulumi.Output.all(ns, api_service).apply(
                lambda v: port_forward(self._args.kubectl_flags, v[0], v[1], GATEWAY_PORT)
            ),
        }
        if credentials is not None:
            outputs["api_server_key"] = credentials.api_server_key
            outputs["dashboard_password"] = credentials.dashboard_password
        for key, value in outputs.items():
            setattr(self, key, value)
        return outputs


def network_policy_spec(selector: Mapping[str, str], source_cidrs: list[str],
                        webhook_ports: Sequence[int] = (), webhook_cidrs: Sequence[str] = ()) -> dict:
    """Admit the two ports from `source_cidrs` only; with none, admit nothing from outside the pod.
    Messaging webhook ports (components/messaging.py) only from `webhook_cidrs`, their load balancer.

    Enforced only where the CNI implements NetworkPolicy: the VPC CNI with network policy support
    on (created clusters turn it on; README "Network policy").
    """
    ports = [{"protocol": "TCP", "port": GATEWAY_PORT}, {"protocol": "TCP", "port": DASHBOARD_PORT}]
    rules = [{"from": [{"ipBlock": {"cidr": cidr}} for cidr in source_cidrs], "ports": ports}] if source_cidrs else []
    if webhook_ports and webhook_cidrs:
        rules.append({"from": [{"ipBlock": {"cidr": cidr}} for cidr in webhook_cidrs],
                      "ports": [{"protocol": "TCP", "port": port} for port in webhook_ports]})
    return {"podSelector": {"matchLabels": dict(selector)}, "policyTypes": ["Ingress"], "ingress": rules}


def _http_probe(port: str, path: str, *, period: int, failures: int, timeout: int = 3) -> dict:
    return {
        "httpGet": {"path": path, "port": port, "scheme": "HTTP"},
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": failures,
    }


def _init_containers(image: pulumi.Input[str], config_pairs: list[tuple[str, str]], pinned: list[dict],
                     data_mount: dict) -> list[dict]:
    """volume-owner, then configure: both run on every pod start, before the image's own boot."""
    resources = ContainerResources("100m", "256Mi", "512Mi").as_manifest()
    return [
        {
            "name": "volume-owner",
            "image": image,
            "imagePullPolicy": "IfNotPresent",
            # Not the entrypoint: s6's /init would refuse to run as anything but PID 1.
            "command": ["/bin/sh", "-c", REPAIR_OWNERSHIP_SCRIPT, "volume-owner", HERMES_HOME, str(HERMES_UID)],
            "resources": resources,
            "securityContext": {
                "runAsUser": 0,  # only root may give files to another user
                "runAsGroup": 0,
                "runAsNonRoot": False,
                "allowPrivilegeEscalation": False,
                "privileged": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"], "add": list(VOLUME_OWNER_CAPABILITIES)},
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "volumeMounts": [data_mount],
        },
        {
            "name": "configure",
            "image": image,
            "imagePullPolicy": "IfNotPresent",
            "command": [IMAGE_PYTHON, "-c", CONFIGURE_SCRIPT],
            "args": [*(item for pair in config_pairs for item in pair), "--", *(e["name"] for e in pinned)],
            "env": [
                {"name": "HERMES", "value": IMAGE_HERMES},
                {"name": "HERMES_HOME", "value": HERMES_HOME},
                {"name": "HOME", "value": "/tmp"},
                {"name": "CONFIG_EXAMPLE", "value": IMAGE_CONFIG_EXAMPLE},
                {"name": "ENV_EXAMPLE", "value": IMAGE_ENV_EXAMPLE},
                *pinned,  # the same secretKeyRefs as the hermes container: values never in the spec
            ],
            "resources": resources,
            # As the hermes user, so every file it creates belongs to hermes, not root.
            "securityContext": _unprivileged(),
            "volumeMounts": [data_mount, {"name": "configure-tmp", "mountPath": "/tmp"}],
        },
    ]


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
