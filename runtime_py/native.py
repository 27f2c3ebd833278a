"""runtime_py.load("model.so"): a model compiled by `export-model -o NAME.so`, run through ctypes.

Loading a shared library runs code: the library's initialisers run when it is loaded, and its
functions when it predicts. Load only libraries you built (SECURITY.md). runtime_py loads one
only when asked with a path ending in .so (never by content sniffing), and before the dynamic
loader sees the bytes it checks them: an ELF (Mach-O on macOS) object file for this very machine
(word size, byte order and instruction set of the running interpreter), and the sha256 when
pinned. The checked bytes are what gets loaded (on Linux through an anonymous memfd, so a file
swapped after the check is not loaded). After loading it refuses a library without the kl_so_*
functions (not a kerasless library), of another ABI or model-format version, or built for
another machine, then runs the library's selftest once. Standard library only; numpy arrays
are passed by pointer without a copy when they are C-contiguous float32.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import platform
import struct
import sys
import tempfile
from array import array

from runtime_py.errors import ModelFormatError, VerificationError
from runtime_py.model import NUMERIC_KINDS, Model, TensorInfo, _flatten_sample, _nest
from runtime_py.model_file import SUPPORTED_VERSIONS, check_sha256, read_regular_file
from runtime_py.ops import size_of

try:
    import numpy as _np
except ImportError:
    _np = None
_NDARRAY = _np.ndarray if _np is not None else None

ABI_VERSION = 1  # exporter/c/shared_library.py's ABI_VERSION
SUFFIX = ".so"
MAX_MANIFEST_BYTES = 1 << 20
# ELF e_machine for platform.machine() names, used when the interpreter's own header cannot be read
ELF_MACHINES = {"x86_64": 62, "amd64": 62, "aarch64": 183, "arm64": 183, "i386": 3, "i486": 3, "i586": 3,
                "i686": 3, "x86": 3, "armv7l": 40, "armv6l": 40, "arm": 40, "riscv64": 243, "ppc64le": 21,
                "ppc64": 21, "s390x": 22}
ARCH_TAGS = {62: "x86_64", 183: "aarch64", 3: "x86", 40: "arm", 243: "riscv64", 21: "ppc64le", 22: "s390x"}
MACHO_CPUS = {"x86_64": 0x01000007, "arm64": 0x0100000C}
FUNCTIONS = {  # name: (restype, argtypes)
    "kl_so_abi_version": (ctypes.c_int, []),
    "kl_so_format_version": (ctypes.c_int, []),
    "kl_so_machine": (ctypes.c_char_p, []),
    "kl_so_manifest": (ctypes.c_char_p, []),
    "kl_so_sizeof_pointer": (ctypes.c_int, []),
    "kl_so_num_inputs": (ctypes.c_int, []),
    "kl_so_num_outputs": (ctypes.c_int, []),
    "kl_so_input_size": (ctypes.c_int, [ctypes.c_int]),
    "kl_so_output_size": (ctypes.c_int, [ctypes.c_int]),
    "kl_so_predict": (None, [ctypes.c_void_p, ctypes.c_void_p]),
    "kl_so_predict_batch": (None, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_long]),
    "kl_so_predict_rows": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_long]),
    "kl_so_selftest": (ctypes.c_int, [ctypes.POINTER(ctypes.c_float)]),
    "kl_so_test_rows": (ctypes.c_int, []),
}


class NativeLibraryError(ModelFormatError):
    """A .so that runtime_py will not load: not a kerasless library, or built for another machine or format."""


def load(path, backend=None, sha256=None, max_bytes=None) -> "NativeModel":
    """Load a library written by export-model -o NAME.so (see the module docstring for what is checked)."""
    _check_backend(backend)
    shown = os.fsdecode(path)
    return loads(read_regular_file(shown, max_bytes), name=shown, sha256=sha256)


def _check_backend(backend):
    if backend not in (None, "native"):
        raise ValueError(f"a .so runs its compiled C code: backend must be None or 'native', got {backend!r}")


def loads(data: bytes, name: str = "<bytes>", sha256=None, backend=None) -> "NativeModel":
    """Load a kerasless shared library from its bytes (they are checked, then handed to the dynamic loader)."""
    _check_backend(backend)
    data = bytes(data)
    if sha256 is not None:
        check_sha256(data, sha256, name)
    check_object_file(data, name)
    library = _dlopen(data, name)
    return NativeModel(library, name, hashlib.sha256(data).hexdigest())


# ---- what the bytes must be before the dynamic loader sees them -------------------------------


def _host_elf() -> tuple:
    """(class, data, e_machine) of this interpreter: its executable's ELF header, else what platform reports."""
    try:
        with open(os.path.realpath(sys.executable), "rb") as stream:
            head = stream.read(20)
        if head[:4] == b"\x7fELF" and head[5] in (1, 2):
            return head[4], head[5], struct.unpack("<H" if head[5] == 1 else ">H", head[18:20])[0]
    except (OSError, TypeError, ValueError):
        pass
    return (2 if struct.calcsize("P") == 8 else 1, 1 if sys.byteorder == "little" else 2,
            ELF_MACHINES.get(platform.machine().lower(), -1))


