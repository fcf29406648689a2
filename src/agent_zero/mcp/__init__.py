"""Agent Zero as an MCP server: any agent asks the broker for AWS access in plain words.

``agent_zero.mcp.server.build_server`` builds it; ``python -m agent_zero.mcp`` (or
``agent-zero mcp``) serves it over stdio or streamable HTTP. See docs/mcp.md.
"""
