"""The ONE model of the Hermes image and of the kubelet: a rendered Deployment as real processes.

tests/contract/pod_runner.py runs what this module describes. What the pod spec declares is used as-is:
each container's command and args, its env (secretKeyRef resolved from the Secret the program rendered),
its securityContext (user, group, capabilities, allowPrivilegeEscalation), the pod's fsGroup, ports and
probes. Every process runs under the identity Kubernetes or the image would give it, switched with
`setpriv` (util-linux): a uid, a gid, supplementary groups, a capability bounding set, no_new_privs;
the pod has its own user and network namespaces, each container its own PID namespace.

What the image supplies is modelled here, from the 0.19.0 release's own code (hermes_cli/container_boot.py,
service_manager.py, gateway.py `_maybe_redirect_run_to_s6_supervision`) and the image's boot as released
(tag v2026.7.20, commit 3ef6bbd2: Dockerfile, docker/main-wrapper.sh, docker/stage2-hook.sh,
docker/cont-init.d/02-reconcile-profiles, docker/s6-rc.d/dashboard/run; hermes-upstream.md "Review of
2026-12"). The image's files the PyPI package lacks are copied from that commit into image/ beside this
module (IMAGE_FILES: the example config and .env, SOUL.md, the config migration script):
  - the image ENV (IMAGE_ENV below) under every process; HERMES_HOME=/opt/data;
  - a container with no `command` runs the ENTRYPOINT: s6-overlay's /init, as the container's user
    (root) with the container's capabilities, runs the cont-init hooks, then the services as the image's
    `hermes` user (UID/GID 10000, groups [10000]: s6-setuidgid's initgroups, no capabilities):
      1. stage2 hook (`boot` below, as root, `as_hermes` where the hook uses s6-setuidgid): when
         HERMES_HOME is not hermes', HERMES_HOME itself and hermes' subdirectories recursively; on every
         boot profiles/, cron/ and the pairing folders recursively and a fixed list of top-level files
         (never other files); config.yaml 0640; as hermes, the seed directories (backups/, logs/, ...);
         as hermes, `.env`, `config.yaml` and `SOUL.md` copied from the image's examples when absent;
         `.env` 0600; as hermes, the config schema migration (scripts/docker_config_migrate.py) when
         config.yaml exists; a symlinked path is never followed;
      2. 02-reconcile-profiles (`boot`, as hermes): Hermes' own container_boot code seeds
         gateway_state.json "running" for a `gateway run` CMD on a volume without one, and deletes the
         stale gateway.pid / processes.json of the previous container;
      3. main-wrapper.sh runs `hermes gateway run` as hermes, which inside the image hands the gateway to
         s6 (`s6-svc -u gateway-default`) and records desired_state "running" (`start-intent` below);
      4. the supervised services, HOME=/opt/data, cwd /opt/data, the venv activated:
         `hermes gateway run --replace` with HERMES_S6_SUPERVISED_CHILD=1, and with HERMES_DASHBOARD
         true `hermes dashboard --host $HERMES_DASHBOARD_HOST --port $HERMES_DASHBOARD_PORT --no-open`;
  - init containers (and exec probes) run as their securityContext says, with the pod's fsGroup as a
    supplementary group; before them the kubelet's fsGroupChangePolicy OnRootMismatch gives the volume
    to the fsGroup (pod_runner.apply_fs_group);
  - image paths map to this machine: /opt/hermes/.venv to the Hermes virtualenv, the IMAGE_FILES to
    copies of image/, other /opt/hermes/* to its site-packages, /opt/data to the pod's volume directory,
    /tmp to a per-container emptyDir.

What it still does not model (each a way the real pod can differ):
  - s6 itself: a supervised service that exits stays down here (s6 restarts it after a second unless
    it was brought down with `s6-svc -d`), and `hermes gateway stop` takes Hermes' non-s6 path (SIGTERM
    through gateway.pid), which leaves the gateway down exactly as `s6-svc -d` does; the s6 service
    directories, 015-supervise-perms and the finish scripts are not run;
  - the stage2 hook's skills sync (tools/skills_sync.py), HERMES_UID/PUID remap (usermod), docker
    socket group, .install_method clean-up, AGENT_BROWSER_EXECUTABLE_PATH (no Chromium here, so the
    hook would leave it unset too), HERMES_AUTH_JSON_(RE)BOOTSTRAP and HERMES_GATEWAY_BOOTSTRAP_STATE
    (the pod sets none of them); a failing boot step is logged and ignored, as s6 does with
    S6_BEHAVIOUR_IF_STAGE2_FAILS=0;
  - later images' boot hook appending a random API_SERVER_KEY to a .env without one (not at this tag):
    the contract tests put a foreign key into .env themselves, the same situation for the gateway;
  - the image's /opt/hermes/bin/hermes exec shim, the root filesystem (read-only or not), memory and
    CPU limits, seccomp, the real kubelet probes and restart back-off, and a container runtime's user
    namespace: the pod's own user namespace maps UIDs/GIDs 0-65535 onto themselves (writing that map
    needs root; without newuidmap and /etc/subuid there is no unprivileged way), so UID 10000 is UID
    10000 of this machine, and its own root holds only the capabilities setpriv leaves it.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

if __name__ != "__main__":  # inside the pod only the boot model at the end runs, with Hermes' Python
    from components.hermes_agent import HERMES_HOME, HERMES_UID, IMAGE_HERMES
    from tests import cpu_record
    from tests.contract.pod_runner import apply_fs_group
    from tests.contract.staging import reachable
    from tests.harness import Program

RUNNER = Path(__file__).with_name("pod_runner.py")
USER_NAMESPACE_IDS = 65536  # the pod's user namespace maps UIDs/GIDs 0-65535 onto themselves
IMAGE_ROOT = "/opt/hermes"
IMAGE_VENV = "/opt/hermes/.venv"
# Files of the image the PyPI package lacks, copied from the tag's tree (commit 3ef6bbd2) at their
# paths under /opt/hermes; refresh them with the release (`git show <commit>:<path>`).
IMAGE_FILES_DIR = Path(__file__).with_name("image")
IMAGE_FILES = (".env.example", "cli-config.yaml.example", "docker/SOUL.md", "scripts/docker_config_migrate.py")
# The runtime ENV of the tag's Dockerfile.
IMAGE_ENV = {
    "HERMES_HOME": "/opt/data",
    "HERMES_WRITE_SAFE_ROOT": "/opt/data",
    "HERMES_DISABLE_LAZY_INSTALLS": "1",
    "HERMES_LAZY_INSTALL_TARGET": "/opt/data/lazy-packages",
    "HERMES_TUI_DIR": "/opt/hermes/ui-tui",
    "HERMES_WEB_DIST": "/opt/hermes/hermes_cli/web_dist",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
    "PLAYWRIGHT_BROWSERS_PATH": "/opt/hermes/.playwright",
    "PATH": "/opt/hermes/bin:/opt/hermes/.venv/bin:/opt/data/.local/bin:/usr/local/sbin:/usr/local/bin:"
            "/usr/sbin:/usr/bin:/sbin:/bin",
}
IMAGE_USER = 0  # the image has no USER: its entrypoint starts as root
HERMES_USER = (10000, 10000, [10000])  # uid, gid, groups after `s6-setuidgid hermes`
# What containerd grants a root container before securityContext drops or adds any.
RUNTIME_DEFAULT_CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID",
                                "SETUID", "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL",
                                "AUDIT_WRITE")
TRUE = ("1", "true", "TRUE", "True", "yes", "YES", "Yes")  # the s6 dashboard/run script's test


# Run by Hermes' Python as the hermes user, it prints what the gateway's agent would use: Hermes' own
# provider resolution (provider and key), after its own .env loading.
RESOLVE_PROVIDER = (
    "import json\n"
    "from hermes_cli.env_loader import load_hermes_dotenv\n"
    "load_hermes_dotenv()\n"
    "from hermes_cli.runtime_provider import resolve_runtime_provider\n"
    "r = resolve_runtime_provider()\n"
    "print(json.dumps({'provider': r.get('provider'), 'api_key': r.get('api_key')}))\n"
)


def hermes_python() -> Path:
    configured = os.environ.get("HERMES_EKS_HERMES_PYTHON")
    if not configured:
        raise RuntimeError("HERMES_EKS_HERMES_PYTHON is not set: run the suite with `python3 scripts/test.py`")
    return Path(configured)


@functools.cache
def hermes_site_packages(python: Path) -> Path:
    """Where Hermes' packages are installed (the image's /opt/hermes): asked once per process."""
    return Path(subprocess.run(
        [str(python), "-c", "import hermes_cli, os; print(os.path.dirname(os.path.dirname(hermes_cli.__file__)))"],
        capture_output=True, text=True, check=True).stdout.strip())


def make_profile_active(home: Path, name: str, config: dict | None = None) -> Path:
    """What `hermes profile use <name>` (or the dashboard's profile switch), run as the image's hermes
    user, leaves on a volume: profiles/<name>/ (with `config` as its config.yaml) and `active_profile`
    naming it. A bare `hermes` then follows it; the supervised gateway does not (hermes_cli/main.py
    _apply_profile_override). Returns the profile's directory."""
    profile = home / "profiles" / name
    profile.mkdir(parents=True)
    made = [profile.parent, profile, home / "active_profile"]
    (home / "active_profile").write_text(f"{name}\n")
    if config is not None:
        (profile / "config.yaml").write_text(json.dumps(config))  # JSON is YAML
        made.append(profile / "config.yaml")
    for path in made:
        os.chown(path, HERMES_USER[0], HERMES_USER[1])
    return profile

def identity(uid: int, gid: int, groups: list[int], capabilities=(), no_new_privs: bool = True) -> list[str]:
    """The `setpriv` prefix that runs a command as this user, with only these capabilities."""
    bounding = ",".join(["-all", *(f"+{c.lower()}" for c in capabilities)])
    argv = ["setpriv", f"--reuid={uid}", f"--regid={gid}",
            f"--groups={','.join(map(str, groups))}" if groups else "--clear-groups",
            "--inh-caps=-all", f"--bounding-set={bounding}"]
    return [*argv, "--no-new-privs", "--"] if no_new_privs else [*argv, "--"]


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

    def __init__(self, program: Program, workdir: Path, deployment_name: str = ""):
        """`deployment_name`: which instance's Deployment (a stack with several); empty: the only one."""
        self.program = program
        deployment = next(o for o in program.kubernetes_objects() if o["kind"] == "Deployment"
                          and deployment_name in ("", o["metadata"]["name"]))
        self.spec = deployment["spec"]["template"]["spec"]
        namespace = deployment["metadata"].get("namespace")
        self.workdir = workdir
        link = workdir / "opt-data"
        if link.is_symlink():  # a second render of the same pod (a rollout): the same volume
            self.root = link.resolve().parent
        else:
            # pytest's temporary tree is 0700 (and pytest resets it whenever a session starts), so UID
            # 10000 could never reach a volume inside it: the volume and the emptyDirs live in a
            # directory of their own, `<workdir>/opt-data` links to the volume.
            self.root = Path(tempfile.mkdtemp(prefix="hermes-eks-pod-"))
            self.root.chmod(0o711)
            atexit.register(shutil.rmtree, self.root, True)
            if link.is_dir():  # a volume the test prepared in place: moved, owners and modes kept
                shutil.move(str(link), str(self.root / "opt-data"))
            else:  # a fresh ext4 volume: root's, with lost+found
                (self.root / "opt-data").mkdir()
                (self.root / "opt-data" / "lost+found").mkdir(mode=0o700)
            link.symlink_to(self.root / "opt-data")
        self.home = self.root / "opt-data"
        # The image's own files, readable by every user as in the image (root's, 0644).
        self.image_files = self.root / "opt-hermes"
        for name in IMAGE_FILES:
            (self.image_files / name).parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            shutil.copyfile(IMAGE_FILES_DIR / name, self.image_files / name)
        self.hermes = hermes_python().parent / "hermes"
        self.site_packages = hermes_site_packages(hermes_python())
        # A pod reads Secrets of its own namespace only.
        secrets = [o for o in program.kubernetes_objects() if o["kind"] == "Secret"
                   and o["metadata"].get("namespace") == namespace]
        self.secret_data = {s["metadata"]["name"]: s.get("stringData", {}) for s in secrets}

    # --- paths and environment ----------------------------------------------------------------
    def map_path(self, value: str, tmp: Path) -> str:
        """A path or value inside the image, as it is on this machine."""
        if ":" in value and value.startswith("/"):  # a PATH-like list
            return ":".join(self.map_path(part, tmp) for part in value.split(":"))
        # Already a path on this machine (mapped before, or the checkout itself lives under /tmp).
        host_roots = (str(self.hermes.parent.parent), str(self.site_packages), str(self.home), str(self.root))
        if any(value == root or value.startswith(root + "/") for root in host_roots):
            return value
        if value.startswith(IMAGE_ROOT + "/") and value[len(IMAGE_ROOT) + 1:] in IMAGE_FILES:
            return str(self.image_files / value[len(IMAGE_ROOT) + 1:])
        if value == IMAGE_VENV or value.startswith(IMAGE_VENV + "/"):
            return str(self.hermes.parent.parent) + value[len(IMAGE_VENV):]
        if value.startswith(IMAGE_ROOT + "/"):
            return str(self.site_packages) + value[len(IMAGE_ROOT):]
        if value == HERMES_HOME or value.startswith(HERMES_HOME + "/"):
            return str(self.home) + value[len(HERMES_HOME):]
        if value == "/tmp" or value.startswith("/tmp/"):  # the container's own emptyDir
            return str(tmp) + value[len("/tmp"):]
        return value

    def container(self, name: str) -> dict:
        return next(c for c in self.spec["initContainers"] + self.spec["containers"] if c["name"] == name)

    def tmp(self, container: dict) -> Path:
        tmp = self.root / f"{container['name']}-tmp"
        tmp.mkdir(exist_ok=True)
        tmp.chmod(0o1777)  # an emptyDir is world-writable
        return tmp

    def env(self, container: dict) -> dict[str, str]:
        tmp = self.tmp(container)
        env = {k: self.map_path(v, tmp) for k, v in IMAGE_ENV.items()}
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
        tmp = self.tmp(container)
        command = container.get("command") or [IMAGE_HERMES]  # no command: the entrypoint runs `hermes <args>`
        return [self.map_path(part, tmp) for part in [*command, *container.get("args", [])]]

    # --- identities -----------------------------------------------------------------------------
    def container_identity(self, container: dict) -> list[str]:
        """The user a container's own processes (command, exec probes) start as."""
        pod_context = self.spec.get("securityContext", {})
        context = container.get("securityContext", {})
        uid = context.get("runAsUser", pod_context.get("runAsUser", IMAGE_USER))
        gid = context.get("runAsGroup", pod_context.get("runAsGroup", 0))
        groups = [gid, *([pod_context["fsGroup"]] if "fsGroup" in pod_context else []),
                  *pod_context.get("supplementalGroups", [])]
        capabilities = ()
        if uid == 0:
            added = context.get("capabilities", {}).get("add", [])
            dropped = context.get("capabilities", {}).get("drop", [])
            kept = [] if "ALL" in dropped else [c for c in RUNTIME_DEFAULT_CAPABILITIES if c not in dropped]
            capabilities = tuple(dict.fromkeys([*kept, *added]))
        return identity(uid, gid, groups, capabilities, context.get("allowPrivilegeEscalation") is False)

    def hermes_identity(self, container: dict) -> list[str]:
        """The image's `hermes` user, as s6-setuidgid leaves it."""
        no_new_privs = container.get("securityContext", {}).get("allowPrivilegeEscalation") is False
        return identity(*HERMES_USER, no_new_privs=no_new_privs)

    # --- the image's entrypoint -------------------------------------------------------------------
    def boot(self, container: dict) -> list[dict]:
        """The cont-init hooks and main-wrapper's hand-off, before the services start (module docstring)."""
        if container.get("command"):
            return []
        env = self.env(container)
        model = [str(hermes_python()), str(reachable(Path(__file__)))]  # run as hermes below
        return [
            {"name": "stage2-and-reconcile", "env": env,
             "argv": [*self.container_identity(container), *model, "boot", str(self.home),
                      json.dumps(container.get("args", [])), str(self.image_files)]},
            {"name": "start-intent", "env": {**env, "HOME": str(self.home)},
             "argv": [*self.hermes_identity(container), *model, "start-intent", str(self.home)]},
        ]

    def supervised_env(self, container: dict) -> dict[str, str]:
        """What s6's with-contenv, the run scripts and main-wrapper.sh give a process run as hermes."""
        env = self.env(container)
        return {**env, "HOME": str(self.home), "VIRTUAL_ENV": str(self.hermes.parent.parent),
                "PATH": f"{self.hermes.parent}:{env['PATH']}"}

    def processes(self, container: dict) -> list[dict]:
        """The processes a container runs: its command, or what the image's s6 starts for its args."""
        env = self.env(container)
        if container.get("command"):
            return [{"name": "main", "argv": [*self.container_identity(container), *self.argv(container)], "env": env}]
        supervised = self.supervised_env(container)
        hermes = [*self.hermes_identity(container), str(self.hermes)]
        args = container.get("args", [])
        if args[:2] != ["gateway", "run"]:
            return [{"name": "main", "argv": [*hermes, *args], "env": supervised, "cwd": str(self.home)}]
        processes = [{"name": "main", "argv": [*hermes, *args, "--replace"], "cwd": str(self.home),
                      "env": {**supervised, "HERMES_S6_SUPERVISED_CHILD": "1"}}]
        if env.get("HERMES_DASHBOARD") in TRUE:
            processes.append({"name": "dashboard", "env": supervised, "cwd": str(self.home), "argv": [
                *hermes, "dashboard", "--host", env.get("HERMES_DASHBOARD_HOST", "127.0.0.1"),
                "--port", env.get("HERMES_DASHBOARD_PORT", "9119"), "--no-open"]})
        return processes

    def port(self, container: dict, name_or_number) -> int:
        if isinstance(name_or_number, int):
            return name_or_number
        return next(p["containerPort"] for p in container["ports"] if p["name"] == name_or_number)

    def init_spec(self, container: dict) -> dict:
        return {"name": container["name"], "argv": [*self.container_identity(container), *self.argv(container)],
                "env": self.env(container)}

    def runner_spec(self) -> dict:
        init = [self.init_spec(c) for c in self.spec["initContainers"]]
        containers = []
        for c in self.spec["containers"]:
            # Ready when every HTTP probe of the container answers (Kubernetes would wait for them).
            ready = [{"port": self.port(c, c[p]["httpGet"]["port"]), "path": c[p]["httpGet"]["path"]}
                     for p in ("startupProbe", "readinessProbe", "livenessProbe") if "httpGet" in c.get(p, {})]
            # ...and every exec probe passes (the liveness probe: both processes answer)...
            # (An exec probe runs in the container: its paths are the container's, /tmp its emptyDir.)
            tmp = self.tmp(c)
            ready += [{"exec": [*self.container_identity(c), *(self.map_path(a, tmp) for a in c[p]["exec"]["command"])],
                       "env": self.env(c)}
                      for p in ("startupProbe", "readinessProbe", "livenessProbe") if "exec" in c.get(p, {})]
            # ...and every other declared port answers HTTP at all.
            ready += [{"port": p["containerPort"], "path": "/", "any_status": True} for p in c.get("ports", [])
                      if all(r.get("port") != p["containerPort"] for r in ready)]
            containers.append({"name": c["name"], "boot": self.boot(c), "processes": self.processes(c),
                               "ready": ready, "identity": self.container_identity(c)})
        logs = self.workdir / "logs"
        logs.mkdir(exist_ok=True)
        return {"volume": self.volume_spec(), "init": init, "containers": containers, "log_dir": str(logs),
                "timeout": 180}

    def volume_spec(self) -> dict:
        context = self.spec.get("securityContext", {})
        return {"path": str(self.home), "fs_group": context.get("fsGroup"),
                "fs_group_change_policy": context.get("fsGroupChangePolicy", "Always")}

    def run_init(self, name: str) -> subprocess.CompletedProcess:
        """Run one init container's command as its securityContext says (it binds nothing: no namespace)."""
        volume = self.volume_spec()
        if volume["fs_group"] is not None:
            apply_fs_group(volume["path"], volume["fs_group"], volume["fs_group_change_policy"])
        spec = self.init_spec(self.container(name))
        return subprocess.run(spec["argv"], env=spec["env"], capture_output=True, text=True, timeout=120)

    def run_init_containers(self) -> list[subprocess.CompletedProcess]:
        """Every init container in order, as a pod start runs them; stops at the first that fails."""
        results = []
        for container in self.spec["initContainers"]:
            results.append(self.run_init(container["name"]))
            if results[-1].returncode != 0:
                break
        return results


class Pod:
    """A RenderedPod running in its own user and network namespaces; `request` talks to it from inside."""

    def __init__(self, rendered: RenderedPod):
        self.rendered = rendered
        self._started = time.perf_counter()
        self.cpu: float | None = None  # the CPU seconds of all the pod's processes, once it has stopped
        spec_file = rendered.workdir / "pod.json"
        spec_file.write_text(json.dumps(rendered.runner_spec()))
        self.process = subprocess.Popen(
            ["unshare", "--user", "--net", "--", str(hermes_python()), str(RUNNER), "--await-user-map", str(spec_file)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=sys.stderr, text=True,
        )
        self.events = []
        assert json.loads(self.process.stdout.readline())["event"] == "awaiting-user-map"
        # UIDs and GIDs 0-65535 mean the same inside as outside (the volume's files stay readable from the
        # test); writing a range needs root outside (util-linux's newuidmap path needs /etc/subuid).
        for name in ("uid_map", "gid_map"):
            Path(f"/proc/{self.process.pid}/{name}").write_text(f"0 0 {USER_NAMESPACE_IDS}\n")
        self.process.stdin.write("mapped\n")
        self.process.stdin.flush()
        self.ready_seconds = self._wait_ready()

    def _wait_ready(self) -> dict:
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise AssertionError(f"pod runner exited: {self.events}\n{self.logs()}")
            event = json.loads(line)
            self.events.append(event)
            if event["event"] == "failed":
                raise AssertionError(f"{event}\n{self.logs()}")
            if event["event"] == "ready":
                return event["seconds"]

    def _ask(self, request: dict) -> dict:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted((self.rendered.workdir / "logs").glob("*.log")))

    def exec(self, command: list[str], container: str = "", as_hermes: bool = False) -> tuple[int, str]:
        """Run a command in a container (default: the first) as kubectl exec and exec probes do, as the
        container's user; `as_hermes`: as the image's hermes user, like the dashboard's own actions."""
        spec = self.rendered.container(container or self.rendered.spec["containers"][0]["name"])
        tmp = self.rendered.root / "exec-tmp"
        tmp.mkdir(exist_ok=True)
        tmp.chmod(0o1777)
        if as_hermes:
            user, env = self.rendered.hermes_identity(spec), self.rendered.supervised_env(spec)
        else:  # the container's own env, as the kubelet gives an exec
            user, env = self.rendered.container_identity(spec), self.rendered.env(spec)
        answer = self._ask({"exec": [*user, *(self.rendered.map_path(p, tmp) for p in command)],
                            "container": spec["name"], "env": env})
        return answer["exit_code"], answer["output"]

    def restart(self, container: str = "", signal: int = 9) -> dict:
        """Kill a container's processes with `signal` (SIGKILL: an OOM kill, a node losing power) and let
        the kubelet start it again: the image's boot and services, not the init containers."""
        name = container or self.rendered.spec["containers"][0]["name"]
        self.process.stdin.write(json.dumps({"restart": name, "signal": signal}) + "\n")
        self.process.stdin.flush()
        return self._wait_ready()

    def request(self, method: str, port: int, path: str, **options) -> Response:
        answer = self._ask({"method": method, "port": port, "path": path, **options})
        return Response(answer["status"], answer["headers"], answer["body"], answer["alive"])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.write(json.dumps({"stop": True}) + "\n")
            self.process.stdin.flush()
            # The runner's last line: its CPU and that of every process of the pod, which it waited for
            # (for scripts/benchmark.py; recorded only when the suite records CPU).
            deadline = time.monotonic() + 60
            while select.select([self.process.stdout], [], [], max(0.0, deadline - time.monotonic()))[0]:
                line = self.process.stdout.readline()
                if not line:  # the runner ended without its report
                    break
                event = json.loads(line)
                if event.get("event") == "stopped":
                    self.cpu = event["cpu"]
                    break
            self.process.wait(timeout=60)
            cpu_record.record({"kind": "pod", "test": os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0],
                               "ready": self.ready_seconds, "wall": round(time.perf_counter() - self._started, 2),
                               "cpu": self.cpu})


