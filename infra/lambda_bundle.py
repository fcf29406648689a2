"""The Lambda functions' code: this project and its runtime dependencies, for arm64 Python 3.12.

Three steps; only the first two reach PyPI, so synthesis runs offline:

``lock``   resolves pyproject's runtime requirements for the Lambda platform and writes
           ``infra/lambda-requirements.txt`` (``name==version --hash=sha256:...``).
``fetch``  downloads exactly those wheels into ``build/lambda-wheels`` (``make lambda-wheels``).
``build``  (at synth) installs them and a wheel of this repository into
           ``build/lambda-asset/<hash>`` with ``--no-index``: no network, no Docker.

boto3 and botocore are left out (the Lambda Python runtime ships them), and so is whatever
only they need; uvicorn and websockets serve the local sandbox, which API Gateway replaces.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

ROOT = Path(__file__).resolve().parents[1]
LOCK_FILE = ROOT / "infra" / "lambda-requirements.txt"
WHEELS_DIR = ROOT / "build" / "lambda-wheels"
ASSETS_DIR = ROOT / "build" / "lambda-asset"

PYTHON_VERSION = "3.12"
# Amazon Linux 2023 (the python3.12 runtime) has glibc 2.34.
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_17_aarch64", "manylinux_2_28_aarch64")
# The environment markers of the Lambda runtime, for requirements like `x; python_version<...`.
TARGET_ENVIRONMENT = {
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "python_version": PYTHON_VERSION,
    "python_full_version": f"{PYTHON_VERSION}.0",
    "platform_machine": "aarch64",
    "platform_system": "Linux",
    "sys_platform": "linux",
    "os_name": "posix",
}
EXTRAS = ("web", "llm", "lambda")  # the runtime's extras of this project
LOCAL_ONLY = frozenset({"uvicorn", "websockets"})  # the sandbox's server, not a Lambda's
RUNTIME_PROVIDED = frozenset({"boto3", "botocore"})  # and what only they need
FORBIDDEN = LOCAL_ONLY | RUNTIME_PROVIDED | {"moto"}  # never in the asset
MAX_UNZIPPED_BYTES = 262_144_000  # Lambda's limit for a function's unzipped code
BUILD_VERSION = "1"  # bump when the build recipe changes, so cached assets are rebuilt
_TARGET = [
    "--only-binary=:all:",
    *(f"--platform={platform}" for platform in PLATFORMS),
    "--implementation=cp",
    f"--python-version={PYTHON_VERSION}",
]


@dataclass(frozen=True, slots=True)
class Pin:
    """One locked distribution."""

    name: str
    version: str
    sha256: str

    def line(self) -> str:
        """The requirements-file line."""
        return f"{self.name}=={self.version} --hash=sha256:{self.sha256}"


@dataclass(frozen=True, slots=True)
class Asset:
    """A built asset directory and the content hash that names it."""

    path: Path
    content_hash: str

    def size_bytes(self) -> int:
        """Unzipped size, as Lambda counts it."""
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())


# --- lock --------------------------------------------------------------------------------------


def runtime_requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[Requirement]:
    """The project's own dependencies plus its runtime extras, minus local-only servers."""
    project = tomllib.loads(pyproject.read_text())["project"]
    found = [Requirement(text) for text in project["dependencies"]]
    for extra in EXTRAS:
        found += [Requirement(text) for text in project["optional-dependencies"][extra]]
    own = canonicalize_name(project["name"])
    return [r for r in found if canonicalize_name(r.name) not in LOCAL_ONLY | {own}]


