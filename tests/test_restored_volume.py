"""Restore is one config change: `restoreFromSnapshot` puts Hermes on a volume made from it; clearing it goes back.

Both directions are rendered under mocks and compared registration by registration (by URN), the way
the engine would plan the update: nothing protected may be deleted or replaced, and whatever the
update drops must be retained, never deleted.
"""

from __future__ import annotations

import functools

import kubernetes_validate
import pytest

from components.restored_volume import snapshot_id
from components.volume_backups import BACKUP_TAG_KEY
from settings import ConfigError
from tests.harness import Program, run_program

SNAPSHOT = "snap-0123456789abcdef0"  # tests/fake_cloud.py: taken from vol-0aaaabbbbccccdddd in eu-central-1b
VOLUME, PV = "aws:ebs/volume:Volume", "kubernetes:core/v1:PersistentVolume"
PVC, DEPLOYMENT = "kubernetes:core/v1:PersistentVolumeClaim", "kubernetes:apps/v1:Deployment"


@functools.cache
def render(stack: str, snapshot: str = "", **config) -> Program:
    return run_program(stack, {"restoreFromSnapshot": snapshot, **config} if snapshot else config)


def claim_of(program: Program) -> str:
    volumes = program.one(DEPLOYMENT).plain["spec"]["template"]["spec"]["volumes"]
    return next(v["persistentVolumeClaim"]["claimName"] for v in volumes if v["name"] == "data")


def by_urn(program: Program) -> dict:
    return {r.urn: r for r in program.resources}


# --- restore ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_a_snapshot_key_creates_a_volume_from_it_in_the_source_volumes_zone(stack):
    program = render(stack, SNAPSHOT)
    volume = program.one(VOLUME).plain
    assert (volume["snapshotId"], volume["availabilityZone"], volume["type"], volume["encrypted"]) == (
        SNAPSHOT, "eu-central-1b", "gp3", True)
    # Tagged like the volumes the gp3 class makes, so the backup plan keeps backing Hermes up.
    assert volume["tags"][BACKUP_TAG_KEY] == f"hermes-eks-{stack}"


def test_hermes_mounts_a_claim_bound_to_the_restored_volume_pinned_to_its_zone():
    program = render("dev", SNAPSHOT)
    volume = program.one(VOLUME)
    persistent_volume, claim = program.one(PV).plain, program.one(PVC, f"hermes-data-{SNAPSHOT}").plain
    # The id EC2 gave the volume, as its ARN ends (tests/fake_cloud.py answers vol-0restored<hex>).
    volume_id = volume.outputs["arn"].rsplit(":volume/", 1)[1]
    assert volume_id.startswith("vol-0restored")
    assert persistent_volume["spec"]["csi"] == {"driver": "ebs.csi.aws.com", "volumeHandle": volume_id, "fsType": "ext4"}
    assert persistent_volume["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    (term,) = persistent_volume["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
    assert term == {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["eu-central-1b"]}]}
    assert persistent_volume["spec"]["claimRef"] == {"namespace": "hermes", "name": f"hermes-data-{SNAPSHOT}"}
    assert claim["spec"]["volumeName"] == persistent_volume["metadata"]["name"] == f"hermes-hermes-data-{SNAPSHOT}"
    assert claim["spec"]["storageClassName"] == persistent_volume["spec"]["storageClassName"] == "gp3"
    assert claim_of(program) == f"hermes-data-{SNAPSHOT}"


def test_the_restored_objects_are_valid_kubernetes():
    program = render("dev", SNAPSHOT)
    for obj in program.kubernetes_objects():
        if obj["kind"] in ("PersistentVolume", "PersistentVolumeClaim"):
            kubernetes_validate.validate(obj, "1.34", strict=True)


def test_an_aws_backup_recovery_point_arn_restores_the_same_snapshot():
    arn = f"arn:aws:ec2:eu-central-1::snapshot/{SNAPSHOT}"
    assert snapshot_id(arn) == SNAPSHOT
    assert render("dev", arn).one(VOLUME).plain["snapshotId"] == SNAPSHOT


