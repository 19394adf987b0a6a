"""Clients of what a node talks to: the chain (JSON-RPC), IPFS (Kubo RPC) and the keystore."""
