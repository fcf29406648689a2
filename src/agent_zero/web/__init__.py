"""The broker's HTTP API and the web app."""
