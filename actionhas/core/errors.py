"""Errors a user can fix: each message names the file, video or field at fault."""


class ActionhasError(ValueError):
    """Bad input or a broken contract; commands print its message as one line and exit 1."""
