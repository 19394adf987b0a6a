"""The exit codes of every `proml` command."""

EXIT_OK = 0
EXIT_CHECK_FAILED = 1  # a check ran and failed: a verification mismatch, stale artifacts
EXIT_USAGE = 2  # a usage or connection error: nothing was checked
