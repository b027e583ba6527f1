#!/usr/bin/env python3
"""Run the whole test suite with nothing but Python 3:  python3 scripts/test.py [pytest args]

Creates (once, and again whenever its requirements change) three virtualenvs under .venvs/, because
their pins conflict with one another:
  test     the program's requirements + pytest, kubernetes-validate, parliament (requirements-dev.txt)
  hermes   the real Hermes Agent from PyPI, the release the image pins, for the contract tests
  checkov  the checkov security scanner, run on the rendered manifests
then runs pytest in the first. pytest's "no tests collected" (exit 5) counts as a failure.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENVS = ROOT / ".venvs"

# The contract tests run this exact release; settings.HERMES_UPSTREAM_IMAGE pins the same one. The
# extras are the image's provider SDKs the pod uses: boto3 (`bedrock`) and the anthropic SDK, through
# which Hermes sends Claude models on Bedrock (upstream's Dockerfile installs `--extra anthropic
# --extra bedrock` and sets HERMES_DISABLE_LAZY_INSTALLS=1, so the image never installs them later).
HERMES_REQUIREMENT = "hermes-agent[messaging,bedrock,anthropic]==0.19.0"
# ...with the versions the release image runs: its uv.lock as constraints (scripts/hermes_constraints.py).
HERMES_CONSTRAINTS = ROOT / "scripts" / "hermes-constraints.txt"
CHECKOV_REQUIREMENT = "checkov==3.3.30"

WHOLE_SUITE = ["-n", "auto", "--dist", "loadfile", "tests"]

ENVIRONMENTS = {
    "test": ["-r", str(ROOT / "requirements-dev.txt")],
    "hermes": [HERMES_REQUIREMENT, "-c", str(HERMES_CONSTRAINTS)],
    "checkov": [CHECKOV_REQUIREMENT],
}


def _fingerprint(pip_args: list[str]) -> str:
    """Changes when the Python version, the arguments or any requirements file changes."""
    text = sys.version + " ".join(pip_args)
    if "-r" in pip_args:
        text += "".join(p.read_text() for p in sorted(ROOT.glob("requirements*.txt")))
    if "-c" in pip_args:
        text += Path(pip_args[pip_args.index("-c") + 1]).read_text()
    return hashlib.sha256(text.encode()).hexdigest()


def ensure(name: str, pip_args: list[str]) -> Path:
    """Create or refresh .venvs/<name> with `pip_args`; return its python."""
    target = VENVS / name
    python = target / "bin" / "python"
    stamp = target / ".installed"
    wanted = _fingerprint(pip_args)
    if stamp.exists() and stamp.read_text() == wanted and python.exists():
        return python
    print(f"[test.py] installing .venvs/{name} ({' '.join(pip_args)})", flush=True)
    venv.EnvBuilder(clear=True, with_pip=True).create(target)
    log = target / "install.log"
    with log.open("w") as out:
        result = subprocess.run(
            [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet", *pip_args],
            stdout=out, stderr=subprocess.STDOUT,
        )
    if result.returncode != 0:
        sys.stdout.write(log.read_text()[-5000:])
        raise SystemExit(f"[test.py] installing .venvs/{name} failed (full log: {log})")
    stamp.write_text(wanted)
    return python


def main(pytest_args: list[str]) -> int:
    VENVS.mkdir(exist_ok=True)
    with ThreadPoolExecutor(max_workers=len(ENVIRONMENTS)) as pool:
        futures = {name: pool.submit(ensure, name, args) for name, args in ENVIRONMENTS.items()}
        pythons = {name: future.result() for name, future in futures.items()}

    env = dict(os.environ)
    env["HERMES_EKS_HERMES_PYTHON"] = str(pythons["hermes"])
    env["HERMES_EKS_CHECKOV"] = str(pythons["checkov"].parent / "checkov")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # The whole suite runs on every core (pytest-xdist), one test module per worker so each module's
    # rendered programs are cached once; given arguments (a file, -k ...) run as asked, in one process.
    command = [str(pythons["test"]), "-m", "pytest", *(pytest_args or WHOLE_SUITE)]
    print("[test.py] " + " ".join(command), flush=True)
    code = subprocess.run(command, cwd=ROOT, env=env).returncode
    if code == 5:
        print("[test.py] pytest collected no tests: that is a failure, not a pass")
        return 1
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
