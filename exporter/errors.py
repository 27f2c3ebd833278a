"""The one exception type for user errors: the CLI prints it as `error: ...` and exits 2."""


class ExportError(Exception):
    """A problem with the user's input (file, layer, option) rather than a bug in kerasless."""
