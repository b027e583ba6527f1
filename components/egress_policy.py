"""An optional egress NetworkPolicy for the Hermes pod (issue 15 item 5): what the agent may connect to.

Enforced only where the network plugin implements NetworkPolicy (README "Network policy"). Allowed:
DNS (UDP and TCP 53, to the cluster's resolver wherever it runs), TCP 443 to any address but the
instance metadata service, and the few other ports a configured piece needs (`extra_ports`: an e-mail
server's IMAP/SMTP ports, a signal-cli REST endpoint's or a custom model endpoint's port, the EKS Pod
Identity agent). Everything else is closed, other pods included, as is 169.254.169.254: the node's
IMDS would hand out the node role's credentials (the pod's own role comes from IRSA's web identity
token, or from the Pod Identity agent at 169.254.170.23, which is opened only in that mode).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# EC2 instance metadata (IMDS); the EKS Pod Identity agent listens on 169.254.170.23:80
# (docs.aws.amazon.com/eks/latest/userguide/pod-id-how-it-works.html; AWS_CONTAINER_CREDENTIALS_FULL_URI).
INSTANCE_METADATA = "169.254.169.254/32"
POD_IDENTITY_AGENT = "169.254.170.23/32"
POD_IDENTITY_AGENT_PORT = 80


@dataclass(frozen=True)
class EgressPort:
    port: int
    cidr: str = "0.0.0.0/0"


def egress_policy_spec(selector: Mapping[str, str], extra_ports: Sequence[EgressPort] = ()) -> dict:
    anywhere_but_metadata = {"ipBlock": {"cidr": "0.0.0.0/0", "except": [INSTANCE_METADATA]}}
    rules = [
        {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
        {"to": [anywhere_but_metadata], "ports": [{"protocol": "TCP", "port": 443}]},
    ]
    for extra in sorted({(p.cidr, p.port) for p in extra_ports if p.port != 443 or p.cidr != "0.0.0.0/0"}):
        cidr, port = extra
        peer = anywhere_but_metadata if cidr == "0.0.0.0/0" else {"ipBlock": {"cidr": cidr}}
        rules.append({"to": [peer], "ports": [{"protocol": "TCP", "port": port}]})
    return {"podSelector": {"matchLabels": dict(selector)}, "policyTypes": ["Egress"], "egress": rules}
