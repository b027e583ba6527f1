"""The Hermes pod always has a node in its volume's zone (EBS volumes are zonal; no autoscaler here).

For every zone the gp3 StorageClass may make a volume in, some managed node group with min_size >= 1
has all its subnets in that zone. Subnet zones come from awsx's contract: each kind of subnet id is
listed in the order of availabilityZoneNames (pulumi/pulumi-awsx awsx/ec2/vpc.ts).
"""

from __future__ import annotations

import pytest

from settings import ConfigError
from tests.harness import Program, run_program
from tests.conftest import stack_program

NODES, VPC = "eks:index:ManagedNodeGroup", "awsx:ec2:Vpc"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
ZONE_KEY = "topology.kubernetes.io/zone"


def volume_zones(program: Program) -> set[str] | None:
    """The zones the Hermes volume's StorageClass may provision in; None: any zone."""
    topologies = program.one(STORAGE_CLASS).plain.get("allowedTopologies")
    if not topologies:
        return None
    zones = set()
    for term in topologies:
        zones |= {zone for expr in term["matchLabelExpressions"] if expr["key"] == ZONE_KEY for zone in expr["values"]}
    return zones


def subnet_zones(program: Program) -> dict[str, str]:
    vpc = program.one(VPC)
    zones = vpc.plain["availabilityZoneNames"]
    return dict(zip(vpc.outputs["privateSubnetIds"], zones, strict=True))


@pytest.mark.parametrize("name", ["dev", "prod", "prod+3zones"])
def test_every_zone_a_volume_can_be_made_in_keeps_a_node(name):
    program = run_program("prod", {"nodeZoneCount": 3}) if name == "prod+3zones" else stack_program(name)
    zones = volume_zones(program)
    assert zones, "the gp3 class must name its zones, or a volume may land where no node group is"
    where = subnet_zones(program)
    for zone in zones:
        assert any(group.plain["scalingConfig"]["minSize"] >= 1
                   and {where[subnet] for subnet in group.plain["subnetIds"]} == {zone}
                   for group in program.of_type(NODES)), zone


def test_dev_stays_one_node_in_one_zone_and_prod_two_nodes_in_two():
    for name, count in (("dev", 1), ("prod", 2)):
        program = stack_program(name)
        assert len(volume_zones(program)) == len(program.of_type(NODES)) == count
        assert sum(g.plain["scalingConfig"]["desiredSize"] for g in program.of_type(NODES)) == count


def test_more_node_zones_than_vpc_zones_are_refused():
    program = run_program("dev", {"nodeZoneCount": 3}, raise_errors=False)
    assert isinstance(program.error, ConfigError)
    assert "hermes-eks:nodeZoneCount in Pulumi.dev.yaml is 3" in str(program.error)
    assert "at most availabilityZoneCount (2)" in str(program.error)
