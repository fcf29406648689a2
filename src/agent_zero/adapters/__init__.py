"""Adapters: the only code that talks to storage, AWS and model providers."""
