"""The local sandbox: moto behind the IAM gateway, the demo bank and `agent-zero up`."""
