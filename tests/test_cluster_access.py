"""Who may administer a created cluster: every listed principal gets an access entry, and the cluster's
creator is never listed (EKS gives it an entry of its own; a second one fails with 409 after the
cluster exists). pulumi-eks sets bootstrapClusterCreatorAdminPermissions whenever authenticationMode is
set: pulumi/pulumi-eks nodejs/eks/cluster/cluster.ts (accessConfig), issue #2373.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from components.hermes_cluster import listed_principal, principal_identity
from settings import ConfigError
from tests import fake_cloud, render_cache
from tests.harness import ROOT, run_program
from tests.harness import stack_file_config as stack_file_config_of

CLUSTER, RECORD = "eks:index:Cluster", "random:index/randomId:RandomId"
ADMINS = "arn:aws:iam::210987654321:role/platform-admins"  # listed in Pulumi.prod.yaml
ADMIN_SESSION = "arn:aws:sts::210987654321:assumed-role/platform-admins/alice"
CI_ROLE = "arn:aws:iam::210987654321:role/ci/deployments"
CI_SESSION = "arn:aws:sts::210987654321:assumed-role/deployments/pulumi-deployments"


@pytest.fixture
def account(monkeypatch):
    """Set who runs `pulumi up`, which clusters exist, and the creator an earlier `up` recorded."""
    def set_account(caller: str, existing: tuple[str, ...] = (), recorded: str | None = None):
        monkeypatch.setattr(fake_cloud, "CALLER_ARN", caller)
        monkeypatch.setattr(fake_cloud, "EXISTING_CLUSTERS", list(existing))
        monkeypatch.setattr(fake_cloud, "RECORDED_CREATOR", recorded)
    return set_account


def test_an_assumed_role_session_is_its_role_whatever_the_roles_path():
    assert principal_identity(CI_SESSION) == principal_identity(CI_ROLE) == ("210987654321", "role", "deployments")
    assert principal_identity("arn:aws:iam::210987654321:user/people/bob") == ("210987654321", "user", "bob")
    assert principal_identity("arn:aws:iam::210987654321:root") is None
    assert listed_principal(ADMIN_SESSION, (CI_ROLE, ADMINS)) == ADMINS
    assert listed_principal(CI_SESSION, (ADMINS,)) is None
    assert listed_principal("arn:aws:sts::111122223333:assumed-role/platform-admins/x", (ADMINS,)) is None


def test_a_listed_creator_is_refused_before_anything_is_registered(account):
    account(caller=ADMIN_SESSION)  # no cluster yet: this `up` creates it
    program = run_program("prod", raise_errors=False)
    assert isinstance(program.error, ConfigError)
    message = str(program.error)
    assert "hermes-eks:clusterAdminPrincipalArns in Pulumi.prod.yaml lists " + ADMINS in message
    assert ADMIN_SESSION in message and "409" in message
    assert program.resources == []


def test_an_unlisted_creator_gets_no_entry_and_is_recorded_for_later_runs(account):
    account(caller=CI_SESSION)
    program = run_program("prod")
    assert list(program.one(CLUSTER).plain["accessEntries"]) == ["210987654321-role-platform-admins"]
    record = program.one(RECORD, "hermes-creator")
    assert record.plain["keepers"] == {"principal": CI_SESSION}
    # Until the cluster exists the record follows whoever runs (a failed first `up` may be retried by
    # someone else)...
    assert record.ignore_changes == []


def test_once_the_cluster_exists_the_recorded_creator_is_never_rewritten(account):
    account(caller=ADMIN_SESSION, existing=("hermes-prod",), recorded=CI_SESSION)
    record = run_program("prod", {"clusterAdminPrincipalArns": []}).one(RECORD, "hermes-creator")
    assert record.ignore_changes == ["keepers"]
    assert record.outputs["keepers"] == {"principal": CI_SESSION}


def test_a_later_up_by_a_listed_principal_changes_nothing(account):
    account(caller=CI_SESSION)
    first = run_program("prod", {"clusterAdminPrincipalArns": [ADMINS]})
    account(caller=ADMIN_SESSION, existing=("hermes-prod",), recorded=CI_SESSION)
    later = run_program("prod", {"clusterAdminPrincipalArns": [ADMINS]})
    assert later.error is None
    assert later.one(CLUSTER).plain == first.one(CLUSTER).plain


# A program failing inside an apply leaves Pulumi's runtime unusable for the next program in the same
# process (the engine would have ended it), so this one runs in a process of its own.
LATER_UP_BY_CI = f"""
import json
from tests import fake_cloud
from tests.harness import ROOT, run_program
fake_cloud.CALLER_ARN = {CI_SESSION!r}
fake_cloud.EXISTING_CLUSTERS = ["hermes-prod"]
fake_cloud.RECORDED_CREATOR = {ADMIN_SESSION!r}
program = run_program("prod", raise_errors=False)
print(json.dumps({{"error": str(program.error), "types": sorted({{r.type for r in program.resources}})}}))
"""


def later_up_by_ci() -> str:
    done = subprocess.run([sys.executable, "-c", LATER_UP_BY_CI], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip(), done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def test_listing_the_recorded_creator_later_stops_before_the_cluster_is_updated():
    result = json.loads(render_cache.cached_output(later_up_by_ci, LATER_UP_BY_CI))
    assert "clusterAdminPrincipalArns lists " + ADMINS in result["error"] and "409" in result["error"]
    assert CLUSTER not in result["types"]


def test_a_cluster_older_than_the_record_records_no_creator(account):
    account(caller=ADMIN_SESSION, existing=("hermes-prod",))
    program = run_program("prod")
    assert program.one(RECORD, "hermes-creator").plain["keepers"] == {"principal": "unknown"}


PREVIEW_ROLE = "arn:aws:iam::210987654321:role/hermes-eks-deploy-github-preview-prod"


def test_a_listed_viewer_gets_a_view_only_entry_that_cannot_write(account):
    """The pull-request preview roles: AmazonEKSViewPolicy only (reads, no Secrets, no writes), so a
    preview's server-side dry runs get 403 and pulumi-kubernetes previews client-side instead."""
    account(caller=CI_SESSION)
    program = run_program("prod", {"clusterViewerPrincipalArns": [PREVIEW_ROLE]})
    entries = program.one(CLUSTER).plain["accessEntries"]
    assert entries["210987654321-role-hermes-eks-deploy-github-preview-prod"] == {
        "principalArn": PREVIEW_ROLE,
        "type": "STANDARD",
        "accessPolicies": {"view": {
            "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
            "accessScope": {"type": "cluster"},
        }},
    }
    assert entries["210987654321-role-platform-admins"]["accessPolicies"]["cluster-admin"]["policyArn"] == (
        "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy")