def check_object_file(data: bytes, name: str) -> None:
    """Refuse bytes that are not a shared object for this machine, before anything loads them."""
    if data[:4] == b"\x7fELF":
        if len(data) < 64:
            raise NativeLibraryError(f"{name}: a truncated ELF file, not a shared library")
        klass, order = data[4], data[5]
        if order not in (1, 2):
            raise NativeLibraryError(f"{name}: an ELF file of unknown byte order")
        kind, machine = struct.unpack("<HH" if order == 1 else ">HH", data[16:20])
        host = _host_elf()
        if (klass, order, machine) != host:
            raise NativeLibraryError(
                f"{name}: built for another machine ({_elf_text(klass, order, machine)}; this interpreter runs on "
                f"{_elf_text(*host)}); re-export it here with export-model -o NAME.so")
        if kind != 3:  # ET_DYN
            raise NativeLibraryError(f"{name}: an ELF file but not a shared library (type {kind})")
        return
    macho = struct.unpack("<I", data[:4])[0] if len(data) >= 8 else None
    if macho == 0xFEEDFACF:
        cpu = struct.unpack("<I", data[4:8])[0]
        want = MACHO_CPUS.get(platform.machine().lower())
        if sys.platform != "darwin" or cpu != want:
            raise NativeLibraryError(f"{name}: a Mach-O library built for another machine (cpu type {cpu:#x})")
        return
    raise NativeLibraryError(f"{name}: not a shared library (no ELF or Mach-O header); runtime_py loads .so files "
                             "written by export-model -o NAME.so")


def _elf_text(klass, order, machine) -> str:
    arch = ARCH_TAGS.get(machine, f"e_machine {machine}")
    return f"{arch}, {64 if klass == 2 else 32}-bit, {'little' if order == 1 else 'big'}-endian"


def _dlopen(data: bytes, name: str):
    """Hand exactly these bytes to the dynamic loader: an anonymous memfd on Linux, else a private temp file.

    The loader returns an already-loaded library for a path (or file) it has seen, and ctypes never
    unloads one: so the memfd (or the temp file) stays open (in place) for the life of the process,
    and no later library can get its name or inode.
    """
    memfd = getattr(os, "memfd_create", None)
    if memfd is not None and os.path.isdir("/proc/self/fd"):
        fd = memfd("kerasless-model", getattr(os, "MFD_CLOEXEC", 0))
        try:
            _write_all(fd, data)
            library = _cdll(f"/proc/self/fd/{fd}", name)
        except BaseException:
            os.close(fd)
            raise
        _KEPT.append(fd)
        return library
    folder = tempfile.mkdtemp(prefix="kerasless-so-")  # mode 0700: nobody else can swap the file
    path = os.path.join(folder, "model.so")
    with open(path, "wb") as stream:
        stream.write(data)
    _KEPT.append(path)
    return _cdll(path, name)


_KEPT = []  # what backs every loaded library (see _dlopen)


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _cdll(path, name):
    try:
        return ctypes.CDLL(path)
    except OSError as exc:
        raise NativeLibraryError(f"{name}: the dynamic loader refused it: {exc}") from None


# ---- the loaded library ---------------------------------------------------------------------------


