"""The exit codes of every `proml` command."""

EXIT_OK = 0
EXIT_CHECK_FAILED = 1  # a check ran and failed: a verification mismatch, stale artifacts
EXIT_USAGE = 2  # a usage or connection error: nothing was checked
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it): the message says what was stored
