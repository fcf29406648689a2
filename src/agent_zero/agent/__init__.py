"""The support chat agent: zero standing permissions, access per task from the broker."""
