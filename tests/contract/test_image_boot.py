"""The pod's first boot and its credentials, against the image's boot as released and the real Hermes.

The image's boot is tests/contract/pod.py's model of the tag's docker/ scripts (stage2 hook: seeding from
the image's examples, ownership, config migration). Each test runs the rendered init containers and that
boot on a volume of its own, without starting the services, so the tests can share a boot or none.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.contract.pod import IMAGE_FILES_DIR, RESOLVE_PROVIDER, RenderedPod, hermes_python, make_profile_active
from tests.harness import run_program

pytestmark = pytest.mark.contract

ROOT = Path(__file__).resolve().parents[2]
CUSTOM = {"modelProvider": "custom", "modelDefault": "contract/boot-model", "modelBaseUrl": "http://models.local/v1"}
OWN_SECRET = "my-hermes-secrets"
VENV_TOOLS = {"pip", "setuptools", "wheel"}


def boot(rendered: RenderedPod) -> None:
    """The image's cont-init hooks for the hermes container, as the runner runs them before the services."""
    for step in rendered.boot(rendered.container("hermes")):
        result = subprocess.run(step["argv"], env=step["env"], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, (step["name"], result.stdout[-2000:], result.stderr[-3000:])


def init(rendered: RenderedPod) -> None:
    results = rendered.run_init_containers()
    assert all(r.returncode == 0 for r in results), [r.stdout[-2000:] + r.stderr[-3000:] for r in results]


def resolved_provider(rendered: RenderedPod) -> dict:
    hermes = rendered.container("hermes")
    result = subprocess.run([*rendered.hermes_identity(hermes), str(hermes_python()), "-c", RESOLVE_PROVIDER],
                            env=rendered.supervised_env(hermes), cwd=rendered.home, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def own_secret_pod(tmp_path: Path, secret: dict[str, str]) -> RenderedPod:
    """The pod of a stack whose credentials are a Secret of the user's own (existingSecretName) holding `secret`."""
    program = run_program("local", {**CUSTOM, "existingSecretName": OWN_SECRET})
    rendered = RenderedPod(program, tmp_path)
    rendered.secret_data[OWN_SECRET] = {"API_SERVER_KEY": "e" * 64, "HERMES_DASHBOARD_BASIC_AUTH_PASSWORD_HASH": "scrypt$x",
                                        "HERMES_DASHBOARD_BASIC_AUTH_SECRET": "f" * 64, **secret}
    return rendered


# --- the virtualenv is the image's -----------------------------------------------------------------

def test_the_hermes_virtualenv_runs_the_versions_the_image_locks():
    constraints = (ROOT / "scripts" / "hermes-constraints.txt").read_text().splitlines()
    locked = dict(line.split("==") for line in constraints if line and not line.startswith("#"))
    listing = subprocess.run([str(hermes_python()), "-c", "import importlib.metadata as m, json; print(json.dumps("
                              "{d.metadata['Name'].lower().replace('_', '-'): d.version for d in m.distributions()}))"],
                             capture_output=True, text=True, check=True)
    installed = json.loads(listing.stdout)
    assert installed["hermes-agent"] == "0.19.0"
    # The virtualenv's own installers come with it (ensurepip), not from the lock; nothing Hermes imports.
    differing = {name: (installed[name], version) for name, version in locked.items()
                 if name in installed and installed[name] != version and name not in VENV_TOOLS}
    assert not differing, f"installed vs the image's uv.lock: {differing}"


# --- a first boot looks like upstream's ------------------------------------------------------------

def test_a_new_volume_boots_with_upstreams_config_and_env_plus_the_stacks_model(tmp_path):
    program = run_program("local", CUSTOM, secrets={"customModelApiKey": "sk-boot-contract-key"})
    (tmp_path / "image-only").mkdir()
    (tmp_path / "pod").mkdir()
    upstream = RenderedPod(program, tmp_path / "image-only")  # what the image alone makes of an empty volume
    boot(upstream)
    ours = RenderedPod(program, tmp_path / "pod")
    init(ours)
    boot(ours)
    upstream_config = yaml.safe_load((upstream.home / "config.yaml").read_text())
    config = yaml.safe_load((ours.home / "config.yaml").read_text())
    assert config["model"] == {**upstream_config["model"], "provider": "custom", "default": "contract/boot-model",
                               "base_url": "http://models.local/v1", "api_key": "${OPENAI_API_KEY}"}
    assert {k: v for k, v in config.items() if k != "model"} == {k: v for k, v in upstream_config.items() if k != "model"}
    # Upstream's example values (cli-config.yaml.example at the tag), not Hermes' built-in defaults.
    assert config["agent"]["max_turns"] == 60
    assert (config["display"]["streaming"], config["display"]["show_reasoning"]) == (True, False)
    env_lines = (ours.home / ".env").read_text().splitlines()
    example = (IMAGE_FILES_DIR / ".env.example").read_text().splitlines()
    assert [line for line in env_lines if line in example] == example  # every line of upstream's .env, in order
    assert "TERMINAL_TIMEOUT=60" in env_lines


def test_a_volume_with_a_config_keeps_it_and_gets_no_example(tmp_path):
    program = run_program("local", CUSTOM, secrets={"customModelApiKey": "sk-boot-contract-key"})
    rendered = RenderedPod(program, tmp_path)
    (rendered.home / "config.yaml").write_text(yaml.safe_dump({"agent": {"max_turns": 10}}))
    (rendered.home / ".env").write_text("MY_OWN=1\n")
    init(rendered)
    config = yaml.safe_load((rendered.home / "config.yaml").read_text())
    assert config["agent"] == {"max_turns": 10} and config["model"]["provider"] == "custom"
    assert "display" not in config
    assert (rendered.home / ".env").read_text().splitlines()[0] == "MY_OWN=1"


def test_a_profile_made_active_in_the_dashboard_leaves_the_stacks_model_with_the_gateway(tmp_path):
    """`hermes profile use work` (the dashboard's switch does the same) leaves `active_profile` in
    HERMES_HOME; a bare `hermes` follows it, the supervised gateway does not (hermes_cli/main.py
    _apply_profile_override). The stack's model lands where the gateway reads it; the profile keeps its own."""
    program = run_program("local", CUSTOM, secrets={"customModelApiKey": "sk-boot-contract-key"})
    rendered = RenderedPod(program, tmp_path)
    work = make_profile_active(rendered.home, "work", {"model": {"provider": "openrouter", "default": "work/model"}})
    init(rendered)
    boot(rendered)
    hermes = rendered.container("hermes")
    gateway = next(p for p in rendered.processes(hermes) if p["name"] == "main")
    asked = subprocess.run([*rendered.hermes_identity(hermes), str(rendered.hermes), "config", "get", "model.default"],
                           env=gateway["env"], cwd=gateway["cwd"], capture_output=True, text=True)
    assert asked.returncode == 0, asked.stderr[-3000:]
    assert asked.stdout.strip() == "contract/boot-model"  # what `gateway run`, with the gateway's env, reads
    assert yaml.safe_load((work / "config.yaml").read_text())["model"] == {"provider": "openrouter",
                                                                          "default": "work/model"}


# --- credentials reach Hermes unchanged -------------------------------------------------------------

def test_a_key_with_dollars_in_your_own_secret_reaches_hermes_unchanged(tmp_path):
    key = "sk-$HOME-pa$$word-$OPENAI_API_KEY}{"
    rendered = own_secret_pod(tmp_path, {"OPENAI_API_KEY": key})
    init(rendered)
    assert resolved_provider(rendered) == {"provider": "custom", "api_key": key}


def test_a_key_python_dotenv_would_expand_stops_the_pod_start_and_names_only_the_variable(tmp_path):
    key = "sk-${HOME}-contract"
    rendered = own_secret_pod(tmp_path, {"OPENAI_API_KEY": key})
    results = rendered.run_init_containers()
    configure = results[-1]
    assert configure.returncode != 0 and "OPENAI_API_KEY" in configure.stderr and "python-dotenv" in configure.stderr
    assert key not in configure.stdout + configure.stderr
    assert not (rendered.home / "config.yaml").exists() and not (rendered.home / ".env").exists()


def test_without_the_key_in_your_own_secret_hermes_sends_no_literal_reference(tmp_path):
    rendered = own_secret_pod(tmp_path, {})  # the Secret has no OPENAI_API_KEY (its env ref is optional)
    init(rendered)
    assert yaml.safe_load((rendered.home / "config.yaml").read_text())["model"]["api_key"] == ""
    assert "${" not in str(resolved_provider(rendered)["api_key"])
