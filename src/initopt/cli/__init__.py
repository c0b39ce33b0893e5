"""The ``initopt`` command line."""
