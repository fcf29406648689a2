"""Synthesize AgentZeroStack once per test run, however many xdist workers ask: the first
synthesizes under a file lock, the others read its output."""

from __future__ import annotations

import fcntl
import json
import os

import pytest

from support.cdk_template import VARIANTS, Synth, synthesize


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synth]:
    """Both variants, synthesized once per run however many xdist workers ask."""
    # xdist's workers share the run's base directory; a run without xdist has its own.
    shared = tmp_path_factory.getbasetemp()
    shared = shared.parent if os.environ.get("PYTEST_XDIST_WORKER") else shared
    root = shared / "agent-zero-cdk"
    root.mkdir(exist_ok=True)
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            done = root / "timings.json"
            if done.exists():
                seconds = json.loads(done.read_text())
                return {
                    name: Synth(
                        root / name,
                        json.loads((root / name / "AgentZeroStack.template.json").read_text()),
                        seconds[name],
                    )
                    for name in VARIANTS
                }
            made = {name: synthesize(root / name, args) for name, args in VARIANTS.items()}
            done.write_text(json.dumps({name: synth.seconds for name, synth in made.items()}))
            return made
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def demo(synthesized: dict[str, Synth]) -> Synth:
    return synthesized["demo"]


@pytest.fixture(scope="session")
def bedrock(synthesized: dict[str, Synth]) -> Synth:
    return synthesized["bedrock"]


@pytest.fixture(params=sorted(VARIANTS))
def any_synth(request: pytest.FixtureRequest, synthesized: dict[str, Synth]) -> Synth:
    return synthesized[request.param]
