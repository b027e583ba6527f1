"""RestoredVolume: an EBS volume created from a snapshot (or an AWS Backup recovery point) for Hermes.

`restoreFromSnapshot` names the snapshot; the next `pulumi up` creates this volume in the availability
zone of the volume the snapshot was taken from (a zone Hermes' nodes run in; `restoreAvailabilityZone`
overrides it), and HermesAgent binds it to a new claim and mounts that instead of `hermes-data`. The
original claim and its volume stay untouched (protected, as always) until the operator removes them.

Clearing the key goes back to the original volume. The restored volume, its PersistentVolume and its
claim are `retain_on_delete`: dropping them from the stack never deletes the data written since the
restore. (Not `protect`: that would make clearing the key fail instead.)

An EBS recovery point of AWS Backup is an EBS snapshot; its ARN is
`arn:<partition>:ec2:<region>::snapshot/snap-...` (docs.aws.amazon.com/aws-backup/latest/devguide/
restoring-ebs.html), so both forms name the same thing here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

# EC2 snapshot ids: `snap-` and 8 or 17 hex characters; or the recovery point ARN around one.
SNAPSHOT_REFERENCE = re.compile(
    r"(snap-(?:[0-9a-f]{8}|[0-9a-f]{17}))|arn:aws(?:-[a-z]+)*:ec2:[a-z0-9-]+::snapshot/(snap-(?:[0-9a-f]{8}|[0-9a-f]{17}))"
)
AVAILABILITY_ZONE = re.compile(r"[a-z]{2}(-gov)?-[a-z]+-[1-9][a-z]")


def snapshot_id(reference: str) -> str:
    """`snap-...` from a snapshot id or an AWS Backup EBS recovery point ARN."""
    match = SNAPSHOT_REFERENCE.fullmatch(reference)
    if not match:
        raise ValueError(f"{reference!r} is neither an EBS snapshot id (snap-...) nor an EBS recovery point ARN")
    return match.group(1) or match.group(2)


def gib(size: str) -> int:
    """A Kubernetes quantity in Gi or Ti (settings.StorageSize) as whole GiB."""
    number, unit = int(size[:-2]), size[-2:]
    return number * 1024 if unit == "Ti" else number


@dataclass(frozen=True)
class RestoredVolumeArgs:
    snapshot: str  # snapshot id or recovery point ARN
    storage_size: str  # the claim's size (Gi/Ti); the volume is at least the snapshot's size
    availability_zone: str = ""  # empty: the zone of the snapshot's source volume
    tags: tuple[tuple[str, str], ...] = ()


class RestoredVolume(pulumi.ComponentResource):
    volume: aws.ebs.Volume
    volume_id: pulumi.Output[str]
    availability_zone: pulumi.Output[str]
    size_gib: pulumi.Output[int]
    snapshot_id: str

    def __init__(self, name: str, args: RestoredVolumeArgs, opts: pulumi.ResourceOptions | None = None):
        self.snapshot_id = snapshot_id(args.snapshot)
        # Looked up while the program runs (plain invokes, not outputs), so a snapshot or zone that
        # cannot be used fails `pulumi preview` with one message before this component registers
        # anything. get_snapshot fails, naming the snapshot, when it does not exist or is not ours.
        snapshot = aws.ebs.get_snapshot(snapshot_ids=[self.snapshot_id])
        zone = args.availability_zone or _source_zone(snapshot.volume_id, self.snapshot_id)
        size = max(int(snapshot.volume_size), gib(args.storage_size))
        super().__init__("hermes-eks:index:RestoredVolume", name, None, opts)
        self.volume = aws.ebs.Volume(
            f"{name}-restored-{self.snapshot_id}",
            snapshot_id=self.snapshot_id,
            availability_zone=zone,
            size=size,
            type="gp3",
            encrypted=True,
            tags={**dict(args.tags), "Name": f"{name}-restored-{self.snapshot_id}"},
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        self.volume_id = self.volume.id
        self.availability_zone = self.volume.availability_zone
        self.size_gib = self.volume.size
        self.register_outputs({"volume_id": self.volume_id, "availability_zone": self.availability_zone})


def _source_zone(source_volume: str, snapshot: str) -> str:
    """The zone of the volume the snapshot was taken from: one Hermes' nodes run in."""
    # The plural lookup answers "none" instead of failing, so a deleted source volume gets this message.
    found = aws.ebs.get_ebs_volumes(filters=[{"name": "volume-id", "values": [source_volume]}])
    if not found.ids:
        raise ValueError(
            f"hermes-eks:restoreFromSnapshot: the volume snapshot {snapshot} was taken from ({source_volume}) "
            "no longer exists, so its availability zone is unknown; set hermes-eks:restoreAvailabilityZone "
            "to a zone Hermes' nodes run in"
        )
    return aws.ebs.get_volume(filters=[{"name": "volume-id", "values": [found.ids[0]]}]).availability_zone
