"""Compile and run C/C++ test programs: the compilers and flag sets the C tests use."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_C = ROOT / "runtime_c"

# The warning set the generated header and the kernels must pass (issue 3, docs/c-api.md).
STRICT_C = ["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-Wdouble-promotion", "-Wfloat-conversion",
            "-Wshadow"]
STRICT_CXX = ["-std=c++11", "-Wall", "-Wextra", "-Werror", "-Wpedantic", "-Wshadow"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g"]

CXX_OF = {"gcc": "g++", "clang": "clang++"}


def compiler(name: str) -> str:
    """Path of a compiler (gcc, g++, clang, clang++); skip the test with a reason when it is missing."""
    path = shutil.which(name)
    if path is None:
        package = {"clang": "clang", "clang++": "clang"}.get(name, "gcc g++")
        pytest.skip(f"{name} is not installed (apt-get install {package})")
    return path


def build(sources, output: Path, cc: str = "gcc", flags=(), include=(), opt: str = "-O2", libs=("-lm",)) -> Path:
    """Compile sources into an executable; fail the test with the compiler's messages on any warning."""
    is_cxx = cc.endswith("++")
    base = STRICT_CXX if is_cxx else STRICT_C
    command = [compiler(cc), *base, opt, *flags, *(f"-I{d}" for d in include), *map(str, sources), "-o", str(output),
               *libs]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if done.returncode != 0 or done.stderr.strip():
        pytest.fail(f"compile failed or warned:\n$ {' '.join(command)}\n{done.stderr}", pytrace=False)
    return output


def run(executable: Path, *args, stdin: bytes = b"", check=True) -> subprocess.CompletedProcess:
    """Run a compiled program; sanitizer reports and non-zero exits fail the test."""
    env = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0", "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}
    done = subprocess.run([str(executable), *map(str, args)], input=stdin, capture_output=True, timeout=300,
                          env=env)
    if check and (done.returncode != 0 or b"runtime error" in done.stderr or b"Sanitizer" in done.stderr):
        pytest.fail(f"{executable.name} exited {done.returncode}:\n{done.stderr.decode(errors='replace')}",
                    pytrace=False)
    return done


def float32_bytes(*arrays) -> bytes:
    """Row-major little-endian float32 bytes of arrays (a program's stdin)."""
    return b"".join(np.ascontiguousarray(a, dtype="<f4").tobytes() for a in arrays)


def read_float32(data: bytes, shape) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4").reshape(shape)


# A C helper every test driver needs: read `count` float32 values from stdin or exit(2).
READ_FLOATS_C = r"""
static float *read_floats(size_t count)
{
    float *values = (float *)malloc((count ? count : 1) * sizeof(float));
    if (values == NULL || fread(values, sizeof(float), count, stdin) != count) {
        fprintf(stderr, "short input\n");
        exit(2);
    }
    return values;
}
"""


def run_rows(exe: Path, args, inputs, output_shapes) -> list:
    """Feed input batches (one array per model input) to a driver as float32 rows; split its output rows."""
    rows = inputs[0].shape[0]
    flat = np.concatenate([np.asarray(x, dtype=np.float32).reshape(rows, -1) for x in inputs], axis=1)
    done = run(exe, *args, stdin=float32_bytes(flat))
    sizes = [int(np.prod(s)) for s in output_shapes]
    table = read_float32(done.stdout, (rows, sum(sizes)))
    results, start = [], 0
    for size, shape in zip(sizes, output_shapes):
        results.append(table[:, start:start + size].reshape((rows, *shape)))
        start += size
    return results
