"""Write several output files so that either all are replaced or none is."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from exporter.errors import ExportError


def write_all(documents: dict) -> None:
    """Write {Path: bytes}: every file goes to a temp file beside its target, then all are renamed.

    Nothing is renamed until every temp file is complete and flushed, so a failure
    leaves existing files untouched and no partial file behind.
    """
    staged = []
    try:
        for target, data in documents.items():
            handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            staged.append((temp, target))
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(temp, 0o644)
        for temp, target in staged:
            os.replace(temp, target)
    except OSError as exc:
        raise ExportError(f"cannot write {exc.filename or 'output'}: {exc.strerror or exc}") from None
    finally:
        for temp, _ in staged:
            if os.path.exists(temp):
                os.unlink(temp)
