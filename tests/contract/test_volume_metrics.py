"""The volume-metrics sidecar as the dev stack renders it, run with the Hermes image's Python and boto3.

The container's own command and env (components/volume_metrics.py) run with the Hermes 0.19.0
virtualenv's Python, whose boto3/botocore are the ones the image bakes in, against a fake CloudWatch on
loopback. botocore sends CloudWatch calls wherever AWS_ENDPOINT_URL_CLOUDWATCH points (the variable is
named from the service id "CloudWatch": botocore/configprovider.py, _get_service_env_var_name); this
botocore (1.42.97) speaks CloudWatch's JSON protocol (X-Amz-Target GraniteServiceVersion20100801.PutMetricData).
What differs from the pod: the paths (/opt/hermes/.venv, /opt/data, /tmp map to this machine), static
dummy credentials instead of IRSA/Pod Identity, and a tick of a fraction of a second instead of 60 s.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from components.hermes_agent import IMAGE_PYTHON
from tests.contract.pod import hermes_python
from tests.harness import run_program

pytestmark = pytest.mark.contract

TARGET = "GraniteServiceVersion20100801.PutMetricData"
TICK = "0.2"  # seconds between calls here; the pod's is INTERVAL_SECONDS=60
DEADLINE = 20  # seconds to wait for any expected event


class FakeCloudWatch(http.server.ThreadingHTTPServer):
    """Answers PutMetricData; the first `failures` calls get a 400 error, the rest 200."""

    def __init__(self, failures: int):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.failures, self.calls = failures, []
        self.changed = threading.Condition()

    def wait_for(self, count: int) -> list[dict]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.calls) >= count, timeout=DEADLINE), self.calls
            return list(self.calls)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: FakeCloudWatch

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        call = {"target": self.headers.get("X-Amz-Target"), "content_type": self.headers.get("Content-Type"),
                "authorization": self.headers.get("Authorization", ""), "body": json.loads(body)}
        with self.server.changed:
            failing = len(self.server.calls) < self.server.failures
            self.server.calls.append(call)
            self.server.changed.notify_all()
        status, answer = (400, {"__type": "InvalidParameterValue", "message": "fake failure"}) if failing else (200, {})
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_):
        pass


@pytest.fixture(scope="module")
def sidecar() -> dict:
    spec = run_program("dev").one("kubernetes:apps/v1:Deployment").plain["spec"]["template"]["spec"]
    return next(c for c in spec["containers"] if c["name"] == "volume-metrics")


def run_sidecar(sidecar: dict, tmp_path: Path, endpoint: str) -> tuple[subprocess.Popen, dict, list[str]]:
    """Start the container's command with its env, the image's paths mapped to this machine."""
    volume, tmp = tmp_path / "volume", tmp_path / "tmp"
    volume.mkdir()
    tmp.mkdir()
    python = str(hermes_python())

    def mapped(value: str) -> str:
        # The container's /tmp first: a path already on this machine may itself be under /tmp.
        if value.startswith("/tmp"):
            return str(tmp) + value.removeprefix("/tmp")
        value = value.replace(IMAGE_PYTHON, python)
        return str(volume) if value == "/opt/data" else value

    env = {e["name"]: mapped(e["value"]) for e in sidecar["env"]}
    env.update(PATH=os.environ["PATH"], INTERVAL_SECONDS=TICK, AWS_ENDPOINT_URL_CLOUDWATCH=endpoint,
               AWS_ACCESS_KEY_ID="AKIAFAKEFAKEFAKEFAKE", AWS_SECRET_ACCESS_KEY="fake-secret", AWS_EC2_METADATA_DISABLED="true",
               AWS_CONFIG_FILE=str(tmp / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp / "none"))
    command = [mapped(part) for part in sidecar["command"]]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    probes = [[mapped(part) for part in sidecar[p]["exec"]["command"]] for p in ("readinessProbe", "livenessProbe")]
    return process, env, probes


@pytest.fixture
def cloudwatch():
    servers = []

    def start(failures: int = 0) -> FakeCloudWatch:
        server = FakeCloudWatch(failures)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def stop(process: subprocess.Popen) -> tuple[int, str, str]:
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=DEADLINE)
    return process.returncode, out, err


def test_the_sidecar_publishes_the_volumes_fill_level_with_its_namespace_and_dimensions(sidecar, cloudwatch, tmp_path):
    server = cloudwatch()
    process, env, probes = run_sidecar(sidecar, tmp_path, f"http://127.0.0.1:{server.server_port}")
    try:
        [call] = server.wait_for(1)[:1]
        # Both probes pass while it runs (the kubelet runs them in the container).
        for probe in probes:
            assert subprocess.run(probe, env=env, timeout=DEADLINE).returncode == 0, probe
    finally:
        status, out, err = stop(process)
    assert call["target"] == TARGET and call["content_type"] == "application/x-amz-json-1.0"
    assert "/eu-central-1/monitoring/aws4_request" in call["authorization"]  # signed for the stack's Region
    body = call["body"]
    assert body["Namespace"] == "HermesEKS"
    expected_dimensions = [{"Name": k, "Value": v} for k, v in json.loads(env["METRIC_DIMENSIONS"]).items()]
    assert expected_dimensions == [{"Name": "ClusterName", "Value": "hermes-dev"},
                                   {"Name": "Namespace", "Value": "hermes"}, {"Name": "PodName", "Value": "hermes"}]
    data = {d["MetricName"]: d for d in body["MetricData"]}
    assert set(data) == {"VolumeUsedPercent", "VolumeUsedBytes"}
    assert all(d["Dimensions"] == expected_dimensions for d in data.values())
    # What `df` would say for the directory standing in for the volume.
    usage = shutil.disk_usage(tmp_path / "volume")
    assert data["VolumeUsedPercent"]["Unit"] == "Percent"
    assert abs(data["VolumeUsedPercent"]["Value"] - 100 * usage.used / (usage.used + usage.free)) < 1
    assert data["VolumeUsedBytes"]["Unit"] == "Bytes"
    assert abs(data["VolumeUsedBytes"]["Value"] - usage.used) <= 0.01 * usage.total
    # SIGTERM ends it at once and cleanly.
    assert (status, err) == (0, ""), err
    assert out.rstrip().endswith("volume-metrics: stopped")


def test_a_failed_call_is_logged_and_the_next_tick_publishes_again(sidecar, cloudwatch, tmp_path):
    server = cloudwatch(failures=1)
    process, _, _ = run_sidecar(sidecar, tmp_path, f"http://127.0.0.1:{server.server_port}")
    try:
        calls = server.wait_for(2)
        assert process.poll() is None  # still running after the failure
    finally:
        status, out, err = stop(process)
    assert calls[0]["body"]["Namespace"] == calls[1]["body"]["Namespace"] == "HermesEKS"
    assert "not published this time: InvalidParameterValue" in err
    assert "% used" in out and status == 0


def test_with_cloudwatch_unreachable_it_keeps_ticking_and_stays_live(sidecar, tmp_path):
    # A port nobody listens on (bound, then closed): every call fails to connect.
    with http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler) as closed:
        port = closed.server_port
    process, env, probes = run_sidecar(sidecar, tmp_path, f"http://127.0.0.1:{port}")
    heartbeat = Path(env["HEARTBEAT_FILE"])
    try:
        deadline = time.monotonic() + DEADLINE
        while not heartbeat.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        first = heartbeat.read_text()
        while heartbeat.read_text() == first and time.monotonic() < deadline:
            time.sleep(0.05)
        assert heartbeat.read_text() != first and process.poll() is None
        assert subprocess.run(probes[1], env=env, timeout=DEADLINE).returncode == 0  # liveness
    finally:
        status, _, err = stop(process)
    assert status == 0 and "not published this time" in err
