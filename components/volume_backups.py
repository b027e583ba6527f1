"""VolumeBackups: scheduled AWS Backup of the Hermes EBS volume, into a vault encrypted with the stack's key.

What is backed up is chosen by a tag, not by a volume id: the gp3 StorageClass this stack creates puts
`hermes-eks/backup=<project>-<stack>` on every volume it provisions (and a restored volume gets the same
tag), so the plan follows the Hermes volume through restores and re-creations without a config change.

- a customer-managed KMS key (rotated yearly) and a backup vault encrypted with it;
- optionally a second vault (and key) in another region, and a copy of every recovery point into it;
- a plan: one rule, schedule and retention from config;
- a selection: EBS volumes AND the tag (AWS Backup `Resources` and `Conditions` are combined with AND:
  docs.aws.amazon.com/aws-backup/latest/devguide/API_BackupSelection.html; `ListOfTags` would be OR'ed
  with `Resources` and select anything else carrying the tag);
- the role AWS Backup assumes for it: trusted by backup.amazonaws.com only, with AWS's managed backup
  policy and not its restore policy (restores are `pulumi up` with `restoreFromSnapshot`, made by the
  deploying principal, never by the service).

In prod (`keep_on_destroy`) the vaults and their keys are retained by `pulumi destroy` (and by an update
that drops them), so recovery points outlive the stack; elsewhere the vault is force-destroyed with its
recovery points, so `pulumi destroy` leaves nothing behind. A backup vault's name is unique per account
and Region (CreateBackupVault answers AlreadyExistsException), so a kept vault with a fixed name would
make the next `pulumi up` of the same stack fail in both Regions: kept vaults are named
`<vault_name>-<8 hex>`, the suffix a RandomId kept in state, which a teardown deletes with the rest of
the state, so the next deployment gets new names and the old vaults stay readable under theirs. The
keys have no name (and no alias), so nothing else kept here can collide.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

# The tag key the StorageClass and a restored volume carry; the selection matches it.
BACKUP_TAG_KEY = "hermes-eks/backup"
# AWS managed policy for the role AWS Backup assumes to take backups
# (docs.aws.amazon.com/aws-backup/latest/devguide/security-iam-awsmanpol.html).
BACKUP_SERVICE_POLICY = "arn:{partition}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup"
# AWS Backup schedule expressions: cron with six fields, in UTC
# (docs.aws.amazon.com/aws-backup/latest/devguide/API_BackupRule.html, ScheduleExpression).
SCHEDULE = re.compile(r"cron\((\S+ ){5}\S+\)")
# BackupVaultName: 2-50 characters, letters, digits, '-' and '_' (API_CreateBackupVault.html).
VAULT_NAME = re.compile(r"[A-Za-z0-9_-]{2,50}")
# A kept vault's name ends in "-" and this many bytes of hex, unique to the deployment.
SUFFIX_BYTES = 4
# Hours AWS Backup may take to start a job, and to finish it (API_BackupRule.html; 60 minutes minimum
# start window, completion window at least 60 minutes longer).
START_WINDOW_MINUTES = 60
COMPLETION_WINDOW_MINUTES = 24 * 60


@dataclass(frozen=True)
class VolumeBackupsArgs:
    vault_name: str  # also the selection tag's value, e.g. hermes-eks-dev
    schedule: str  # cron(...) in UTC
    retention_days: int
    copy_region: str = ""  # empty: no cross-region copy
    keep_on_destroy: bool = False  # prod: the vaults and keys survive `pulumi destroy`
    protect: bool = False  # like the volume (protectInfrastructure): no update deletes the vaults or keys
    tags: tuple[tuple[str, str], ...] = ()


def validate(args: VolumeBackupsArgs) -> None:
    """Reject args AWS Backup would refuse; settings/ checks the same for stack config."""
    longest = 50 - (1 + 2 * SUFFIX_BYTES if args.keep_on_destroy else 0)
    if not VAULT_NAME.fullmatch(args.vault_name) or len(args.vault_name) > longest:
        raise ValueError(f"VolumeBackupsArgs.vault_name is {args.vault_name!r}; allowed: 2-{longest} letters, digits, - or _"
                         + (" (a kept vault's name gets a suffix)" if args.keep_on_destroy else ""))
    if not SCHEDULE.fullmatch(args.schedule):
        raise ValueError(f"VolumeBackupsArgs.schedule is {args.schedule!r}; allowed: cron(<6 fields>) such as cron(0 3 * * ? *)")
    if not 1 <= args.retention_days <= 36500:
        raise ValueError(f"VolumeBackupsArgs.retention_days is {args.retention_days}; allowed: 1 to 36500")


def volume_tags(vault_name: str) -> dict[str, str]:
    """The tags a backed-up Hermes volume carries."""
    return {BACKUP_TAG_KEY: vault_name}


def selection_conditions(vault_name: str) -> dict:
    """The selection's tag condition (its `Resources` limit it to EBS volumes)."""
    return {"string_equals": [{"key": f"aws:ResourceTag/{BACKUP_TAG_KEY}", "value": vault_name}]}


