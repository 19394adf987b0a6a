"""The `proml` command."""
