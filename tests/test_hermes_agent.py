"""HermesAgent: the Kubernetes objects that run Hermes, as the program registers them."""

from __future__ import annotations

import base64
import functools
import re


from components.dashboard_login import scrypt_password_hash
from components.hermes_agent import (
    CONFIGURE_SCRIPT,
    IMAGE_HERMES,
    IMAGE_PYTHON,
    LIVENESS_SCRIPT,
    REPAIR_OWNERSHIP_SCRIPT,
    S6_CAPABILITIES,
    VOLUME_OWNER_CAPABILITIES,
)
from tests.harness import Program, is_secret, reveal, run_program

NS = "kubernetes:core/v1:Namespace"
SECRET = "kubernetes:core/v1:Secret"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
SA = "kubernetes:core/v1:ServiceAccount"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"

WITH_INGRESS = {"dashboardHost": "hermes.corp-internal.net", "apiHost": "hermes-api.corp-internal.net"}


@functools.cache
def program(**config) -> Program:
    return run_program("local", config)


def pod(p: Program) -> dict:
    return p.one(DEPLOYMENT).plain["spec"]["template"]["spec"]


def container(p: Program, name: str) -> dict:
    containers = {c["name"]: c for c in pod(p)["containers"] + pod(p)["initContainers"]}
    return containers[name]


def secret_data(p: Program) -> dict:
    return reveal(p.one(SECRET).inputs["stringData"])


def env(c: dict) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


# --- namespace and labels ------------------------------------------------------------------------

def test_namespace_enforces_baseline_and_warns_and_audits_restricted(local):
    labels = local.one(NS).plain["metadata"]["labels"]
    assert local.one(NS).plain["metadata"]["name"] == "hermes"
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"
    assert labels["pod-security.kubernetes.io/audit"] == "restricted"
    assert {labels[f"pod-security.kubernetes.io/{m}-version"] for m in ("enforce", "warn", "audit")} == {"v1.34"}


def test_every_object_carries_the_recommended_labels(local):
    for obj in local.kubernetes_objects():
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "hermes-agent", obj["kind"]
        assert labels["app.kubernetes.io/instance"] == "hermes"
        assert labels["app.kubernetes.io/managed-by"] == "pulumi-hermes-eks"
    # The version label is the workload's alone (tests/test_release_bump.py).


# --- credentials ---------------------------------------------------------------------------------

def test_secret_holds_api_key_password_hash_and_signing_key_all_as_pulumi_secrets(local):
    secret = local.one(SECRET)
    assert is_secret(secret.inputs["stringData"])  # the whole map travels as one Pulumi secret
    data = secret_data(local)
    assert set(data) == {"API_SERVER_KEY", "HERMES_DASHBOARD_BASIC_AUTH_PASSWORD_HASH", "HERMES_DASHBOARD_BASIC_AUTH_SECRET"}
    assert re.fullmatch(r"[0-9a-f]{64}", data["API_SERVER_KEY"])
    assert re.fullmatch(r"[0-9a-f]{64}", data["HERMES_DASHBOARD_BASIC_AUTH_SECRET"])
    assert {"data", "stringData"} <= set(secret.additional_secret_outputs)


def test_api_key_is_generated_with_pulumi_random_as_32_bytes(local):
    key = local.one("random:index/randomBytes:RandomBytes", "hermes-api-server-key")
    assert key.plain["length"] == 32


def test_password_hash_is_the_scrypt_of_the_generated_password_with_the_stored_salt(local):
    password = reveal(local.outputs["dashboard_password"])
    salt = local.one("random:index/randomBytes:RandomBytes", "hermes-dashboard-password-salt").outputs["base64"]
    stored = secret_data(local)["HERMES_DASHBOARD_BASIC_AUTH_PASSWORD_HASH"]
    assert stored == scrypt_password_hash(password, base64.b64decode(salt))
    assert stored.startswith("scrypt$16384$8$1$")


