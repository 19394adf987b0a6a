"""The node's HTTP API: FastAPI under /v1."""
