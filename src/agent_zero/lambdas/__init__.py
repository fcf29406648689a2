"""Thin AWS Lambda handlers over the same use cases the local app serves."""
