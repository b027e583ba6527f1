"""Run a rendered Hermes pod's processes inside a private network namespace and answer HTTP requests.

Started by tests/contract/pod.py as `unshare --user --net -- <hermes venv python> pod_runner.py
--await-user-map SPEC.json` (pod.py then maps UIDs/GIDs 0-65535 to themselves), so the pod has a user
namespace of its own and, as in a pod, every process shares one network namespace whose only interface
is loopback: the 0.0.0.0 binds the pod spec declares are exercised for real and reach nothing outside
this machine.
Each container also gets its own PID namespace, as containers of a pod do.

Protocol (one JSON object per line): the runner prints {"event": "ready", ...} once the init commands
have run and every container answers its readiness path, then reads requests from stdin
({"method", "port", "path", "host"?, "headers"?, "json"?, "session"?, "source"?, "timeout"?}, or {"exec": argv,
"container"?, "env"?} to run a command inside a container's PID namespace) and prints one answer each;
a request leaves from CLIENT_IP, or from the address "source" names (UNTRUSTED_CLIENT_IP);
{"restart": container, "signal": n} kills the container with signal n and starts it again (the kubelet
restarting a container: no init containers), answered by a new "ready" or "failed" event;
{"stop": true} ends it. Before the init containers, the volume gets the kubelet's fsGroup treatment.
Standard library only; every identity (setpriv) and image detail comes from tests/contract/pod.py.

`pod_runner.py --container SPEC.json NAME` is the per-container half: started by the runner in the
container's own PID namespace, it runs the container's boot steps, then its processes, and stops them
on SIGTERM. A process that exits leaves a `<container>-<process>.exited` file in the log directory and
the container running (the image's main program is s6's `sleep infinity`).
"""

from __future__ import annotations

import functools
import http.client
import http.cookiejar
import json
import os
import resource
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request

# Kubelet probes and Service traffic reach a pod at its own IP, not at its loopback address. In this
# namespace 127.0.0.2 plays the pod IP: local, but not accepted by a socket bound to 127.0.0.1, so a
# process that binds loopback only (a wrong API_SERVER_HOST or --host) fails here as in a cluster.
POD_IP = "127.0.0.2"
# ...and they come from elsewhere: the kubelet, the load balancer, other pods. Requests leave from
# 127.0.0.3, so nothing here is trusted for being loopback (uvicorn trusts proxy headers from
# 127.0.0.1 by default, an ALB's address it does not).
CLIENT_IP = "127.0.0.3"
# A second peer outside the pod, for a test whose stack trusts CLIENT_IP as its load balancer: a
# request with "source": UNTRUSTED_CLIENT_IP comes from a client that reaches the pod some other way
# (every address of 127/8 is local in the pod's network namespace, so it needs no setup).
UNTRUSTED_CLIENT_IP = "127.0.0.4"


class FromOutsideThePod(urllib.request.HTTPHandler):
    def __init__(self, source: str):
        super().__init__()
        self.source = source

    def http_open(self, req):
        return self.do_open(functools.partial(http.client.HTTPConnection, source_address=(self.source, 0)), req)


def log(event: dict) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # report redirects, never follow them
        return None


def http_get_status(port: int, path: str) -> int:
    try:
        connection = http.client.HTTPConnection(POD_IP, port, timeout=2, source_address=(CLIENT_IP, 0))
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return 0


def answered(status: int, any_status: bool) -> bool:
    return status == 200 or (any_status and status != 0)


def apply_fs_group(path: str, gid: int, policy: str) -> None:
    """The kubelet's fsGroup ownership change on a volume (pkg/volume/volume_linux.go): group `gid`,
    group read/write, setgid directories; with OnRootMismatch only when the volume's root differs."""
    root = os.lstat(path)
    if policy == "OnRootMismatch" and root.st_gid == gid and root.st_mode & 0o2070 == 0o2070:
        return
    for directory, dirs, files in os.walk(path):
        for name in [directory, *(os.path.join(directory, n) for n in dirs + files)]:
            info = os.lstat(name)
            if stat.S_ISLNK(info.st_mode):
                continue
            os.chown(name, -1, gid, follow_symlinks=False)
            extra = 0o2070 if stat.S_ISDIR(info.st_mode) else 0o060
            os.chmod(name, stat.S_IMODE(info.st_mode) | extra)


