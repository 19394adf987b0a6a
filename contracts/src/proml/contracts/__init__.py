"""ProML's contracts for Python: the committed artifacts (ABI and bytecode), call data, events, custom
errors, and the hash chain of an asset's records."""