def backup_role_trust_policy() -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "backup.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }],
    }


def plan_rule(args: VolumeBackupsArgs, vault_name: str, copy_vault_arn: str | None) -> dict:
    """The plan's one rule, as aws.backup.Plan takes it."""
    rule = {
        "rule_name": "scheduled",
        "target_vault_name": vault_name,
        "schedule": args.schedule,
        "start_window": START_WINDOW_MINUTES,
        "completion_window": COMPLETION_WINDOW_MINUTES,
        "lifecycle": {"delete_after": args.retention_days},
        "recovery_point_tags": dict(args.tags),
    }
    if copy_vault_arn is not None:
        rule["copy_actions"] = [{"destination_vault_arn": copy_vault_arn,
                                 "lifecycle": {"delete_after": args.retention_days}}]
    return rule


class VolumeBackups(pulumi.ComponentResource):
    vault: aws.backup.Vault
    copy_vault: aws.backup.Vault | None
    plan: aws.backup.Plan
    selection: aws.backup.Selection
    role: aws.iam.Role

    def __init__(self, name: str, args: VolumeBackupsArgs, opts: pulumi.ResourceOptions | None = None):
        validate(args)
        super().__init__("hermes-eks:index:VolumeBackups", name, None, opts)
        tags = dict(args.tags)
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition

        self.vault_name: pulumi.Output[str] = pulumi.Output.from_input(args.vault_name)
        if args.keep_on_destroy:
            suffix = random.RandomId(f"{name}-backups-vault", byte_length=SUFFIX_BYTES,
                                     opts=pulumi.ResourceOptions(parent=self))
            self.vault_name = pulumi.Output.concat(args.vault_name, "-", suffix.hex)
        self.key, self.vault = self._vault(f"{name}-backups", args, tags, provider=None)
        self.copy_vault = None
        copy_vault_arn = None
        if args.copy_region:
            provider = aws.Provider(f"{name}-backups-copy-region", region=args.copy_region,
                                    opts=pulumi.ResourceOptions(parent=self))
            self.copy_key, self.copy_vault = self._vault(f"{name}-backups-copy", args, tags, provider=provider)
            copy_vault_arn = self.copy_vault.arn

        self.role = aws.iam.Role(
            f"{name}-backups",
            assume_role_policy=json.dumps(backup_role_trust_policy()),
            description=f"Assumed by AWS Backup to back up the volumes tagged {BACKUP_TAG_KEY}={args.vault_name}",
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-backups",
            role=self.role.name,
            policy_arn=partition.apply(lambda p: BACKUP_SERVICE_POLICY.format(partition=p)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.plan = aws.backup.Plan(
            f"{name}-backups",
            name=args.vault_name,
            rules=[pulumi.Output.all(self.vault.name, copy_vault_arn).apply(
                lambda v: plan_rule(args, v[0], v[1]))],
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.selection = aws.backup.Selection(
            f"{name}-backups",
            name=args.vault_name,
            plan_id=self.plan.id,
            iam_role_arn=self.role.arn,
            resources=[partition.apply(lambda p: f"arn:{p}:ec2:*:*:volume/*")],
            conditions=[selection_conditions(args.vault_name)],
            # The role must be able to act before the first scheduled job; and it must outlive the
            # selection on teardown, so a job started meanwhile is not left without permissions.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[attachment]),
        )
        self.register_outputs({"vault_name": self.vault.name, "plan_id": self.plan.id})

    def _vault(self, name: str, args: VolumeBackupsArgs, tags: dict, provider: aws.Provider | None):
        kept = pulumi.ResourceOptions(parent=self, provider=provider, retain_on_delete=args.keep_on_destroy,
                                      protect=args.protect)
        key = aws.kms.Key(
            name,
            description=f"Encrypts the AWS Backup vault {args.vault_name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=tags,
            opts=kept,
        )
        vault = aws.backup.Vault(
            name,
            name=self.vault_name,
            kms_key_arn=key.arn,
            # Without recovery points to keep, `pulumi destroy` empties the vault instead of failing on it.
            force_destroy=not args.keep_on_destroy,
            tags=tags,
            opts=kept,
        )
        return key, vault
