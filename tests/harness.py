"""Run the real `__main__.py` under Pulumi mocks with a stack file's config; return what it registered.

The engine is replaced by `pulumi.runtime.set_mocks`; everything else is the program as `pulumi up`
runs it. Config goes through the CLI's own rules first (tests/engine_config.py, our port of pulumi/pulumi
`mergeConfig`): the stack's values as the CLI loads them from YAML, `Pulumi.yaml`'s defaults merged in,
the declared types and secrecy checked (a config the CLI would refuse raises EngineConfigError, whatever
`raise_errors` says: the program would never start), then handed over as the engine does (strings, JSON
text for lists and maps, a list of secret keys). Nothing is created anywhere.

Besides the inputs the mocks see, a recording monitor keeps each registration's options (protect,
dependencies, timeouts, parent) and the stack's outputs as registered, secret markers included.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import runpy
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import struct_pb2
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as pulumi_resource
from pulumi.runtime import rpc
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from tests import engine_config as cli
from tests import fake_cloud, render_cache

ROOT = Path(__file__).resolve().parent.parent
PROJECT = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["name"]
STACKS = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))
SECRET_SIG = rpc._special_sig_key  # "4dabf18193072939515e22adb298388d"
SECRET_VALUE = rpc._special_secret_sig  # "1b47061264138c4ac30d75fd1eb44270"
RESOURCE_REFERENCE = rpc._special_resource_sig
PROJECT_DECLARATION = cli.load_project((ROOT / "Pulumi.yaml").read_text())

# What an operator fills in before a stack's first `up` where its file ships placeholders the program
# refuses (README "AWS: first `pulumi up`"). run_program applies them unless site_values=False, so the
# rest of the suite renders these stacks as they would really be deployed.
SITE_VALUES: dict[str, dict[str, Any]] = {
    "prod": {
        "hermes-eks:dashboardHost": "hermes.corp-internal.net",
        "hermes-eks:apiHost": "hermes-api.corp-internal.net",
        "hermes-eks:clusterAdminPrincipalArns": ["arn:aws:iam::210987654321:role/platform-admins"],
        "hermes-eks:endpointPublicAccessCidrs": ["198.18.0.0/24"],
    },
}


@dataclass
class Registered:
    type: str
    name: str
    inputs: dict
    outputs: dict
    parent: str = ""
    protect: bool = False
    dependencies: list[str] = field(default_factory=list)
    custom_timeouts: dict = field(default_factory=dict)
    additional_secret_outputs: list[str] = field(default_factory=list)
    retain_on_delete: bool = False
    aliases: list = field(default_factory=list)
    urn: str = ""
    # What the engine's dependency graph also reads (tests/delete_order.py): whether the resource is
    # custom (a component's children count as its dependents), its provider reference, deletedWith.
    custom: bool = True
    provider: str = ""
    deleted_with: str = ""
    ignore_changes: list[str] = field(default_factory=list)

    @property
    def plain(self) -> dict:
        """Inputs with secret markers removed (the values as the provider would receive them)."""
        return reveal(self.inputs)


@dataclass
class Program:
    stack: str
    resources: list[Registered]
    outputs: dict  # stack outputs, secret markers kept
    invokes: list[tuple[str, dict]]
    error: BaseException | None = None
    warnings: list[str] = field(default_factory=list)  # pulumi.warn messages: what the preview shows

    def of_type(self, type_: str) -> list[Registered]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> Registered:
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {type_} {name or ''}, found {[r.name for r in found]}"
        return found[0]

    def kubernetes_objects(self) -> list[dict]:
        """Every Kubernetes object as a manifest: secrets revealed, whole numbers back to ints
        (the engine sends every number as a float)."""
        return [_whole_numbers(r.plain) for r in self.resources
                if r.type.startswith("kubernetes:") and "apiVersion" in r.inputs]


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_VALUE


def reveal(value: Any) -> Any:
    if is_secret(value):
        return reveal(value.get("value"))
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


def _whole_numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


def engine_config(values: Mapping[str, Any]) -> dict[str, str]:
    """Config values (as a stack file's YAML holds them) as the Pulumi engine hands them to a program."""
    return cli.program_config(cli.stack_from_values(values, PROJECT))[0]


def stack_file_config(stack: str, *, site_values: bool = False) -> dict[str, Any]:
    """A stack file's config as YAML values by full key (plus the operator's SITE_VALUES if asked)."""
    text = (ROOT / f"Pulumi.{stack}.yaml").read_text()
    document = yaml.safe_load(text) or {}
    assert not any(isinstance(v, dict) and "secure" in v for v in (document.get("config") or {}).values()), (
        f"Pulumi.{stack}.yaml carries an encrypted value; tests pass secrets with run_program(secrets=...)"
    )
    values = cli.stack_yaml_values(cli.load_stack(text, PROJECT))
    if site_values:
        values.update(SITE_VALUES.get(stack, {}))
    return values


def cli_config(
    stack: str,
    config: Mapping[str, Any] | None = None,
    *,
    secrets: Mapping[str, str] | None = None,
    remove: tuple[str, ...] = (),
    site_values: bool = True,
    stack_file: Path | None = None,
) -> dict[str, cli.Value]:
    """The stack's config as the CLI holds it before the merge: the stack file (the repository's
    Pulumi.<stack>.yaml unless `stack_file` is given), the site values, then `config` as YAML values
    written into the file and `secrets` as `pulumi config set --secret` stores them."""
    values = cli.load_stack((stack_file or ROOT / f"Pulumi.{stack}.yaml").read_text(), PROJECT)
    if site_values:
        values.update(cli.stack_from_values(SITE_VALUES.get(stack, {}), PROJECT))
    values.update(cli.stack_from_values(config or {}, PROJECT))
    for key, value in (secrets or {}).items():
        values[cli.namespaced(PROJECT, key)] = cli.Value(value, secure=True)
    for key in remove:
        values.pop(cli.namespaced(PROJECT, key), None)
    return values


def program_config(stack: str, values: Mapping[str, cli.Value]) -> tuple[dict[str, str], list[str]]:
    """What `pulumi up` hands the program for this stack config, or EngineConfigError as the CLI refuses it."""
    return cli.program_config(cli.merge_config(stack, PROJECT_DECLARATION, values))


def _references_as_urns(value):
    if isinstance(value, struct_pb2.Struct):
        if value.fields.get(SECRET_SIG) is not None and value[SECRET_SIG] == RESOURCE_REFERENCE:
            return value["urn"]
        result = struct_pb2.Struct()
        for key, item in value.items():
            result[key] = _references_as_urns(item)
        return result
    if isinstance(value, struct_pb2.ListValue):
        result = struct_pb2.ListValue()
        for item in value:
            result.append(_references_as_urns(item))
        return result
    return value


class RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: "FakeCloudMocks"):
        super().__init__(mocks)
        self.registered: list[Registered] = []
        self.stack_outputs: dict = {}
        self.stack_urn = ""

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        # A resource reference in the inputs (a remote component's `cluster=`, `node_role=`) would be
        # rebuilt as a Resource on the mock monitor's own event loop and fail; its URN says the same.
        copied = type(request)()
        copied.CopyFrom(request)
        copied.object.CopyFrom(_references_as_urns(request.object))
        request = copied
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            self.stack_urn = response.urn
        else:
            timeouts = request.customTimeouts
            self.registered.append(Registered(
                type=request.type,
                name=request.name,
                inputs=rpc.deserialize_properties(request.object),
                outputs=self.resources[response.urn].state,
                parent=request.parent,
                protect=bool(request.protect),
                # The SDK gathers dependencies from a set as awaited outputs resolve: their order means
                # nothing to the engine and differs between runs of the same program.
                dependencies=sorted(request.dependencies),
                custom_timeouts={k: getattr(timeouts, k) for k in ("create", "update", "delete") if getattr(timeouts, k)},
                additional_secret_outputs=list(request.additionalSecretOutputs),
                retain_on_delete=bool(request.retainOnDelete),
                aliases=list(request.aliases),
                urn=response.urn,
                custom=bool(request.custom),
                provider=request.provider,
                deleted_with=request.deletedWith,
                ignore_changes=list(request.ignoreChanges),
            ))
        return response

    def RegisterResourceOutputs(self, request):  # noqa: N802
        if request.urn == self.stack_urn:
            self.stack_outputs = rpc.deserialize_properties(request.outputs)
        return super().RegisterResourceOutputs(request)


