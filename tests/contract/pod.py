"""Turn a rendered Hermes Deployment into real processes: tests/contract/pod_runner.py runs them.

What the pod spec declares is used as-is: each container's command and args, its env (secretKeyRef
resolved from the Secret the program rendered), ports and probes. What the image itself supplies is
modelled here, in one place, from the 0.19.0 image (hermes-upstream.md and the release's own code:
hermes_cli/container_boot.py, service_manager.py):
  - ENTRYPOINT `/init main-wrapper.sh`: with no `command`, s6-overlay boots and main-wrapper runs the
    args as `hermes <args>` with HOME=/opt/data. `gateway run` hands the gateway to s6's supervised
    `gateway-default` service (`hermes gateway run --replace`); with HERMES_DASHBOARD true, s6 also
    runs the `dashboard` service: `hermes dashboard --host $HERMES_DASHBOARD_HOST
    --port $HERMES_DASHBOARD_PORT --no-open`, with the container's env (with-contenv);
  - the image's ENV sets HERMES_HOME=/opt/data;
  - paths inside the image (/opt/hermes/.venv/bin/..., /opt/data, /tmp) map to the PyPI install of
    the same Hermes release and to per-test directories.
The processes of one container share a PID namespace, as under s6.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from components.hermes_agent import HERMES_HOME, IMAGE_HERMES
from tests.harness import Program

RUNNER = Path(__file__).with_name("pod_runner.py")
IMAGE_ENV = {"HERMES_HOME": HERMES_HOME}  # Dockerfile `ENV HERMES_HOME=/opt/data`
IMAGE_VENV_BIN = str(Path(IMAGE_HERMES).parent)
TRUE = ("1", "true", "TRUE", "True", "yes", "YES", "Yes")  # the s6 dashboard/run script's test


def hermes_python() -> Path:
    configured = os.environ.get("HERMES_EKS_HERMES_PYTHON")
    if not configured:
        raise RuntimeError("HERMES_EKS_HERMES_PYTHON is not set: run the suite with `python3 scripts/test.py`")
    return Path(configured)


@dataclass
class Response:
    status: int
    headers: dict
    body: str
    alive: dict

    def json(self):
        return json.loads(self.body)


class RenderedPod:
    """The processes of the rendered Deployment, with image paths mapped to this machine."""

    def __init__(self, program: Program, workdir: Path):
        self.program = program
        deployment = next(o for o in program.kubernetes_objects() if o["kind"] == "Deployment")
        self.spec = deployment["spec"]["template"]["spec"]
        self.home = workdir / "opt-data"
        self.home.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.hermes = hermes_python().parent / "hermes"
        secrets = [o for o in program.kubernetes_objects() if o["kind"] == "Secret"]
        self.secret_data = {s["metadata"]["name"]: s.get("stringData", {}) for s in secrets}

    def map_path(self, value: str, tmp: Path) -> str:
        """A path or value inside the image, as it is on this machine."""
        if value.startswith(IMAGE_VENV_BIN + "/"):
            return str(self.hermes.parent / value[len(IMAGE_VENV_BIN) + 1:])
        if value == HERMES_HOME or value.startswith(HERMES_HOME + "/"):
            return str(self.home) + value[len(HERMES_HOME):]
        if value == "/tmp":
            return str(tmp)
        return value

    def container(self, name: str) -> dict:
        return next(c for c in self.spec["initContainers"] + self.spec["containers"] if c["name"] == name)

    def env(self, container: dict) -> dict[str, str]:
        tmp = self.workdir / f"{container['name']}-tmp"
        tmp.mkdir(exist_ok=True)
        env = {"PATH": f"{self.hermes.parent}:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
        env.update({k: self.map_path(v, tmp) for k, v in IMAGE_ENV.items()})
        for variable in container.get("env", []):
            if "value" in variable:
                env[variable["name"]] = self.map_path(variable["value"], tmp)
                continue
            ref = variable["valueFrom"]["secretKeyRef"]
            data = self.secret_data.get(ref["name"], {})
            if ref["key"] in data:
                env[variable["name"]] = data[ref["key"]]
            elif not ref.get("optional"):
                raise AssertionError(f"{container['name']}: {variable['name']} reads {ref} which the Secret lacks")
        return env

    def argv(self, container: dict) -> list[str]:
        tmp = self.workdir / f"{container['name']}-tmp"
        command = container.get("command") or [IMAGE_HERMES]  # no command: the entrypoint runs `hermes <args>`
        return [self.map_path(part, tmp) for part in [*command, *container.get("args", [])]]

    def processes(self, container: dict) -> list[dict]:
        """The processes a container runs: its command, or what the image's s6 starts for its args."""
        env = self.env(container)
        if container.get("command"):
            return [{"name": "main", "argv": self.argv(container), "env": env}]
        supervised = {**env, "HOME": str(self.home)}  # main-wrapper.sh and the s6 run scripts: HOME=/opt/data
        processes = [{"name": "main", "argv": self.argv(container), "env": supervised}]
        if container.get("args", [])[:2] == ["gateway", "run"] and env.get("HERMES_DASHBOARD") in TRUE:
            processes.append({"name": "dashboard", "env": supervised, "argv": [
                str(self.hermes), "dashboard", "--host", env.get("HERMES_DASHBOARD_HOST", "0.0.0.0"),
                "--port", env.get("HERMES_DASHBOARD_PORT", "9119"), "--no-open"]})
        return processes

    def port(self, container: dict, name_or_number) -> int:
        if isinstance(name_or_number, int):
            return name_or_number
        return next(p["containerPort"] for p in container["ports"] if p["name"] == name_or_number)

    def runner_spec(self) -> dict:
        init = [{"name": c["name"], "argv": self.argv(c), "env": self.env(c)} for c in self.spec["initContainers"]]
        containers = []
        for c in self.spec["containers"]:
            # Ready when every HTTP probe of the container answers (Kubernetes would wait for them).
            ready = [{"port": self.port(c, c[p]["httpGet"]["port"]), "path": c[p]["httpGet"]["path"]}
                     for p in ("startupProbe", "readinessProbe", "livenessProbe") if "httpGet" in c.get(p, {})]
            # ...and every other declared port answers HTTP at all.
            ready += [{"port": p["containerPort"], "path": "/", "any_status": True} for p in c.get("ports", [])
                      if all(r["port"] != p["containerPort"] for r in ready)]
            containers.append({"name": c["name"], "processes": self.processes(c), "ready": ready})
        logs = self.workdir / "logs"
        logs.mkdir(exist_ok=True)
        return {"init": init, "containers": containers, "log_dir": str(logs), "timeout": 180}

    def run_init(self, name: str) -> subprocess.CompletedProcess:
        """Run one init container's command directly (it binds nothing, so no namespace is needed)."""
        c = self.container(name)
        return subprocess.run(self.argv(c), env=self.env(c), capture_output=True, text=True, timeout=120)


