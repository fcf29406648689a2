"""The CDK app that deploys Agent Zero to AWS (deploy time only; the package never imports it)."""