def test_a_principal_cannot_be_both_admin_and_viewer(account):
    account(caller=CI_SESSION)
    program = run_program("prod", {"clusterViewerPrincipalArns": [ADMINS]}, raise_errors=False)
    assert isinstance(program.error, ConfigError) and program.resources == []
    assert "hermes-eks:clusterViewerPrincipalArns in Pulumi.prod.yaml" in str(program.error)
    assert "one access entry" in str(program.error)


def test_no_stack_file_makes_a_preview_role_a_cluster_admin():
    for stack in ("dev", "prod", "pr", "local"):
        admins = stack_file_config_of(stack).get("hermes-eks:clusterAdminPrincipalArns") or []
        assert not [arn for arn in admins if "github-preview" in arn], stack


def test_a_creator_listed_as_viewer_is_refused_before_anything_is_registered(account):
    account(caller="arn:aws:sts::210987654321:assumed-role/hermes-eks-deploy-github-preview-prod/x")
    program = run_program("prod", {"clusterViewerPrincipalArns": [PREVIEW_ROLE]}, raise_errors=False)
    assert isinstance(program.error, ConfigError) and program.resources == []
    assert f"hermes-eks:clusterViewerPrincipalArns in Pulumi.prod.yaml lists {PREVIEW_ROLE}" in str(program.error)
