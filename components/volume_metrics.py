"""The Hermes volume's fill level as a CloudWatch metric: a sidecar of the Hermes pod publishes it.

Container Insights publishes no fill level for a PersistentVolume (its metrics are node and pod
filesystems: aws/amazon-cloudwatch-agent translator/translate/otel/exporter/awsemf/kubernetes.go), so
a small container in the Hermes pod measures the mounted volume itself with statvfs and calls
CloudWatch PutMetricData with the pod's own IAM identity (IRSA or Pod Identity; the policy is
`put_metric_policy`, granted by components/bedrock_access.py on the Hermes role).

The metric's namespace, names and dimensions are decided here once: the sidecar receives them in its
environment, the IAM condition names the namespace, and components/observability.py draws and alarms
on exactly the same (`metric_dimensions`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

METRIC_NAMESPACE = "HermesEKS"
USED_PERCENT = "VolumeUsedPercent"
USED_BYTES = "VolumeUsedBytes"
CONTAINER_NAME = "volume-metrics"
INTERVAL_SECONDS = 60  # CloudWatch's standard resolution: one datapoint a minute
HEARTBEAT_FILE = "/tmp/volume-metrics-heartbeat"
# The sidecar is dead when its heartbeat is older than this (three missed ticks).
STALE_AFTER_SECONDS = 3 * INTERVAL_SECONDS


def metric_dimensions(cluster_name: str, namespace: str, workload: str) -> dict[str, str]:
    """The dimensions of both metrics. PodName is the Deployment's name, not the pod's random one, so
    the dashboard and the alarm follow Hermes across restarts and rollouts (Container Insights names a
    Deployment's pod the same way: components/observability.py, Watched.workload)."""
    return {"ClusterName": cluster_name, "Namespace": namespace, "PodName": workload}


def put_metric_policy(namespace: str = METRIC_NAMESPACE) -> dict:
    """PutMetricData into `namespace` only. The action supports no resource type, so "*" is the only
    Resource it accepts; the `cloudwatch:namespace` condition key is what scopes it
    (docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html)."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "PutHermesVolumeMetrics",
            "Effect": "Allow",
            "Action": ["cloudwatch:PutMetricData"],
            "Resource": ["*"],
            "Condition": {"StringEquals": {"cloudwatch:namespace": namespace}},
        }],
    }


# Run by the image's Python (boto3 is baked in: the `bedrock` extra, hermes-upstream.md "Container image").
# Every INTERVAL_SECONDS: statvfs of the read-only mounted volume, one PutMetricData call with both
# metrics. A failed call or client (no credentials yet, throttling, the endpoint unreachable) is logged and the
# next tick tries again: the metric may miss a minute, the pod never restarts for it. SIGTERM ends the
# loop at once with exit status 0. The heartbeat file (on an emptyDir) is touched every tick, whatever
# the call's outcome: the probes read it. Timeouts and one retry keep a call far shorter than a tick.
# Used is what `df` shows as used (blocks - free), and the percentage is of what an unprivileged writer
# can use (used + available), as `df` computes Use%.
SCRIPT = r"""
import json, os, signal, sys, threading, time
import boto3
from botocore.config import Config

stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
signal.signal(signal.SIGINT, lambda *_: stop.set())
path = os.environ["VOLUME_PATH"]
namespace = os.environ["METRIC_NAMESPACE"]
dimensions = [{"Name": k, "Value": v} for k, v in json.loads(os.environ["METRIC_DIMENSIONS"]).items()]
interval = float(os.environ["INTERVAL_SECONDS"])
heartbeat = os.environ["HEARTBEAT_FILE"]
client = None
while not stop.is_set():
    with open(heartbeat, "w") as f:
        f.write(str(time.time()))
    try:
        st = os.statvfs(path)
        used = (st.f_blocks - st.f_bfree) * st.f_frsize
        usable = used + st.f_bavail * st.f_frsize
        percent = 100.0 * used / usable if usable else 0.0
        client = client or boto3.client("cloudwatch", config=Config(
            connect_timeout=5, read_timeout=10, retries={"mode": "standard", "max_attempts": 2}))
        client.put_metric_data(Namespace=namespace, MetricData=[
            {"MetricName": os.environ["USED_PERCENT"], "Dimensions": dimensions, "Value": percent, "Unit": "Percent"},
            {"MetricName": os.environ["USED_BYTES"], "Dimensions": dimensions, "Value": float(used), "Unit": "Bytes"},
        ])
        print(f"volume-metrics: {path} {percent:.1f}% used", flush=True)
    except Exception as error:
        print(f"volume-metrics: not published this time: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
    stop.wait(interval)
print("volume-metrics: stopped", flush=True)
"""

# The sidecar's probes. Liveness: the loop has ticked within STALE_AFTER_SECONDS (a hung loop is
# restarted). Readiness: the loop has started; it never depends on CloudWatch answering, because an
# unready sidecar makes the whole pod unready and takes Hermes out of its Services.
LIVENESS_CHECK = (
    "import os, sys, time\n"
    "sys.exit(time.time() - os.path.getmtime(sys.argv[1]) > float(sys.argv[2]))\n"
)
READINESS_CHECK = "import os, sys\nsys.exit(not os.path.exists(sys.argv[1]))\n"


@dataclass(frozen=True)
class VolumeMetrics:
    """Asks HermesAgent for the sidecar: where CloudWatch is and what names the cluster."""

    cluster_name: str
    region: str


def sidecar_container(image, python: str, mount_path: str, uid: int, region: str,
                      dimensions: dict[str, str]) -> dict:
    """The sidecar's container spec. It mounts the volume named `data` read-only at `mount_path`."""
    unprivileged = {
        "runAsUser": uid,
        "runAsGroup": uid,
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    return {
        "name": CONTAINER_NAME,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": [python, "-c", SCRIPT],
        "env": [
            {"name": "VOLUME_PATH", "value": mount_path},
            {"name": "METRIC_NAMESPACE", "value": METRIC_NAMESPACE},
            {"name": "USED_PERCENT", "value": USED_PERCENT},
            {"name": "USED_BYTES", "value": USED_BYTES},
            {"name": "METRIC_DIMENSIONS", "value": json.dumps(dimensions, sort_keys=True)},
            {"name": "INTERVAL_SECONDS", "value": str(INTERVAL_SECONDS)},
            {"name": "HEARTBEAT_FILE", "value": HEARTBEAT_FILE},
            # botocore 1.42 (the image's) reads the Region from AWS_DEFAULT_REGION, not AWS_REGION
            # (botocore/configprovider.py, 'region': ('region', 'AWS_DEFAULT_REGION', ...)).
            {"name": "AWS_DEFAULT_REGION", "value": region},
            # Not the volume (the hermes user's home): botocore reads ~/.aws/config from HOME.
            {"name": "HOME", "value": "/tmp"},
        ],
        # Measured on this machine (GNU time, maximum resident set): ~45 MiB with boto3's client made.
        "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
        "readinessProbe": {"exec": {"command": [python, "-c", READINESS_CHECK, HEARTBEAT_FILE]},
                           "periodSeconds": 30, "timeoutSeconds": 10, "failureThreshold": 3},
        "livenessProbe": {"exec": {"command": [python, "-c", LIVENESS_CHECK, HEARTBEAT_FILE,
                                               str(STALE_AFTER_SECONDS)]},
                          "initialDelaySeconds": 30, "periodSeconds": 60, "timeoutSeconds": 10,
                          "failureThreshold": 3},
        "securityContext": unprivileged,
        "volumeMounts": [{"name": "data", "mountPath": mount_path, "readOnly": True},
                         {"name": "volume-metrics-tmp", "mountPath": "/tmp"}],
    }


SIDECAR_VOLUMES = [{"name": "volume-metrics-tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}]
