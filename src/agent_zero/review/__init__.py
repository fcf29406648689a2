"""Reviewers of access requests: a language model (``llm``) or a person (``human``)."""
