#!/usr/bin/env python3
"""Measure what matters and print it; nothing here is asserted as a limit.

    python3 scripts/test.py --co -q >/dev/null   # once, to create .venvs/ (for the first two)
    python3 scripts/benchmark.py [--runs N] [--only program|pod|suite|profile] [--source REPOSITORY] [--traversable]
                                 [--pytest "-n 3 --dist loadfile"]

Reports, on this machine:
  - program evaluation: the real __main__.py under mocks, per stack file (median of N runs);
  - the contract pod: seconds until the real Hermes gateway and dashboard answer;
  - the whole test suite as a newcomer meets it: the README's test command in a fresh `git clone` of
    this checkout's HEAD (in a new 0700 temporary directory, as a clone in root's home is), with empty
    pip and uv caches, every install included ("cold"); then the same clone again ("warm"). For each:
    the wall time, each virtualenv's install time, the program renders and the ten slowest items; for
    the warm run also where the CPU went (tests/cpu_record.py): per test file, per xdist worker (its
    start-up and collection, how long it ran), and every real Hermes pod boot;
  - `--only profile`: that CPU report for the whole suite in this checkout, without a clone.
Each figure comes with the load average, since other processes on the machine make them noisy.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENVS = ROOT / ".venvs"


def in_test_venv(code: str) -> str:
    env = {**os.environ, "HERMES_EKS_HERMES_PYTHON": str((VENVS / "hermes").resolve() / "bin" / "python")}
    return subprocess.run([str(VENVS / "test" / "bin" / "python"), "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True).stdout.strip()


def suite_run(clone: Path, caches: Path | None, label: str, record: Path | None = None,
              extra: tuple[str, ...] = ()) -> int:
    """The README's test command in `clone`, with pip's and uv's caches in `caches`; prints the figures.
    With `record`, the CPU record of tests/cpu_record.py goes there and its report is printed."""
    env = dict(os.environ)
    if caches is not None:
        env |= {"UV_CACHE_DIR": str(caches / "uv"), "PIP_CACHE_DIR": str(caches / "pip")}
    arguments = []
    if record is not None:
        record.mkdir(parents=True, exist_ok=True)
        env["HERMES_EKS_CPU_RECORD"] = str(record)
        arguments = ["-p", "tests.cpu_record"]
    load = os.getloadavg()[0]
    cpu = cpu_of_children()
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "scripts/test.py", *arguments, *extra], cwd=clone, env=env,
                            capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    cpu = cpu_of_children() - cpu
    lines = result.stdout.splitlines()
    summary = [line for line in lines if re.search(r"\d+ (passed|failed|error)", line)]
    print(f"\n{label}: {elapsed:.1f} s wall, {cpu:.0f} s CPU (user+sys of every process), exit {result.returncode}; "
          f"{summary[-1].strip('= ') if summary else 'no summary'}; load average {load:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after")
    for line in lines:
        if line.startswith("[test.py] installed") or line.startswith("program renders:"):
            print("  " + line)
    if "slowest 10 durations" in result.stdout:
        slowest = result.stdout.split("slowest 10 durations", 1)[1].splitlines()[1:]
        print("  ten slowest:")
        for line in slowest:
            if re.match(r"\d+\.\d+s ", line):
                print("    " + line)
    if result.returncode != 0:
        print("\n".join(line for line in lines if line.startswith(("FAILED", "ERROR"))))
        print(result.stderr[-3000:])
    if record is not None:
        cpu_report(record)
    return result.returncode


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_report(record: Path, top: int = 10) -> None:
    """Where the CPU went, from tests/cpu_record.py's JSON lines."""
    entries = [json.loads(line) for path in sorted(record.glob("*.jsonl")) for line in path.read_text().splitlines()]
    tests = [e for e in entries if e["kind"] == "test"]
    pods = [e for e in entries if e["kind"] == "pod"]
    if not tests:
        print("  no CPU record (was tests/cpu_record.py loaded?)")
        return
    files = collections.defaultdict(lambda: {"tests": 0, "wall": 0.0, "cpu": 0.0, "children": 0.0, "pods": 0})
    for test in tests:
        row = files[test["file"]]
        row["tests"] += 1
        for key in ("wall", "cpu", "children"):
            row[key] += test[key]
    for pod in pods:
        files[pod["test"].split("::")[0]]["pods"] += 1
    own, children = sum(t["cpu"] for t in tests), sum(t["children"] for t in tests)
    print(f"  CPU in tests: {own:.0f} s in the pytest workers + {children:.0f} s in their subprocesses "
          f"(pods, checkov, renders in a subprocess); per test file, the top {top} of {len(files)}:")
    print(f"    {'CPU s':>6} {'own':>6} {'subproc':>7} {'wall s':>6} {'tests':>5} {'pods':>4}  file")
    ranked = sorted(files.items(), key=lambda item: -(item[1]["cpu"] + item[1]["children"]))
    for name, row in ranked[:top]:
        print(f"    {row['cpu'] + row['children']:6.1f} {row['cpu']:6.1f} {row['children']:7.1f} {row['wall']:6.1f} "
              f"{row['tests']:5d} {row['pods']:4d}  {name}")
    if pods:
        print(f"  real Hermes pods: {len(pods)} started, {sum(p['cpu'] or 0 for p in pods):.0f} s CPU (each pod's "
              f"runner and every process it ran: init containers, boot, gateway, dashboard, probes, execs), "
              f"{sum(p['wall'] for p in pods):.0f} s wall;"
              f" ready after (s): " + ", ".join(f"{max(p['ready'].values()):.1f}" for p in pods if p["ready"]))
    print("  per worker: start-up and collection (CPU s / wall s), tests run, busy wall s, finished after s:")
    first = min((e["at"] - e["wall"] for e in entries if e["kind"] == "collected"), default=0)
    for worker in sorted({e["worker"] for e in entries}):
        collected = next((e for e in entries if e["worker"] == worker and e["kind"] == "collected"), None)
        mine = [t for t in tests if t["worker"] == worker]
        if collected is None or not mine:
            continue
        print(f"    {worker:10} {collected['cpu']:5.1f} / {collected['wall']:5.1f}  {len(mine):5d} "
              f"{sum(t['wall'] for t in mine):7.1f} {max(t['at'] for t in mine) - first:7.1f}")