class FakeCloudMocks(pulumi.runtime.Mocks):
    """Answers every registration and invoke with realistic values from tests/fake_cloud.py."""

    def __init__(self, ecr: fake_cloud.FakeEcr | None = None):
        self.invokes: list[tuple[str, dict]] = []
        self.ecr = ecr if ecr is not None else fake_cloud.FakeEcr()

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        return fake_cloud.resource(args.typ, args.name, reveal(args.inputs), self.ecr)

    def call(self, args: pulumi.runtime.MockCallArgs):
        self.invokes.append((args.token, reveal(args.args)))
        try:
            return fake_cloud.invoke(args.token, reveal(args.args), self.ecr), []
        except fake_cloud.InvokeFailure as failure:
            return {}, [("", str(failure))]


def run_program(
    stack: str,
    config: Mapping[str, Any] | None = None,
    *,
    secrets: Mapping[str, str] | None = None,
    remove: tuple[str, ...] = (),
    raise_errors: bool = True,
    site_values: bool = True,
    ecr: fake_cloud.FakeEcr | None = None,
    stack_file: Path | None = None,
) -> Program:
    """Run __main__.py for `stack` with its stack file, plus `config` overrides and `secrets`.

    Keys may be given short (`storageSize`) or full (`hermes-eks:storageSize`, `aws:region`); values
    as the stack file's YAML would hold them (lists as lists). `site_values=False` leaves out the
    operator's SITE_VALUES, to see what the shipped file does. A config the Pulumi CLI would refuse
    raises cli.EngineConfigError even with raise_errors=False: the program would never have started.
    `ecr`: the registry as earlier runs left it (a sequence of `pulumi up`s); empty when not given.
    `stack_file`: a stack file outside the repository (scripts/check_config.py) instead of Pulumi.<stack>.yaml.
    """
    stack_values = cli_config(stack, config, secrets=secrets, remove=remove, site_values=site_values,
                              stack_file=stack_file)
    values, secret_keys = program_config(stack, stack_values)
    if ecr is None:  # a registry handed over is state the render changes: never from the cache
        program = render_cache.cached(lambda: _render(stack, values, secret_keys, stack_values, ecr),
                                      stack, values, secret_keys, cli.stack_yaml_values(stack_values))
    else:
        program = _render(stack, values, secret_keys, stack_values, ecr)
    if program.error is not None and raise_errors:
        raise program.error
    return program


