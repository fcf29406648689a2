"""The Lambda code CDK uploads: this package and its dependencies for arm64 / Python 3.12,
without what the runtime brings (boto3) or what only the sandbox runs (uvicorn)."""

from __future__ import annotations

import json
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from infra.lambda_bundle import (
    FORBIDDEN,
    MAX_UNZIPPED_BYTES,
    RUNTIME_PROVIDED,
    needed,
    read_lock,
    runtime_requirements,
)
from support.cdk_template import Synth

ELF_MACHINE_AARCH64 = 0xB7


def _asset(synth: Synth) -> Path:
    manifest = json.loads((synth.outdir / "AgentZeroStack.assets.json").read_text())
    (directory,) = [
        synth.outdir / f["source"]["path"]
        for f in manifest["files"].values()
        if f["source"].get("packaging") == "zip"
    ]
    return directory


def _distributions(asset: Path) -> set[str]:
    return {
        canonicalize_name(p.name.removesuffix(".dist-info").rpartition("-")[0])
        for p in asset.glob("*.dist-info")
    }


def test_the_asset_holds_the_package_and_its_runtime_dependencies(demo: Synth) -> None:
    asset = _asset(demo)
    installed = _distributions(asset)
    assert {"agent-zero", "mangum", "fastapi", "pydantic-ai-slim", "joserfc", "httpx"} <= installed
    assert not installed & FORBIDDEN
    for module in ("broker_api", "web", "agent_socket"):
        assert (asset / "agent_zero" / "lambdas" / f"{module}.py").is_file()
    for data in ("iam/data/condition_keys.json", "py.typed"):
        assert (asset / "agent_zero" / data).is_file()
    assert list((asset / "agent_zero" / "web" / "templates").glob("*.html"))
    assert not list(asset.rglob("*.pyc"))  # built by 3.11 they would be useless on 3.12


def test_every_compiled_module_is_for_arm64_cpython_312(demo: Synth) -> None:
    shared = list(_asset(demo).rglob("*.so"))
    assert len(shared) > 5
    for path in shared:
        header = path.read_bytes()[:20]
        assert header[:4] == b"\x7fELF", path
        assert int.from_bytes(header[18:20], "little") == ELF_MACHINE_AARCH64, path
        if ".cpython-" in path.name:
            assert "cpython-312-aarch64-linux-gnu" in path.name, path


def test_the_asset_fits_lambda_unzipped(demo: Synth) -> None:
    size = sum(f.stat().st_size for f in _asset(demo).rglob("*") if f.is_file())
    assert size < MAX_UNZIPPED_BYTES == 250 * 1024 * 1024
    assert size < 120_000_000  # measured ~71 MB: a jump means an unwanted dependency


def test_the_lock_satisfies_pyproject_and_leaves_out_the_runtimes_packages() -> None:
    pins = {pin.name: pin.version for pin in read_lock()}
    relock = "pyproject.toml changed: run `python -m infra.lambda_bundle lock`"
    for requirement in runtime_requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name}: {relock}"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{requirement}: {relock}"
        )
    assert not set(pins) & FORBIDDEN


def test_needed_walks_extras_and_stops_at_the_runtimes_packages() -> None:
    requires = {
        "app": ["lib[fast]", "boto3>=1", "old; python_version < '3.10'"],
        "lib": ["base", "speedup; extra == 'fast'", "slow; extra == 'slow'"],
        "boto3": ["botocore"],
        "botocore": ["jmespath", "urllib3"],
        "speedup": ["urllib3"],
    }
    wanted = needed([Requirement("app")], requires)
    assert set(wanted) == {"app", "lib", "base", "speedup", "urllib3"}
    assert wanted["lib"] == {"fast"}
    assert {"boto3", "botocore"} == RUNTIME_PROVIDED
