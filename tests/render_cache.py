"""Each distinct render of the program once per test session, shared by the pytest-xdist workers.

tests/conftest.py points HERMES_EKS_RENDER_CACHE at a directory (the workers inherit it): in a checkout
whose .venvs/ scripts/test.py made, .venvs/renders/, kept for the next run; else a fresh one per session.
Without it nothing is cached (scripts/benchmark.py times real renders). A render is keyed by everything
that decides it: the config the engine hands the program and the stack file it reads, the fake cloud's
state (tests/fake_cloud.py's module-level data, which tests monkeypatch), the content of every file of
the program and of the harness, and the test virtualenv's packages (its install stamp). A render that failed, or one while any attribute of a
program module is replaced (a test's monkeypatch or mock.patch of a builder), is never cached: its
result comes from a fresh render. A file lock per key makes a second worker wait for the first's render
instead of repeating it. Every caller gets its own copy (unpickled), so a test may change what it got.
"""

from __future__ import annotations

import copyreg
import fcntl
import functools
import hashlib
import importlib
import json
import os
import pickle
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from pulumi.runtime.proto import alias_pb2

from tests import fake_cloud

ROOT = Path(__file__).resolve().parent.parent
DIRECTORY_VARIABLE = "HERMES_EKS_RENDER_CACHE"
# Besides the program's own files, what decides a render: the mocks' answers and the engine's config rules.
HARNESS_FILES = ("tests/harness.py", "tests/fake_cloud.py", "tests/engine_config.py")
SKIPPED_DIRECTORIES = {".git", ".venvs", ".venv", "tests", "node_modules", "__pycache__"}


def _alias(serialized: bytes) -> alias_pb2.Alias:
    return alias_pb2.Alias.FromString(serialized)


# A registration's aliases are the engine's protobuf messages, whose class names a module that does not
# exist (`pulumi.alias_pb2`, generated code's package): pickled as their wire bytes instead.
copyreg.pickle(alias_pb2.Alias, lambda alias: (_alias, (alias.SerializeToString(),)))


def _program_modules() -> list[ModuleType]:
    """Every module the program is made of, imported now (before any test can patch one)."""
    names = [p.stem for p in ROOT.glob("*.py") if p.stem != "__main__"]
    for package in ("components", "settings"):
        names += [package, *(f"{package}.{p.stem}" for p in (ROOT / package).glob("*.py") if p.stem != "__init__")]
    return [importlib.import_module(name) for name in sorted(names)]


PROGRAM_MODULES = _program_modules()
PRISTINE = {module.__name__: dict(vars(module)) for module in PROGRAM_MODULES}


def program_patched() -> bool:
    """Whether any attribute of a program module is not the object it was at import."""
    for module in PROGRAM_MODULES:
        now, then = vars(module), PRISTINE[module.__name__]
        if now.keys() != then.keys() or any(now[name] is not value for name, value in then.items()):
            return True
    return False


@functools.cache
def _file_digest(path: Path, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def source_digest() -> str:
    """The content of every file of the program (the repository but tests/, plus the harness)."""
    files = [ROOT / name for name in HARNESS_FILES]
    for directory, subdirectories, names in os.walk(ROOT):
        subdirectories[:] = sorted(d for d in subdirectories if d not in SKIPPED_DIRECTORIES)
        files += [Path(directory) / name for name in sorted(names) if not name.endswith(".pyc")]
    digest = hashlib.sha256()
    for path in files:
        info = path.stat()
        digest.update(f"{path.relative_to(ROOT)}\0{_file_digest(path, info.st_mtime_ns, info.st_size)}\0".encode())
    return digest.hexdigest()


def _plain(value):
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    return repr(value)


def fake_cloud_state() -> dict:
    return {name: value for name, value in vars(fake_cloud).items() if name.isupper()}


def installed_packages() -> str:
    """The test virtualenv's install stamp (scripts/test.py) and when it was written: a reinstall counts
    as a change even when the requirements did not."""
    stamp = Path(sys.prefix) / ".installed"
    return f"{stamp.read_text()} {stamp.stat().st_mtime_ns}" if stamp.exists() else sys.version


def render_key(*decides) -> str:
    text = json.dumps([decides, fake_cloud_state(), source_digest(), installed_packages()], sort_keys=True,
                      default=_plain)
    return hashlib.sha256(text.encode()).hexdigest()


def kept_directory(parent: Path) -> Path:
    """parent/<the program files and packages as they are now>, the other generations removed (every
    key they hold names files or packages that changed since), and a fresh outcomes log."""
    generation = hashlib.sha256((source_digest() + installed_packages()).encode()).hexdigest()[:16]
    parent.mkdir(exist_ok=True)
    for old in parent.iterdir():
        if old.name != generation:
            shutil.rmtree(old, ignore_errors=True)
    directory = parent / generation
    directory.mkdir(exist_ok=True)
    (directory / "outcomes.log").unlink(missing_ok=True)
    return directory


def _record(directory: Path, outcome: str, seconds: float) -> None:
    with (directory / "outcomes.log").open("a") as log:
        log.write(f"{outcome} {seconds:.3f}\n")


def cached(render: Callable, *decides):
    """`render()`, or an earlier identical render's result; `decides` is everything the render depends
    on besides the fake cloud and the files. Not cached: failed renders (result.error set)."""
    configured = os.environ.get(DIRECTORY_VARIABLE)
    if not configured:
        return render()
    directory = Path(configured)
    directory.mkdir(parents=True, exist_ok=True)  # a concurrent session may have pruned it
    if program_patched():
        started = time.perf_counter()
        result = render()
        _record(directory, "rendered-while-patched", time.perf_counter() - started)
        return result
    key = render_key(*decides)
    stored = directory / f"{key}.pickle"
    started = time.perf_counter()
    with (directory / f"{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stored.exists():
            result = pickle.loads(stored.read_bytes())
            _record(directory, "reused", time.perf_counter() - started)
            return result
        result = render()
        if result.error is None:
            partial = directory / f"{key}.partial"
            partial.write_bytes(pickle.dumps(result))  # a render that cannot be pickled fails loudly here
            partial.rename(stored)
        _record(directory, "rendered", time.perf_counter() - started)
        return result


def cached_output(run: Callable[[], str], *decides) -> str:
    """`run()`'s output: a render in a process of its own (one that leaves Pulumi's runtime unusable),
    reduced to the text the test reads; kept and shared like a render, keyed by `decides` (the script
    it runs) and what decides every render. `run` raises when the process failed: nothing is kept."""
    configured = os.environ.get(DIRECTORY_VARIABLE)
    if not configured:
        return run()
    directory = Path(configured)
    directory.mkdir(parents=True, exist_ok=True)
    key = render_key("output of a process", *decides)
    stored = directory / f"{key}.txt"
    started = time.perf_counter()
    with (directory / f"{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stored.exists():
            _record(directory, "reused", time.perf_counter() - started)
            return stored.read_text()
        output = run()
        partial = directory / f"{key}.partial"
        partial.write_text(output)
        partial.rename(stored)
        _record(directory, "rendered", time.perf_counter() - started)
        return output


def summary(directory: Path) -> str:
    """One line: how many renders ran, how many were reused, and the seconds each kind took."""
    log = directory / "outcomes.log"
    if not log.exists():
        return "program renders: none cached"
    counts: dict[str, list[float]] = {}
    for line in log.read_text().splitlines():
        outcome, seconds = line.split()
        counts.setdefault(outcome, []).append(float(seconds))
    return "program renders: " + ", ".join(f"{len(s)} {outcome} ({sum(s):.1f} s)" for outcome, s in sorted(counts.items()))
