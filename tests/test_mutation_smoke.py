"""Mutation smoke run: the tests of the security-relevant builders fail when the builder is broken.

A test that compares the code with itself passes whatever the code does (issue 14, item 7). For each
row of MUTANTS below: the exact original snippet must occur once in its file (so the table follows the
code), and with it replaced by the mutated snippet, each named test must fail. A mutant that survives,
or a snippet no longer found, fails this test.

The run is in-process and cheap: the file's module is executed from the mutated source, a fresh copy
of the test module is executed against it (its `import`s, `import_program_module` and
`importlib.util.spec_from_file_location` all get the mutant), and the named test functions are called
directly. Only tests that take nothing but `parametrize` arguments can be named. Nothing on disk changes
and every module is put back afterwards, so the rest of the session sees the real code.

To add a mutant: a one-line (or few-line) change that a reviewer would call a security defect, in a
builder or rule that a listed test pins literally; run this file and see it pass, then remove the test's
literal expectation and see it fail.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.util
import sys
import types
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.conftest import stack_program

ROOT = Path(__file__).resolve().parent.parent


class Mutant(NamedTuple):
    file: str  # relative to the repository root
    original: str  # exact text, found exactly once in `file`
    mutated: str
    tests: tuple[str, ...]  # pytest node ids: tests/test_x.py::test_name or ...::test_name[id]
    why: str


ALERT_KEY = "tests/test_cost_guardrails.py::test_the_alert_key_and_topic_policies_admit_only_the_two_publishers_of_this_account"
SERVICE_TRUST = "tests/test_iam_lint.py::test_the_budgets_and_scheduler_roles_trust_their_service_only_for_this_account"
IRSA_TRUST = "tests/test_iam_lint.py::test_irsa_trust_binds_exactly_one_service_account_of_one_cluster_with_no_pattern"
POLICY_CASE = "tests/test_policy_pack.py::test_a_mutated_registration_is_reported"

MUTANTS = [
    Mutant("components/alert_topic.py",
           '"Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},',
           '"Principal": {"AWS": "*"},',
           (ALERT_KEY,), "the alert key opened to every AWS principal"),
    Mutant("components/alert_topic.py",
           '"Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",',
           '"Action": "kms:*", "Resource": "*",',
           (ALERT_KEY,), "the publishers may administer the alert key"),
    Mutant("components/alert_topic.py",
           '"Action": "sns:Publish", "Resource": topic_arn,',
           '"Action": "sns:Publish", "Resource": "*",',
           (ALERT_KEY,), "the publishers may publish to any topic"),
    Mutant("components/cost_guardrails.py",
           '# Confused-deputy guard: only on behalf of this account.\n'
           '            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},',
           "",
           (f"{SERVICE_TRUST}[budgets.amazonaws.com]", f"{SERVICE_TRUST}[scheduler.amazonaws.com]"),
           "Budgets and Scheduler may assume the roles on behalf of any account (confused deputy)"),
    Mutant("components/workload_identity.py",
           'f"{issuer}:aud": "sts.amazonaws.com",',
           "",
           (f"{IRSA_TRUST}[irsa hermes]", f"{IRSA_TRUST}[irsa cloudwatch agent]"),
           "an IRSA role trusts tokens minted for any audience"),
    Mutant("components/workload_identity.py",
           '"Action": "sts:AssumeRoleWithWebIdentity",\n            "Condition": {"StringEquals": {',
           '"Action": "sts:AssumeRoleWithWebIdentity",\n            "Condition": {"StringLike": {',
           (f"{IRSA_TRUST}[irsa hermes]",),
           "an IRSA role's subject becomes a pattern"),
    Mutant("policy/hermes_policies.py",
           "elif repository and match.group(2) != repository:",
           "elif False:",
           (f"{POLICY_CASE}[image-from-stack-ecr-prod-Deployment--'hermes-eks/dev/hermes-agent']",),
           "image-from-stack-ecr accepts another stack's repository"),
    Mutant("policy/hermes_policies.py",
           r"([^@:\s]+)@sha256:[0-9a-f]{64}",
           r"([^@:\s]+)(?:@sha256:[0-9a-f]{64}|:[\w.-]+)",
           (f"{POLICY_CASE}[image-from-stack-ecr-prod-Deployment--not an ECR image1]",),
           "image-from-stack-ecr accepts an ECR image by tag"),
]


# --- running a test against a mutated module ---------------------------------------------------------

def _import_name(path: Path) -> str:
    """The name the code under test is imported as (deployments/ modules by tests.deployments_harness)."""
    relative = path.relative_to(ROOT).with_suffix("")
    return relative.name if relative.parts[0] == "deployments" else ".".join(relative.parts)


class _SourceLoader(importlib.abc.Loader):
    def __init__(self, source: str, path: Path):
        self.source, self.path = source, path

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        module.__file__ = str(self.path)
        exec(compile(self.source, str(self.path), "exec"), module.__dict__)  # noqa: S102 - the mutant under test


_by_location = importlib.util.spec_from_file_location


@contextlib.contextmanager
def _code_under_test(path: Path, source: str):
    """While active, `path` imports as `source`, by module name and by file location alike. Afterwards
    the real module is back, and the repository's modules first imported meanwhile (which may hold the
    mutant) are forgotten. Third-party modules stay: pulumi_kubernetes, say, refuses to register twice."""
    name = _import_name(path)
    saved = dict(sys.modules)
    loader = _SourceLoader(source, path)

    def spec_from_file_location(module_name, location=None, *args, **kwargs):
        if location is not None and Path(location).resolve() == path:
            return importlib.util.spec_from_loader(module_name, loader, origin=str(path))
        return _by_location(module_name, location, *args, **kwargs)

    try:
        module = types.ModuleType(name)
        sys.modules[name] = module  # dataclasses look their module up while the class is built
        loader.exec_module(module)
        importlib.util.spec_from_file_location = spec_from_file_location
        yield
    finally:
        importlib.util.spec_from_file_location = _by_location
        for added in set(sys.modules) - set(saved):
            if _is_ours(sys.modules[added]):
                del sys.modules[added]
        sys.modules.update(saved)


def _is_ours(module: types.ModuleType) -> bool:
    """A module of this repository (not of a virtualenv, wherever it lives)."""
    location = Path(getattr(module, "__file__", None) or "/").resolve()
    return location.is_relative_to(ROOT) and "site-packages" not in location.parts


def _fresh_test_module(test_file: str) -> types.ModuleType:
    """A second copy of the test module, executed now: its imports resolve to whatever is active."""
    path = ROOT / test_file
    name = "tests._mutation_smoke_" + path.stem
    spec = _by_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # removed again when _code_under_test ends
    spec.loader.exec_module(module)
    return module


def _param_ids(argnames: list[str], values: list, ids) -> list[str]:
    """The ids pytest gives the parameter sets (a repeated id gets 0, 1, ... appended, as pytest does)."""
    found = []
    for index, value in enumerate(values):
        if callable(ids):
            found.append(str(ids(value)))
        elif ids is not None:
            found.append(str(ids[index]))
        else:
            parts = value if len(argnames) > 1 else (value,)
            assert all(isinstance(p, (str, int, float, bool)) for p in parts), f"give {argnames} explicit ids"
            found.append("-".join(str(p) for p in parts))
    repeated, seen = {name for name in found if found.count(name) > 1}, {}
    for index, name in enumerate(found):
        if name in repeated:
            seen[name] = seen.get(name, -1) + 1
            found[index] = f"{name}{seen[name]}"
    return found


def _call(module: types.ModuleType, node_id: str) -> None:
    """Call the test `node_id` names in `module` with its parametrize arguments; raise what it raises."""
    function_name, _, param = node_id.split("::", 1)[1].partition("[")
    param = param.removesuffix("]")
    function = getattr(module, function_name)
    kwargs = {}
    for mark in getattr(function, "pytestmark", []):
        if mark.name != "parametrize":
            continue
        argnames = [a.strip() for a in (mark.args[0].split(",") if isinstance(mark.args[0], str) else mark.args[0])]
        values = list(mark.args[1])
        ids = _param_ids(argnames, values, mark.kwargs.get("ids"))
        matches = [v for v, i in zip(values, ids) if i == param]
        assert len(matches) == 1, f"{node_id}: no single parameter set with id {param!r}"
        kwargs.update(zip(argnames, matches[0] if len(argnames) > 1 else (matches[0],)))
    assert bool(kwargs) == bool(param), f"{node_id}: parameters do not match the node id"
    function(**kwargs)


def _outcomes(path: Path, source: str, node_ids: tuple[str, ...]) -> dict[str, BaseException | None]:
    outcomes = {}
    test_files = {node_id.split("::", 1)[0] for node_id in node_ids}
    for test_file in sorted(test_files):  # the real modules first: what they import is cached unmutated
        importlib.import_module(".".join(Path(test_file).with_suffix("").parts))
    with _code_under_test(path, source):
        modules = {test_file: _fresh_test_module(test_file) for test_file in sorted(test_files)}
        for node_id in node_ids:
            try:
                _call(modules[node_id.split("::", 1)[0]], node_id)
                outcomes[node_id] = None
            except Exception as failure:  # noqa: BLE001 - a failing test is what a killed mutant looks like
                outcomes[node_id] = failure
    return outcomes


# --- the guard -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("mutant", MUTANTS, ids=[f"{m.file}:{m.why}" for m in MUTANTS])
def test_every_listed_test_fails_on_its_mutant_and_passes_on_the_code(mutant):
    path = ROOT / mutant.file
    source = path.read_text()
    assert source.count(mutant.original) == 1, (
        f"{mutant.file} no longer contains {mutant.original!r} exactly once: update MUTANTS")
    mutated = source.replace(mutant.original, mutant.mutated)
    compile(mutated, str(path), "exec")  # a mutant that is not Python proves nothing
    # On the code first: this also renders, into the session's cache, any stack a listed test reads.
    unmutated = _outcomes(path, source, mutant.tests)
    assert {n: f for n, f in unmutated.items() if f is not None} == {}, "the listed tests must pass on the code"
    renders = stack_program.cache_info().currsize
    outcomes = _outcomes(path, mutated, mutant.tests)
    if stack_program.cache_info().currsize != renders:  # a render of the mutant must not reach other tests
        stack_program.cache_clear()
        pytest.fail(f"{mutant.tests} rendered a stack under the mutant; list tests that read cached renders")
    survived = [n for n, failure in outcomes.items() if failure is None]
    assert survived == [], f"{mutant.why}: these tests still pass"


def test_the_guard_tells_a_surviving_mutant_from_a_killed_one():
    """Positive control: with only the docstring changed the test passes (a mutant like that would be
    reported as surviving); with the key opened it fails. The real module is back afterwards."""
    path = ROOT / "components/alert_topic.py"
    source = path.read_text()
    renamed = source.replace('"""AlertTopic:', '"""AlertTopic (renamed):', 1)
    opened = source.replace(MUTANTS[0].original, MUTANTS[0].mutated)
    assert renamed != source != opened
    assert _outcomes(path, renamed, (ALERT_KEY,)) == {ALERT_KEY: None}
    assert isinstance(_outcomes(path, opened, (ALERT_KEY,))[ALERT_KEY], AssertionError)
    from components.alert_topic import key_policy  # noqa: PLC0415 - after the run, on purpose
    assert key_policy("210987654321", "aws")["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::210987654321:root"}
