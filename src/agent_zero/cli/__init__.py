"""The ``agent-zero`` command line: Typer commands over the broker's Python client."""