def host_machine() -> str:
    """The tag kl_so_machine must return here: "<arch>-<os>-<bits>-<byte order>"."""
    arch = ARCH_TAGS.get(_host_elf()[2], platform.machine().lower())
    system = {"linux": "linux", "darwin": "darwin", "win32": "windows"}.get(sys.platform,
                                                                          "freebsd" if "freebsd" in sys.platform
                                                                          else "unknown")
    if sys.platform == "darwin":
        arch = {"arm64": "aarch64"}.get(platform.machine().lower(), platform.machine().lower())
    return f"{arch}-{system}-{8 * struct.calcsize('P')}-{sys.byteorder}"


def _bind(library, name):
    functions = {}
    for symbol, (restype, argtypes) in FUNCTIONS.items():
        try:
            function = getattr(library, symbol)
        except AttributeError:
            raise NativeLibraryError(f"{name}: not a kerasless shared library (it has no {symbol}); runtime_py "
                                     "loads .so files written by export-model -o NAME.so") from None
        function.restype, function.argtypes = restype, argtypes
        functions[symbol] = function
    return functions


def _manifest(raw, name):
    if raw is None or len(raw) > MAX_MANIFEST_BYTES:
        raise NativeLibraryError(f"{name}: its kl_so_manifest is missing or too long")
    try:
        manifest = json.loads(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise NativeLibraryError(f"{name}: its kl_so_manifest is not valid JSON") from None

    def tensors(key):
        items = manifest.get(key) if isinstance(manifest, dict) else None
        if not isinstance(items, list) or not items:
            raise NativeLibraryError(f"{name}: its manifest has no {key}")
        out = []
        for item in items:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)
                    and isinstance(item[1], list) and all(type(d) is int and 0 < d < 2 ** 31 for d in item[1])):
                raise NativeLibraryError(f"{name}: its manifest lists a malformed {key[:-1]} {item!r:.80}")
            out.append(TensorInfo(item[0], list(item[1])))
        return out

    return manifest, tensors("inputs"), tensors("outputs")