def container_pid1(process: subprocess.Popen) -> int:
    """The container's PID 1 (its pod_runner --container) as this namespace sees it: `unshare --fork`'s child."""
    children = open(f"/proc/{process.pid}/task/{process.pid}/children").read().split()
    return int(children[0])


def stop_container(process: subprocess.Popen) -> None:
    """SIGTERM to the container's PID 1 only, as the runtime stops a container for the kubelet (then
    SIGKILL to all after the grace period, main's wait below): PID 1 stops its own processes (the image's
    s6 /init; here run_container's `stop`), and the container ends with it. Signalling the whole group
    raced: `unshare` could die before PID 1 had waited for its processes, which then finished unwaited
    for, outside the pod's CPU report."""
    try:
        os.kill(container_pid1(process), 15)
    except (IndexError, ProcessLookupError):  # PID 1 already gone: whatever is left
        os.killpg(process.pid, 15)


def start_container(spec_path: str, logs: str, name: str) -> subprocess.Popen:
    # Containers of a pod share the network but not the PID namespace (shareProcessNamespace is
    # off): each gets its own, with its own /proc; the processes of one container share it.
    for marker in os.listdir(logs):
        if marker.startswith(f"{name}-") and marker.endswith(".exited"):
            os.unlink(os.path.join(logs, marker))
    return subprocess.Popen(
        ["unshare", "--pid", "--fork", "--mount-proc", "--", sys.executable, __file__,
         "--container", spec_path, name],
        start_new_session=True, stdout=subprocess.DEVNULL)  # this runner's stdout talks to the test alone


def passes(check: dict, container: subprocess.Popen) -> bool:
    """An HTTP check from outside the pod, or an exec probe inside the container."""
    if "exec" in check:
        argv = ["nsenter", "-t", str(container_pid1(container)), "-p", "-m", "--", *check["exec"]]
        return subprocess.run(argv, env=check["env"], capture_output=True, timeout=60).returncode == 0
    return answered(http_get_status(check["port"], check["path"]), check.get("any_status", False))


def wait_ready(spec: dict, processes: dict, names: list[str]) -> bool:
    started = time.monotonic()
    ready_after = {}
    deadline = started + spec["timeout"]
    checks = [(c["name"], ready) for c in spec["containers"] if c["name"] in names for ready in c["ready"]]
    for name, ready in checks:
        while not passes(ready, processes[name]):
            exited = [m for m in os.listdir(spec["log_dir"]) if m.startswith(f"{name}-") and m.endswith(".exited")]
            if processes[name].poll() is not None or exited or time.monotonic() > deadline:
                log({"event": "failed", "container": name, "waiting_for": ready,
                     "exit_code": processes[name].poll(), "exited": exited})
                return False
            time.sleep(0.2)
        what = "exec" if "exec" in ready else f"{ready['port']}{ready['path']}"
        ready_after[f"{name}:{what}"] = round(time.monotonic() - started, 2)
    log({"event": "ready", "seconds": ready_after})
    return True


def main(spec_path: str) -> int:
    spec = json.loads(open(spec_path).read())
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    logs = spec["log_dir"]
    volume = spec.get("volume", {})
    if volume.get("fs_group") is not None:
        apply_fs_group(volume["path"], volume["fs_group"], volume["fs_group_change_policy"])

    for init in spec["init"]:
        started = time.monotonic()
        with open(os.path.join(logs, f"{init['name']}.log"), "w") as out:
            code = subprocess.run(init["argv"], env=init["env"], stdout=out, stderr=subprocess.STDOUT,
                                  timeout=spec["timeout"]).returncode
        if code != 0:
            log({"event": "failed", "container": init["name"], "exit_code": code})
            return 1
        log({"event": "init-done", "container": init["name"], "seconds": round(time.monotonic() - started, 2)})

    processes = {c["name"]: start_container(spec_path, logs, c["name"]) for c in spec["containers"]}
    try:
        if not wait_ready(spec, processes, list(processes)):
            return 1
        serve(spec, spec_path, processes)
    finally:
        for process in processes.values():
            if process.poll() is None:
                stop_container(process)
        for process in processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
        # Every process of the pod has been waited for: this runner's CPU and theirs is the pod's.
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        log({"event": "stopped", "cpu": round(own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime, 2)})
    return 0


