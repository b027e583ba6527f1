"""The rendered pod spec against the real Hermes Agent (PyPI, the release the image pins).

The init containers and the Hermes container run with exactly the command, args, env and user the
program renders, the image's entrypoint modelled as tests/contract/pod.py describes, in a private
network namespace like a pod's. The volume is one a restore and the dashboard left behind.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil

import pytest
import yaml

from components.hermes_agent import IMAGE_PYTHON
from settings import HERMES_RELEASE
from tests.contract.pod import RESOLVE_PROVIDER, Pod, RenderedPod
from tests.contract.pod_runner import CLIENT_IP, UNTRUSTED_CLIENT_IP
from tests.harness import reveal, run_program

pytestmark = pytest.mark.contract

CONFIG = {
    "dashboardHost": "hermes.corp-internal.net",
    "apiHost": "hermes-api.corp-internal.net",
    "modelProvider": "openrouter",
    "modelDefault": "anthropic/claude-sonnet-4.6",
    "dashboardUsername": "operator",
    # The load balancer's subnets, and the runner's CLIENT_IP, which plays the load balancer here: Hermes
    # trusts X-Forwarded-* from these peers; requests from UNTRUSTED_CLIENT_IP come from outside them
    # (the section "X-Forwarded-* from a peer that is not the load balancer" below).
    "ingressSourceCidrs": ["10.40.224.0/22", f"{CLIENT_IP}/32"],
}
SECRETS = {"openrouterApiKey": "sk-or-v1-contract-test-not-a-real-key"}
# A user's own edit in config.yaml, made in the dashboard before this deploy: it must survive.
USER_CONFIG = {"model": {"provider": "nous", "default": "old-model", "context_length": 64000},
               "display": {"skin": "ares"}}


@pytest.fixture(scope="module")
def program():
    return run_program("local", CONFIG, secrets=SECRETS)


# Keys the dashboard or CLI saved into .env before this deploy (or later images' boot hook generated),
# as plain, `export` and quoted lines, next to a line of the user's own that must survive.
FOREIGN_API_KEY = "f00d" * 16
FOREIGN_PROVIDER_KEY = "sk-or-v1-saved-from-the-dashboard"
USER_ENV_LINE = "TELEGRAM_HOME_CHANNEL=-100123456"
USER_ENV = (f"# my own notes\nexport API_SERVER_KEY={FOREIGN_API_KEY}\n{USER_ENV_LINE}\n"
            f'OPENROUTER_API_KEY="{FOREIGN_PROVIDER_KEY}"\nAPI_SERVER_KEY={FOREIGN_API_KEY}')
ROOT, OLD_HERMES_UID = 0, 5000


def restored_volume(home) -> None:
    """A volume restored as root after the kubelet gave its root to the fsGroup (so it does not walk
    it again): config.yaml and logs/ root's, .env an old HERMES_UID's, all 0600/0700."""
    os.chown(home, ROOT, 10000)
    home.chmod(0o2775)
    (home / "config.yaml").write_text(yaml.safe_dump(USER_CONFIG))
    (home / ".env").write_text(USER_ENV)
    (home / "logs").mkdir()
    (home / "logs" / "agent.log").write_text("before the restore\n")
    for path, owner, mode in ((home / "config.yaml", (ROOT, 10000), 0o600),
                              (home / ".env", (OLD_HERMES_UID, OLD_HERMES_UID), 0o600),
                              (home / "logs" / "agent.log", (ROOT, ROOT), 0o600),
                              (home / "logs", (ROOT, ROOT), 0o700)):
        os.chown(path, *owner)
        path.chmod(mode)


@pytest.fixture(scope="module")
def pod(program, tmp_path_factory):
    for tool in ("unshare", "setpriv", "nsenter"):
        if shutil.which(tool) is None:
            pytest.fail(f"the contract tests need `{tool}` (util-linux) to run the pod's processes as Kubernetes would")
    rendered = RenderedPod(program, tmp_path_factory.mktemp("pod"))
    restored_volume(rendered.home)
    running = Pod(rendered)
    yield running
    running.stop()


def ports(pod: Pod) -> dict[str, int]:
    """Named container ports: {"api": 8642, "dashboard": 9119}."""
    return {p["name"]: p["containerPort"] for c in pod.rendered.spec["containers"] for p in c["ports"]}


def api_key(program) -> str:
    return reveal(program.outputs["api_server_key"])


# --- probes --------------------------------------------------------------------------------------

def test_every_probe_succeeds_against_the_running_processes(pod):
    checked = 0
    for container in pod.rendered.spec["containers"]:
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            spec = container[probe]
            if "httpGet" in spec:
                target = spec["httpGet"]
                response = pod.request("GET", pod.rendered.port(container, target["port"]), target["path"])
                assert response.status == 200, (container["name"], probe, response)
            else:
                code, output = pod.exec(spec["exec"]["command"])
                assert code == 0, (container["name"], probe, output)
            checked += 1
    assert checked == 3


def test_both_processes_stay_up(pod):
    assert pod.request("GET", ports(pod)["api"], "/health").alive == {"hermes": True}
    assert pod.request("GET", ports(pod)["dashboard"], "/api/status").status == 200


# --- the API server ------------------------------------------------------------------------------

def test_api_rejects_requests_without_the_key(pod):
    response = pod.request("GET", ports(pod)["api"], "/v1/models")
    assert response.status == 401


def test_api_rejects_a_wrong_key(pod):
    response = pod.request("GET", ports(pod)["api"], "/v1/models", headers={"Authorization": "Bearer " + "0" * 64})
    assert response.status == 401


def test_api_accepts_the_key_the_stack_exports(pod, program):
    response = pod.request("GET", ports(pod)["api"], "/v1/models",
                           headers={"Authorization": f"Bearer {api_key(program)}"})
    assert response.status == 200, response
    assert response.json()["object"] == "list"


# --- the dashboard -------------------------------------------------------------------------------

def test_dashboard_requires_login(pod):
    port = ports(pod)["dashboard"]
    assert pod.request("GET", port, "/api/config").status == 401
    root = pod.request("GET", port, "/")
    assert root.status in (302, 303, 307) and root.headers["location"].startswith("/login")


def test_dashboard_refuses_a_wrong_password(pod):
    response = pod.request("POST", ports(pod)["dashboard"], "/auth/password-login", session="intruder",
                           json={"provider": "basic", "username": "operator", "password": "hunter2"})
    assert response.status in (401, 403)
    assert pod.request("GET", ports(pod)["dashboard"], "/api/config", session="intruder").status == 401


def test_configured_credentials_log_in(pod, program):
    port = ports(pod)["dashboard"]
    password = reveal(program.outputs["dashboard_password"])
    login = pod.request("POST", port, "/auth/password-login", session="operator",
                        json={"provider": "basic", "username": "operator", "password": password})
    assert login.status == 200, login
    assert pod.request("GET", port, "/api/config", session="operator").status == 200


def test_dashboard_sees_the_gateway_as_running(pod):
    status = pod.request("GET", ports(pod)["dashboard"], "/api/status").json()
    assert status["gateway_running"] is True and status["gateway_state"] == "running"
    assert status["version"] == HERMES_RELEASE  # the release the pinned image carries


# --- the Ingress ---------------------------------------------------------------------------------

def routes(program) -> list[tuple[str, str, int]]:
    """(host, path, container port) for every Ingress rule, followed through Service -> Pod port."""
    objects = program.kubernetes_objects()
    services = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Service"}
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    named = {p["name"]: p["containerPort"] for c in deployment["spec"]["template"]["spec"]["containers"]
             for p in c.get("ports", [])}
    found = []
    for ingress in (o for o in objects if o["kind"] == "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                service = services[backend["name"]]
                port = next(p for p in service["spec"]["ports"] if p["name"] == backend["port"]["name"])
                found.append((rule["host"], path["path"], named[port["targetPort"]]))
    return found


def test_every_ingress_rule_reaches_the_process_that_serves_it(pod, program):
    served = routes(program)
    assert {(h, p) for h, p, _ in served} == {("hermes.corp-internal.net", "/"), ("hermes-api.corp-internal.net", "/")}
    for host, _, port in served:
        if host == "hermes.corp-internal.net":
            # The dashboard UI's own API calls land on the dashboard, with the dashboard's auth.
            status = pod.request("GET", port, "/api/status", host=host)
            assert status.status == 200 and "gateway_running" in status.json()
            assert pod.request("GET", port, "/api/sessions", host=host).status == 401
            assert pod.request("GET", port, "/", host=host).headers["location"].startswith("/login")
        else:
            health = pod.request("GET", port, "/health", host=host)
            assert health.status == 200 and health.json()["platform"] == "hermes-agent"
            assert pod.request("GET", port, "/v1/models", host=host).status == 401


def test_no_dashboard_path_is_routed_to_the_gateway(program):
    for host, path, port in routes(program):
        if host == "hermes.corp-internal.net":
            assert port == 9119 and path == "/"


# --- model configuration (init container) ----------------------------------------------------------

def test_init_container_wrote_the_model_and_kept_the_users_edits(pod):
    written = yaml.safe_load((pod.rendered.home / "config.yaml").read_text())
    assert written["model"]["provider"] == "openrouter"
    assert written["model"]["default"] == "anthropic/claude-sonnet-4.6"
    assert written["model"]["context_length"] == 64000  # not a managed key: untouched
    assert written["display"]["skin"] == "ares"


def test_changed_config_is_reapplied_on_the_next_rollout(tmp_path):
    first = RenderedPod(run_program("local", CONFIG, secrets=SECRETS), tmp_path)
    assert all(r.returncode == 0 for r in first.run_init_containers())
    changed = run_program("local", {**CONFIG, "modelDefault": "openai/gpt-5.1"}, secrets=SECRETS)
    second = RenderedPod(changed, tmp_path)
    results = second.run_init_containers()
    assert all(r.returncode == 0 for r in results), [r.stdout + r.stderr for r in results]
    assert yaml.safe_load((second.home / "config.yaml").read_text())["model"]["default"] == "openai/gpt-5.1"


def test_config_values_cannot_inject_shell_commands(tmp_path):
    hostile = run_program("local", {**CONFIG, "modelProvider": "custom", "modelDefault": "x;touch${IFS}/tmp/pwned",
                                    "modelBaseUrl": "http://models.local/v1?$(id)"}, remove=("openrouterApiKey",))
    rendered = RenderedPod(hostile, tmp_path)
    assert all(r.returncode == 0 for r in rendered.run_init_containers())
    written = yaml.safe_load((rendered.home / "config.yaml").read_text())
    assert written["model"]["default"] == "x;touch${IFS}/tmp/pwned"
    assert written["model"]["base_url"] == "http://models.local/v1?$(id)"


def test_provider_key_reaches_the_gateway_environment_only_from_the_secret(pod):
    hermes = pod.rendered.container("hermes")
    env = pod.rendered.env(hermes)
    assert env["OPENROUTER_API_KEY"] == SECRETS["openrouterApiKey"]
    assert all("value" not in e for e in hermes["env"] if e["name"] == "OPENROUTER_API_KEY")
    assert re.fullmatch(r"[0-9a-f]{64}", env["API_SERVER_KEY"])


def test_liveness_fails_when_either_process_does_not_answer(pod):
    command = pod.rendered.container("hermes")["livenessProbe"]["exec"]["command"]
    silent = [part.replace(":9119/", ":9199/") for part in command]  # nothing listens on 9199
    code, _ = pod.exec(silent)
    assert code != 0


def test_behind_the_load_balancer_session_cookies_are_secure(pod, program):
    """ALB terminates TLS and sends X-Forwarded-Proto: https; the dashboard must trust it."""
    response = pod.request("POST", ports(pod)["dashboard"], "/auth/password-login", session="https",
                           host="hermes.corp-internal.net", headers={"X-Forwarded-Proto": "https"},
                           json={"provider": "basic", "username": "operator",
                                 "password": reveal(program.outputs["dashboard_password"])})
    assert response.status == 200
    cookie = response.headers["set-cookie"]
    assert "__Host-hermes_session_at=" in cookie and "Secure" in cookie


# --- X-Forwarded-* from a peer that is not the load balancer -----------------------------------------
# The dashboard runs under uvicorn with proxy headers on (hermes_cli/web_server.py, start_server:
# `proxy_headers=bool(app.state.auth_required)`), and uvicorn rewrites the request's scheme and client
# only when the connecting peer is in FORWARDED_ALLOW_IPS (uvicorn/middleware/proxy_headers.py,
# ProxyHeadersMiddleware: `if client_host in self.trusted_hosts`, which takes addresses and CIDRs).
# Here the trusted sources are a VPC range and CLIENT_IP (the load balancer, whose `X-Forwarded-Proto:
# https` makes the cookie Secure above); requests from the runner's UNTRUSTED_CLIENT_IP come from
# outside them: a spoofed `X-Forwarded-Proto: https` must not make the session cookie `Secure`. The
# same check gates X-Forwarded-For.
#
# Hermes 0.19.0's login rate limit reads the first X-Forwarded-For entry itself, whoever sent it
# (hermes_cli/dashboard_auth/routes.py `_client_ip`): no proxy setting changes that, which is why the
# NetworkPolicy admits only the load balancer's subnets (README "Network policy").

def test_the_rendered_pod_trusts_only_the_load_balancer_subnets(pod):
    env = pod.rendered.env(pod.rendered.container("hermes"))
    assert env["FORWARDED_ALLOW_IPS"] == "10.40.224.0/22,127.0.0.3/32"
    trusted = [ipaddress.ip_network(cidr) for cidr in env["FORWARDED_ALLOW_IPS"].split(",")]
    assert not any(ipaddress.ip_address(UNTRUSTED_CLIENT_IP) in network for network in trusted)


def test_spoofed_forwarded_headers_from_an_untrusted_peer_are_ignored(pod, program):
    response = pod.request("POST", ports(pod)["dashboard"], "/auth/password-login", session="spoofer",
                           source=UNTRUSTED_CLIENT_IP, host="hermes.corp-internal.net",
                           headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.40.224.10"},
                           json={"provider": "basic", "username": "operator",
                                 "password": reveal(program.outputs["dashboard_password"])})
    assert response.status == 200, response
    cookie = response.headers["set-cookie"]
    assert "hermes_session_at=" in cookie and "__Host-" not in cookie
    assert "secure" not in cookie.lower(), cookie  # the spoofed https was not believed


# --- a volume that a restore or the dashboard left behind (init containers) ------------------------

def test_the_stacks_api_key_beats_one_saved_in_env(pod, program):
    port = ports(pod)["api"]
    for key, status in ((api_key(program), 200), (FOREIGN_API_KEY, 401)):
        response = pod.request("GET", port, "/v1/models", headers={"Authorization": f"Bearer {key}"})
        assert response.status == status, (key == FOREIGN_API_KEY, response)


def test_the_gateway_resolves_the_secrets_provider_key_not_the_one_in_env(pod):
    """Hermes reads provider keys from .env before the environment (hermes_cli/auth.py): ask it."""
    code, output = pod.exec([IMAGE_PYTHON, "-c", RESOLVE_PROVIDER], as_hermes=True)
    assert code == 0, output
    assert json.loads(output.strip().splitlines()[-1]) == {"provider": "openrouter",
                                                            "api_key": SECRETS["openrouterApiKey"]}


def test_env_keeps_every_line_but_the_pinned_credentials(pod):
    lines = (pod.rendered.home / ".env").read_text().splitlines()
    assert "# my own notes" in lines and USER_ENV_LINE in lines
    assert not any(FOREIGN_API_KEY in line or FOREIGN_PROVIDER_KEY in line for line in lines)
    assert [line.split("=")[0] for line in lines if "API_SERVER_KEY" in line] == ["API_SERVER_KEY"]


def test_files_a_root_restore_left_belong_to_hermes_again(pod):
    for path in ("config.yaml", ".env", "logs", "logs/agent.log"):
        info = (pod.rendered.home / path).lstat()
        assert (info.st_uid, info.st_gid) == (10000, 10000), path
    assert (pod.rendered.home / ".env").stat().st_mode & 0o077 == 0  # the credentials file stays private
    assert "before the restore" in (pod.rendered.home / "logs" / "agent.log").read_text()

