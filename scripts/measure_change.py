#!/usr/bin/env python3
"""Report what a routine change touches, per stack; nothing here is asserted.

    python3 scripts/test.py --co -q >/dev/null   # once, to create .venvs/
    python3 scripts/measure_change.py [--stack dev] [--verbose]

Each change is rendered twice under mocks (the real __main__.py, the stack file's config) and the
registrations diffed by URN (tests/registration_diff.py): the resources a `pulumi preview` of that
change would list. tests/test_release_bump.py asserts the allowed set for a release bump only.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST_PYTHON = ROOT / ".venvs" / "test" / "bin" / "python"

NEXT_RELEASE = "nousresearch/hermes-agent:v2026.8.13@sha256:" + "1f" * 32
# name -> (stacks it applies to, the config change as a function of the stack's own settings)
CHANGES = {
    "Hermes release bump (hermesImage)": (("local", "dev", "prod"), lambda s: {"hermesImage": NEXT_RELEASE}),
    "more memory (memoryLimit)": (("local", "dev", "prod"), lambda s: {"memoryLimit": "12Gi"}),
    "bigger volume (storageSize)": (("local", "dev", "prod"), lambda s: {"storageSize": "200Gi"}),
    "one more Bedrock model (bedrockModels)": (
        ("dev", "prod"), lambda s: {"bedrockModels": [*s.bedrock_models, "eu.amazon.nova-pro-v1:0"]}),
    "one more cluster admin (clusterAdminPrincipalArns)": (
        ("dev", "prod"),
        lambda s: {"clusterAdminPrincipalArns": [*s.cluster_admin_principal_arns, "arn:aws:iam::210987654321:role/oncall"]}),
    # README "Add an agent": its own resources, plus in-place updates of the shared views.
    "one more agent (instances)": (("local", "dev", "prod"), lambda s: {"instances": {"hermes": {}, "research": {
        "namespace": "hermes-research",
        **({"dashboardHost": s.dashboard_host.replace("hermes", "research", 1)} if s.dashboard_host else {}),
        **({"apiHost": s.api_host.replace("hermes", "research", 1)} if s.api_host else {}),
    }}}),
}


def main() -> int:
    if Path(sys.prefix).resolve() != TEST_PYTHON.parent.parent.resolve():
        if not TEST_PYTHON.exists():
            raise SystemExit("run `python3 scripts/test.py --co -q` once first: it builds .venvs/")
        os.execv(str(TEST_PYTHON), [str(TEST_PYTHON), __file__, *sys.argv[1:]])

    parser = argparse.ArgumentParser()
    parser.add_argument("--stack", action="append", help="only this stack (repeatable)")
    parser.add_argument("--verbose", action="store_true", help="list the inputs that differ")
    options = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from settings import parse_settings
    from tests.harness import PROJECT, run_program, stack_file_config
    from tests.registration_diff import diff_registrations, render_change, summary

    for stack in options.stack or ("local", "dev", "prod"):
        settings = parse_settings(stack_file_config(stack, site_values=True), stack=stack)
        total = len(run_program(stack).resources)
        print(f"\n{stack} ({total} resources registered)")
        for name, (stacks, change) in CHANGES.items():
            if stack not in stacks:
                continue
            changes = diff_registrations(*render_change(stack, change(settings)))
            print(f"  {name}: {len(changes)} resource(s)")
            for line in summary(changes):
                print("    " + (line if options.verbose else line.split(": ", 1)[0]))
    print(f"\n(project {PROJECT}; rendered under mocks, see tests/registration_diff.py)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
