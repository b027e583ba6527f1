"""Only the load balancer reaches Hermes, and only its X-Forwarded-* headers are trusted.

- The NetworkPolicy admits the two ports from where the ALB connects (target type ip): the subnets the
  Load Balancer Controller puts it in. Without an Ingress it admits nothing: `kubectl port-forward`
  enters through the pod's own loopback and the kubelet's probes come from the pod's node, both
  always allowed (kubernetes.io docs, concepts/services-networking/network-policies).
- The VPC CNI enforces it only with network policy support on: created clusters turn it on.
- FORWARDED_ALLOW_IPS names the same sources, never "*" (uvicorn trusts proxy headers from them only).
"""

from __future__ import annotations

import ipaddress

import pytest

from tests import fake_cloud
from tests.conftest import stack_program
from tests.harness import Program, run_program

CLUSTER = "eks:index:Cluster"
PORTS = [{"protocol": "TCP", "port": 8642}, {"protocol": "TCP", "port": 9119}]
# prod's VPC is 10.40.0.0/16: load balancer subnets are the first three /22s of its last eighth,
# public ones the next three (components/hermes_cluster.py subnet_layout).
PROD_LOAD_BALANCER_SUBNETS = ["10.40.224.0/22", "10.40.228.0/22", "10.40.232.0/22"]
PROD_PUBLIC_SUBNETS = ["10.40.236.0/22", "10.40.240.0/22", "10.40.244.0/22"]


def sources(program: Program) -> list[str] | None:
    """The CIDRs the policy admits to the two ports; [] when it admits nothing."""
    policy = next(o for o in program.kubernetes_objects() if o["kind"] == "NetworkPolicy")["spec"]
    assert policy["policyTypes"] == ["Ingress"]
    if not policy["ingress"]:
        return []
    (rule,) = policy["ingress"]
    assert rule["ports"] == PORTS
    return [peer["ipBlock"]["cidr"] for peer in rule["from"]]


def forwarded_allow_ips(program: Program) -> str | None:
    deployment = next(o for o in program.kubernetes_objects() if o["kind"] == "Deployment")
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    return env.get("FORWARDED_ALLOW_IPS")


def test_created_clusters_enforce_network_policy_in_the_vpc_cni():
    for name in ("dev", "prod"):
        assert stack_program(name).one(CLUSTER).plain["vpcCniOptions"]["enableNetworkPolicy"] is True


def test_an_internal_alb_reaches_hermes_from_its_own_subnets_only():
    prod = stack_program("prod")
    assert sources(prod) == PROD_LOAD_BALANCER_SUBNETS
    assert forwarded_allow_ips(prod) == ",".join(PROD_LOAD_BALANCER_SUBNETS)


def test_an_internet_facing_alb_reaches_hermes_from_the_public_subnets_only():
    program = run_program("prod", {"ingressScheme": "internet-facing"})
    assert sources(program) == PROD_PUBLIC_SUBNETS
    assert forwarded_allow_ips(program) == ",".join(PROD_PUBLIC_SUBNETS)


def test_no_node_or_pod_address_is_admitted():
    vpc = run_program("prod").one("awsx:ec2:Vpc").plain
    node_subnets = next(s for s in vpc["subnetSpecs"] if s["type"] == "Private")["cidrBlocks"]
    for cidr in sources(stack_program("prod")):
        assert not any(ipaddress.ip_network(cidr).overlaps(ipaddress.ip_network(n)) for n in node_subnets)


@pytest.mark.parametrize("name", ["dev", "local"])
def test_without_an_ingress_nothing_from_outside_the_pod_is_admitted(name):
    program = stack_program(name)
    assert sources(program) == []
    assert forwarded_allow_ips(program) is None


def test_an_adopted_clusters_alb_may_be_anywhere_in_its_vpc():
    program = run_program("dev", {"clusterSource": "existing", "existingClusterName": "platform",
                                  "dashboardHost": "hermes.corp-internal.net"})
    assert sources(program) == [fake_cloud.EXISTING_VPC_CIDR]
    assert ("aws:ec2/getVpc:getVpc", {"id": "vpc-0existing00000000"}) in program.invokes


def test_ingress_source_cidrs_replace_the_default():
    program = run_program("dev", {"clusterSource": "existing", "existingClusterName": "platform",
                                  "dashboardHost": "hermes.corp-internal.net", "ingressSourceCidrs": ["10.1.8.0/24"]})
    assert sources(program) == ["10.1.8.0/24"] and forwarded_allow_ips(program) == "10.1.8.0/24"
    assert not [token for token, _ in program.invokes if token == "aws:ec2/getVpc:getVpc"]


def test_a_kubeconfig_clusters_ingress_controller_is_admitted_from_private_addresses_only():
    program = run_program("local", {"dashboardHost": "hermes.corp-internal.net"})
    assert sources(program) == ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]


def test_no_stack_trusts_forwarded_headers_from_everyone(any_stack: Program):
    assert forwarded_allow_ips(any_stack) != "*"
    assert "0.0.0.0/0" not in (sources(any_stack) or [])
