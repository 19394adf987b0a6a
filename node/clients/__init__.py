"""Clients of the services a node talks to: IPFS (Kubo RPC); the chain and the wallet come next."""
