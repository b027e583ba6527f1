"""Every `pulumi stack output <name>` the README tells an operator to run names an output that exists.

The outputs are read from what the real programs export under mocks: the main program for every
stack file, and the Deployments settings program (deployments/). A renamed or dropped output (as when
two alert topics became one) fails here instead of in an operator's terminal.
"""

from __future__ import annotations

import re

from tests.conftest import stack_program
from tests.deployments_harness import run_deployments
from tests.harness import ROOT, STACKS

README = (ROOT / "README.md").read_text()
# `pulumi stack output NAME`, also wrapped across a line break; not the bare command that lists all.
NAMED = re.compile(r"pulumi stack output\s+(?:--show-secrets\s+)?([a-z][a-z0-9_]*)")


def exported() -> set[str]:
    names = set(run_deployments().outputs) | set(run_deployments(config={"githubActions": True}).outputs)
    names |= set(run_deployments("sandbox", config={"githubSandboxPreview": True}).outputs)
    for stack in STACKS:
        names |= set(stack_program(stack).outputs)
    return names


def test_every_output_the_readme_names_is_exported():
    named = set(NAMED.findall(README))
    assert named, "the README names no output: the pattern is out of date"
    assert named - exported() == set()


def test_the_check_would_catch_a_renamed_output():
    assert "alarm_topic_arn" not in exported()  # the name the observability section once used
