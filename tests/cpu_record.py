"""Where a run's CPU goes, recorded per process for scripts/benchmark.py:  pytest -p tests.cpu_record

Off unless loaded with `-p tests.cpu_record` and HERMES_EKS_CPU_RECORD names a directory. Each pytest
process (the controller and every xdist worker) appends JSON lines to <directory>/<worker>.jsonl:
  {"kind": "collected", "worker", "at", "cpu", "wall"}   CPU and wall time from the process's start until its
                                                  collection finished (interpreter, imports, collection);
  {"kind": "test", "worker", "at", "file", "nodeid", "wall", "cpu", "children"}
                                                  setup, call and teardown of one test: this process's own
                                                  CPU, and the CPU of the subprocesses it waited for
                                                  meanwhile (a pod ends when its fixture tears down, so a
                                                  module's pods count in the test where they stop);
and tests/contract/pod.py appends {"kind": "pod", ...} for every pod it starts (Pod.record_boot).
Nothing here changes what a test does.
"""

from __future__ import annotations

import json
import os
import resource
import time
from pathlib import Path

import pytest

VARIABLE = "HERMES_EKS_CPU_RECORD"


def record(entry: dict) -> None:
    """Append `entry` to this process's record, when recording is on."""
    directory = os.environ.get(VARIABLE)
    if not directory:
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "controller")
    with open(Path(directory) / f"{worker}.jsonl", "a") as out:
        out.write(json.dumps({"worker": worker, "at": round(time.time(), 2), **entry}) + "\n")


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def process_age() -> float:
    """Seconds since this process started (/proc/self/stat field 22, in clock ticks since boot)."""
    start_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return uptime - start_ticks / os.sysconf("SC_CLK_TCK")


def pytest_collection_finish(session):
    record({"kind": "collected", "cpu": round(cpu_seconds(resource.RUSAGE_SELF), 2), "wall": round(process_age(), 2),
            "items": len(session.items)})


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    wall, own, children = time.perf_counter(), cpu_seconds(resource.RUSAGE_SELF), cpu_seconds(resource.RUSAGE_CHILDREN)
    yield
    record({"kind": "test", "file": item.location[0], "nodeid": item.nodeid,
            "wall": round(time.perf_counter() - wall, 3),
            "cpu": round(cpu_seconds(resource.RUSAGE_SELF) - own, 3),
            "children": round(cpu_seconds(resource.RUSAGE_CHILDREN) - children, 3)})
