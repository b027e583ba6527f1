"""Every Kubernetes object the program registers, checked by independent tools.

- kubernetes-validate (strict: unknown fields rejected) against the stack's Kubernetes version;
- our own checks where it is blind: enums, names, label values, cross-references inside the pod;
- checkov, the security scanner, on the rendered manifests, with every accepted finding listed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from settings import parse_settings
from tests.harness import STACKS, Program, run_program, stack_file_config
from tests.test_hermes_agent import WITH_INGRESS

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
DNS_SUBDOMAIN = re.compile(r"(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
PORT_NAME = re.compile(r"(?=.{1,15}$)(?=.*[a-z])[a-z0-9]+(-[a-z0-9]+)*")
ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
QUANTITY = re.compile(r"[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?")

# A fully featured variant of the local stack, so every optional object is rendered and checked.
EVERYTHING = {**WITH_INGRESS, "modelProvider": "openrouter", "modelDefault": "anthropic/claude-sonnet-4.6",
              "dashboardOidcIssuer": "https://login.corp-internal.net", "dashboardOidcClientId": "hermes",
              # messaging (tests/test_messaging.py): a token from the Secret, the webhook Ingress, egress policy
              "messaging": {"telegram": {"botToken": {"secure": "7012345678:AAHf3kq9Zx0Yw1Vb2Nc3Md4Le5Kf6Jg7Ih8"},
                                         "allowedUsers": [111111111]},
                            "sms": {"authToken": {"secure": "0123456789abcdef0123456789abcdef"},
                                    "accountSid": "AC0123456789abcdef0123456789abcdef", "phoneNumber": "+15005550006"}},
              "messagingWebhookHost": "hermes-hooks.corp-internal.net", "egressPolicy": True}


def programs() -> list[tuple[str, Program]]:
    runs = [(stack, run_program(stack)) for stack in STACKS]
    runs.append(("local+everything", run_program("local", EVERYTHING, secrets={"openrouterApiKey": "sk-or-test",
                                                                                "dashboardOidcClientSecret": "oidc-client-secret"})))
    return runs


PROGRAMS = programs()


def kubernetes_version(stack: str) -> str:
    name = stack.split("+")[0]
    return parse_settings(stack_file_config(name, site_values=True), stack=name).kubernetes_version


@pytest.mark.parametrize(("stack", "program"), PROGRAMS, ids=[s for s, _ in PROGRAMS])
def test_every_object_is_valid_for_the_stacks_kubernetes_version(stack, program):
    version = kubernetes_version(stack)
    objects = program.kubernetes_objects()
    assert objects, "the program registered no Kubernetes objects"
    for obj in objects:
        kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize(("stack", "program"), PROGRAMS, ids=[s for s, _ in PROGRAMS])
def test_names_labels_and_enums_the_schema_does_not_check(stack, program):
    for obj in program.kubernetes_objects():
        metadata, kind = obj["metadata"], obj["kind"]
        name_rule = DNS_LABEL if kind in ("Namespace", "Service") else DNS_SUBDOMAIN
        assert name_rule.fullmatch(metadata["name"]), (kind, metadata["name"])
        for key, value in metadata.get("labels", {}).items():
            assert LABEL_VALUE.fullmatch(value) and len(value) <= 63, (kind, key, value)
        if kind == "Service":
            assert obj["spec"]["type"] in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
            for port in obj["spec"]["ports"]:
                assert port["protocol"] in ("TCP", "UDP", "SCTP") and PORT_NAME.fullmatch(port["name"])
        if kind == "Ingress":
            for rule in obj["spec"]["rules"]:
                assert DNS_SUBDOMAIN.fullmatch(rule["host"])
                for path in rule["http"]["paths"]:
                    assert path["pathType"] in ("Exact", "Prefix", "ImplementationSpecific")
        if kind == "PersistentVolumeClaim":
            assert set(obj["spec"]["accessModes"]) <= {"ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"}
            assert QUANTITY.fullmatch(obj["spec"]["resources"]["requests"]["storage"])
        if kind == "StorageClass":
            assert obj["reclaimPolicy"] in ("Delete", "Retain")
            assert obj["volumeBindingMode"] in ("Immediate", "WaitForFirstConsumer")
        if kind == "Deployment":
            _check_pod(obj, program)


def _check_pod(deployment: dict, program: Program) -> None:
    spec = deployment["spec"]
    assert spec["strategy"]["type"] in ("Recreate", "RollingUpdate")
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
    pod = spec["template"]["spec"]
    containers = pod["initContainers"] + pod["containers"]
    assert len({c["name"] for c in containers}) == len(containers)
    volumes = {v["name"] for v in pod["volumes"]}
    secret_keys = {}
    for secret in (o for o in program.kubernetes_objects() if o["kind"] == "Secret"):
        secret_keys[secret["metadata"]["name"]] = set(secret.get("stringData", {})) | set(secret.get("data", {}))
    for c in containers:
        assert DNS_LABEL.fullmatch(c["name"])
        assert c["imagePullPolicy"] in ("Always", "IfNotPresent", "Never")
        assert "@sha256:" in c["image"], f"{c['name']} image is not pinned by digest"
        port_names = {p["name"] for p in c.get("ports", [])}
        assert all(PORT_NAME.fullmatch(n) for n in port_names)
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            if "httpGet" in c.get(probe, {}):
                assert c[probe]["httpGet"]["port"] in port_names, (c["name"], probe)
        for mount in c.get("volumeMounts", []):
            assert mount["name"] in volumes
        for quantity in [*c["resources"].get("requests", {}).values(), *c["resources"].get("limits", {}).values()]:
            assert QUANTITY.fullmatch(quantity), quantity
        for variable in c.get("env", []):
            assert ENV_NAME.fullmatch(variable["name"])
            ref = variable.get("valueFrom", {}).get("secretKeyRef")
            if ref and ref["name"] in secret_keys:  # a Secret we render must hold every key we read
                assert ref["key"] in secret_keys[ref["name"]] or ref.get("optional"), ref
    # Every Service's named targetPort exists on a container of the pod it selects.
    pod_ports = {p["name"] for c in pod["containers"] for p in c.get("ports", [])}
    for service in (o for o in program.kubernetes_objects() if o["kind"] == "Service"):
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in pod_ports


# --- checkov --------------------------------------------------------------------------------------

# Findings checkov reports on purpose-built parts of the pod, each with the reason it stays.
ACCEPTED_CHECKOV_FINDINGS = {
    # The image's s6-overlay init must start as root (UID remap, chown of /opt/data) and drops to
    # UID 10000 itself; runAsNonRoot cannot be set on the Hermes container (hermes-upstream.md).
    "CKV_K8S_23": "the Hermes container starts as root for s6-overlay's init",
    "CKV_K8S_40": "the Hermes container starts as UID 0 (its processes run as 10000 once s6 drops privileges)",
    # CHOWN, DAC_OVERRIDE, FOWNER, SETUID, SETGID, KILL: what that init needs, everything else dropped.
    # The volume-owner init container also runs as root, with CHOWN and DAC_OVERRIDE only, to give the
    # volume back to UID 10000 before the unprivileged configure step (components/hermes_agent.py).
    "CKV_K8S_25": "the Hermes container adds back the six capabilities s6's init needs, volume-owner two",
    # Hermes reads its API key and dashboard credentials from environment variables only.
    "CKV_K8S_35": "Hermes takes credentials from environment variables, not files",
    # No CPU limit by default: CFS throttling of an agent loop only adds latency (`cpuLimit` sets one).
    "CKV_K8S_11": "CPU limit is opt-in (cpuLimit)",
    # A read-only root is opt-in (`readOnlyRootFilesystem`): s6-overlay's read-only mode is untested
    # upstream for this image, and a pod that never boots is worse than a writable root.
    "CKV_K8S_22": "read-only root filesystem is opt-in (readOnlyRootFilesystem)",
}


def privileged_deployment() -> dict:
    """The first stack's Deployment with a privileged gateway that may escalate."""
    deployment = next(o for o in PROGRAMS[0][1].kubernetes_objects() if o["kind"] == "Deployment")  # a copy
    gateway = deployment["spec"]["template"]["spec"]["containers"][0]
    gateway["securityContext"]["privileged"] = True
    gateway["securityContext"]["allowPrivilegeEscalation"] = True
    return deployment


