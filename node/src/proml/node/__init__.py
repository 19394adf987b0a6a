"""The ProML node: clients, providers, services and the HTTP API."""