def test_password_hash_is_identical_on_the_next_update():
    first, second = run_program("local"), run_program("local")
    key = "HERMES_DASHBOARD_BASIC_AUTH_PASSWORD_HASH"
    assert secret_data(first)[key] == secret_data(second)[key]


def test_user_supplied_api_key_replaces_the_generated_one():
    key = "fedcba9876543210" * 4
    p = run_program("local", secrets={"apiServerKey": key})
    assert not [r for r in p.resources if r.name == "hermes-api-server-key"]
    assert is_secret(p.one(SECRET).inputs["stringData"])
    assert secret_data(p)["API_SERVER_KEY"] == key


def test_openrouter_key_goes_into_the_secret_and_the_gateway_env():
    p = run_program("local", {"modelProvider": "openrouter", "modelDefault": "anthropic/claude-sonnet-4.6"},
                    secrets={"openrouterApiKey": "sk-or-v1-test"})
    assert secret_data(p)["OPENROUTER_API_KEY"] == "sk-or-v1-test"
    assert env(container(p, "hermes"))["OPENROUTER_API_KEY"] == {
        "secretKeyRef": {"name": "hermes-credentials", "key": "OPENROUTER_API_KEY"}}


def test_existing_secret_replaces_every_generated_credential():
    p = program(existingSecretName="hermes-from-vault", modelProvider="openrouter",
                modelDefault="anthropic/claude-sonnet-4.6")
    assert p.of_type(SECRET) == [] and not [r for r in p.resources if r.type.startswith("random:")]
    refs = [e["valueFrom"]["secretKeyRef"] for c in pod(p)["containers"] for e in c["env"] if "valueFrom" in e]
    assert {r["name"] for r in refs} == {"hermes-from-vault"}
    assert {r["key"] for r in refs} == {"API_SERVER_KEY", "HERMES_DASHBOARD_BASIC_AUTH_PASSWORD_HASH",
                                        "HERMES_DASHBOARD_BASIC_AUTH_SECRET", "OPENROUTER_API_KEY"}
    assert [r.get("optional") for r in refs if r["key"] == "OPENROUTER_API_KEY"] == [True]
    assert "dashboard_password" not in p.outputs and "api_server_key" not in p.outputs


def test_no_secret_value_appears_as_a_literal_anywhere_in_the_pod_spec(local):
    secrets = list(secret_data(local).values())
    rendered = repr(local.one(DEPLOYMENT).plain)
    assert all(value not in rendered for value in secrets)


# --- the volume ----------------------------------------------------------------------------------

def test_one_protected_read_write_once_volume_holds_hermes_home(local):
    claim = local.one(PVC)
    assert claim.protect and local.one(NS).protect
    assert claim.plain["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim.plain["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert "storageClassName" not in claim.plain["spec"]  # the cluster's default class


def test_storage_class_and_size_come_from_config():
    spec = program(storageClassName="fast-ssd", storageSize="100Gi").one(PVC).plain["spec"]
    assert spec["storageClassName"] == "fast-ssd" and spec["resources"]["requests"]["storage"] == "100Gi"


def test_the_one_volume_is_mounted_at_opt_data_by_every_container(local):
    spec = pod(local)
    claims = [v for v in spec["volumes"] if "persistentVolumeClaim" in v]
    assert claims == [{"name": "data", "persistentVolumeClaim": {"claimName": "hermes-data"}}]
    assert {"name": "data", "mountPath": "/opt/data"} in container(local, "hermes")["volumeMounts"]


# --- the workload --------------------------------------------------------------------------------

def test_one_replica_recreated_never_rolled(local):
    spec = local.one(DEPLOYMENT).plain["spec"]
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}


def test_deployment_waits_long_enough_for_a_5gb_image_and_first_boot(local):
    assert local.one(DEPLOYMENT).custom_timeouts == {"create": "30m", "update": "30m"}


