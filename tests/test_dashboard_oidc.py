"""Dashboard single sign-on as a confidential OIDC client: the client secret is a Pulumi secret from the
stack config to the pod's environment, and Hermes 0.19.0 reads it.

Hermes: plugins/dashboard_auth/self_hosted/__init__.py `register()` resolves
HERMES_DASHBOARD_OIDC_CLIENT_SECRET ("optional; set for a confidential client") next to the issuer and
client id, and builds a confidential client (PKCE + client_secret) when it is non-empty.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile

import pytest

from settings import ConfigError
from tests.contract.pod import hermes_python
from tests.harness import Program, is_secret, reveal, run_program

SECRET = "kubernetes:core/v1:Secret"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CLIENT_SECRET = "oidc-client-secret-7f3a9c"
OIDC = {"dashboardHost": "hermes.corp-internal.net", "dashboardOidcIssuer": "https://login.corp-internal.net",
        "dashboardOidcClientId": "hermes-dashboard"}


def confidential() -> Program:
    return run_program("local", OIDC, secrets={"dashboardOidcClientSecret": CLIENT_SECRET})


def hermes_env(p: Program) -> list[dict]:
    spec = p.one(DEPLOYMENT).plain["spec"]["template"]["spec"]
    return next(c for c in spec["containers"] if c["name"] == "hermes")["env"]


def plain_parts(value):
    """Everything in a registered value except what travels inside a Pulumi secret."""
    if is_secret(value):
        return None
    if isinstance(value, dict):
        return {k: plain_parts(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_parts(v) for v in value]
    return value


def test_client_secret_reaches_the_pod_only_through_the_credentials_secret():
    p = confidential()
    secret = p.one(SECRET)
    assert is_secret(secret.inputs["stringData"])
    assert reveal(secret.inputs["stringData"])["HERMES_DASHBOARD_OIDC_CLIENT_SECRET"] == CLIENT_SECRET
    assert {"name": "HERMES_DASHBOARD_OIDC_CLIENT_SECRET", "valueFrom": {"secretKeyRef": {
        "name": "hermes-credentials", "key": "HERMES_DASHBOARD_OIDC_CLIENT_SECRET"}}} in hermes_env(p)


def test_client_secret_is_never_plain_in_any_resource_or_output():
    p = confidential()
    for resource in p.resources:
        assert CLIENT_SECRET not in json.dumps(plain_parts(resource.inputs), default=str), resource.name
        # The mocks echo inputs as plain outputs; the engine marks these output properties secret.
        outputs = {k: v for k, v in resource.outputs.items() if k not in resource.additional_secret_outputs}
        assert CLIENT_SECRET not in json.dumps(outputs, default=str), resource.name
    assert CLIENT_SECRET not in json.dumps(plain_parts(p.outputs), default=str)


def test_a_public_client_gets_no_client_secret_variable():
    p = run_program("local", OIDC)
    assert "HERMES_DASHBOARD_OIDC_CLIENT_SECRET" not in {e["name"] for e in hermes_env(p)}
    assert "HERMES_DASHBOARD_OIDC_CLIENT_SECRET" not in reveal(p.one(SECRET).inputs["stringData"])


def test_an_own_secret_may_hold_the_client_secret():
    p = run_program("local", {**OIDC, "existingSecretName": "hermes-from-vault"})
    assert {"name": "HERMES_DASHBOARD_OIDC_CLIENT_SECRET", "valueFrom": {"secretKeyRef": {
        "name": "hermes-from-vault", "key": "HERMES_DASHBOARD_OIDC_CLIENT_SECRET", "optional": True}}} in hermes_env(p)


@pytest.mark.parametrize(
    ("config", "allowed"),
    [
        ({}, "unset unless dashboardOidcIssuer and dashboardOidcClientId are set"),
        ({**OIDC, "existingSecretName": "hermes-from-vault"}, "put HERMES_DASHBOARD_OIDC_CLIENT_SECRET into it"),
    ],
)
def test_client_secret_needs_an_oidc_client_and_no_own_secret(config, allowed):
    p = run_program("local", config, secrets={"dashboardOidcClientSecret": CLIENT_SECRET}, raise_errors=False)
    assert isinstance(p.error, ConfigError) and p.resources == []
    [problem] = [m for m in p.error.problems if m.startswith("hermes-eks:dashboardOidcClientSecret")]
    assert problem.startswith("hermes-eks:dashboardOidcClientSecret in Pulumi.local.yaml is <secret value hidden>")
    assert allowed in problem and CLIENT_SECRET not in str(p.error)


def test_a_plain_text_client_secret_is_refused():
    p = run_program("local", {**OIDC, "dashboardOidcClientSecret": CLIENT_SECRET}, raise_errors=False)
    assert isinstance(p.error, ConfigError) and p.resources == []
    assert any(m.startswith("hermes-eks:dashboardOidcClientSecret in Pulumi.local.yaml is stored in plain text")
               for m in p.error.problems)


# Runs Hermes' own registration with the variables the rendered pod sets (secretKeyRefs resolved from
# the rendered Secret); it builds the provider object only, no network.
PROBE = """
import json
import plugins.dashboard_auth.self_hosted as oidc
class Context:
    providers = []
    def register_dashboard_auth_provider(self, provider):
        self.providers.append(provider)
context = Context()
oidc.register(context)
print(json.dumps({"registered": bool(context.providers), "skip": oidc.LAST_SKIP_REASON,
                  "client_secret": context.providers[0]._client_secret if context.providers else None}))
"""


def test_hermes_builds_a_confidential_client_from_the_pod_env():
    if not os.environ.get("HERMES_EKS_HERMES_PYTHON"):
        pytest.skip("HERMES_EKS_HERMES_PYTHON is not set: run the suite with `python3 scripts/test.py`")
    p = confidential()
    data = reveal(p.one(SECRET).inputs["stringData"])
    env = {e["name"]: e["value"] if "value" in e else data[e["valueFrom"]["secretKeyRef"]["key"]]
           for e in hermes_env(p) if e["name"].startswith("HERMES_DASHBOARD_OIDC_")}
    with tempfile.TemporaryDirectory() as home:
        result = subprocess.run([str(hermes_python()), "-c", PROBE], capture_output=True, text=True, timeout=120,
                                env={"PATH": os.environ["PATH"], "HOME": home, "HERMES_HOME": home, **env})
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer == {"registered": True, "skip": "", "client_secret": CLIENT_SECRET}
