"""Run a rendered Hermes pod's processes inside a private network namespace and answer HTTP requests.

Started by tests/contract/pod.py as `unshare --net -- <hermes venv python> pod_runner.py SPEC.json`,
so, as in a pod, every process shares one network namespace whose only interface is loopback: the
0.0.0.0 binds the pod spec declares are exercised for real and reach nothing outside this machine.
Each container also gets its own PID namespace, as containers of a pod do.

Protocol (one JSON object per line): the runner prints {"event": "ready", ...} once the init commands
have run and every container answers its readiness path, then reads requests from stdin
({"method", "port", "path", "host"?, "headers"?, "json"?, "session"?, "timeout"?}, or {"exec": argv} to run a
probe command) and prints one answer each; {"stop": true} ends it. Standard library only.

`pod_runner.py --container SPEC.json NAME` is the per-container half: started by the runner in the
container's own PID namespace, it starts that container's processes and stops them on SIGTERM.
"""

from __future__ import annotations

import functools
import http.client
import http.cookiejar
import json
import os
import signal
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


class FromOutsideThePod(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(functools.partial(http.client.HTTPConnection, source_address=(CLIENT_IP, 0)), req)


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


def main(spec_path: str) -> int:
    spec = json.loads(open(spec_path).read())
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    logs = spec["log_dir"]

    for init in spec["init"]:
        started = time.monotonic()
        with open(os.path.join(logs, f"{init['name']}.log"), "w") as out:
            code = subprocess.run(init["argv"], env=init["env"], stdout=out, stderr=subprocess.STDOUT,
                                  timeout=spec["timeout"]).returncode
        if code != 0:
            log({"event": "failed", "container": init["name"], "exit_code": code})
            return 1
        log({"event": "init-done", "container": init["name"], "seconds": round(time.monotonic() - started, 2)})

    processes = {}
    started = time.monotonic()
    for container in spec["containers"]:
        # Containers of a pod share the network but not the PID namespace (shareProcessNamespace is
        # off): each gets its own, with its own /proc; the processes of one container share it.
        processes[container["name"]] = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--mount-proc", "--", sys.executable, __file__,
             "--container", spec_path, container["name"]],
            start_new_session=True)

    try:
        ready_after = {}
        deadline = started + spec["timeout"]
        checks = [(c["name"], ready) for c in spec["containers"] for ready in c["ready"]]
        for name, ready in checks:
            while not answered(http_get_status(ready["port"], ready["path"]), ready.get("any_status", False)):
                if processes[name].poll() is not None or time.monotonic() > deadline:
                    log({"event": "failed", "container": name, "waiting_for": ready,
                         "exit_code": processes[name].poll()})
                    return 1
                time.sleep(0.2)
            ready_after[f"{name}:{ready['port']}{ready['path']}"] = round(time.monotonic() - started, 2)
        log({"event": "ready", "seconds": ready_after})
        serve(processes)
    finally:
        for process in processes.values():
            if process.poll() is None:
                os.killpg(process.pid, 15)
        for process in processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
    return 0


def serve(processes: dict) -> None:
    sessions: dict[str, urllib.request.OpenerDirector] = {}
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("stop"):
            return
        if "exec" in request:
            result = subprocess.run(request["exec"], capture_output=True, text=True, timeout=30)
            log({"exit_code": result.returncode, "output": (result.stdout + result.stderr)[-4000:],
                 "alive": {n: p.poll() is None for n, p in processes.items()}})
            continue
        name = request.get("session", "")
        if name not in sessions:
            sessions[name] = urllib.request.build_opener(
                FromOutsideThePod, NoRedirect, urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
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
    """PID 1 of one container's namespace: its processes, until SIGTERM."""
    spec = json.loads(open(spec_path).read())
    container = next(c for c in spec["containers"] if c["name"] == name)
    children = []
    for process in container["processes"]:
        out = open(os.path.join(spec["log_dir"], f"{name}-{process['name']}.log"), "w")
        children.append(subprocess.Popen(process["argv"], env=process["env"], stdout=out, stderr=subprocess.STDOUT))

    def stop(*_):
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    while all(child.poll() is None for child in children):
        time.sleep(0.2)
    stop()  # like a container whose main process died: the rest goes down with it
    return 1


if __name__ == "__main__":
    if sys.argv[1] == "--container":
        raise SystemExit(run_container(sys.argv[2], sys.argv[3]))
    raise SystemExit(main(sys.argv[1]))
