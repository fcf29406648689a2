"""The pure domain model of Agent Zero: no I/O, only the standard library and pydantic."""
