#!/usr/bin/env python3
"""Measure what matters and print it; nothing here is asserted as a limit.

    python3 scripts/test.py --co -q >/dev/null   # once, to create .venvs/
    python3 scripts/benchmark.py [--runs N]

Reports, on this machine:
  - program evaluation: the real __main__.py under mocks, per stack file (median of N runs);
  - the contract pod: seconds until the real Hermes gateway and dashboard answer;
  - the whole test suite: wall time of the README's test command (venvs already built).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENVS = ROOT / ".venvs"


def in_test_venv(code: str) -> str:
    env = {**os.environ, "HERMES_EKS_HERMES_PYTHON": str(VENVS / "hermes" / "bin" / "python")}
    return subprocess.run([str(VENVS / "test" / "bin" / "python"), "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True).stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    if not (VENVS / "test" / "bin" / "python").exists():
        raise SystemExit("run `python3 scripts/test.py --co -q` once first: it builds .venvs/")

    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, Python {platform.python_version()}")
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

    print("\ncontract pod: seconds from start until each probe answers")
    print("  " + in_test_venv(
        "import tempfile, pathlib\n"
        "from tests.harness import run_program\n"
        "from tests.contract.pod import Pod, RenderedPod\n"
        "pod = Pod(RenderedPod(run_program('local'), pathlib.Path(tempfile.mkdtemp())))\n"
        "pod.stop(); print(pod.ready_seconds)"
    ))

    print("\nwhole test suite (python3 scripts/test.py, venvs already built)")
    started = time.perf_counter()
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "test.py"), "-q"],
                            cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    summary = [line for line in result.stdout.splitlines() if " passed" in line or " failed" in line]
    print(f"  {elapsed:.1f} s wall; {summary[-1] if summary else 'no summary line'}")
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
