"""The local consortium: one anvil, an IPFS daemon and a node per organisation, started and stopped by PID."""
