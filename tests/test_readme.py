"""README.md as a newcomer reads it (issue 14 item 6): a table of contents that matches the headings, a
first screen that names every way in, one command for the policy pack's virtualenv, no unexplained term,
and one account of upgrading Hermes."""

from __future__ import annotations

import re

import yaml

import settings
from tests.harness import ROOT, STACKS

README = (ROOT / "README.md").read_text()
PROSE = re.sub(r"```.*?```", "", README, flags=re.S)  # headings and links outside code blocks
FIRST_SCREEN = README[:README.index("\n## What it deploys\n")]
# The one command that makes the policy pack's virtualenv (policy/PulumiPolicy.yaml: `virtualenv: venv`).
POLICY_INSTALL = "python3 -m venv policy/venv && policy/venv/bin/pip install -r policy/requirements.txt"


def github_anchor(heading: str) -> str:
    """The id GitHub gives a heading: lowercase, punctuation but '-' and '_' dropped, spaces as '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def section(title: str) -> str:
    text = README[README.index(f"\n## {title}\n"):]
    return text[:text.index("\n## ", 1)]


def shell_lines() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", README, flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines()]


def test_the_table_of_contents_lists_every_section_in_order_with_working_links():
    contents = PROSE[PROSE.index("**Contents:**"):]
    contents = contents[:contents.index("\n\n")]
    headings = re.findall(r"^## (.+)$", PROSE, flags=re.M)
    assert re.findall(r"\[(.+?)\]\(#([^)]+)\)", contents) == [(h, github_anchor(h)) for h in headings], (
        "README's **Contents:** must list each '## ' heading, in order:\n"
        + " · ".join(f"[{h}](#{github_anchor(h)})" for h in headings))
    assert PROSE.index("**Contents:**") < PROSE.index("\n## "), "the contents come right after the intro"


def test_every_link_within_the_readme_names_a_heading():
    anchors = {github_anchor(h) for h in re.findall(r"^#{2,4} (.+)$", PROSE, flags=re.M)}
    for anchor in re.findall(r"\]\(#([^)]+)\)", PROSE):
        assert anchor in anchors, anchor


def test_the_first_screen_names_how_to_run_hermes_check_a_stack_and_run_the_tests():
    for command in ("pulumi up", "python3 scripts/check_config.py", "python3 scripts/test.py"):
        assert command in FIRST_SCREEN, command
    assert len(FIRST_SCREEN.splitlines()) < 80


def test_the_seed_article_is_introduced_before_it_is_mentioned():
    first = README.index("seed article")
    assert first < README.index("\n## "), "first named in the intro"
    assert "Running Hermes Agent on EKS: from docker-compose to Helm" in README[:first + 200]


def test_the_policy_pack_virtualenv_is_made_by_one_command_everywhere():
    installs = [line.split("#")[0].strip() for line in shell_lines()
                if re.search(r"policy/requirements|venv policy|install --cwd policy", line)]
    assert installs and set(installs) == {POLICY_INSTALL}, installs
    assert POLICY_INSTALL in (ROOT / "policy" / "PulumiPolicy.yaml").read_text()
    assert yaml.safe_load((ROOT / "policy" / "PulumiPolicy.yaml").read_text())["runtime"]["options"] == {
        "virtualenv": "venv"}
    for block in re.findall(r"```sh\n(.*?)```", README, flags=re.S):
        if "--policy-pack policy" in block:
            assert POLICY_INSTALL in block, f"a block that runs the pack installs it first:\n{block}"


def test_upgrading_hermes_and_the_hermes_image_setting_tell_the_same_steps():
    upgrading = section("Upgrading Hermes")
    # "No stack file sets it, so every stack runs its default":
    for stack in STACKS:
        config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"] or {}
        assert "hermes-eks:hermesImage" not in config, stack
    assert settings.StackSettings.model_fields["hermes_image"].default == settings.HERMES_UPSTREAM_IMAGE
    # Try it on one stack, then make it the code's default and drop the stack's own value:
    steps = [upgrading.index(s) for s in ("pulumi config set hermesImage", "`HERMES_UPSTREAM_IMAGE`",
                                          "`HERMES_RELEASE`", "scripts/config_reference.py --write",
                                          "python3 scripts/test.py", "pulumi config rm hermesImage")]
    assert steps == sorted(steps)
    assert "in `scripts/test.py`, the `hermes-agent` pin" in " ".join(upgrading.split())  # = HERMES_RELEASE (test_stacks.py)
    assert 'README "Upgrading Hermes"' in settings.KEY_DOCS["hermes_image"][0]
    assert "= changing this value" not in README
