"""Read .npy members of an .npz with the standard library only (no pickle, ever)."""

from __future__ import annotations

import ast
import struct
import zipfile
import zlib

from runtime_py.errors import ModelFormatError

MAGIC = b"\x93NUMPY"
# dtype descriptions this runtime reads -> item size
# float64: outputs64; float16, int8: stored kernels; int32: integer models' biases and multipliers
DTYPES = {"<f4": 4, "<f8": 8, "<f2": 2, "|i1": 1, "|u1": 1, "<u1": 1, "<i4": 4}


def read_npy(archive: zipfile.ZipFile, member: str, what: str, expected_shape=None, max_bytes=None) -> tuple:
    """Return (descr, shape, raw bytes) of one .npy member, checking sizes before reading data.

    expected_shape: the shape the manifest declares (refused before reading if the member's differs);
    max_bytes: the most data bytes the member may hold.
    """
    name = member + ".npy"
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise ModelFormatError(f"{what}: the archive has no member {name!r}") from None
    try:
        with archive.open(info) as stream:
            prefix = stream.read(10)
            if len(prefix) < 10 or prefix[:6] != MAGIC:
                raise ModelFormatError(f"{what}: member {name!r} is not a .npy array")
            major = prefix[6]
            if major == 1:
                header_len = struct.unpack("<H", prefix[8:10])[0]
            elif major in (2, 3):
                header_len = struct.unpack("<I", prefix[8:10] + stream.read(2))[0]
            else:
                raise ModelFormatError(f"{what}: member {name!r} has unknown .npy version {major}")
            if header_len > 65536:
                raise ModelFormatError(f"{what}: member {name!r} has an oversized .npy header")
            header_text = stream.read(header_len).decode("latin-1")
            try:
                header = ast.literal_eval(header_text)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                raise ModelFormatError(f"{what}: member {name!r} has a malformed .npy header") from None
            if not isinstance(header, dict):
                raise ModelFormatError(f"{what}: member {name!r} has a malformed .npy header")
            descr, fortran, shape = header.get("descr"), header.get("fortran_order"), header.get("shape")
            if descr not in DTYPES:
                raise ModelFormatError(
                    f"{what}: member {name!r} has dtype {descr!r}; only float32 ('<f4'), float64 ('<f8'), float16 ('<f2'), int8, uint8 and int32 ('<i4') are allowed"
                )
            if fortran is not False:
                raise ModelFormatError(f"{what}: member {name!r} is Fortran-ordered; row-major is required")
            if not (isinstance(shape, tuple) and all(type(d) is int and d >= 0 for d in shape)):
                raise ModelFormatError(f"{what}: member {name!r} has a malformed shape {shape!r}")
            count = 1
            for dim in shape:
                count *= dim
            size = count * DTYPES[descr]
            if expected_shape is not None and shape != tuple(expected_shape):
                raise ModelFormatError(f"{what}: member {member!r} has shape {shape}, declared "
                                       f"{tuple(expected_shape)}")
            if max_bytes is not None and size > max_bytes:
                raise ModelFormatError(f"{what}: member {name!r} holds {size:,} bytes, more than {max_bytes:,}")
            offset = (10 if major == 1 else 12) + header_len
            if info.file_size != offset + size:
                raise ModelFormatError(
                    f"{what}: member {name!r} declares {size} bytes of data but holds {info.file_size - offset}"
                )
            data = stream.read(size)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError, ValueError) as exc:
        if isinstance(exc, ModelFormatError):
            raise
        raise ModelFormatError(f"{what}: cannot read member {name!r}: {exc}") from None
    if len(data) != size:
        raise ModelFormatError(f"{what}: member {name!r} is truncated")
    return descr, shape, data