def test_gateway_and_dashboard_share_one_container_and_so_one_process_namespace(local):
    spec = pod(local)
    assert [c["name"] for c in spec["containers"]] == ["hermes"]
    assert "shareProcessNamespace" not in spec  # the pause process would become PID 1 and /init aborts
    assert spec["enableServiceLinks"] is False
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["fsGroup"] == 10000
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


def test_the_image_entrypoint_runs_the_gateway_with_the_api_server_on_all_interfaces(local):
    hermes = container(local, "hermes")
    assert hermes["args"] == ["gateway", "run"] and "command" not in hermes
    values = env(hermes)
    assert values["API_SERVER_ENABLED"] == "true"
    assert values["API_SERVER_HOST"] == "0.0.0.0"
    assert values["API_SERVER_PORT"] == "8642"
    assert values["API_SERVER_KEY"] == {"secretKeyRef": {"name": "hermes-credentials", "key": "API_SERVER_KEY"}}
    assert hermes["ports"] == [{"name": "api", "containerPort": 8642, "protocol": "TCP"},
                               {"name": "dashboard", "containerPort": 9119, "protocol": "TCP"}]


def test_the_dashboard_service_binds_all_interfaces_with_basic_auth(local):
    values = env(container(local, "hermes"))
    assert values["HERMES_DASHBOARD"] == "1"
    assert values["HERMES_DASHBOARD_HOST"] == "0.0.0.0" and values["HERMES_DASHBOARD_PORT"] == "9119"
    assert values["HERMES_DASHBOARD_BASIC_AUTH_USERNAME"] == "admin"
    assert values["HERMES_DASHBOARD_BASIC_AUTH_PASSWORD_HASH"]["secretKeyRef"]["key"] == "HERMES_DASHBOARD_BASIC_AUTH_PASSWORD_HASH"
    assert values["HERMES_DASHBOARD_BASIC_AUTH_SECRET"]["secretKeyRef"]["key"] == "HERMES_DASHBOARD_BASIC_AUTH_SECRET"
    assert "HERMES_DASHBOARD_BASIC_AUTH_PASSWORD" not in values  # only the hash leaves the stack
    assert "GATEWAY_HEALTH_URL" not in values  # one PID namespace: the dashboard sees the gateway itself
    assert not {"HERMES_DASHBOARD_PUBLIC_URL", "FORWARDED_ALLOW_IPS", "HERMES_DASHBOARD_INSECURE"} & set(values)


def test_behind_an_ingress_the_dashboard_knows_its_public_url_and_trusts_proxy_headers():
    values = env(container(program(**WITH_INGRESS, dashboardOidcIssuer="https://login.corp-internal.net",
                                   dashboardOidcClientId="hermes"), "hermes"))
    assert values["HERMES_DASHBOARD_PUBLIC_URL"] == "https://hermes.corp-internal.net"
    # Not "*": only the private ranges an in-cluster ingress controller connects from (wiring.PRIVATE_RANGES).
    assert values["FORWARDED_ALLOW_IPS"] == "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16"
    assert values["HERMES_DASHBOARD_OIDC_ISSUER"] == "https://login.corp-internal.net"
    assert values["HERMES_DASHBOARD_OIDC_CLIENT_ID"] == "hermes"


def test_startup_and_readiness_probe_the_gateway_health_path(local):
    hermes = container(local, "hermes")
    for probe in ("startupProbe", "readinessProbe"):
        assert hermes[probe]["httpGet"] == {"path": "/health", "port": "api", "scheme": "HTTP"}
    assert hermes["startupProbe"]["failureThreshold"] * hermes["startupProbe"]["periodSeconds"] >= 600


def test_liveness_requires_both_the_gateway_and_the_dashboard_to_answer(local):
    probe = container(local, "hermes")["livenessProbe"]
    assert probe["exec"]["command"] == [IMAGE_PYTHON, "-c", LIVENESS_SCRIPT,
                                        "http://127.0.0.1:8642/health", "http://127.0.0.1:9119/api/status"]
    assert probe["timeoutSeconds"] > 4  # the script's own per-request timeout