def _applies(requirement: Requirement, extras: Iterable[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(
        requirement.marker.evaluate({**TARGET_ENVIRONMENT, "extra": extra})
        for extra in ("", *extras)
    )


def needed(
    roots: Sequence[Requirement], requires: Mapping[str, Sequence[str]]
) -> dict[str, set[str]]:
    """Every distribution reachable from ``roots``, with the extras asked of it, not passing
    through what the runtime provides; ``requires`` maps a name to its Requires-Dist."""
    wanted: dict[str, set[str]] = {}
    queue = [r for r in roots if _applies(r, ())]
    while queue:
        requirement = queue.pop()
        name = canonicalize_name(requirement.name)
        if name in RUNTIME_PROVIDED | LOCAL_ONLY:
            continue
        known = wanted.get(name)
        if known is not None and set(requirement.extras) <= known:
            continue
        extras = wanted[name] = (known or set()) | set(requirement.extras)
        queue += [
            Requirement(text)
            for text in requires.get(name, ())
            if _applies(Requirement(text), extras)
        ]
    return wanted


def lock(*, python: str = sys.executable) -> list[Pin]:
    """Resolve for the Lambda platform (needs PyPI) and keep what the runtime lacks."""
    roots = runtime_requirements()
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        _pip(
            python,
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            f"--report={report}",
            f"--target={scratch}/target",
            *_TARGET,
            *(str(r) for r in roots),
        )
        installs = json.loads(report.read_text())["install"]
    requires: dict[str, list[str]] = {
        canonicalize_name(i["metadata"]["name"]): i["metadata"].get("requires_dist", [])
        for i in installs
    }
    keep = needed(roots, requires)
    pins = [
        Pin(
            canonicalize_name(i["metadata"]["name"]),
            i["metadata"]["version"],
            i["download_info"]["archive_info"]["hashes"]["sha256"],
        )
        for i in installs
        if canonicalize_name(i["metadata"]["name"]) in keep
    ]
    return sorted(pins, key=lambda pin: pin.name)


def write_lock(pins: Sequence[Pin], path: Path = LOCK_FILE) -> None:
    """Write the lock file."""
    header = [
        "# The Lambda functions' dependencies for arm64 / CPython 3.12, pinned with hashes.",
        "# Generated by `python -m infra.lambda_bundle lock` from pyproject.toml's runtime",
        f"# extras ({', '.join(EXTRAS)}); boto3 and botocore come with the Lambda runtime.",
    ]
    path.write_text("\n".join([*header, *(pin.line() for pin in pins)]) + "\n")


def read_lock(path: Path = LOCK_FILE) -> list[Pin]:
    """The pins of a lock file."""
    pattern = re.compile(r"^([A-Za-z0-9._-]+)==(\S+) --hash=sha256:([0-9a-f]{64})$")
    pins = []
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            match = pattern.match(line.strip())
            if match is None:
                raise ValueError(f"{path}: not a pin: {line!r}")
            pins.append(Pin(*match.groups()))
    return pins


# --- fetch -------------------------------------------------------------------------------------


def fetch(*, python: str = sys.executable, lock_file: Path = LOCK_FILE) -> None:
    """Download the locked wheels (hash-checked) into ``WHEELS_DIR``; needs PyPI."""
    WHEELS_DIR.mkdir(parents=True, exist_ok=True)
    _pip(
        python,
        "download",
        "--quiet",
        "--no-deps",
        "--require-hashes",
        f"--dest={WHEELS_DIR}",
        *_TARGET,
        f"--requirement={lock_file}",
    )


# --- build -------------------------------------------------------------------------------------


def _project_files() -> list[Path]:
    files = [ROOT / "pyproject.toml", ROOT / "README.md"]
    for path in sorted((ROOT / "src").rglob("*")):
        parts = path.relative_to(ROOT / "src").parts
        if path.is_file() and "__pycache__" not in parts and not parts[0].endswith(".egg-info"):
            files.append(path)
    return files


def content_hash(lock_file: Path = LOCK_FILE) -> str:
    """A hash of everything that goes into the asset: recipe, lock and this project's files."""
    digest = hashlib.sha256(f"agent-zero-lambda-{BUILD_VERSION}\0".encode())
    for path in [lock_file, *_project_files()]:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:32]


def build(*, python: str = sys.executable, lock_file: Path = LOCK_FILE) -> Asset:
    """The asset directory for this source tree, built offline unless already built."""
    digest = content_hash(lock_file)
    asset = Asset(ASSETS_DIR / digest, digest)
    if asset.path.is_dir():
        return asset
    pins = read_lock(lock_file)
    fetched = {
        (name, str(version))
        for name, version, _, _ in map(parse_wheel_filename, _wheel_names(WHEELS_DIR))
    }
    missing = [f"{p.name}=={p.version}" for p in pins if (p.name, p.version) not in fetched]
    if missing:
        shown = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
        raise SystemExit(f"Lambda wheels missing ({shown}): run `make lambda-wheels`")
    ASSETS_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=ASSETS_DIR, prefix=".staging-") as scratch:
        staging = Path(scratch) / "asset"
        wheel = _build_project_wheel(python, Path(scratch))
        _pip(
            python,
            "install",
            "--quiet",
            "--no-index",
            f"--find-links={WHEELS_DIR}",
            "--no-deps",
            "--no-compile",  # the runtime is 3.12; this interpreter's .pyc would be useless
            f"--target={staging}",
            *_TARGET,
            *(f"{pin.name}=={pin.version}" for pin in pins),
            str(wheel),
        )
        shutil.rmtree(staging / "bin", ignore_errors=True)  # console scripts: nothing runs them
        check_complete(staging)
        try:
            staging.rename(asset.path)  # atomic: a concurrent build of the same hash may win
        except OSError:
            if not asset.path.is_dir():
                raise
    for old in ASSETS_DIR.iterdir():
        if old.is_dir() and old.name != asset.path.name and not old.name.startswith("."):
            shutil.rmtree(old, ignore_errors=True)
    if asset.size_bytes() > MAX_UNZIPPED_BYTES:
        raise SystemExit(f"the Lambda asset is {asset.size_bytes()} bytes unzipped, over the limit")
    return asset


