#!/usr/bin/env python3
"""Run the whole test suite with nothing but Python 3:  python3 scripts/test.py [pytest args]

Creates (once, and again whenever its requirements change) three virtualenvs under .venvs/, because
their pins conflict with one another:
  test     the program's requirements + pytest, kubernetes-validate, parliament (requirements-dev.txt)
  hermes   the real Hermes Agent from PyPI, the release the image pins, for the contract tests
  checkov  the checkov security scanner, run on the rendered manifests
each made by the standard library's `venv` (which copies the interpreter, so the image's hermes user,
UID 10000, can run the Hermes one) and filled by uv (PyPI `uv`, itself installed into .venvs/uv by pip),
then runs pytest in the first. pytest's "no tests collected" (exit 5) counts as a failure.

Arguments add to the whole-suite defaults (every core, `--dist loadfile`): `--durations=15` or `-k x`
still run everything in parallel; a path (a file, a test id) or `-n` runs exactly as given.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
import venv
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENVS = ROOT / ".venvs"
sys.path.insert(0, str(ROOT))
from tests.contract.staging import own_directory, traversable_by_others  # noqa: E402 - standard library only

# The contract tests run this exact release; settings.HERMES_UPSTREAM_IMAGE pins the same one. The
# extras are those of the image the stack's settings reach: the messaging platforms, boto3 (`bedrock`)
# and the anthropic SDK, through which Hermes sends Claude models on Bedrock, and Matrix's packages
# (the tag's Dockerfile line 185 installs `--extra messaging --extra anthropic --extra bedrock ...
# --extra matrix`, and sets HERMES_DISABLE_LAZY_INSTALLS=1, so the image never installs them later).
HERMES_REQUIREMENT = "hermes-agent[messaging,bedrock,anthropic,matrix]==0.19.0"
# ...with the versions the release image runs: its uv.lock as constraints (scripts/hermes_constraints.py).
HERMES_CONSTRAINTS = ROOT / "scripts" / "hermes-constraints.txt"
CHECKOV_REQUIREMENT = "checkov==3.3.30"
UV_REQUIREMENT = "uv==0.13.9"

WHOLE_SUITE = ["-n", "auto", "--dist", "loadfile"]
# pytest options whose value is the next argument (so that value is not taken for a path to run).
VALUE_OPTIONS = {"-k", "-m", "-p", "-o", "-c", "-W", "--deselect", "--ignore", "--ignore-glob", "--durations",
                 "--durations-min", "--maxfail", "--tb", "--rootdir", "--basetemp", "--confcutdir", "--dist",
                 "--junitxml", "--log-level", "--override-ini", "--import-mode", "--capture"}

# Install arguments for `uv pip install`, per virtualenv.
ENVIRONMENTS = {
    "test": ["-r", str(ROOT / "requirements-dev.txt")],
    "hermes": [HERMES_REQUIREMENT, "-c", str(HERMES_CONSTRAINTS)],
    "checkov": [CHECKOV_REQUIREMENT],
}
# Byte-compiled at install: Hermes runs as UID 10000 with PYTHONDONTWRITEBYTECODE (the image's ENV), so it
# could never cache what it compiles, and every pod boot would compile its imports again. The others
# compile lazily into .venvs/pycache (PYTHONPYCACHEPREFIX), only the modules the suite imports: compiling
# everything in the test venv at install added 28 s on a 2-core machine; what a render imports, ~5 s of CPU.
COMPILED_AT_INSTALL = {"hermes"}


def pytest_arguments(given: list[str]) -> list[str]:
    """The whole suite on every core plus `given`, unless `given` names what to run (a path, a test id)
    or how many workers (-n): then exactly `given`."""
    chosen_workers = any(a in ("-n", "--numprocesses") or a.startswith(("-n", "--numprocesses=")) for a in given)
    positional = [a for i, a in enumerate(given)
                  if not a.startswith("-") and (i == 0 or given[i - 1] not in VALUE_OPTIONS)]
    if chosen_workers or positional:
        return given
    return [*WHOLE_SUITE, *given]


def _fingerprint(install_args: list[str]) -> str:
    """Changes when the Python version, uv's, the arguments or any file they name (-r, -c) changes."""
    text = sys.version + UV_REQUIREMENT + " ".join(install_args)
    text += "".join(Path(a).read_text() for a in install_args if Path(a).is_file())
    if "-r" in install_args:  # a requirements file may include others (-r requirements.txt)
        text += "".join(p.read_text() for p in sorted(ROOT.glob("requirements*.txt")))
    return hashlib.sha256(text.encode()).hexdigest()


