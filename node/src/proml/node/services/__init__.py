"""Services: capture (with the durable outbox), index, query, verify, replicate."""
