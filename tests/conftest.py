"""Shared fixtures: each stack file's program run once per session (a run takes about a second)."""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests import render_cache
from tests.harness import STACKS, Program, run_program


def pytest_configure(config):
    """The render cache, set before pytest-xdist starts the workers that inherit it: kept in .venvs/renders
    where scripts/test.py made .venvs/, else one for this session."""
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
