"""What every ProML distribution shares: the record document, content addressing, the workflow's names."""
