"""Agent Zero: just-in-time, least-privilege AWS access for humans and AI agents."""

__version__ = "0.1.0"