def test_security_context_is_root_start_with_minimal_capabilities(local):
    context = container(local, "hermes")["securityContext"]
    assert context["capabilities"] == {"drop": ["ALL"], "add": list(S6_CAPABILITIES)}
    assert set(S6_CAPABILITIES) == {"CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID", "KILL"}
    assert context["allowPrivilegeEscalation"] is False and context["privileged"] is False
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert context["readOnlyRootFilesystem"] is False


def test_s6_gives_the_gateway_the_pods_grace_period_minus_a_margin_before_killing_it(local):
    # s6-overlay 3.2.3.0 (the image's) SIGKILLs services 3000 ms after TERM unless told otherwise.
    assert pod(local)["terminationGracePeriodSeconds"] == 60
    variables = env(container(local, "hermes"))
    assert variables["S6_KILL_GRACETIME"] == "50000"
    assert variables["S6_SERVICES_GRACETIME"] == "50000"


def test_read_only_root_is_opt_in_with_s6_state_in_memory():
    p = program(readOnlyRootFilesystem=True)
    hermes = container(p, "hermes")
    assert hermes["securityContext"]["readOnlyRootFilesystem"] is True
    assert env(hermes)["S6_READ_ONLY_ROOT"] == "1"
    assert {"name": "run", "mountPath": "/run"} in hermes["volumeMounts"]
    assert {"name": "tmp", "mountPath": "/tmp"} in hermes["volumeMounts"]
    assert {"name": "run", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}} in pod(p)["volumes"]


def test_configure_init_container_meets_the_restricted_profile():
    p = run_program("local", {"modelProvider": "openrouter", "modelDefault": "anthropic/claude-sonnet-4.6"},
                    secrets={"openrouterApiKey": "sk-or-test"})
    context = container(p, "configure")["securityContext"]
    assert context["runAsNonRoot"] is True and context["runAsUser"] == 10000
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False


def test_only_the_volume_owner_runs_as_root_with_chown_and_dac_override(local):
    init = container(local, "volume-owner")
    context = init["securityContext"]
    assert context["runAsUser"] == 0 and context["runAsNonRoot"] is False
    assert context["capabilities"] == {"drop": ["ALL"], "add": ["CHOWN", "DAC_OVERRIDE"]}
    assert VOLUME_OWNER_CAPABILITIES == ("CHOWN", "DAC_OVERRIDE")
    assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
    assert "env" not in init  # it needs no credential
    assert init["command"] == ["/bin/sh", "-c", REPAIR_OWNERSHIP_SCRIPT, "volume-owner", "/opt/data", "10000"]


def test_volume_owner_runs_before_configure_on_every_stack(any_stack):
    assert [c["name"] for c in pod(any_stack)["initContainers"]] == ["volume-owner", "configure"]


def test_resources_come_from_config():
    p = program(cpuRequest="1", memoryLimit="8Gi", cpuLimit="2", memoryRequest="2Gi")
    assert container(p, "hermes")["resources"] == {"requests": {"cpu": "1", "memory": "2Gi"},
                                                  "limits": {"memory": "8Gi", "cpu": "2"}}
    assert "cpu" not in container(run_program("local"), "hermes")["resources"]["limits"]


# --- model configuration -------------------------------------------------------------------------

def test_configure_only_pins_credentials_when_the_model_is_left_to_the_dashboard(local):
    init = container(local, "configure")
    assert init["args"] == ["--", "API_SERVER_KEY", "HERMES_DASHBOARD_BASIC_AUTH_PASSWORD_HASH",
                            "HERMES_DASHBOARD_BASIC_AUTH_SECRET"]


