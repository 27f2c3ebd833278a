"""export-model -o NAME.so and runtime_py.load("NAME.so"): the compiled header through ctypes.

Parity: the library's rows equal NAME_predict's (the same header in a C driver, the same -O2)
bit for bit, from numpy arrays and from lists, at batch 1, 7 and 1024. Refusals: a file that is
not a shared library, a library for another machine, one without the kl_so_* functions, one of
another ABI or format version; none of them may reach the dynamic loader's code unless it is
an object file for this machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import runtime_py
from cbuild import build, compiler
from cheader import MultiModelProgram
from parity import assert_parity
from runtime_py.native import NativeLibraryError

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the .so tests run on Linux (ELF)")


@pytest.fixture(scope="module")
def cc():
    return compiler("cc") if shutil.which("cc") else compiler("gcc")


@pytest.fixture(scope="module")
def libraries(zoo, cc):
    """zoo name -> loaded NativeModel (each exported once to .so)."""
    return {name: runtime_py.load(zoo.exported(name, "keras", ".so")) for name in ("digits", "mnist", "no_bias",
                                                                                    "chain_functional", "regressor")}


@pytest.fixture(scope="module")
def header_driver(zoo, tmp_path_factory, libraries):
    """The same models' headers in one C driver compiled at -O2: NAME_predict row by row."""
    program = MultiModelProgram(tmp_path_factory.mktemp("so-headers"))
    for name in libraries:
        program.add(name, zoo.exported(name, "keras", ".h"), name, 1, 1)  # the prefix: the saved file's stem
    return program, program.build(opt="-O2")


@pytest.mark.parametrize("rows", [1, 7, 1024])
def test_library_rows_equal_the_header_bit_for_bit(zoo, libraries, header_driver, rows):
    program, exe = header_driver
    for name, library in libraries.items():
        x = zoo.inputs(name, rows=rows, seed=rows + 3)[0]
        want = program.predict(exe, name, [x], [tuple(library.outputs[0].shape)])[0]
        got = library.predict(x)
        assert got.dtype == np.float32 and got.shape == want.shape
        assert got.tobytes() == want.tobytes(), f"{name} rows={rows}"
        assert_parity(got, zoo.keras_predict(name, [x])[0], f"{name}.so rows={rows}")


def test_lists_and_other_arrays_give_the_same_rows(zoo, libraries):
    library = libraries["digits"]  # input shape (8, 8): nested lists
    x = zoo.inputs("digits", rows=5, seed=9)[0]
    want = library.predict(x)
    as_lists = library.predict(x.tolist())
    assert isinstance(as_lists, list) and np.array_equal(np.array(as_lists, dtype=np.float32), want)
    wide = np.repeat(x, 2, axis=2)[:, :, ::2]  # not C-contiguous: copied, same values
    assert not wide.flags.c_contiguous and np.array_equal(wide, x)
    for other in (x.astype(np.float64), wide, x.astype(">f4"), [x]):
        assert library.predict(other).tobytes() == want.tobytes()
    assert library.predict(x[:0]).shape == (0, 10)
    with pytest.raises(ValueError, match="expected shape"):
        library.predict(np.zeros((2, 7, 8), np.float32))
    with pytest.raises(TypeError, match="not a number"):
        library.predict([[["1"] * 8] * 8])


def test_selftest_runs_at_load_and_verify_reports_it(libraries):
    for library in libraries.values():
        assert library.selftest_max_abs_error >= 0.0
        assert library.verify() == library.selftest_max_abs_error
        assert library.backend == "native" and library.format_version == 1
        assert library.machine.startswith(("x86_64-linux-64", "aarch64-linux-64"))


@pytest.fixture(scope="module")
def two_by_two(keras, tmp_path_factory, cc):
    """Two inputs, two outputs: kl_so_predict_batch's pointer arrays."""
    from exporter.export import export

    L = keras.layers
    keras.utils.set_random_seed(5)
    a, b = keras.Input((3,), name="a"), keras.Input((4,), name="b")
    joined = L.Concatenate()([L.Dense(5, activation="tanh")(a), b])
    model = keras.Model([a, b], [L.Dense(2, activation="softmax", name="p")(joined),
                                 L.Dense(3, name="q")(joined)], name="two_by_two")
    folder = tmp_path_factory.mktemp("two")
    model.save(folder / "two.keras")
    export(folder / "two.keras", [folder / "two.so", folder / "two.h", folder / "two.json"])
    return model, folder


