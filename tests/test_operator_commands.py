"""The commands the stack exports, run the way the README runs them: through bash, as `$(pulumi stack output ...)`.

Each README block marked `<!-- shell-test: <scenarios> -->` runs, as written, in bash for those
scenarios. On PATH are stand-ins that record their arguments: `pulumi` answers `stack output` with the
values the program registered under mocks (secrets only with --show-secrets, a missing output is an
error, as the CLI does); `aws` and `kubectl` honour `--kubeconfig` and `--context` and write or switch a
kubeconfig the way the real tools do; `python3` (for `-m webbrowser`) and `curl` only record. HOME holds
the user's own kubeconfig, whose current context must be the same afterwards.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from components.operator_commands import command_line, port_forward
from tests.harness import ROOT, is_secret, reveal, run_program

SCENARIOS = {
    "local": ("local", {}),
    "local-context": ("local", {"kubeconfigContext": "kind-hermes"}),
    "dev": ("dev", {}),
    "prod": ("prod", {}),
}
USERS_CONTEXT = "users-own-context"
BASH = shutil.which("bash")

# --- stand-ins -----------------------------------------------------------------------------------

RECORD = '''
import json, os, sys
with open(os.environ["STUB_LOG"], "a") as log:
    log.write(json.dumps({"program": os.path.basename(sys.argv[0]), "argv": sys.argv[1:], "cwd": os.getcwd()}) + "\\n")
'''

# The kubeconfig a command would use: --kubeconfig, else the first file in KUBECONFIG, else ~/.kube/config.
KUBECONFIG_PATH = '''
def kubeconfig_path(argv):
    if "--kubeconfig" in argv:
        return argv[argv.index("--kubeconfig") + 1]
    if os.environ.get("KUBECONFIG"):
        return os.environ["KUBECONFIG"].split(os.pathsep)[0]
    return os.path.expanduser("~/.kube/config")
'''

STUBS = {
    "pulumi": RECORD + '''
outputs = json.load(open(os.environ["STUB_OUTPUTS"]))
args = sys.argv[1:]
if args[:2] != ["stack", "output"] or len(args) < 3:
    sys.exit("stand-in pulumi only answers `pulumi stack output <name> [--show-secrets]`")
name = args[2]
if name not in outputs:
    sys.stderr.write(f"error: current stack does not have output property '{name}'\\n")
    sys.exit(255)
value, secret = outputs[name]
if secret and "--show-secrets" not in args:
    print("[secret]")
else:
    print(value if isinstance(value, str) else json.dumps(value, indent=2))
''',
    "aws": RECORD + KUBECONFIG_PATH + '''
args = sys.argv[1:]
if args[:2] == ["eks", "update-kubeconfig"]:
    known = {"--region", "--name", "--kubeconfig", "--alias", "--user-alias", "--role-arn"}
    unknown = [a for i, a in enumerate(args[2:]) if i % 2 == 0 and a not in known]
    if unknown:  # the AWS CLI refuses what it does not know before doing anything
        sys.stderr.write("aws: error: Unknown options: " + ", ".join(args[2 + args[2:].index(unknown[0]):]) + "\\n")
        sys.exit(252)
    path = kubeconfig_path(args)
    name = args[args.index("--name") + 1]
    arn = f"arn:aws:eks:{args[args.index('--region') + 1]}:123456789012:cluster/{name}"
    config = json.load(open(path)) if os.path.exists(path) else {"contexts": []}
    config["contexts"] = [c for c in config["contexts"] if c != arn] + [arn]
    config["current-context"] = arn  # as the AWS CLI does: the new context becomes the current one
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    json.dump(config, open(path, "w"))
    print(f"Added new context {arn} to {os.path.abspath(path)}")
''',
    "kubectl": RECORD + KUBECONFIG_PATH + '''
args = sys.argv[1:]
path = kubeconfig_path(args)
if not os.path.exists(path):
    sys.exit(f"error: stat {path}: no such file or directory")
config = json.load(open(path))
context = args[args.index("--context") + 1] if "--context" in args else config.get("current-context")
if context not in config["contexts"]:
    sys.exit(f'error: context "{context}" does not exist')
if "config" in args and ("use-context" in args or "set-context" in args):
    config["current-context"] = args[-1]
    json.dump(config, open(path, "w"))
elif "port-forward" in args:
    port = args[-1].split(":")[0]
    print(f"Forwarding from 127.0.0.1:{port} -> {port}")
''',
    "python3": RECORD,
    "curl": RECORD + 'print(json.dumps({"object": "list", "data": [{"id": "hermes-agent", "object": "model"}]}))\n',
}


def readme_blocks() -> list[tuple[set[str], str]]:
    """(scenarios, shell code) of every README block marked for this test, in README order."""
    text = (ROOT / "README.md").read_text()
    return [(set(m.group(1).split()), m.group(2))
            for m in re.finditer(r"<!-- shell-test: ([^>]*) -->\n```sh\n(.*?)```", text, re.S)]


def run_readme(scenario: str, tmp_path: Path) -> tuple[list[dict], dict, Path, str]:
    stack, config = SCENARIOS[scenario]
    program = run_program(stack, config)
    outputs = {k: [reveal(v), is_secret(v)] for k, v in program.outputs.items()}
    script = "\n".join(code for scenarios, code in readme_blocks() if scenario in scenarios)
    result, calls, users_kubeconfig = run_shell(script, outputs, tmp_path)
    assert result.returncode == 0, f"README steps failed for {scenario}:\n{script}\n{result.stdout}\n{result.stderr}"
    return calls, outputs, users_kubeconfig, script


def run_shell(script: str, outputs: dict, tmp_path: Path):
    """Run `script` under `set -euo pipefail` with the stand-ins; `outputs` is {name: [value, is_secret]}."""
    bin_dir, home, project = tmp_path / "bin", tmp_path / "home", tmp_path / "project"
    for directory in (bin_dir, home / ".kube", project):
        directory.mkdir(parents=True)
    for name, body in STUBS.items():
        stub = bin_dir / name
        stub.write_text(f"#!{sys.executable}\n" + body)
        stub.chmod(0o755)
    users_kubeconfig = home / ".kube" / "config"
    users_kubeconfig.write_text(json.dumps({"contexts": [USERS_CONTEXT, "kind-hermes"], "current-context": USERS_CONTEXT}))
    (tmp_path / "outputs.json").write_text(json.dumps(outputs))
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(home), "STUB_LOG": str(tmp_path / "calls.jsonl"),
        "STUB_OUTPUTS": str(tmp_path / "outputs.json"), "LANG": "C.UTF-8",
    }
    result = subprocess.run([BASH, "-c", "set -euo pipefail\n" + script], cwd=project, env=env,
                            capture_output=True, text=True, timeout=60)
    log = tmp_path / "calls.jsonl"
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, calls, users_kubeconfig


def argv_of(calls: list[dict], program: str) -> list[list[str]]:
    """Each distinct command line `program` ran, in order (the README's "Start here" repeats a step)."""
    seen: list[list[str]] = []
    for call in calls:
        if call["program"] == program and call["argv"] not in seen:
            seen.append(call["argv"])
    return seen


# --- the README's steps, per scenario ------------------------------------------------------------

def test_every_scenario_has_readme_steps_and_every_marked_block_names_known_scenarios():
    blocks = readme_blocks()
    assert len(blocks) >= 5
    for scenarios, _ in blocks:
        assert scenarios <= set(SCENARIOS), scenarios
    assert set().union(*(s for s, _ in blocks)) == set(SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_readme_steps_run_as_written_and_never_switch_the_users_kubeconfig_context(scenario, tmp_path):
    calls, _, users_kubeconfig, _ = run_readme(scenario, tmp_path)
    assert json.loads(users_kubeconfig.read_text())["current-context"] == USERS_CONTEXT
    for argv in argv_of(calls, "kubectl"):
        assert "use-context" not in argv and "set-context" not in argv
    for argv in argv_of(calls, "aws"):
        assert "--kubeconfig" in argv, argv


def test_local_port_forwards_the_dashboard_and_the_api_in_the_current_context(tmp_path):
    calls, outputs, _, _ = run_readme("local", tmp_path)
    assert argv_of(calls, "kubectl") == [
        ["-n", "hermes", "port-forward", "svc/hermes-dashboard", "9119:9119"],
        ["-n", "hermes", "port-forward", "svc/hermes-api", "8642:8642"],
    ]
    assert argv_of(calls, "curl") == [[
        "-s", "-H", f"Authorization: Bearer {outputs['api_server_key'][0]}", "http://localhost:8642/v1/models",
    ]]
    assert not argv_of(calls, "aws") and not argv_of(calls, "python3")


def test_local_with_a_kubeconfig_context_names_it_in_every_kubectl_command(tmp_path):
    calls, _, _, _ = run_readme("local-context", tmp_path)
    assert argv_of(calls, "kubectl") == [
        ["--context", "kind-hermes", "-n", "hermes", "port-forward", "svc/hermes-dashboard", "9119:9119"],
        ["--context", "kind-hermes", "-n", "hermes", "port-forward", "svc/hermes-api", "8642:8642"],
    ]


def test_dev_writes_its_own_kubeconfig_file_and_port_forwards_through_it(tmp_path):
    calls, outputs, _, _ = run_readme("dev", tmp_path)
    assert argv_of(calls, "aws") == [[
        "eks", "update-kubeconfig", "--region", "eu-central-1", "--name", "hermes-dev",
        "--kubeconfig", "hermes-eks-dev.kubeconfig",
    ]]
    assert argv_of(calls, "kubectl") == [
        ["--kubeconfig", "hermes-eks-dev.kubeconfig", "-n", "hermes", "port-forward", "svc/hermes-dashboard", "9119:9119"],
        ["--kubeconfig", "hermes-eks-dev.kubeconfig", "-n", "hermes", "port-forward", "svc/hermes-api", "8642:8642"],
    ]
    assert (tmp_path / "project" / "hermes-eks-dev.kubeconfig").exists()
    assert argv_of(calls, "curl")[0][-1] == "http://localhost:8642/v1/models"


def test_prod_opens_the_browser_on_its_host_and_calls_the_api_host(tmp_path):
    calls, outputs, _, _ = run_readme("prod", tmp_path)
    assert argv_of(calls, "python3") == [["-m", "webbrowser", "https://hermes.corp-internal.net"]]
    assert argv_of(calls, "curl") == [[
        "-s", "-H", f"Authorization: Bearer {outputs['api_server_key'][0]}", "https://hermes-api.corp-internal.net/v1/models",
    ]]
    assert argv_of(calls, "kubectl") == []  # nothing to forward; the kubeconfig is written for later use
    assert argv_of(calls, "aws")[0][-2:] == ["--kubeconfig", "hermes-eks-prod.kubeconfig"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_exported_command_survives_command_substitution_word_for_word(scenario):
    """What `$(...)` makes of each command output is exactly the words it was built from."""
    stack, config = SCENARIOS[scenario]
    outputs = run_program(stack, config).outputs
    commands = [outputs[k] for k in ("open_dashboard", "api_port_forward", "write_kubeconfig") if k in outputs]
    commands += outputs["port_forward_commands"]
    for command in commands:
        split = subprocess.run([BASH, "-c", 'for w in $1; do printf "%s\\n" "$w"; done', "_", command],
                               capture_output=True, text=True, check=True).stdout.splitlines()
        assert split == command.split(" "), command


def test_positive_control_the_old_chained_command_fails_and_never_runs_kubectl(tmp_path):
    """What `open_dashboard` was on dev: through $(...), `&&` is an argument of `aws`, not an operator."""
    old = ("aws eks update-kubeconfig --region eu-central-1 --name hermes-dev && "
           "kubectl -n hermes port-forward svc/hermes-dashboard 9119:9119")
    result, calls, _ = run_shell("$(pulumi stack output open_dashboard)", {"open_dashboard": [old, False]}, tmp_path)
    assert result.returncode != 0 and "Unknown options: &&, kubectl" in result.stderr
    assert argv_of(calls, "kubectl") == []


def test_positive_control_update_kubeconfig_without_its_own_file_switches_the_users_context(tmp_path):
    """The stand-ins see what the README once asked for: `aws eks update-kubeconfig` into ~/.kube/config."""
    result, _, users_kubeconfig = run_shell(
        "$(pulumi stack output write_kubeconfig)",
        {"write_kubeconfig": ["aws eks update-kubeconfig --region eu-central-1 --name hermes-dev", False]}, tmp_path)
    assert result.returncode == 0
    assert json.loads(users_kubeconfig.read_text())["current-context"] != USERS_CONTEXT


# --- the builder ------------------------------------------------------------------------------------

@pytest.mark.parametrize("word", ["", "a b", "x&&y", "&&", "*", "svc/[ab]", "it's", '"q"', "$HOME", "`id`", "a;b", "a|b", "(x)"])
def test_a_word_that_would_not_reach_the_command_unchanged_is_refused(word):
    with pytest.raises(ValueError, match="would not reach the command unchanged"):
        command_line(["kubectl", word])


def test_an_assignment_in_front_of_a_command_is_refused():
    with pytest.raises(ValueError, match="assignment"):
        command_line(["KUBECONFIG=hermes.kubeconfig", "kubectl", "get", "pods"])


def test_port_forward_puts_the_cluster_flags_before_the_namespace():
    assert port_forward(("--context", "arn:aws:eks:eu-central-1:123456789012:cluster/x"), "hermes", "hermes-api", 8642) == (
        "kubectl --context arn:aws:eks:eu-central-1:123456789012:cluster/x -n hermes port-forward svc/hermes-api 8642:8642"
    )


def test_a_kubeconfig_context_the_shell_would_expand_is_refused_before_anything_is_registered():
    program = run_program("local", {"kubeconfigContext": "kind-*"}, raise_errors=False)
    assert program.error is not None and program.resources == []
    assert "hermes-eks:kubeconfigContext in Pulumi.local.yaml is \"kind-*\"" in str(program.error)

