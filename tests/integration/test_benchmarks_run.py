"""The benchmark scripts run and print their tables (they measure; they never assert)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_core_benchmark_prints_both_tables() -> None:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "core.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    out = completed.stdout
    assert "iam.evaluate throughput" in out
    assert "simple, parsed policies (baseline)" in out
    assert "1.00x" in out
    rows = [line.split() for line in out.splitlines() if line[:9].strip().isdigit()]
    assert {(row[0], row[1]) for row in rows} == {
        (size, grants) for size in ("10", "100", "1000") for grants in ("1", "3", "5")
    }
    assert "p99 < 2.0 ms:" in out


def test_gateway_benchmark_prints_both_operations_against_the_baseline() -> None:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gateway.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    rows = {
        line.split()[0]: line.split()
        for line in completed.stdout.splitlines()
        if line.startswith(("GetItem", "AssumeRole"))
    }
    assert set(rows) == {"GetItem", "AssumeRole"}
    for row in rows.values():
        medians = float(row[1]), float(row[3])
        assert all(value > 0 for value in medians)
        assert row[5].endswith("x")
    assert "ratio <= 1.25:" in completed.stdout


def test_broker_benchmark_splits_broker_time_from_aws_time() -> None:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "broker.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    rows = {
        line[:34].strip(): line[34:].split()
        for line in completed.stdout.splitlines()
        if line.startswith(("full request", "waiting on AWS", "broker's own"))
    }
    assert set(rows) == {
        "full request (client-observed)",
        "waiting on AWS (STS, IAM)",
        "broker's own time",
    }
    full, aws, own = (float(rows[name][0]) for name in rows)
    assert full > aws > 0
    assert own > 0
    assert "requests per second" in completed.stdout
