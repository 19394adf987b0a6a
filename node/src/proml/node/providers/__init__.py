"""Providers: blockchain, storage and signer, between the services and the clients."""
