"""Shared fixtures: each stack file's program run once per session (a run takes about a second)."""

from __future__ import annotations

import functools
import gc
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests import render_cache
from tests.harness import STACKS, Program, run_program


# A render allocates millions of short-lived objects: at the default first-generation threshold (700)
# the cyclic collector took a quarter of a render's CPU (measured on dev: 0.29 s per render by default,
# 0.23 s with these thresholds, 0.22 s with the collector off).
GC_THRESHOLDS = (50_000, 20, 20)


def pytest_configure(config):
    """The render cache, set before pytest-xdist starts the workers that inherit it: kept in .venvs/renders
    where scripts/test.py made .venvs/, else one for this session. The collector's thresholds, in every
    pytest process (the controller and each worker)."""
    gc.set_threshold(*GC_THRESHOLDS)
    if render_cache.DIRECTORY_VARIABLE in os.environ:
        return
    venvs = render_cache.ROOT / ".venvs"
    if venvs.is_dir():
        directory = str(render_cache.kept_directory(venvs / "renders"))
        config.add_cleanup(lambda: os.environ.pop(render_cache.DIRECTORY_VARIABLE, None))
    else:
        directory = tempfile.mkdtemp(prefix="hermes-eks-renders-")
        config.add_cleanup(lambda: (os.environ.pop(render_cache.DIRECTORY_VARIABLE, None),
                                    shutil.rmtree(directory, ignore_errors=True)))
    os.environ[render_cache.DIRECTORY_VARIABLE] = directory


def pytest_terminal_summary(terminalreporter):
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        terminalreporter.write_line(render_cache.summary(Path(os.environ[render_cache.DIRECTORY_VARIABLE])))


@functools.cache
def stack_program(stack: str) -> Program:
    return run_program(stack)


@pytest.fixture(params=STACKS)
def any_stack(request) -> Program:
    """The program as every stack file in the repository configures it."""
    return stack_program(request.param)


@pytest.fixture
def local() -> Program:
    return stack_program("local")