def test_init_container_writes_only_the_managed_model_keys_with_the_same_image():
    p = program(modelProvider="custom", modelDefault="qwen3-coder", modelBaseUrl="http://vllm.models:8000/v1")
    init = container(p, "configure")
    assert init["image"] == container(p, "hermes")["image"]
    assert init["command"] == [IMAGE_PYTHON, "-c", CONFIGURE_SCRIPT]
    settings = init["args"][:init["args"].index("--")]
    assert settings == ["model.provider", "custom", "model.default", "qwen3-coder",
                        "model.base_url", "http://vllm.models:8000/v1", "model.api_key", ""]
    assert env(init)["HERMES"] == IMAGE_HERMES and env(init)["HERMES_HOME"] == "/opt/data"


def test_configure_pins_exactly_the_credentials_the_gateway_takes_from_the_secret(any_stack):
    """Hermes' .env beats the environment; every secretKeyRef of the hermes container is pinned there."""
    init, hermes = container(any_stack, "configure"), container(any_stack, "hermes")
    from_secret = [e for e in hermes["env"] if "valueFrom" in e]
    assert init["args"][init["args"].index("--") + 1:] == [e["name"] for e in from_secret]
    assert [e for e in init["env"] if "valueFrom" in e] == from_secret  # same Secret keys, same optional flags
    assert all("value" not in e for e in init["env"] if e["name"] in init["args"])  # values never literal


def test_configure_pins_the_provider_key():
    p = run_program("local", {"modelProvider": "openrouter", "modelDefault": "anthropic/claude-sonnet-4.6"},
                    secrets={"openrouterApiKey": "sk-or-v1-test"})
    assert "OPENROUTER_API_KEY" in container(p, "configure")["args"]


# Hermes sends OPENAI_API_KEY only to openai.com/Azure hosts (upstream #28660): a custom endpoint's key
# must reach config.yaml's model.api_key, as a ${VAR} reference (the value stays in the Secret).
def test_custom_endpoint_key_reaches_model_api_key_as_a_reference_to_the_secret_env():
    p = run_program("local", {"modelProvider": "custom", "modelDefault": "m", "modelBaseUrl": "http://vllm:8000/v1"},
                    secrets={"customModelApiKey": "sk-unit-test-key"})
    args = container(p, "configure")["args"]
    args = args[:args.index("--")]  # config key/value pairs, then the names of the pinned credentials
    assert dict(zip(args[::2], args[1::2]))["model.api_key"] == "${OPENAI_API_KEY}"
    assert env(container(p, "hermes"))["OPENAI_API_KEY"]["secretKeyRef"]["key"] == "OPENAI_API_KEY"
    assert "sk-unit-test-key" not in str(container(p, "configure"))


def test_custom_endpoint_key_from_an_existing_secret_is_referenced_too():
    p = run_program("local", {"modelProvider": "custom", "modelDefault": "m", "modelBaseUrl": "http://vllm:8000/v1",
                              "existingSecretName": "hermes-credentials"})
    args = container(p, "configure")["args"]
    args = args[:args.index("--")]  # config key/value pairs, then the names of the pinned credentials
    assert dict(zip(args[::2], args[1::2]))["model.api_key"] == "${OPENAI_API_KEY}"


def test_only_custom_endpoints_get_model_api_key():
    p = run_program("local", {"modelProvider": "openrouter", "modelDefault": "vendor/m"},
                    secrets={"openrouterApiKey": "sk-or-unit"})
    assert "model.api_key" not in container(p, "configure")["args"]


# --- service account, services, network policy, ingress -----------------------------------------

def test_service_account_mounts_no_token(local):
    assert local.one(SA).plain["automountServiceAccountToken"] is False
    assert pod(local)["serviceAccountName"] == "hermes"


def test_two_cluster_ip_services_select_the_pod_by_named_port(local):
    services = {s.name: s.plain for s in local.of_type(SERVICE)}
    pod_labels = local.one(DEPLOYMENT).plain["spec"]["template"]["metadata"]["labels"]
    for name, port, target, health in (("hermes-api", 8642, "api", "/health"),
                                       ("hermes-dashboard", 9119, "dashboard", "/api/status")):
        spec = services[name]["spec"]
        assert spec["type"] == "ClusterIP"
        assert spec["ports"] == [{"name": "http", "port": port, "targetPort": target, "protocol": "TCP"}]
        assert spec["selector"].items() <= pod_labels.items()
        assert services[name]["metadata"]["annotations"]["alb.ingress.kubernetes.io/healthcheck-path"] == health