def test_a_snapshot_larger_than_storage_size_gets_a_volume_and_claim_of_its_size():
    program = render("dev", "snap-0b16b16b16b16b16b")  # 200 GiB
    assert program.one(VOLUME).plain["size"] == 200
    assert program.one(PV).plain["spec"]["capacity"] == {"storage": "200Gi"}


def test_an_explicit_zone_skips_the_source_volume_lookup():
    program = render("dev", "snap-0feedface0000dead", restoreAvailabilityZone="eu-central-1a")
    assert program.one(VOLUME).plain["availabilityZone"] == "eu-central-1a"
    assert not [token for token, _ in program.invokes if token.startswith("aws:ebs/getEbsVolumes")]


def test_a_deleted_source_volume_without_a_zone_names_the_key_to_set():
    program = run_program("dev", {"restoreFromSnapshot": "snap-0feedface0000dead"}, raise_errors=False)
    assert program.error is not None
    assert "hermes-eks:restoreAvailabilityZone" in str(program.error)
    assert "snap-0feedface0000dead" in str(program.error)


# --- both directions: nothing protected deleted or replaced, nothing dropped deleted ---------------

@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("direction", ["restore", "back to normal"])
def test_switching_never_deletes_or_replaces_state(stack, direction):
    normal, restored = render(stack), render(stack, SNAPSHOT)
    before, after = (normal, restored) if direction == "restore" else (restored, normal)
    old, new = by_urn(before), by_urn(after)
    for urn, resource in old.items():
        if resource.protect:
            assert urn in new, f"{direction} would delete protected {resource.name}"
            assert new[urn].inputs == resource.inputs, f"{direction} would change protected {resource.name}"
            assert new[urn].protect
        if urn not in new and not resource.type.startswith("hermes-eks:"):  # our components hold no state
            assert resource.retain_on_delete, f"{direction} would delete {resource.type} {resource.name}"
    # The one thing that moves is the Deployment's claim.
    assert claim_of(before) != claim_of(after)
    assert "hermes-data" in (claim_of(before), claim_of(after))


def test_the_original_volume_is_kept_protected_during_a_restore():
    original = render("dev", SNAPSHOT).one(PVC, "hermes-data")
    assert original.protect and original.plain == render("dev").one(PVC, "hermes-data").plain


# --- config ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("stack", "config", "message"), [
    ("dev", {"restoreFromSnapshot": "snap-xyz"}, "hermes-eks:restoreFromSnapshot in Pulumi.dev.yaml is \"snap-xyz\"; allowed: empty or an EBS snapshot id"),
    ("dev", {"restoreFromSnapshot": "arn:aws:ec2:eu-west-1::snapshot/snap-0123456789abcdef0"},
     "hermes-eks:restoreFromSnapshot in Pulumi.dev.yaml is \"arn:aws:ec2:eu-west-1::snapshot/snap-0123456789abcdef0\"; "
     "allowed: a snapshot id or a recovery point ARN of aws:region eu-central-1 (this one is in eu-west-1; copy it to "
     "eu-central-1 first with `aws backup start-copy-job`)"),
    ("dev", {"restoreAvailabilityZone": "eu-central-1a"}, "hermes-eks:restoreAvailabilityZone in Pulumi.dev.yaml is \"eu-central-1a\"; allowed: empty unless restoreFromSnapshot is set"),
    ("dev", {"restoreFromSnapshot": SNAPSHOT, "restoreAvailabilityZone": "us-east-1a"}, "allowed: a zone of aws:region eu-central-1"),
    ("local", {"restoreFromSnapshot": SNAPSHOT}, "hermes-eks:restoreFromSnapshot in Pulumi.local.yaml is \"snap-0123456789abcdef0\"; allowed: empty when clusterSource is 'kubeconfig'"),
    ("dev", {"clusterSource": "existing", "existingClusterName": "platform", "restoreFromSnapshot": SNAPSHOT},
     "hermes-eks:storageClassName is not set in Pulumi.dev.yaml; allowed: the StorageClass of the Hermes volume"),
])
def test_bad_restore_config_is_refused_before_anything_is_registered(stack, config, message):
    program = run_program(stack, config, raise_errors=False)
    assert isinstance(program.error, ConfigError), program.error
    assert message in str(program.error)
    assert program.resources == []
