"""Where the image's `hermes` user (UID 10000) can reach what the contract tests run as it.

The contract tests run Hermes and the image's boot model as UID 10000 (tests/contract/pod.py), which is
neither the owner nor in the group of the checkout. A checkout under a directory others cannot traverse
(mode 0700, such as root's home) is out of its reach; what it must run is then staged in a directory of
ours under the system's temporary directory, mode 0755. Standard library only: scripts/test.py, which runs
before any virtualenv exists, places the Hermes virtualenv with it.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import stat
import tempfile
from pathlib import Path


def traversable_by_others(path: Path) -> bool:
    """Whether a user who owns none of the directories on the way, and is in none of their groups, can
    reach `path`: every directory from / down to it has the others' execute bit."""
    path = Path(path).resolve()
    directories = [path, *path.parents] if path.is_dir() else list(path.parents)
    return all(d.stat().st_mode & stat.S_IXOTH for d in directories)


def own_directory(path: Path) -> Path:
    """`path` (in a shared directory such as /tmp) as a 0755 directory that this user created and owns:
    refused when someone else's directory or a symlink already stands there."""
    path.mkdir(mode=0o755, exist_ok=True)
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise SystemExit(f"{path} exists and is not a directory of UID {os.getuid()}: remove it and run again")
    path.chmod(0o755)
    return path


@functools.cache
def _scripts_directory() -> Path:
    directory = Path(tempfile.mkdtemp(prefix="hermes-eks-scripts-"))  # created 0700 by us alone
    directory.chmod(0o755)
    atexit.register(shutil.rmtree, directory, True)
    return directory


def reachable(script: Path) -> Path:
    """`script` itself when UID 10000 can reach it, else a copy (mode 0644) in a 0755 directory that
    lives until this process ends."""
    if traversable_by_others(script):
        return script
    copy = _scripts_directory() / script.name
    shutil.copyfile(script, copy)
    copy.chmod(0o644)
    return copy
