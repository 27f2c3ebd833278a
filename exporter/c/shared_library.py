"""export-model -o NAME.so: the generated header compiled into a shared library with the kl_so_* C ABI.

The library is the header (exporter/c/render.py) plus templates/model_so.c.j2, compiled with the
system's C compiler ($CC, else cc, gcc or clang) at -O2 and nothing machine-specific: the header's
own run-time dispatch (target_clones, runtime_c/dense.h) picks the AVX2/AVX-512 kernels where the
machine has them, so the library runs on any machine of its architecture. runtime_py.load reads
it with ctypes (runtime_py/native.py); docs/c-api.md ("Shared library") lists the ABI.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from exporter import __version__
from exporter.c.render import to_header
from exporter.c.resources import template
from exporter.errors import ExportError
from exporter.ir import Graph, size_of
from exporter.model_file import FORMAT_VERSION

ABI_VERSION = 1  # runtime_py/native.py's ABI_VERSION must match
COMPILERS = ("cc", "gcc", "clang")
FLAGS = ("-O2", "-shared", "-fPIC", "-fvisibility=hidden")
COMPILE_SECONDS = 1800  # a header of 10 MB of weight literals takes minutes at -O2 on a busy machine


def find_compiler() -> list:
    """The C compiler command: $CC (split like a shell word list), else the first of cc, gcc, clang on PATH."""
    configured = os.environ.get("CC", "").strip()
    if configured:
        command = shlex.split(configured)
        if shutil.which(command[0]) is None:
            raise ExportError(f"cannot write a .so: the C compiler $CC={configured!r} is not found")
        return command
    for name in COMPILERS:
        if shutil.which(name) is not None:
            return [name]
    raise ExportError("cannot write a .so: no C compiler found (tried $CC, cc, gcc, clang); install one, "
                      "or export NAME.h and compile it yourself")


def _c_string(text: str) -> str:
    """A C string literal's body for ASCII text (json.dumps(..., ensure_ascii=True) gives only ASCII)."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("?", "\\?")


def manifest(graph: Graph) -> str:
    """The JSON kl_so_manifest returns: what runtime_py needs to shape inputs and outputs."""
    return json.dumps({"name": graph.name, "kerasless": __version__, "weights_sha256": graph.weights_sha256(),
                       "inputs": [[t.name, list(t.shape)] for t in graph.inputs],
                       "outputs": [[t.name, list(t.shape)] for t in graph.outputs]},
                      ensure_ascii=True, separators=(",", ":"))


def library_source(graph: Graph, header_name: str) -> str:
    """The C file that includes the header and defines the kl_so_* functions."""
    prefix = graph.name
    return template("model_so.c.j2").render(
        prefix=prefix, version=__version__, header=header_name, abi_version=ABI_VERSION,
        format_version=FORMAT_VERSION, manifest=_c_string(manifest(graph)),
        single=len(graph.inputs) == 1 and len(graph.outputs) == 1,
        input_sizes=", ".join(str(size_of(t.shape)) for t in graph.inputs),
        output_sizes=", ".join(str(size_of(t.shape)) for t in graph.outputs))


def to_shared_library(graph: Graph, vectors: list, producer: dict, gradients: dict | None = None) -> bytes:
    """Render the header, compile it with the kl_so_* ABI into a shared library; return the library's bytes."""
    header = to_header(graph, vectors, producer, gradients)
    compiler = find_compiler()
    with tempfile.TemporaryDirectory(prefix="kerasless-so-") as scratch:
        folder = Path(scratch)
        header_name = f"{graph.name}.h"
        (folder / header_name).write_bytes(header)
        (folder / "library.c").write_text(library_source(graph, header_name), encoding="utf-8")
        command = [*compiler, *FLAGS, "library.c", "-o", "library.so", "-lm"]
        try:
            done = subprocess.run(command, cwd=folder, capture_output=True, text=True, errors="replace",
                                  timeout=COMPILE_SECONDS, stdin=subprocess.DEVNULL)
        except OSError as exc:
            raise ExportError(f"cannot write a .so: running {compiler[0]} failed: {exc.strerror or exc}") from None
        except subprocess.TimeoutExpired:
            raise ExportError(f"cannot write a .so: {compiler[0]} ran longer than {COMPILE_SECONDS} s") from None
        if done.returncode != 0 or not (folder / "library.so").is_file():
            first = next((line for line in (done.stderr or "").splitlines() if "error" in line), None)
            first = first or (done.stderr or "").strip().splitlines()[:1] or [f"exit status {done.returncode}"]
            first = first if isinstance(first, str) else first[0]
            raise ExportError(f"cannot write a .so: {' '.join(command[:1])} failed: {first.strip()[:300]}")
        return (folder / "library.so").read_bytes()