def test_network_policy_without_an_ingress_admits_nothing_from_outside_the_pod(local):
    spec = local.one(NETPOL).plain["spec"]
    assert spec["policyTypes"] == ["Ingress"]
    assert spec["ingress"] == []  # port-forwards enter through the pod's loopback; probes from its node


def test_no_ingress_without_hosts_and_port_forward_commands_instead(local):
    assert local.of_type(INGRESS) == []
    assert local.outputs["port_forward_commands"] == [
        "kubectl -n hermes port-forward svc/hermes-dashboard 9119:9119",
        "kubectl -n hermes port-forward svc/hermes-api 8642:8642",
    ]
    assert local.outputs["api_base_url"] == "http://localhost:8642/v1"


def test_ingress_routes_by_host_and_never_sends_a_dashboard_path_to_the_gateway():
    p = program(**WITH_INGRESS)
    rules = {r["host"]: r["http"]["paths"] for r in p.one(INGRESS).plain["spec"]["rules"]}
    assert rules == {
        "hermes.corp-internal.net": [{"path": "/", "pathType": "Prefix",
                                "backend": {"service": {"name": "hermes-dashboard", "port": {"name": "http"}}}}],
        "hermes-api.corp-internal.net": [{"path": "/", "pathType": "Prefix",
                                    "backend": {"service": {"name": "hermes-api", "port": {"name": "http"}}}}],
    }
    assert p.outputs["dashboard_url"] == "https://hermes.corp-internal.net"
    assert p.outputs["api_base_url"] == "https://hermes-api.corp-internal.net/v1"


def test_alb_defaults_are_internal_https_only_modern_tls_and_ip_targets():
    annotations = program(**WITH_INGRESS).one(INGRESS).plain["metadata"]["annotations"]
    assert annotations == {
        "alb.ingress.kubernetes.io/scheme": "internal",
        "alb.ingress.kubernetes.io/target-type": "ip",
        "alb.ingress.kubernetes.io/listen-ports": '[{"HTTP": 80}, {"HTTPS": 443}]',
        "alb.ingress.kubernetes.io/ssl-redirect": "443",
        "alb.ingress.kubernetes.io/ssl-policy": "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09",
        "alb.ingress.kubernetes.io/backend-protocol": "HTTP",
        "alb.ingress.kubernetes.io/healthcheck-port": "traffic-port",
    }


def test_certificate_group_and_user_annotations_are_applied_user_last():
    p = run_program("local", {**WITH_INGRESS, "ingressGroupName": "tools",
                              "ingressCertificateArn": "arn:aws:acm:eu-central-1:210987654321:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789",
                              "ingressAnnotations": {"alb.ingress.kubernetes.io/scheme": "internet-facing",
                                                     "alb.ingress.kubernetes.io/inbound-cidrs": "10.0.0.0/8"}})
    annotations = p.one(INGRESS).plain["metadata"]["annotations"]
    assert annotations["alb.ingress.kubernetes.io/group.name"] == "tools"
    assert annotations["alb.ingress.kubernetes.io/certificate-arn"].endswith("0a1b2c3d-4e5f-6789-abcd-ef0123456789")
    assert annotations["alb.ingress.kubernetes.io/scheme"] == "internet-facing"
    assert annotations["alb.ingress.kubernetes.io/inbound-cidrs"] == "10.0.0.0/8"


def test_other_ingress_classes_get_no_alb_annotations():
    p = program(**WITH_INGRESS, ingressClassName="nginx")
    assert p.one(INGRESS).plain["spec"]["ingressClassName"] == "nginx"
    assert p.one(INGRESS).plain["metadata"]["annotations"] == {}


