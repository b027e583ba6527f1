"""The hermes-eks policy pack: `pulumi preview --policy-pack policy --policy-pack-config policy/config/<stack>.json`.

The only place the PolicyPack is built (building it starts the analyzer's gRPC server and blocks);
the policies live in hermes_policies.py, where the tests import them. The Python policy host runs
this file with runpy.run_path(<this folder>) (pulumi/policy/__main__.py in the pulumi SDK), which puts
the folder first on sys.path: hence the plain `from hermes_policies import`.
"""

from pulumi_policy import EnforcementLevel, PolicyPack

from hermes_policies import POLICIES

PolicyPack(
    name="hermes-eks",
    # Each policy sets its own level (all MANDATORY, README "Policy as code"); a policy added without
    # one blocks too.
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=POLICIES,
)