# --- inside the pod: the image's boot, run by Hermes' own Python ---------------------------------
# The tag's docker/stage2-hook.sh, step by step.

# Repaired recursively when HERMES_HOME itself is not hermes' (`needs_chown`).
HERMES_SUBDIRS = ("cron", "sessions", "logs", "hooks", "memories", "skills", "skins", "plans", "workspace",
                  "home", "profiles", "pairing", "platforms/pairing", "lazy-packages")
# Repaired recursively on every boot.
ALWAYS_REPAIRED = ("profiles", "cron", "platforms/pairing", "pairing")
# The top-level files given back to hermes on every boot; no other file is touched.
HERMES_FILES = ("auth.json", "auth.lock", ".env", "state.db", "state.db-shm", "state.db-wal", "hermes_state.db",
                "response_store.db", "response_store.db-shm", "response_store.db-wal", "gateway.pid",
                "gateway.lock", "gateway_state.json", "processes.json", "active_profile")
# Created as hermes on every boot (`as_hermes mkdir -p`).
SEEDED_DIRS = ("backups", "cron", "sessions", "logs", "logs/gateways", "hooks", "memories", "skills", "skins",
               "plans", "workspace", "home", "pairing", "platforms/pairing", "lazy-packages")
# `seed_one`: HERMES_HOME file <- image file, copied as hermes when absent.
SEEDS = ((".env", ".env.example"), ("config.yaml", "cli-config.yaml.example"), ("SOUL.md", "docker/SOUL.md"))


