"""The ProML node: clients, providers, services and the HTTP API (see DESIGN.md section 6)."""