class Pod:
    """A RenderedPod running in its own network namespace; `request` talks to it from inside."""

    def __init__(self, rendered: RenderedPod):
        self.rendered = rendered
        spec_file = rendered.workdir / "pod.json"
        spec_file.write_text(json.dumps(rendered.runner_spec()))
        self.process = subprocess.Popen(
            ["unshare", "--net", "--", str(hermes_python()), str(RUNNER), str(spec_file)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=sys.stderr, text=True,
        )
        self.events = []
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise AssertionError(f"pod runner exited: {self.events}\n{self.logs()}")
            event = json.loads(line)
            self.events.append(event)
            if event["event"] == "failed":
                raise AssertionError(f"{event}\n{self.logs()}")
            if event["event"] == "ready":
                self.ready_seconds = event["seconds"]
                break

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted((self.rendered.workdir / "logs").glob("*.log")))

    def exec(self, command: list[str]) -> tuple[int, str]:
        """Run an exec probe's command (mapped to this machine) in the pod's network namespace."""
        tmp = self.rendered.workdir / "exec-tmp"
        tmp.mkdir(exist_ok=True)
        self.process.stdin.write(json.dumps({"exec": [self.rendered.map_path(p, tmp) for p in command]}) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        return answer["exit_code"], answer["output"]

    def request(self, method: str, port: int, path: str, **options) -> Response:
        self.process.stdin.write(json.dumps({"method": method, "port": port, "path": path, **options}) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        return Response(answer["status"], answer["headers"], answer["body"], answer["alive"])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.write(json.dumps({"stop": True}) + "\n")
            self.process.stdin.flush()
            self.process.wait(timeout=60)
