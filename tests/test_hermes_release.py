"""One Hermes release everywhere: the image, the contract tests' package, and the versions it runs with.

The image installs Hermes from its commit's uv.lock (`uv sync --frozen`, the tag's Dockerfile); the
contract tests install the PyPI release with those versions as pip constraints
(scripts/hermes-constraints.txt, written by scripts/hermes_constraints.py). A release bump changes
settings.HERMES_RELEASE, scripts/test.py HERMES_REQUIREMENT and the constraints together, or fails here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from settings import HERMES_RELEASE, HERMES_UPSTREAM_IMAGE

ROOT = Path(__file__).resolve().parent.parent


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name.replace("-", "_"), ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def constraint_pins() -> dict[str, str]:
    text = load_script("test").HERMES_CONSTRAINTS.read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return dict(line.split("==") for line in lines)


def test_the_constraints_name_the_release_the_image_and_the_contract_tests_pin():
    runner = load_script("test")
    header = [line for line in runner.HERMES_CONSTRAINTS.read_text().splitlines() if line.startswith("#")]
    assert f"# hermes-agent=={HERMES_RELEASE}" in header
    assert any("uv.lock of hermes-agent 0.19.0 at commit 3ef6bbd201263d354fd83ec55b3c306ded2eb72a" in h for h in header)
    assert "v2026.7.20@sha256:" in HERMES_UPSTREAM_IMAGE  # 0.19.0 was released as v2026.7.20 (commit 3ef6bbd2)
    assert runner.HERMES_REQUIREMENT.endswith(f"=={HERMES_RELEASE}")
    assert runner.ENVIRONMENTS["hermes"] == [runner.HERMES_REQUIREMENT, "-c", str(runner.HERMES_CONSTRAINTS)]


def test_the_constraints_hold_the_web_stack_and_dotenv_the_image_runs():
    pins = constraint_pins()
    assert {name: pins[name] for name in ("uvicorn", "fastapi", "starlette", "python-dotenv")} == {
        "uvicorn": "0.41.0", "fastapi": "0.133.1", "starlette": "1.0.1", "python-dotenv": "1.2.2"}
    assert "hermes-agent" not in pins  # the release itself is HERMES_REQUIREMENT; the lock's is editable
    assert len(pins) == 232


def test_the_generator_pins_every_registry_package_of_a_lock_and_names_release_and_commit():
    lock = ('version = 1\n'
            '[[package]]\nname = "uvicorn"\nversion = "0.41.0"\nsource = { registry = "https://pypi.org/simple" }\n'
            '[[package]]\nname = "hermes-agent"\nversion = "0.19.0"\nsource = { editable = "." }\n'
            '[[package]]\nname = "aiofiles"\nversion = "24.1.0"\nsource = { registry = "https://pypi.org/simple" }\n')
    text = load_script("hermes_constraints").constraints("0.20.0", "f" * 40, lock)
    assert [line for line in text.splitlines() if not line.startswith("#")] == ["aiofiles==24.1.0", "uvicorn==0.41.0"]
    assert "# hermes-agent==0.20.0" in text.splitlines() and "f" * 40 in text


def test_changed_constraints_reinstall_the_hermes_virtualenv(tmp_path):
    runner = load_script("test")
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("uvicorn==0.41.0\n")
    before = runner._fingerprint(["hermes-agent==0.19.0", "-c", str(constraints)])
    constraints.write_text("uvicorn==0.42.0\n")
    assert runner._fingerprint(["hermes-agent==0.19.0", "-c", str(constraints)]) != before
