"""The one exception type for user errors: the CLI prints it as `error: ...` and exits 2."""


class ExportError(Exception):
    """A problem with the user's input (file, layer, option) rather than a bug in kerasless."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived during an export (raised by the CLI's handler; not an Exception, so
    no `except Exception` swallows it). written: whether the outputs had already been replaced."""

    def __init__(self, signum: int, written: bool = False):
        super().__init__(signum)
        self.signum = signum
        self.written = written
