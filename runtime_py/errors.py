"""Exceptions raised by runtime_py."""


class ModelFormatError(ValueError):
    """The model file is malformed, truncated, corrupted or of an unsupported format version."""


class VerificationError(AssertionError):
    """The runtime's results on the file's embedded test vectors differ from Keras's."""
