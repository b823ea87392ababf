"""The `docqa` command line: thin commands over the Store library API."""