# --- outputs -------------------------------------------------------------------------------------

def test_credentials_are_exported_only_as_secrets(local):
    assert is_secret(local.outputs["api_server_key"]) and is_secret(local.outputs["dashboard_password"])
    for key, value in local.outputs.items():
        if key not in ("api_server_key", "dashboard_password", "instance_credentials"):
            assert not is_secret(value), key
    assert local.outputs["namespace"] == "hermes"
    assert local.outputs["dashboard_service_name"] == "hermes-dashboard"
    assert local.outputs["api_service_name"] == "hermes-api"


# --- the configure script's .env rewrite (run here with Hermes' Python, whose own loaders it asks; the
# contract tests run it in the pod) ---

def _pin(tmp_path, env_text: str | None, values: dict, names: list[str]):
    import subprocess

    from tests.contract.pod import hermes_python

    if env_text is not None:
        (tmp_path / ".env").write_text(env_text)
    result = subprocess.run([str(hermes_python()), "-c", CONFIGURE_SCRIPT, "--", *names], capture_output=True,
                            text=True, env={"HERMES_HOME": str(tmp_path), "HERMES": "/nonexistent",
                                            "CONFIG_EXAMPLE": "/nonexistent", "ENV_EXAMPLE": "/nonexistent", **values})
    return result, (tmp_path / ".env").read_text() if (tmp_path / ".env").exists() else None


def test_pinning_replaces_every_assignment_of_a_pinned_key_and_keeps_every_other_line(tmp_path):
    before = ("# notes\nexport API_SERVER_KEY=old1\nOTHER=keep me # comment\n  API_SERVER_KEY = old2\n"
              "#API_SERVER_KEY=commented\nOPENROUTER_API_KEY=\"old3\"\nLAST=no-newline")
    result, after = _pin(tmp_path, before, {"API_SERVER_KEY": "a" * 64, "OPENROUTER_API_KEY": "sk-or-v1-new"},
                         ["API_SERVER_KEY", "OPENROUTER_API_KEY"])
    assert result.returncode == 0, result.stderr
    assert after.splitlines() == ["# notes", "OTHER=keep me # comment", "#API_SERVER_KEY=commented", "LAST=no-newline",
                                  f"API_SERVER_KEY='{'a' * 64}'", "OPENROUTER_API_KEY='sk-or-v1-new'"]
    assert (tmp_path / ".env").stat().st_mode & 0o777 == 0o600
    assert "a" * 64 not in result.stdout + result.stderr and "sk-or-v1-new" not in result.stdout + result.stderr


def test_pinning_creates_env_on_an_empty_volume_and_leaves_unset_keys_alone(tmp_path):
    result, after = _pin(tmp_path, None, {"API_SERVER_KEY": "b" * 64}, ["API_SERVER_KEY", "OPENAI_API_KEY"])
    assert result.returncode == 0 and after == f"API_SERVER_KEY='{'b' * 64}'\n"
    result, after = _pin(tmp_path, "OPENAI_API_KEY=mine\n", {}, ["OPENAI_API_KEY"])
    assert result.returncode == 0 and after == "OPENAI_API_KEY=mine\n"


def test_pinning_refuses_a_value_env_cannot_hold_and_names_only_the_variable(tmp_path):
    # python-dotenv expands ${...} even in single quotes; Hermes strips non-ASCII from credentials; Hermes'
    # own .env clean-up splits a line at a second known NAME= (hermes_cli/config.py _sanitize_env_lines).
    for bad in ("it's", "back\\slash", "two\nlines", "pa${HOME}ss", "pa${X:-y}ss", "kéy", "sk-OPENAI_API_KEY=x"):
        result, after = _pin(tmp_path, "KEEP=1\n", {"OPENROUTER_API_KEY": bad}, ["OPENROUTER_API_KEY"])
        assert result.returncode != 0 and "OPENROUTER_API_KEY" in result.stderr and bad not in result.stderr
        assert after == "KEEP=1\n"
