"""VolumeBackups: AWS Backup of the Hermes volume in every AWS stack, selected by the tag its class puts on it."""

from __future__ import annotations

import functools
import json

import pytest

from components.volume_backups import (
    BACKUP_TAG_KEY,
    VolumeBackupsArgs,
    backup_role_trust_policy,
    plan_rule,
    validate,
)
from settings import ConfigError
from tests import fake_cloud
from tests.harness import Program, run_program

KEY, VAULT, PLAN = "aws:kms/key:Key", "aws:backup/vault:Vault", "aws:backup/plan:Plan"
SELECTION, ROLE = "aws:backup/selection:Selection", "aws:iam/role:Role"
ATTACHMENT, PROVIDER = "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "pulumi:providers:aws"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"


@functools.cache
def stack(name: str, **config) -> Program:
    return run_program(name, config)


PROD_SUFFIX = "09b4a14e"  # tests/fake_cloud.py's RandomId hex for hermes-backups-vault, first deployment


def backup_resources(program: Program) -> list:
    return [r for r in program.resources if r.type.startswith("aws:backup/") or (r.type == KEY and "backups" in r.name)]


# --- what is backed up ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["dev", "prod"])
def test_the_selection_picks_exactly_the_volumes_the_storage_class_tags(name):
    program = stack(name)
    parameters = program.one(STORAGE_CLASS).plain["parameters"]
    tags = dict(v.split("=", 1) for k, v in parameters.items() if k.startswith("tagSpecification"))
    selection = program.one(SELECTION).plain
    (condition,) = selection["conditions"]
    (equals,) = condition["stringEquals"]
    assert equals == {"key": f"aws:ResourceTag/{BACKUP_TAG_KEY}", "value": f"hermes-eks-{name}"}
    assert tags == {BACKUP_TAG_KEY: f"hermes-eks-{name}"}
    # Resources AND Conditions: EBS volumes carrying the tag, nothing else that happens to carry it.
    assert selection["resources"] == ["arn:aws:ec2:*:*:volume/*"]
    assert "selectionTags" not in selection or not selection["selectionTags"]


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_the_vault_is_encrypted_with_a_rotated_key_the_stack_owns(name):
    program = stack(name)
    vault = program.one(VAULT, "hermes-backups")
    key = program.one(KEY, "hermes-backups")
    assert vault.plain["name"] == {"dev": "hermes-eks-dev", "prod": f"hermes-eks-prod-{PROD_SUFFIX}"}[name]
    assert vault.plain["kmsKeyArn"] == key.outputs["arn"]
    assert key.plain["enableKeyRotation"] is True


def test_dev_backs_up_daily_for_two_weeks_and_prod_for_five_weeks_with_a_copy_in_another_region():
    dev_rule = stack("dev").one(PLAN).plain["rules"][0]
    assert (dev_rule["schedule"], dev_rule["lifecycle"]["deleteAfter"]) == ("cron(0 3 * * ? *)", 14)
    assert not dev_rule.get("copyActions")

    prod = stack("prod")
    (prod_rule,) = prod.one(PLAN).plain["rules"]
    assert prod_rule["lifecycle"]["deleteAfter"] == 35
    copy_vault = prod.one(VAULT, "hermes-backups-copy")
    (copy,) = prod_rule["copyActions"]
    assert copy == {"destinationVaultArn": copy_vault.outputs["arn"], "lifecycle": {"deleteAfter": 35}}
    provider = prod.one(PROVIDER, "hermes-backups-copy-region")
    assert provider.plain["region"] == "eu-west-1"
    # The copy's vault and key live in the other region: registered with that provider.
    for resource in (copy_vault, prod.one(KEY, "hermes-backups-copy")):
        assert resource.provider.startswith(provider.urn)


def test_the_plan_rule_targets_the_vault_and_follows_the_schedule():
    args = VolumeBackupsArgs(vault_name="hermes-eks-x", schedule="cron(0 */6 * * ? *)", retention_days=7)
    rule = plan_rule(args, "hermes-eks-x", None)
    assert (rule["target_vault_name"], rule["schedule"], rule["lifecycle"]) == (
        "hermes-eks-x", "cron(0 */6 * * ? *)", {"delete_after": 7})
    assert rule["completion_window"] >= rule["start_window"] + 60  # AWS Backup's minimum gap


# --- what survives destroy ------------------------------------------------------------------------

def test_prod_vaults_and_keys_survive_destroy_and_dev_leaves_nothing_behind():
    for resource in (r for r in backup_resources(stack("prod")) if r.type in (VAULT, KEY) and "backups" in r.name):
        assert resource.retain_on_delete, resource.name
        if resource.type == VAULT:
            assert resource.plain["forceDestroy"] is False
    for resource in backup_resources(stack("dev")):
        assert not resource.retain_on_delete and not resource.protect, resource.name
    assert stack("dev").one(VAULT).plain["forceDestroy"] is True


def test_prods_backups_survive_teardown_even_after_protection_is_switched_off():
    """README "Tear down" sets protectInfrastructure: false first; the recovery points must not go with it."""
    program = run_program("prod", {"protectInfrastructure": False})
    kept = [r for r in program.resources if r.type in (VAULT, KEY) and "backups" in r.name]
    assert len(kept) == 4 and all(r.retain_on_delete for r in kept)
    assert all(v.plain["forceDestroy"] is False for v in kept if v.type == VAULT)


