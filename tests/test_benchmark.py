"""scripts/benchmark.py's CPU report and tests/cpu_record.py, which records what it reports."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

spec = importlib.util.spec_from_file_location("benchmark", ROOT / "scripts" / "benchmark.py")
benchmark = importlib.util.module_from_spec(spec)
spec.loader.exec_module(benchmark)


def write(path: Path, *entries: dict) -> None:
    path.write_text("".join(json.dumps(e) + "\n" for e in entries))


def test_the_report_adds_up_each_files_cpu_and_counts_its_pods(tmp_path, capsys):
    write(tmp_path / "gw0.jsonl",
          {"worker": "gw0", "kind": "collected", "at": 100.0, "cpu": 1.5, "wall": 3.0, "items": 3},
          {"worker": "gw0", "kind": "test", "at": 110.0, "file": "tests/contract/test_x.py",
           "nodeid": "tests/contract/test_x.py::a", "wall": 9.0, "cpu": 0.5, "children": 7.5},
          {"worker": "gw0", "kind": "pod", "at": 110.0, "test": "tests/contract/test_x.py::a",
           "ready": {"hermes:8642/health": 4.0}, "wall": 8.0, "cpu": 7.0},
          {"worker": "gw0", "kind": "test", "at": 111.0, "file": "tests/contract/test_x.py",
           "nodeid": "tests/contract/test_x.py::b", "wall": 1.0, "cpu": 0.25, "children": 0.0})
    write(tmp_path / "gw1.jsonl",
          {"worker": "gw1", "kind": "collected", "at": 100.0, "cpu": 1.0, "wall": 3.0, "items": 3},
          {"worker": "gw1", "kind": "test", "at": 102.0, "file": "tests/test_y.py", "nodeid": "tests/test_y.py::c",
           "wall": 2.0, "cpu": 2.0, "children": 0.0})
    benchmark.cpu_report(tmp_path)
    lines = capsys.readouterr().out.splitlines()
    assert "CPU in tests: 3 s in the pytest workers + 8 s in their subprocesses" in lines[0]
    rows = [line.split() for line in lines if line.strip().endswith(".py")]
    assert rows == [["8.2", "0.8", "7.5", "10.0", "2", "1", "tests/contract/test_x.py"],
                    ["2.0", "2.0", "0.0", "2.0", "1", "0", "tests/test_y.py"]]
    assert any(line.startswith("  real Hermes pods: 1 started, 7 s CPU") for line in lines)
    assert [line.split()[0] for line in lines if line.startswith("    gw")] == ["gw0", "gw1"]


def test_a_recorded_run_writes_each_tests_cpu_and_its_workers_collection(tmp_path):
    (tmp_path / "test_sample.py").write_text("def test_one():\n    sum(range(10000))\n")
    record = tmp_path / "record"
    record.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HERMES_EKS_CPU_RECORD": str(record), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.cpu_record", "-q", "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path), "-c", "/dev/null", str(tmp_path / "test_sample.py")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    entries = [json.loads(line) for line in (record / "controller.jsonl").read_text().splitlines()]
    assert [e["kind"] for e in entries] == ["collected", "test"]
    assert entries[1]["nodeid"] == "test_sample.py::test_one" and entries[1]["file"] == "test_sample.py"
    assert {"wall", "cpu", "children", "at"} <= entries[1].keys()