def _run_logged(command: list[str], log: Path, what: str) -> None:
    with log.open("w") as out:
        result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "PIP_ROOT_USER_ACTION": "ignore"})
    if result.returncode != 0:
        sys.stdout.write(log.read_text()[-5000:])
        raise SystemExit(f"[test.py] installing {what} failed (full log: {log})")


def ensure_uv() -> Path:
    """.venvs/uv/bin/uv, installed by this Python's pip (or, where it has none, a bootstrap venv's)."""
    target = VENVS / "uv"
    uv = target / "bin" / "uv"
    stamp = VENVS / "uv.installed"
    if stamp.exists() and stamp.read_text() == UV_REQUIREMENT and uv.exists():
        return uv
    shutil.rmtree(target, ignore_errors=True)
    python = Path(sys.executable)
    if importlib.util.find_spec("pip") is None:  # Debian's python3 without python3-pip
        venv.EnvBuilder(clear=True, with_pip=True).create(VENVS / "uv-bootstrap")
        python = VENVS / "uv-bootstrap" / "bin" / "python"
    _run_logged([str(python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet", "--no-deps",
                 "--target", str(target), UV_REQUIREMENT], VENVS / "uv.log", UV_REQUIREMENT)
    stamp.write_text(UV_REQUIREMENT)
    return uv


def venv_directory(name: str) -> Path:
    """.venvs/<name>. Hermes runs as UID 10000: when the checkout is out of its reach (a 0700 parent),
    its virtualenv lives in a 0755 directory under the temporary directory, .venvs/hermes links to it."""
    if name != "hermes" or traversable_by_others(VENVS):
        return VENVS / name
    checkout = hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
    staged = own_directory(Path(tempfile.gettempdir()) / f"hermes-eks-venvs-{checkout}") / name
    link = VENVS / name
    if not (link.is_symlink() and link.readlink() == staged):
        if link.is_symlink() or link.is_file():
            link.unlink()
        elif link.exists():
            shutil.rmtree(link)
        link.symlink_to(staged)
    return staged


def ensure(name: str, install_args: list[str], uv: Path) -> Path:
    """Create or refresh the virtualenv `name` with `install_args`; return its python."""
    target = venv_directory(name)
    python = target / "bin" / "python"
    stamp = target / ".installed"
    uv_args = [*(["--compile-bytecode"] if name in COMPILED_AT_INSTALL else []), *install_args]
    wanted = _fingerprint(uv_args)
    if stamp.exists() and stamp.read_text() == wanted and python.exists():
        return python
    print(f"[test.py] installing .venvs/{name} ({' '.join(install_args)})", flush=True)
    started = time.monotonic()
    venv.EnvBuilder(clear=True).create(target)  # copies the interpreter (symlinks=False)
    _run_logged([str(uv), "pip", "install", "--python", str(python), *uv_args],
                target / "install.log", f".venvs/{name}")
    stamp.write_text(wanted)
    print(f"[test.py] installed .venvs/{name} in {time.monotonic() - started:.1f} s", flush=True)
    return python


def main(given: list[str]) -> int:
    VENVS.mkdir(exist_ok=True)
    uv = ensure_uv()
    with ThreadPoolExecutor(max_workers=len(ENVIRONMENTS)) as pool:
        futures = {name: pool.submit(ensure, name, args, uv) for name, args in ENVIRONMENTS.items()}
        pythons = {name: future.result() for name, future in futures.items()}

    env = dict(os.environ)
    env["HERMES_EKS_HERMES_PYTHON"] = str(pythons["hermes"])
    env["HERMES_EKS_CHECKOV"] = str(pythons["checkov"].parent / "checkov")
    # Bytecode goes to .venvs/pycache, never next to the sources: the checkout stays clean, and what one
    # run compiled the next one reuses.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(VENVS / "pycache")
    command = [str(pythons["test"]), "-m", "pytest", *pytest_arguments(given)]
    print("[test.py] " + " ".join(command), flush=True)
    code = subprocess.run(command, cwd=ROOT, env=env).returncode
    if code == 5:
        print("[test.py] pytest collected no tests: that is a failure, not a pass")
        return 1
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
