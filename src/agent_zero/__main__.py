"""The ``agent-zero`` command."""

from __future__ import annotations

import sys
from collections.abc import Sequence

_USAGE = """usage: agent-zero COMMAND

commands:
  up        start the local sandbox (AWS emulator, IAM gateway, broker, web app)
  version   print the version
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``agent-zero`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        from agent_zero.cli.app import main as cli_main
    except ImportError:
        pass  # without the cli extra: the sandbox alone, below
    else:
        return cli_main(args)
    if args == ["version"]:
        from agent_zero import __version__

        sys.stdout.write(f"agent-zero {__version__}\n")
        return 0
    if args[:1] == ["up"]:
        try:
            from agent_zero.sandbox.up import run
        except ImportError as error:
            sys.stderr.write(
                f"agent-zero up needs the sandbox extra ({error.name} is missing): "
                "pip install 'agent-zero[sandbox]'\n"
            )
            return 1
        return run(args[1:])
    sys.stderr.write(_USAGE)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
