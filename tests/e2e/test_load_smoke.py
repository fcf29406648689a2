"""The load benchmark runs end to end for a few seconds and prints its table (it measures;
this only checks that it works and that its audit check passes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_short_load_run_answers_everything_and_audits_every_request() -> None:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "load.py"), "--seconds", "3", "--clients", "10"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    out = completed.stdout
    rows = {line[:36].strip(): line[36:].split() for line in out.splitlines() if line[:36].strip()}
    assert int(rows["requests sent"][0]) > 0
    assert rows["errors (not 200/202/403/429)"] == ["0"]
    decided = sum(int(rows[label][0]) for label in ("200 approved", "202 pending approval"))
    assert decided + int(rows["403 denied"][0]) > 0
    p50, p90, p99 = (float(value) for value in rows["200/202/403"][:3])
    assert 0 < p50 <= p90 <= p99
    assert "complete; the chain verifies" in out
