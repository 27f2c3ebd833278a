"""C text for values: exact float literals, aligned rows of them, safe comments, shapes."""

from __future__ import annotations

import numpy as np

VALUES_PER_LINE = 8


def float_literal(value) -> str:
    """Return a C expression for a float32 that the compiler reads back to the same bits.

    Finite values use the shortest decimal that round-trips (numpy's Dragon4) plus the
    `f` suffix; C has no literal for inf and NaN, so those use math.h's INFINITY and NAN
    (a NaN keeps its sign but not its payload).
    """
    v = np.float32(value)
    if np.isnan(v):
        return "-NAN" if np.signbit(v) else "NAN"
    if np.isinf(v):
        return "-INFINITY" if v < 0 else "INFINITY"
    magnitude = abs(float(v))
    if magnitude == 0.0 or 1e-4 <= magnitude < 1e16:
        text = np.format_float_positional(v, unique=True, trim="0")  # 0.0, -0.0, 1.0, 0.25
    else:
        text = np.format_float_scientific(v, unique=True, trim="-")  # 1e-45, 3.4028235e+38
    return text + "f"


def param_literal(value) -> str:
    """An activation parameter as a C argument: booleans as int 1/0, numbers as exact floats."""
    if isinstance(value, bool):
        return "1" if value else "0"
    return float_literal(value)


def c_comment(text: str) -> str:
    """Make text safe inside a /* */ comment on one line: ASCII only, no */ or /*, no newline."""
    out = []
    for ch in str(text):
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch])
        elif 32 <= code < 127:
            out.append(ch)
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    safe = "".join(out)
    while "*/" in safe or "/*" in safe or "??" in safe:  # ?? would start a trigraph in C99
        safe = safe.replace("*/", "* /").replace("/*", "/ *").replace("??", "? ?")
    return safe


def shape_text(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def literal_rows(values, row_length: int) -> list:
    """Format a flat float32 array as aligned lines of literals; every row of row_length starts a line."""
    flat = np.ascontiguousarray(values, dtype=np.float32).ravel()
    literals = [float_literal(v) for v in flat]
    width = max((len(s) for s in literals), default=0)
    row_length = max(int(row_length), 1)
    lines = []
    for start in range(0, len(literals), row_length):
        row = literals[start:start + row_length]
        for k in range(0, len(row), VALUES_PER_LINE):
            lines.append(" ".join(f"{s:>{width}}," for s in row[k:k + VALUES_PER_LINE]))
    if lines:
        lines[-1] = lines[-1].rstrip(",")
    return lines


def c_list(values) -> str:
    """The inside of a C initializer: a, b, c."""
    return ", ".join(str(v) for v in values)


def int_rows(values, row_length: int) -> list:
    """Format ints as aligned lines; every row of row_length starts a line."""
    texts = [str(int(v)) for v in values]
    width = max((len(s) for s in texts), default=0)
    row_length = max(int(row_length), 1)
    lines = []
    for start in range(0, len(texts), row_length):
        row = texts[start:start + row_length]
        for k in range(0, len(row), 2 * VALUES_PER_LINE):
            lines.append(" ".join(f"{s:>{width}}," for s in row[k:k + 2 * VALUES_PER_LINE]))
    if lines:
        lines[-1] = lines[-1].rstrip(",")
    return lines
