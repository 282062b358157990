"""The `aistack` command line: one thin module per command."""