def serve(spec: dict, spec_path: str, processes: dict) -> None:
    sessions: dict[str, urllib.request.OpenerDirector] = {}
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("stop"):
            return
        if "restart" in request:
            name = request["restart"]
            os.kill(container_pid1(processes[name]), request.get("signal", 15))
            processes[name].wait(timeout=60)
            processes[name] = start_container(spec_path, spec["log_dir"], name)
            if not wait_ready(spec, processes, [name]):
                return
            continue
        if "exec" in request:
            argv = request["exec"]
            if request.get("container"):  # like kubectl exec: inside the container's PID namespace
                argv = ["nsenter", "-t", str(container_pid1(processes[request["container"]])), "-p", "-m", "--", *argv]
            result = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=request.get("env"))
            log({"exit_code": result.returncode, "output": (result.stdout + result.stderr)[-4000:],
                 "alive": {n: p.poll() is None for n, p in processes.items()}})
            continue
        source = request.get("source", CLIENT_IP)
        name = f"{source} {request.get('session', '')}"  # a session's cookies stay with its client
        if name not in sessions:
            sessions[name] = urllib.request.build_opener(
                FromOutsideThePod(source), NoRedirect, urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        body = None
        headers = dict(request.get("headers", {}))
        if "json" in request:
            body = json.dumps(request["json"]).encode()
            headers["Content-Type"] = "application/json"
        if request.get("host"):
            headers["Host"] = request["host"]
        url = f"http://{POD_IP}:{request['port']}{request['path']}"
        req = urllib.request.Request(url, data=body, headers=headers, method=request.get("method", "GET"))
        try:
            with sessions[name].open(req, timeout=request.get("timeout", 15)) as response:
                status, response_headers, text = response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            status, response_headers, text = error.code, dict(error.headers), error.read()
        except OSError as error:
            status, response_headers, text = 0, {}, str(error).encode()
        log({"status": status, "headers": {k.lower(): v for k, v in response_headers.items()}, "body": text[:65536].decode("utf-8", "replace"),
             "alive": {n: p.poll() is None for n, p in processes.items()}})


def run_container(spec_path: str, name: str) -> int:
    """PID 1 of one container's namespace: its boot steps, then its processes, until SIGTERM."""
    spec = json.loads(open(spec_path).read())
    container = next(c for c in spec["containers"] if c["name"] == name)
    logs = spec["log_dir"]
    for step in container.get("boot", []):
        with open(os.path.join(logs, f"{name}-boot-{step['name']}.log"), "a") as out:
            code = subprocess.run(step["argv"], env=step["env"], stdout=out, stderr=subprocess.STDOUT,
                                  cwd=step.get("cwd"), timeout=spec["timeout"]).returncode
            out.write(f"[exit code {code}]\n")  # s6 ignores a failing cont-init step by default
    children = []
    for process in container["processes"]:
        out = open(os.path.join(logs, f"{name}-{process['name']}.log"), "a")
        children.append((process["name"], subprocess.Popen(process["argv"], env=process["env"], cwd=process.get("cwd"),
                                                           stdout=out, stderr=subprocess.STDOUT)))

    def stop(*_):
        for _, child in children:
            if child.poll() is None:
                child.terminate()
        for _, child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    reported = set()
    while True:
        for process_name, child in children:
            if child.poll() is not None and process_name not in reported:
                reported.add(process_name)
                with open(os.path.join(logs, f"{name}-{process_name}.exited"), "w") as marker:
                    marker.write(str(child.returncode))
        time.sleep(0.2)


def await_user_map() -> None:
    """Started by `unshare --user`: wait until pod.py has written this user namespace's uid/gid maps,
    then start again, so that the runner holds the namespace's capabilities as its root."""
    log({"event": "awaiting-user-map"})
    sys.stdin.readline()
    os.execv(sys.executable, [sys.executable, __file__, *sys.argv[2:]])


if __name__ == "__main__":
    if sys.argv[1] == "--await-user-map":
        await_user_map()
    if sys.argv[1] == "--container":
        raise SystemExit(run_container(sys.argv[2], sys.argv[3]))
    raise SystemExit(main(sys.argv[1]))