class NativeModel:
    """A kerasless model compiled into a shared library: predict and verify as runtime_py.Model offers them."""

    backend = "native"

    def __init__(self, library, path: str, sha256: str):
        self.path = path
        self.sha256 = sha256
        self._lib = library
        f = self._functions = _bind(library, path)
        if f["kl_so_abi_version"]() != ABI_VERSION:
            raise NativeLibraryError(f"{path}: kl_so ABI version {f['kl_so_abi_version']()}, this runtime_py reads "
                                     f"version {ABI_VERSION}; re-export it with this kerasless")
        self.format_version = f["kl_so_format_version"]()
        if self.format_version not in SUPPORTED_VERSIONS:
            raise NativeLibraryError(f"{path}: exported for kerasless format version {self.format_version}; this "
                                     f"runtime_py reads {', '.join(map(str, SUPPORTED_VERSIONS))}; re-export it")
        self.machine = (f["kl_so_machine"]() or b"").decode("ascii", "replace")
        if self.machine != host_machine() or f["kl_so_sizeof_pointer"]() != struct.calcsize("P"):
            raise NativeLibraryError(f"{path}: built for {self.machine!r}, this machine is {host_machine()!r}; "
                                     "re-export it here with export-model -o NAME.so")
        manifest, self.inputs, self.outputs = _manifest(f["kl_so_manifest"](), path)
        self.name = manifest.get("name", "")
        self.weights_sha256 = manifest.get("weights_sha256", "")
        sizes_in = [f["kl_so_input_size"](k) for k in range(f["kl_so_num_inputs"]())]
        sizes_out = [f["kl_so_output_size"](k) for k in range(f["kl_so_num_outputs"]())]
        if sizes_in != [size_of(t.shape) for t in self.inputs] or sizes_out != [size_of(t.shape) for t in self.outputs]:
            raise NativeLibraryError(f"{path}: its manifest's shapes disagree with its kl_so_*_size functions")
        self._in_sizes, self._out_sizes = sizes_in, sizes_out
        self._rows = f["kl_so_predict_rows"]
        self._batch = f["kl_so_predict_batch"]
        self._single = len(self.inputs) == 1 and len(self.outputs) == 1
        self._in_shape = tuple(self.inputs[0].shape)
        self._out_shape = tuple(self.outputs[0].shape)
        self._f32 = _np.dtype(_np.float32) if _np is not None else None
        self.selftest_max_abs_error = self.verify()  # once: this machine reproduces the embedded outputs

    def __repr__(self):
        return f"<runtime_py.NativeModel {self.name!r} inputs={self.inputs} outputs={self.outputs} from {self.path!r}>"

    def verify(self) -> float:
        """Run the library's selftest (its embedded test vectors); raise VerificationError if a value fails."""
        worst = ctypes.c_float(0.0)
        failures = self._functions["kl_so_selftest"](ctypes.byref(worst))
        if failures:
            raise VerificationError(f"{self.path}: the library's selftest refuses {failures} of its test values "
                                    f"(max abs error {worst.value:.3g}): this build does not reproduce Keras")
        return float(worst.value)

    # ---- predict -------------------------------------------------------------------------------

    def predict(self, x):
        """Run a batch (or a list of batches, one per input); return one batch per output, as Model.predict."""
        if (self._single and type(x) is _NDARRAY and x.dtype is self._f32 and x.shape[1:] == self._in_shape
                and x.flags.c_contiguous and x.shape[0]):
            out = _np.empty((x.shape[0],) + self._out_shape, dtype=_np.float32)
            self._rows(_address(x), _address(out), x.shape[0])  # by pointer, no copy
            return out
        values = Model._split_inputs(self, x)
        as_numpy = _np is not None and any(isinstance(v, _np.ndarray) for v in values)
        batches = [self._batch_of(v, info) for v, info in zip(values, self.inputs)]
        counts = {rows for _, rows in batches}
        if len(counts) > 1:
            raise ValueError(f"inputs have different batch sizes: {[rows for _, rows in batches]}")
        rows = counts.pop()
        if as_numpy:
            outs = [_np.empty((rows,) + tuple(t.shape), dtype=_np.float32) for t in self.outputs]
            out_pointers = [_address(o) if rows else 0 for o in outs]
        else:
            outs = [array("f", bytes(4 * rows * size)) for size in self._out_sizes]
            out_pointers = [o.buffer_info()[0] for o in outs]
        if rows:
            in_pointers = [_address(b) if _np is not None and isinstance(b, _np.ndarray) else b.buffer_info()[0]
                           for b, _ in batches]
            self._batch((ctypes.c_void_p * len(in_pointers))(*in_pointers),
                        (ctypes.c_void_p * len(out_pointers))(*out_pointers), rows)
        if not as_numpy:
            outs = [[_nest(o[r * size:(r + 1) * size].tolist(), t.shape) for r in range(rows)]
                    for o, size, t in zip(outs, self._out_sizes, self.outputs)]
        return outs[0] if len(outs) == 1 else outs

    _rank = staticmethod(Model._rank)  # what Model._split_inputs asks

    def _batch_of(self, value, info):
        """(contiguous float32 rows, row count) of one input: a numpy array (copied only if it must be) or an array('f')."""
        if _np is not None and isinstance(value, _np.ndarray):
            if value.dtype.kind not in NUMERIC_KINDS:
                raise TypeError(f"input {info.name!r}: an array of dtype {value.dtype} is not numeric")
            if value.ndim != len(info.shape) + 1 or value.shape[1:] != tuple(info.shape):
                raise ValueError(f"input {info.name!r}: expected shape (batch, {', '.join(map(str, info.shape))}), "
                                 f"got {value.shape}")
            return _np.ascontiguousarray(value, dtype=_np.float32), value.shape[0]
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"input {info.name!r}: expected a batch (list of samples), got {type(value).__name__}")
        flat = array("f")
        for k, sample in enumerate(value):
            flat.extend(_flatten_sample(sample, tuple(info.shape), f"input {info.name!r}, sample {k}"))
        return flat, len(value)


def _address(values) -> int:
    """Address of a C-contiguous numpy array's first value: through ctypes' buffer export (three times
    faster than values.ctypes.data), or values.ctypes.data for a read-only array."""
    try:
        return ctypes.addressof(ctypes.c_char.from_buffer(values))
    except (TypeError, ValueError, BufferError):
        return values.ctypes.data