def test_several_inputs_and_outputs(two_by_two, tmp_path):
    model, folder = two_by_two
    library = runtime_py.load(folder / "two.so")
    rng = np.random.default_rng(2)
    x = [rng.standard_normal((9, 3)).astype(np.float32), rng.standard_normal((9, 4)).astype(np.float32)]
    got = library.predict(x)
    program = MultiModelProgram(tmp_path)
    program.add("two", folder / "two.h", "two", 2, 2)
    want = program.predict(program.build(opt="-O2"), "two", x, [(2,), (3,)])
    assert [g.tobytes() for g in got] == [w.tobytes() for w in want]
    for g, k in zip(got, model.predict(x, verbose=0)):
        assert_parity(g, k, "two_by_two.so")
    by_name = library.predict({"b": x[1], "a": x[0]})
    assert [g.tobytes() for g in by_name] == [w.tobytes() for w in want]
    lists = library.predict([x[0].tolist(), x[1].tolist()])
    assert np.array_equal(np.array(lists[1], dtype=np.float32), want[1])
    with pytest.raises(ValueError, match="different batch sizes"):
        library.predict([x[0], x[1][:3]])


# ---- refusals ------------------------------------------------------------------------------------


def test_only_an_so_path_loads_a_library(zoo, tmp_path):
    library = zoo.exported("regressor", "keras", ".so")
    disguised = tmp_path / "model.json"
    shutil.copyfile(library, disguised)
    with pytest.raises(runtime_py.ModelFormatError):  # read as a model file, never handed to the loader
        runtime_py.load(disguised)
    with pytest.raises(runtime_py.ModelFormatError):
        runtime_py.loads(Path(library).read_bytes())
    with pytest.raises(ValueError, match="backend"):
        runtime_py.load(library, backend="numpy")
    upper = tmp_path / "MODEL.SO"
    shutil.copyfile(library, upper)
    assert runtime_py.load(upper).predict(np.zeros((1, 33), np.float32)).shape == (1, 1)


def test_a_renamed_file_that_is_not_a_library_is_refused(zoo, tmp_path):
    for name, data in (("json.so", Path(zoo.exported("regressor", "keras", ".json")).read_bytes()),
                       ("empty.so", b""), ("short.so", b"\x7fELF\x02\x01\x01"),
                       ("script.so", b"#!/bin/sh\necho hostile\n")):
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(NativeLibraryError, match="not a shared library|truncated ELF"):
            runtime_py.load(path)


def test_a_library_for_another_machine_is_refused_before_loading(zoo, tmp_path):
    data = bytearray(Path(zoo.exported("regressor", "keras", ".so")).read_bytes())
    for offset, value, what in ((18, 0x28 if data[18] != 0x28 else 0x3E, "e_machine"), (4, 1, "32-bit class"),
                                (5, 2, "big-endian")):
        changed = bytearray(data)
        changed[offset] = value
        if what == "e_machine":
            changed[19] = 0
        path = tmp_path / f"{what.replace(' ', '_')}.so"
        path.write_bytes(bytes(changed))
        with pytest.raises(NativeLibraryError, match="another machine"):
            runtime_py.load(path)
    executable = tmp_path / "program.so"  # an ELF executable of this machine, not ET_DYN
    changed = bytearray(data)
    changed[16] = 2  # ET_EXEC
    executable.write_bytes(bytes(changed))
    with pytest.raises(NativeLibraryError, match="not a shared library"):
        runtime_py.load(executable)


def test_sha256_pins_the_library(zoo):
    import hashlib

    path = zoo.exported("regressor", "keras", ".so")
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    assert runtime_py.load(path, sha256=digest).sha256 == digest
    with pytest.raises(runtime_py.ModelFormatError, match="not the pinned file"):
        runtime_py.load(path, sha256="0" * 64)


