"""X-Forwarded-* from a peer that is not the load balancer is not trusted, by the real Hermes.

The dashboard runs under uvicorn with proxy headers on (hermes_cli/web_server.py, start_server:
`proxy_headers=bool(app.state.auth_required)`), and uvicorn rewrites the request's scheme and client
only when the connecting peer is in FORWARDED_ALLOW_IPS (uvicorn/middleware/proxy_headers.py,
ProxyHeadersMiddleware: `if client_host in self.trusted_hosts`, which takes addresses and CIDRs).
Here the trusted sources are a VPC range, and the test's requests come from the runner's
CLIENT_IP, outside it: a spoofed `X-Forwarded-Proto: https` must not make the session cookie
`Secure`. The same check gates X-Forwarded-For.

Hermes 0.19.0's login rate limit reads the first X-Forwarded-For entry itself, whoever sent it
(hermes_cli/dashboard_auth/routes.py `_client_ip`): no proxy setting changes that, which is why the
NetworkPolicy admits only the load balancer's subnets (README "Network policy").
"""

from __future__ import annotations

import ipaddress
import shutil

import pytest

from tests.contract.pod import Pod, RenderedPod
from tests.contract.pod_runner import CLIENT_IP
from tests.harness import reveal, run_program

pytestmark = pytest.mark.contract

LOAD_BALANCER_SUBNETS = ["10.40.224.0/22"]
CONFIG = {"dashboardHost": "hermes.corp-internal.net", "dashboardUsername": "operator",
          "ingressSourceCidrs": LOAD_BALANCER_SUBNETS}


@pytest.fixture(scope="module")
def program():
    return run_program("local", CONFIG)


@pytest.fixture(scope="module")
def pod(program, tmp_path_factory):
    if shutil.which("unshare") is None:
        pytest.fail("the contract tests need `unshare` (util-linux) to give the pod its own network namespace")
    running = Pod(RenderedPod(program, tmp_path_factory.mktemp("forwarded")))
    yield running
    running.stop()


def test_the_rendered_pod_trusts_only_the_load_balancer_subnets(pod):
    env = pod.rendered.env(pod.rendered.container("hermes"))
    assert env["FORWARDED_ALLOW_IPS"] == ",".join(LOAD_BALANCER_SUBNETS)
    assert not any(ipaddress.ip_address(CLIENT_IP) in ipaddress.ip_network(cidr) for cidr in LOAD_BALANCER_SUBNETS)


def test_spoofed_forwarded_headers_from_an_untrusted_peer_are_ignored(pod, program):
    response = pod.request("POST", 9119, "/auth/password-login", session="spoofer", host="hermes.corp-internal.net",
                           headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.40.224.10"},
                           json={"provider": "basic", "username": "operator",
                                 "password": reveal(program.outputs["dashboard_password"])})
    assert response.status == 200, response
    cookie = response.headers["set-cookie"]
    assert "hermes_session_at=" in cookie
    assert "secure" not in cookie.lower(), cookie  # the spoofed https was not believed
