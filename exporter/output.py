"""Write several output files so that either all are replaced or none is."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import tempfile
from contextlib import contextmanager

from exporter.errors import ExportError, Interrupted

# Signals held back while the staged files are renamed into place, so no interruption can fall
# between two renames; they are delivered as soon as the renames are done or undone.
HELD_SIGNALS = {s for s in (getattr(signal, "SIGINT", None), getattr(signal, "SIGTERM", None),
                            getattr(signal, "SIGHUP", None)) if s is not None}


def write_all(documents: dict) -> None:
    """Write {Path: bytes}: stage every file beside its target, then rename all of them into place.

    Nothing is replaced until every file is staged, complete and flushed. If a rename fails, the
    files already replaced are restored from hard links to their old versions and the new ones
    are removed, so every target is as it was. An existing target keeps its permission bits; a new
    one gets the mode the umask gives. No temporary file survives, whatever exception or signal
    (SIGINT, SIGTERM: see the CLI) ends the call; only SIGKILL or a crash can leave `.NAME.*.tmp`.
    """
    staged = []  # (temp, target)
    backups = {}  # target -> hard link to its previous content
    try:
        for target, data in documents.items():
            _refuse_special(target)
            handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            staged.append((temp, target))
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(temp, _mode_for(target))
        committed = False
        try:
            with _signals_held():
                _commit(staged, backups)
                committed = True
        except Interrupted as exc:  # delivered when the signals are released: after the renames or the undo
            exc.written = committed
            raise
    except OSError as exc:
        raise ExportError(f"cannot write {exc.filename or 'output'}: {exc.strerror or exc}; "
                          "every output file is as it was") from None
    finally:
        for temp, _ in staged:
            _remove(temp)
        for backup in backups.values():
            _remove(backup)


def _refuse_special(target) -> None:
    """An existing output must be a regular file (or a symlink to one): never a device, FIFO or socket."""
    try:
        info = os.stat(target)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(info.st_mode):
        raise ExportError(f"{target}: exists and is not a regular file; refusing to replace it")


def _mode_for(target) -> int:
    """The permission bits of the existing target, else 0o666 less the umask (what open() would give)."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _commit(staged: list, backups: dict) -> None:
    """Rename each staged file over its target; on any failure put every target back as it was."""
    replaced = []
    try:
        for temp, target in staged:
            if os.path.lexists(target):
                backup = f"{temp}.old"
                try:
                    os.link(target, backup, follow_symlinks=False)
                except OSError:  # a filesystem without hard links: keep a copy instead
                    shutil.copy2(target, backup, follow_symlinks=False)
                backups[target] = backup
            os.replace(temp, target)
            replaced.append(target)
    except BaseException:
        problems = []
        for target in reversed(replaced):
            try:
                if target in backups:
                    os.replace(backups.pop(target), target)
                else:
                    os.unlink(target)
            except OSError as exc:
                problems.append(f"{target}: {exc.strerror or exc}")
        if problems:
            raise ExportError("writing the outputs failed and some could not be restored: "
                              + "; ".join(problems) + "; the others are as they were") from None
        raise


@contextmanager
def _signals_held():
    """Defer SIGINT, SIGTERM and SIGHUP for the duration (where the platform can)."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, HELD_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _remove(path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
