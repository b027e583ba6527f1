"""Shared fixtures: each stack file's program run once per session (a run takes about a second)."""

from __future__ import annotations

import functools

import pytest

from tests.harness import STACKS, Program, run_program


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
