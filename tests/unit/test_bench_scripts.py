"""The benchmarks under bench/ are scripts, run by hand, so nothing else imports them: each must at least load
servekit's modules as they are now and print its usage (two of them did not, after modules moved)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(p.name for p in (ROOT / "bench").glob("bench_*.py"))


@pytest.mark.parametrize("script", SCRIPTS)
def test_when_a_benchmark_is_asked_for_its_usage_then_it_loads_and_prints_it(script):
    result = subprocess.run([sys.executable, str(ROOT / "bench" / script), "--help"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("usage:")