# The dashboard password's scrypt hash (components/dashboard_login.py, n=2**14) takes ~0.25 s of CPU, and
# the fake cloud's password and salt are the same for every render of an instance (fake_cloud.resource):
# inside a render each distinct input is hashed once per process. Tests hash with the real one.
_REAL_SCRYPT = hashlib.scrypt
_scrypt_once = functools.cache(_REAL_SCRYPT)

# The SDK walks the Python stack at every registration (pulumi/runtime/resource.py _get_stack_trace)
# only to send the engine source positions, which no mock reads (pulumi/runtime/mocks.py MockMonitor
# ignores sourcePosition and stackTrace): an empty trace makes a render ~18% cheaper, nothing else changes.
_REAL_STACK_TRACE = pulumi_resource._get_stack_trace


def _no_stack_trace() -> source_pb2.StackTrace:
    return source_pb2.StackTrace()


def _render(stack: str, values: dict[str, str], secret_keys: list[str], stack_values: Mapping[str, cli.Value],
            ecr: fake_cloud.FakeEcr | None) -> Program:
    mocks = FakeCloudMocks(ecr)
    monitor = RecordingMonitor(mocks)
    pulumi_settings.set_root_resource(None)
    pulumi.runtime.set_all_config(values, secret_keys)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    # set_mocks finalises its root Stack at once (pulumi/runtime/mocks.py); re-open it so the
    # program's exports are registered when it ends, as `pulumi up` registers them.
    pulumi_settings.get_root_resource()._outputs_registered = False

    error: BaseException | None = None
    saved_path, saved_cwd = list(sys.path), os.getcwd()
    sys.path.insert(0, str(ROOT))
    # The CLI runs the program in the project directory, next to Pulumi.<stack>.yaml (settings/ reads
    # which keys it sets, to name where a value came from): give it the stack file this test describes.
    project_dir = tempfile.TemporaryDirectory(prefix="hermes-eks-project-")
    (Path(project_dir.name) / f"Pulumi.{stack}.yaml").write_text(
        yaml.safe_dump({"config": cli.stack_yaml_values(stack_values)}, sort_keys=False))
    os.chdir(project_dir.name)
    hashlib.scrypt = _scrypt_once
    pulumi_resource._get_stack_trace = _no_stack_trace
    # Kept with the render (and so with a cached one), instead of patched by each test.
    warnings: list[str] = []
    real_warn = pulumi.warn
    pulumi.warn = lambda message, *args, **kwargs: warnings.append(message)
    try:
        _sync_await(run_pulumi_func(lambda: runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")))
        root = pulumi_settings.get_root_resource()
        if root is not None:
            root._finish()  # registers the stack's outputs, as the SDK's entry point does
            _sync_await(run_pulumi_func(lambda: None))
    except BaseException as caught:  # noqa: BLE001 - handed to the caller
        error = caught
    finally:
        hashlib.scrypt = _REAL_SCRYPT
        pulumi_resource._get_stack_trace = _REAL_STACK_TRACE
        pulumi.warn = real_warn
        sys.path[:] = saved_path
        os.chdir(saved_cwd)
        project_dir.cleanup()
    return Program(stack, monitor.registered, monitor.stack_outputs, mocks.invokes, error, warnings)


def fake_hex(seed: str, length: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[: length * 2].ljust(length * 2, "0")


def fake_b64(seed: str, length: int) -> str:
    return base64.b64encode(bytes.fromhex(fake_hex(seed, length))).decode()
