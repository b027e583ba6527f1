"""Which ACM certificate the AWS Load Balancer Controller will find for each Ingress host, asked early.

Without `alb.ingress.kubernetes.io/certificate-arn` the controller discovers certificates by host
(kubernetes-sigs/aws-load-balancer-controller v3.5.0, pkg/certs/cert_discovery.go): it lists the
account's ISSUED certificates of every key type, and a certificate serves a host when one of its
names equals the host or is a wildcard `*.<rest>` with the same number of labels and the same
`<rest>` (domainMatchesHost). With no certificate for a host it cannot build the HTTPS listener,
the Ingress never gets an address, and pulumi-kubernetes waits 10 minutes for one before failing
(provider/pkg/await/ingress.go). Looked up before anything is registered, the same mistake fails the
preview in seconds, naming the hosts.

The lookup uses pulumi-aws's aws.acm.get_certificate, which matches a certificate's primary
DomainName only (terraform-provider-aws internal/service/acm/certificate_data_source.go), so each
host is looked up under the two names the controller would accept as primary: the host itself and
its one-level wildcard. A certificate that names the host only among its subject alternative names
is served by the controller but not seen here: set the certificate ARN explicitly for it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pulumi_aws as aws

# Every KeyAlgorithm, as the controller asks: ListCertificates returns only some RSA keys by default.
KEY_TYPES = ("RSA_1024", "RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1", "EC_secp384r1", "EC_secp521r1")


def domain_matches_host(domain: str, host: str) -> bool:
    """cert_discovery.go, domainMatchesHost, ported."""
    if domain.startswith("*."):
        domain_labels, host_labels = domain.split("."), host.split(".")
        return len(domain_labels) == len(host_labels) and domain_labels[1:] == host_labels[1:]
    return domain == host


def candidate_domains(host: str) -> tuple[str, ...]:
    """Every certificate name that domain_matches_host accepts for `host`: itself, and `*.` + its parent."""
    _, _, parent = host.partition(".")
    return (host, f"*.{parent}") if parent else (host,)


def find_certificates(hosts: Sequence[str], lookup: Callable[[str], str | None]) -> dict[str, str | None]:
    """Per host, the ARN of an ISSUED certificate the controller would pick for it, or None.

    `lookup(domain)` answers the ARN of an ISSUED certificate whose primary name is `domain`, or None.
    """
    found: dict[str, str | None] = {}
    for host in dict.fromkeys(hosts):
        found[host] = next((arn for arn in map(lookup, candidate_domains(host)) if arn), None)
    return found


def acm_lookup(region: str | None = None) -> Callable[[str], str | None]:
    """`find_certificates`' lookup, as plain invokes of aws.acm.get_certificate (pulumi-aws 7.51.1),
    which fails with "no ACM Certificate matching domain" when there is none."""

    def lookup(domain: str) -> str | None:
        try:
            return aws.acm.get_certificate(domain=domain, statuses=["ISSUED"], key_types=list(KEY_TYPES),
                                           most_recent=True, region=region).arn
        except Exception as error:  # noqa: BLE001 - the invoke's failure
            if "no ACM Certificate" in str(error) or "no ACM Certificate found" in str(error):
                return None
            raise

    return lookup
