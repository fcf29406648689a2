"""Use cases and the deterministic rules that have the last word over any reviewer."""
