"""scripts/test.py: arguments add to the whole-suite defaults, and a checkout under a private directory
still gives the image's hermes user (UID 10000) what the contract tests run as it."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.contract import staging

ROOT = Path(__file__).resolve().parent.parent
HERMES_UID = 10000

spec = importlib.util.spec_from_file_location("suite_runner", ROOT / "scripts" / "test.py")
suite_runner = importlib.util.module_from_spec(spec)
spec.loader.exec_module(suite_runner)

WHOLE_SUITE = ["-n", "auto", "--dist", "loadfile"]


@pytest.mark.parametrize("given", [[], ["--durations=15"], ["-k", "manifests"], ["-k", "tests"],
                                   ["--durations", "15", "-q"], ["-x", "-m", "contract"]])
def test_options_run_the_whole_suite_in_parallel_with_them_added(given):
    assert suite_runner.pytest_arguments(given) == [*WHOLE_SUITE, *given]


@pytest.mark.parametrize("given", [["tests/test_settings.py"], ["tests/test_settings.py::test_x", "-q"],
                                   ["-k", "manifests", "tests/contract"], ["-n", "4"], ["-n4"], ["--numprocesses=3"]])
def test_a_path_or_a_worker_count_runs_exactly_as_given(given):
    assert suite_runner.pytest_arguments(given) == given


def can_read_as_hermes(path: Path) -> bool:
    """Whether UID 10000 (no groups) can read `path`, asked of the kernel itself."""
    argv = ["setpriv", f"--reuid={HERMES_UID}", f"--regid={HERMES_UID}", "--clear-groups", "--", "cat", str(path)]
    return subprocess.run(argv, capture_output=True).returncode == 0


@pytest.fixture
def private_checkout():
    """A checkout at <0700 directory>/clone, as a clone in root's home is."""
    if os.getuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("switching to UID 10000 needs root and setpriv (the contract tests need them too)")
    private = Path(tempfile.mkdtemp(prefix="hermes-eks-private-"))  # mode 0700
    checkout = private / "clone"
    (checkout / "tests" / "contract").mkdir(parents=True)
    shutil.copy(ROOT / "tests" / "contract" / "pod.py", checkout / "tests" / "contract" / "pod.py")
    (checkout / ".venvs").mkdir()
    yield checkout
    shutil.rmtree(private)


def test_a_checkout_under_a_0700_directory_is_out_of_the_hermes_users_reach(private_checkout):
    script = private_checkout / "tests" / "contract" / "pod.py"
    assert oct(private_checkout.parent.stat().st_mode & 0o777) == "0o700"
    assert not staging.traversable_by_others(script)
    assert not can_read_as_hermes(script)


def test_the_boot_model_is_staged_where_the_hermes_user_reads_it(private_checkout):
    script = private_checkout / "tests" / "contract" / "pod.py"
    staged = staging.reachable(script)
    assert staged != script and staged.read_bytes() == script.read_bytes()
    assert staging.traversable_by_others(staged)
    assert can_read_as_hermes(staged)


def test_a_script_the_hermes_user_reaches_is_run_where_it_is():
    shared = Path(tempfile.mkdtemp(prefix="hermes-eks-shared-"))
    try:
        shared.chmod(0o755)
        script = shared / "pod.py"
        script.write_text("")
        assert staging.traversable_by_others(script)
        assert staging.reachable(script) == script
    finally:
        shutil.rmtree(shared)


def test_the_hermes_virtualenv_of_a_private_checkout_lives_where_the_hermes_user_reaches_it(
        private_checkout, monkeypatch):
    monkeypatch.setattr(suite_runner, "ROOT", private_checkout)
    monkeypatch.setattr(suite_runner, "VENVS", private_checkout / ".venvs")
    hermes = suite_runner.venv_directory("hermes")
    try:
        assert hermes.parent.parent == Path(tempfile.gettempdir())
        assert (private_checkout / ".venvs" / "hermes").resolve() == hermes  # where .venvs/ says it is
        hermes.mkdir()
        (hermes / "pyvenv.cfg").write_text("home = /usr/bin\n")
        assert can_read_as_hermes(hermes / "pyvenv.cfg")
        # The other virtualenvs stay in the checkout: only Hermes runs as UID 10000.
        assert suite_runner.venv_directory("test") == private_checkout / ".venvs" / "test"
        # Found again on the next run, not replaced.
        assert suite_runner.venv_directory("hermes") == hermes and (hermes / "pyvenv.cfg").exists()
    finally:
        shutil.rmtree(hermes.parent)


def test_someone_elses_directory_in_the_shared_temporary_directory_is_refused(tmp_path):
    if os.getuid() != 0:
        pytest.skip("giving a directory to another user needs root")
    foreign = Path(tempfile.mkdtemp(prefix="hermes-eks-foreign-"))
    try:
        os.chown(foreign, 12345, 12345)
        with pytest.raises(SystemExit, match="is not a directory of UID 0"):
            staging.own_directory(foreign)
    finally:
        shutil.rmtree(foreign)
