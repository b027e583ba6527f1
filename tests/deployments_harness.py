"""Run the real deployments/__main__.py under Pulumi mocks, as tests/harness.py runs the main program.

Same engine replacement (config as the engine hands it over, a recording monitor, fake AWS answers
from tests/fake_cloud.py); only the program folder, its project name and its stack file differ.
"""

from __future__ import annotations

import importlib
import runpy
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from tests import fake_cloud
from tests.harness import ROOT, FakeCloudMocks, Program, RecordingMonitor, engine_config

PROGRAM = ROOT / "deployments"
PROJECT = yaml.safe_load((PROGRAM / "Pulumi.yaml").read_text())["name"]
STACKS = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in PROGRAM.glob("Pulumi.*.yaml"))
WEBHOOK = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX"
# The program's modules are named apart from the main program's (no `settings`, no `components`), so both
# can be imported in one test session; they hold no state, so one import serves every run.


class DeliveryMocks(FakeCloudMocks):
    """fake_cloud's answers, plus IAM OIDC providers as AWS forms and lists them."""

    def __init__(self, pulumi_audiences: tuple[str, ...]):
        super().__init__()
        self.pulumi_audiences = pulumi_audiences

    def call(self, args: pulumi.runtime.MockCallArgs):
        result, failures = super().call(args)
        if args.token == "aws:iam/getOpenIdConnectProvider:getOpenIdConnectProvider" and "api.pulumi.com" in args.args["url"]:
            result = {**result, "clientIdLists": list(self.pulumi_audiences)}
        return result, failures

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        rid, state = super().new_resource(args)
        if args.typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            url = str(args.inputs["url"]).removeprefix("https://")
            state["arn"] = f"arn:aws:iam::{fake_cloud.ACCOUNT}:oidc-provider/{url}"
        return rid, state


def stack_file_config(stack: str) -> dict[str, Any]:
    return dict((yaml.safe_load((PROGRAM / f"Pulumi.{stack}.yaml").read_text()) or {}).get("config") or {})


def run_deployments(
    stack: str = "delivery",
    config: Mapping[str, Any] | None = None,
    *,
    secrets: Mapping[str, str] | None = None,
    remove: tuple[str, ...] = (),
    raise_errors: bool = True,
    pulumi_audiences: tuple[str, ...] = ("example-org",),
) -> Program:
    """Run deployments/__main__.py for `stack` with its stack file, plus overrides; keys short or full.

    `pulumi_audiences`: the client IDs of the account's existing Pulumi OIDC provider (`oidcProvider: existing`).
    """

    def full(key: str) -> str:
        return key if ":" in key else f"{PROJECT}:{key}"

    values = stack_file_config(stack)
    values.update({full(k): v for k, v in (config or {}).items()})
    values.update({full(k): v for k, v in (secrets or {}).items()})
    for key in remove:
        values.pop(full(key), None)

    mocks = DeliveryMocks(pulumi_audiences)
    monitor = RecordingMonitor(mocks)
    pulumi_settings.set_root_resource(None)
    pulumi.runtime.set_all_config(engine_config(values), [full(k) for k in (secrets or {})])
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    pulumi_settings.get_root_resource()._outputs_registered = False

    error: BaseException | None = None
    saved_path = list(sys.path)
    sys.path.insert(0, str(PROGRAM))
    try:
        _sync_await(run_pulumi_func(lambda: runpy.run_path(str(PROGRAM / "__main__.py"), run_name="__main__")))
        root = pulumi_settings.get_root_resource()
        if root is not None:
            root._finish()
            _sync_await(run_pulumi_func(lambda: None))
    except BaseException as caught:  # noqa: BLE001 - handed to the caller
        error = caught
    finally:
        sys.path[:] = saved_path
    if error is not None and raise_errors:
        raise error
    return Program(stack, monitor.registered, monitor.stack_outputs, mocks.invokes, error)


def import_program_module(name: str):
    """Import one of deployments/'s modules for a pure-function test."""
    saved_path = list(sys.path)
    sys.path.insert(0, str(PROGRAM))
    try:
        return importlib.import_module(name)
    finally:
        sys.path[:] = saved_path