def _wheel_names(directory: Path) -> list[str]:
    return [path.name for path in directory.glob("*.whl")] if directory.is_dir() else []


def _build_project_wheel(python: str, scratch: Path) -> Path:
    # From a clean copy: setuptools reuses build/lib, where a deleted module would linger.
    project = scratch / "project"
    for path in _project_files():
        target = project / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    dist = scratch / "dist"
    _pip(
        python,
        "wheel",
        "--quiet",
        "--no-deps",
        "--no-index",
        "--no-build-isolation",
        f"--wheel-dir={dist}",
        str(project),
    )
    (wheel,) = dist.glob("agent_zero-*.whl")
    return wheel


def check_complete(site: Path) -> None:
    """Every installed distribution's requirements are installed too (or the runtime's)."""
    from importlib.metadata import distributions

    installed = {canonicalize_name(d.metadata["Name"]): d for d in distributions(path=[str(site)])}
    roots = [Requirement(f"agent-zero[{','.join(EXTRAS)}]")]
    requires: dict[str, list[str]] = {name: d.requires or [] for name, d in installed.items()}
    for name in needed(roots, requires):
        if name not in installed:
            raise SystemExit(
                f"the Lambda asset lacks {name}: run `python -m infra.lambda_bundle lock`"
            )
    leaked = sorted(FORBIDDEN & installed.keys())
    if leaked:
        raise SystemExit(f"the Lambda asset must not contain {', '.join(leaked)}")


def _pip(python: str, *arguments: str) -> None:
    environment = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    completed = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [python, "-m", "pip", *arguments], env=environment, capture_output=True, text=True
    )
    if completed.returncode != 0:
        sys.stderr.write(completed.stdout + completed.stderr)
        raise SystemExit(f"pip {arguments[0]} failed ({completed.returncode})")


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m infra.lambda_bundle lock|fetch|build``."""
    parser = argparse.ArgumentParser(prog="python -m infra.lambda_bundle")
    parser.add_argument("step", choices=("lock", "fetch", "build"))
    step = parser.parse_args(argv).step
    if step == "lock":
        write_lock(lock())
    elif step == "fetch":
        fetch()
    else:
        asset = build()
        size = asset.size_bytes()
        sys.stdout.write(f"{asset.path.relative_to(ROOT)}: {size / 1e6:.1f} MB unzipped\n")


if __name__ == "__main__":
    main()
