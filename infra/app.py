"""The CDK app: ``python -m infra.app [-c key=value ...] [--outdir DIR]``.

Builds the Lambda asset offline (``infra.lambda_bundle``), then synthesizes
``AgentZeroStack`` into ``infra/cdk.out`` (or ``$CDK_OUTDIR``, which the cdk CLI sets; it
passes ``-c`` context through ``$CDK_CONTEXT_JSON``). No network, Docker or AWS
credentials: account and region stay CloudFormation tokens until deploy time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

# jsii warns on every start under Node 18 or 20 (Debian 12 has 18); Node 22+ is advised.
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")

import aws_cdk as cdk

from infra.lambda_bundle import ROOT, build
from infra.stack import STACK_NAME, AgentZeroStack, StackOptions

DEFAULT_OUTDIR = ROOT / "infra" / "cdk.out"


def _context(pairs: Sequence[str]) -> dict[str, str]:
    context = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise SystemExit(f"context must be key=value, not {pair!r}")
        context[key] = value
    return context


def synthesize(outdir: Path, context: dict[str, str]) -> Path:
    """Build the asset, synthesize the stack, return the template's path."""
    asset = build()
    app = cdk.App(outdir=str(outdir), context=context)
    AgentZeroStack(app, STACK_NAME, options=StackOptions.from_context(app.node), asset=asset)
    app.synth()
    size = asset.size_bytes() / 1e6
    sys.stderr.write(f"Lambda asset {asset.path.relative_to(ROOT)}: {size:.1f} MB unzipped\n")
    return outdir / f"{STACK_NAME}.template.json"


def main(argv: Sequence[str] | None = None) -> None:
    """Parse ``-c`` pairs like the cdk CLI does and synthesize."""
    parser = argparse.ArgumentParser(prog="python -m infra.app")
    parser.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--outdir", type=Path, default=None)
    arguments = parser.parse_args(argv)
    outdir = arguments.outdir or Path(os.environ.get("CDK_OUTDIR") or DEFAULT_OUTDIR)
    started = time.monotonic()
    template = synthesize(outdir, _context(arguments.context))
    sys.stderr.write(f"{template} in {time.monotonic() - started:.1f} s\n")


if __name__ == "__main__":
    main()