@pytest.fixture(scope="module")
def checkov_failures(tmp_path_factory) -> dict[str, set[str]]:
    """checkov's failed check ids per manifest file: one run over every manifest the tests below scan
    (checkov takes seconds to start)."""
    workdir = tmp_path_factory.mktemp("checkov")
    manifests = {"rendered.yaml": [o for _, program in PROGRAMS for o in program.kubernetes_objects()],
                 "privileged.yaml": [privileged_deployment()]}
    for name, objects in manifests.items():
        (workdir / name).write_text(yaml.safe_dump_all(objects))
    checkov = os.environ.get("HERMES_EKS_CHECKOV", "checkov")
    result = subprocess.run(
        [checkov, *(a for name in manifests for a in ("-f", name)), "--framework", "kubernetes", "--skip-download",
         "--compact", "--quiet", "-o", "json"],
        capture_output=True, text=True, env={**os.environ, "BC_SKIP_MAPPING": "TRUE"}, cwd=workdir, timeout=300,
    )
    assert result.stdout.strip(), f"checkov produced no report: {result.stderr[-2000:]}"
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    assert sum(r["summary"]["parsing_errors"] for r in reports) == 0
    assert sum(r["summary"]["passed"] for r in reports) > 20, "checkov ran almost no checks"
    failures = {name: set() for name in manifests}
    for check in (c for r in reports for c in r["results"]["failed_checks"]):
        failures[check["file_path"].lstrip("/")].add(check["check_id"])  # "/rendered.yaml": relative to cwd
    return failures


def test_checkov_reports_only_the_accepted_findings(checkov_failures):
    failures = checkov_failures["rendered.yaml"]
    unexpected = failures - set(ACCEPTED_CHECKOV_FINDINGS)
    assert not unexpected, f"new checkov findings: {sorted(unexpected)}"
    stale = set(ACCEPTED_CHECKOV_FINDINGS) - failures
    assert not stale, f"accepted findings checkov no longer reports (remove them): {sorted(stale)}"


def test_checkov_would_catch_a_privileged_container(checkov_failures):
    """The scanner is really looking: the same manifests with a privileged gateway must fail."""
    assert {"CKV_K8S_16", "CKV_K8S_20"} <= checkov_failures["privileged.yaml"]