def size(path: Path) -> str:
    return subprocess.run(["du", "-sh", str(path)], capture_output=True, text=True).stdout.split()[0]


def suite(source: str, traversable: bool) -> int:
    print(f"\nwhole test suite: `python3 scripts/test.py` in a fresh clone of {source}'s HEAD ({os.cpu_count()} cpus; "
          f"load average now {os.getloadavg()[0]:.1f}, other processes make these numbers noisy)")
    private = Path(tempfile.mkdtemp(prefix="hermes-eks-benchmark-"))  # 0700, like root's home
    if traversable:  # for a checkout whose contract tests need the hermes user to reach it
        private.chmod(0o755)
    try:
        clone = private / "clone"
        subprocess.run(["git", "clone", "--quiet", source, str(clone)], check=True)
        caches = private / "caches"
        codes = [suite_run(clone, caches, "cold (empty caches, every install)"),
                 suite_run(clone, caches, "warm", record=private / "cpu")]
        venvs = clone / ".venvs"
        parts = [p.resolve() for p in sorted(venvs.iterdir()) if p.is_dir()]
        # One `du` over everything counts each hard-linked file (uv links the venvs to its cache) once.
        total = subprocess.run(["du", "-shc", *map(str, parts), str(caches)], capture_output=True,
                               text=True).stdout.splitlines()[-1].split()[0]
        print(f"\ndisk: {total} in all (" + ", ".join(f"{p.name} {size(p)}" for p in parts)
              + f"; the caches add what the venvs do not share with them)")
        hermes = (venvs / "hermes").resolve()
        if hermes.parent.parent != venvs:  # staged outside the private checkout for UID 10000
            shutil.rmtree(hermes.parent, ignore_errors=True)
        return max(codes)
    finally:
        shutil.rmtree(private, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", choices=("program", "pod", "suite", "profile"))
    parser.add_argument("--source", default=str(ROOT), help="the repository to clone for the suite (default: this one)")
    parser.add_argument("--pytest", default="", help="with --only profile: more pytest arguments, e.g. '-n 3 --dist loadfile'")
    parser.add_argument("--traversable", action="store_true", help="clone into a 0755 directory instead of a 0700 one")
    options = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, Python {platform.python_version()}")
    if options.only == "profile":
        print(f"\nwhole test suite in this checkout ({os.cpu_count()} cpus), warm, CPU recorded")
        with tempfile.TemporaryDirectory(prefix="hermes-eks-cpu-") as record:
            extra = tuple(options.pytest.split())
            return suite_run(ROOT, None, f"this checkout {options.pytest}".strip(), record=Path(record), extra=extra)
    if options.only in (None, "program", "pod") and not (VENVS / "test" / "bin" / "python").exists():
        raise SystemExit("run `python3 scripts/test.py --co -q` once first: it builds .venvs/")

    if options.only in (None, "program"):
        print("\nprogram evaluation under mocks (median of %d runs, seconds)" % options.runs)
        for stack in ("local", "dev", "prod"):
            seconds = in_test_venv(
                "import time, statistics\n"
                "from tests.harness import run_program\n"
                "run_program(%r)\n"  # warm imports once
                "t=[]\n"
                "for _ in range(%d):\n"
                "    s=time.perf_counter(); p=run_program(%r); t.append(time.perf_counter()-s)\n"
                "print(f'{statistics.median(t):.3f} {len(p.resources)}')" % (stack, options.runs, stack)
            )
            median, count = seconds.split()
            print(f"  {stack:6} {median:>7} s  ({count} resources)")

    if options.only in (None, "pod"):
        print("\ncontract pod: seconds from start until each probe answers")
        print("  " + in_test_venv(
            "import tempfile, pathlib\n"
            "from tests.harness import run_program\n"
            "from tests.contract.pod import Pod, RenderedPod\n"
            "pod = Pod(RenderedPod(run_program('local'), pathlib.Path(tempfile.mkdtemp())))\n"
            "pod.stop(); print(pod.ready_seconds)"
        ))

    return suite(options.source, options.traversable) if options.only in (None, "suite") else 0


if __name__ == "__main__":
    raise SystemExit(main())
