"""Exceptions raised by runtime_py."""


class ModelFormatError(ValueError):
    """The model file is malformed, truncated, corrupted or of an unsupported format version."""


class VerificationError(AssertionError):
    """The runtime's results on the file's embedded test vectors differ from Keras's."""


class NotInvertibleError(ValueError):
    """Model.invert cannot recover the inputs: names the node and says why.

    node is the node's name (None when the graph itself is not a chain), reason the explanation;
    row and index locate the offending value when the cause is a value outside a node's range.
    """

    def __init__(self, node, reason: str, row=None, index=None):
        where = f"node {node!r}: " if node is not None else ""
        super().__init__(f"{where}{reason}")
        self.node = node
        self.reason = reason
        self.row = row
        self.index = index