FAKE = r"""
#define E __attribute__((visibility("default")))
E int kl_so_abi_version(void) { return ABI; }
E int kl_so_format_version(void) { return FORMAT; }
E const char *kl_so_machine(void) { return MACHINE; }
E const char *kl_so_manifest(void) { return "{\"name\":\"fake\",\"inputs\":[[\"x\",[2]]],\"outputs\":[[\"y\",[1]]]}"; }
E int kl_so_sizeof_pointer(void) { return (int)sizeof(void *); }
E int kl_so_num_inputs(void) { return 1; }
E int kl_so_num_outputs(void) { return 1; }
E int kl_so_input_size(int k) { return k == 0 ? 2 : -1; }
E int kl_so_output_size(int k) { return k == 0 ? 1 : -1; }
E void kl_so_predict(const float *const *in, float *const *out) { out[0][0] = in[0][0] + in[0][1]; }
E void kl_so_predict_batch(const float *const *in, float *const *out, long n)
{ for (long r = 0; r < n; r++) out[0][r] = in[0][2 * r] + in[0][2 * r + 1]; }
E int kl_so_predict_rows(const float *in, float *out, long n)
{ for (long r = 0; r < n; r++) out[r] = in[2 * r] + in[2 * r + 1]; return 0; }
E int kl_so_selftest(float *err) { if (err) *err = 0.0f; return FAILURES; }
E int kl_so_test_rows(void) { return 0; }
"""


def _fake(tmp_path, cc, name, drop=None, **defines):
    from runtime_py.native import host_machine

    values = {"ABI": "1", "FORMAT": "1", "MACHINE": f'"{host_machine()}"', "FAILURES": "0", **defines}
    source = tmp_path / f"{name}.c"
    text = FAKE if drop is None else "\n".join(line for line in FAKE.splitlines() if drop not in line)
    source.write_text("".join(f"#define {k} {v}\n" for k, v in values.items()) + text)
    out = tmp_path / f"{name}.so"
    subprocess.run([cc, "-O1", "-shared", "-fPIC", "-fvisibility=hidden", str(source), "-o", str(out)], check=True)
    return out


def test_the_abi_checks_on_a_hand_written_library(tmp_path, cc):
    good = runtime_py.load(_fake(tmp_path, cc, "good"))  # the checks pass for a library that keeps the ABI
    assert good.predict([[1.0, 2.0], [3.0, 4.5]]) == [[3.0], [7.5]]
    cases = [("abi", {"ABI": "2"}, None, "ABI version 2"),
             ("format", {"FORMAT": "99"}, None, "format version 99"),
             ("machine", {"MACHINE": '"sparc-plan9-64-big"'}, None, "built for 'sparc-plan9-64-big'"),
             ("symbols", {}, "kl_so_selftest", "not a kerasless shared library .*kl_so_selftest")]
    for name, defines, drop, message in cases:
        with pytest.raises(NativeLibraryError, match=message):
            runtime_py.load(_fake(tmp_path, cc, name, drop, **defines))
    with pytest.raises(runtime_py.VerificationError, match="selftest refuses 3"):
        runtime_py.load(_fake(tmp_path, cc, "failing", FAILURES="3"))


def test_a_shared_library_that_is_not_kerasless(tmp_path, cc):
    source = tmp_path / "other.c"
    source.write_text("int add(int a, int b) { return a + b; }\n")
    out = tmp_path / "other.so"
    subprocess.run([cc, "-shared", "-fPIC", str(source), "-o", str(out)], check=True)
    with pytest.raises(NativeLibraryError, match="not a kerasless shared library"):
        runtime_py.load(out)


# ---- the command line --------------------------------------------------------------------------


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "exporter", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=600)


def test_cli_without_a_compiler_says_so_in_one_line(zoo, tmp_path):
    source = zoo.saved("regressor", "keras")
    target = tmp_path / "model.so"
    target.write_bytes(b"keep me")
    done = _cli(source, "-o", target, "-o", tmp_path / "model.json", env={"CC": "/nonexistent/cc"})
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ") and "C compiler" in done.stderr
    assert target.read_bytes() == b"keep me" and not (tmp_path / "model.json").exists()


def test_cli_writes_a_library_that_loads(zoo, tmp_path):
    target = tmp_path / "reg.so"
    done = _cli(zoo.saved("regressor", "keras"), "-o", target)
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stdout and "runtime_py.load" in done.stdout
    x = zoo.inputs("regressor", rows=4, seed=1)[0]
    assert runtime_py.load(target).predict(x).tobytes() == runtime_py.load(
        zoo.exported("regressor", "keras", ".so")).predict(x).tobytes()
