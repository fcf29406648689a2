"""AWS adapters: STS minting, revocation through IAM, role policies for the proof."""