def test_the_role_outlives_the_selection_that_uses_it():
    program = stack("dev")
    selection = program.one(SELECTION)
    assert program.one(ATTACHMENT, "hermes-backups").urn in selection.dependencies


# --- the service's identity -----------------------------------------------------------------------

def test_only_aws_backup_may_assume_the_role_and_it_gets_only_the_backup_policy():
    program = stack("dev")
    role = program.one(ROLE, "hermes-backups")
    assert json.loads(role.plain["assumeRolePolicy"]) == backup_role_trust_policy() == {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "backup.amazonaws.com"},
                       "Action": "sts:AssumeRole"}],
    }
    attached = [a.plain["policyArn"] for a in program.of_type(ATTACHMENT) if a.plain["role"] == role.outputs["name"]]
    assert attached == ["arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup"]
    inline = [p for p in program.of_type("aws:iam/rolePolicy:RolePolicy") if p.plain["role"] in (role.outputs["name"], "hermes-backups-id")]
    assert inline == []


# --- where there is no AWS ------------------------------------------------------------------------

def test_the_local_stack_has_no_backups():
    assert backup_resources(stack("local")) == []
    assert "tagSpecification_1" not in json.dumps([r.plain for r in stack("local").resources])


# --- config ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("config", "message"), [
    ({"backupSchedule": "daily"}, "hermes-eks:backupSchedule in Pulumi.dev.yaml is \"daily\"; allowed: an AWS Backup cron expression"),
    ({"backupSchedule": "cron(0 3 * * *)"}, "allowed: an AWS Backup cron expression in UTC with six fields"),
    ({"backupRetentionDays": "0"}, "hermes-eks:backupRetentionDays in Pulumi.dev.yaml is \"0\"; allowed: a whole number of days from 1 to 36500"),
    ({"backupCopyRegion": "eu-central-1"}, "hermes-eks:backupCopyRegion in Pulumi.dev.yaml is \"eu-central-1\"; allowed: a region other than aws:region"),
    ({"backupCopyRegion": "mars-1"}, "hermes-eks:backupCopyRegion in Pulumi.dev.yaml is \"mars-1\"; allowed: empty or an AWS region code"),
])
def test_bad_backup_config_is_refused_before_anything_is_registered(config, message):
    program = run_program("dev", config, raise_errors=False)
    assert isinstance(program.error, ConfigError)
    assert message in str(program.error)
    assert program.resources == []


def test_a_copy_region_on_the_local_stack_is_refused():
    program = run_program("local", {"backupCopyRegion": "eu-west-1"}, raise_errors=False)
    assert "hermes-eks:backupCopyRegion in Pulumi.local.yaml is \"eu-west-1\"; allowed: empty when clusterSource is 'kubeconfig'" in str(program.error)


@pytest.mark.parametrize(("field", "value"), [("vault_name", "x"), ("schedule", "rate(1 day)"), ("retention_days", 0)])
def test_the_component_refuses_args_aws_backup_would(field, value):
    args = {"vault_name": "hermes-eks-dev", "schedule": "cron(0 3 * * ? *)", "retention_days": 14, field: value}
    with pytest.raises(ValueError, match=f"VolumeBackupsArgs.{field}"):
        validate(VolumeBackupsArgs(**args))


# --- teardown, then `pulumi up` again -------------------------------------------------------------

def test_the_fake_account_refuses_a_name_a_kept_resource_still_holds():
    """The check below is only worth something if the fake refuses what AWS refuses."""
    program = stack("prod")
    account = fake_cloud.FakeAccount()
    account.up(program)
    account.destroy(program)
    with pytest.raises(fake_cloud.AlreadyExists, match="aws:backup/vault:Vault 'hermes-eks-prod-"):
        account.up(program)  # the same names again: what a fixed vault name meets


def test_a_prod_teardown_keeps_its_vaults_and_does_not_block_the_next_up(monkeypatch):
    """Vault names are unique per account and Region (CreateBackupVault: AlreadyExistsException)."""
    account = fake_cloud.FakeAccount()
    first = stack("prod")
    account.up(first)
    account.destroy(first)
    kept = account.kept(VAULT)
    assert [region for region, _ in kept] == ["eu-central-1", "eu-west-1"]  # recovery points outlive the stack
    monkeypatch.setattr(fake_cloud, "DEPLOYMENT", 1)  # a new state: the RandomId is drawn again
    second = run_program("prod", {})
    account.up(second)  # no AlreadyExists, in either Region
    assert len(account.kept(VAULT)) == 4
    assert {name for _, name in account.kept(VAULT)} >= {name for _, name in kept}
    names = [v.plain["name"] for v in second.of_type(VAULT)]
    assert len(set(names)) == 1 and names[0].startswith("hermes-eks-prod-") and len(names[0]) == len("hermes-eks-prod-") + 8


def test_a_kept_vaults_name_leaves_room_for_its_suffix():
    with pytest.raises(ValueError, match="allowed: 2-41 letters"):
        validate(VolumeBackupsArgs(vault_name="v" * 42, schedule="cron(0 3 * * ? *)", retention_days=1, keep_on_destroy=True))
    validate(VolumeBackupsArgs(vault_name="v" * 50, schedule="cron(0 3 * * ? *)", retention_days=1))
