"""The `docqa` command line: thin commands over the library API (`docqa.app`)."""