def _as_hermes(argv: list[str], **options) -> subprocess.CompletedProcess:
    """`s6-setuidgid hermes`: uid, gid and hermes' groups (initgroups), the environment kept."""
    uid, gid, groups = HERMES_USER
    return subprocess.run(argv, user=uid, group=gid, extra_groups=groups, **options)


def _boot(home: Path, container_args: list[str], image: Path) -> None:
    """stage2-hook.sh's ownership repair, seeding and migration as root, then 02-reconcile-profiles as hermes."""
    uid, gid, _ = HERMES_USER

    def symlinked(path: Path) -> bool:  # path_has_symlink_component / refuse_symlinked_path
        while path != home.parent:
            if path.is_symlink():
                print(f"boot: refusing to follow the symlinked path {path}")
                return True
            path = path.parent
        return False

    def give(path: Path) -> None:
        os.chown(path, uid, gid, follow_symlinks=False)

    def give_tree(tree: Path) -> None:  # chown -R: never follows a link inside the tree
        if symlinked(tree):
            return
        for root, dirs, files in os.walk(tree):
            for name in [*dirs, *files]:
                give(Path(root) / name)
        give(tree)

    home.mkdir(parents=True, exist_ok=True)
    if home.stat().st_uid != uid:
        if not symlinked(home):
            give(home)
        for sub in HERMES_SUBDIRS:
            if (home / sub).exists():
                give_tree(home / sub)
    for sub in ALWAYS_REPAIRED:
        if (home / sub).is_dir():
            give_tree(home / sub)
    for name in HERMES_FILES:
        if (home / name).exists() and not symlinked(home / name):
            give(home / name)
    config = home / "config.yaml"
    if config.is_file() and not symlinked(config):
        give(config)
        config.chmod(0o640)
    _as_hermes(["mkdir", "-p", *(str(home / d) for d in SEEDED_DIRS)], check=True)
    for name, source in SEEDS:
        if not (home / name).is_file() and (image / source).is_file() and not symlinked(home / name):
            _as_hermes(["cp", str(image / source), str(home / name)], check=True)
    env_file = home / ".env"
    if env_file.is_file() and not symlinked(env_file):
        give(env_file)
        env_file.chmod(0o600)
    if config.is_file():
        migrated = _as_hermes([sys.executable, str(image / "scripts" / "docker_config_migrate.py")])
        if migrated.returncode != 0:
            print("[stage2] Warning: docker_config_migrate.py failed; continuing")
    # 02-reconcile-profiles: `s6-setuidgid hermes python -m hermes_cli.container_boot`.
    _as_hermes([sys.executable, __file__, "reconcile", str(home), json.dumps(container_args)], check=True)


def _reconcile(home: Path, container_args: list[str]) -> None:
    """The parts of hermes_cli.container_boot.main that do not need s6's scandir."""
    from hermes_cli import container_boot

    argv = ["/init", "/opt/hermes/docker/main-wrapper.sh", *container_args]
    container_boot._maybe_migrate_legacy_gateway_run_state(home, container_argv=argv, dry_run=False)
    container_boot._cleanup_stale_runtime_files(home)
    print(f"boot: gateway desired state {container_boot._read_desired_state(home)!r}")


def _start_intent(home: Path) -> None:
    """main-wrapper.sh's `hermes gateway run` inside s6: `s6-svc -u gateway-default` records "running"."""
    os.environ["HERMES_HOME"] = str(home)
    from hermes_cli.service_manager import _write_gateway_desired_state

    _write_gateway_desired_state("gateway-default", "running")


if __name__ == "__main__":
    if sys.argv[1] == "boot":
        _boot(Path(sys.argv[2]), json.loads(sys.argv[3]), Path(sys.argv[4]))
    elif sys.argv[1] == "reconcile":
        _reconcile(Path(sys.argv[2]), json.loads(sys.argv[3]))
    elif sys.argv[1] == "start-intent":
        _start_intent(Path(sys.argv[2]))
