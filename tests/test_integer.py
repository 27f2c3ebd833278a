"""Integer-only int8 models: export-model --integer --calibrate X.npy (docs/format.md "Integer models").

Per model of the table: the runtime_py backends (pure-Python ints, numpy int64) and the C header
give the same int8 outputs on every row, and the float wrappers the same float32 bits; the
quantization follows the documented rules (checked here with numpy, not with the exporter's
code); the header's integer path builds for a Cortex-M0 in soft float without any float helper
and passes its selftest there; bad options and hostile files are refused with one clear error.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import runtime_py
from cbuild import build, run
from runtime_py.errors import ModelFormatError

ROOT = Path(__file__).resolve().parent.parent
DIGITS = ROOT / "examples" / "digits.h5"
HOLDOUT = ROOT / "examples" / "digits_holdout.csv"
sys.path.insert(0, str(ROOT / "examples" / "mcu"))

import mcu  # noqa: E402


def digits_rows():
    """The digits images as the model takes them, from the held-back CSV and scikit-learn's set if present."""
    table = np.loadtxt(HOLDOUT, delimiter=",", skiprows=1)
    return table[:, 1:].reshape(-1, 8, 8).astype(np.float32), table[:, 0].astype(np.int64)


def _mlp(keras, name, sizes, activations, seed, shape=None):
    L = keras.layers
    keras.utils.set_random_seed(seed)
    layers = [keras.Input(shape or (sizes[0],))]
    if shape is not None:
        layers.append(L.Flatten())
    for units, act in zip(sizes[1:], activations):
        if act.startswith("layer:"):  # a Dense followed by a separate Activation layer
            layers += [L.Dense(units), L.Activation(act[6:])]
        else:
            layers.append(L.Dense(units, activation=act))
    return keras.Sequential(layers, name=name)


def _models(keras):
    """name -> (Keras model, calibration rows): the integer test table."""
    rng = np.random.default_rng(3)
    models = {}
    models["relu_mlp"] = (_mlp(keras, "relu_mlp", [12, 16, 8, 3], ["relu", "relu", "linear"], 1),
                          rng.normal(size=(200, 12)).astype(np.float32))
    models["relu6_mlp"] = (_mlp(keras, "relu6_mlp", [5, 20, 9, 4],
                                ["relu6", "layer:relu6", "linear"], 2),
                           (3 * rng.normal(size=(64, 5))).astype(np.float32))
    models["tanh_softmax"] = (_mlp(keras, "tanh_softmax", [6, 10, 5], ["tanh", "softmax"], 4),
                              rng.uniform(-2, 3, size=(100, 6)).astype(np.float32))
    models["smooth_mlp"] = (_mlp(keras, "smooth_mlp", [6, 12, 10, 8, 3], ["elu", "layer:gelu", "leaky_relu", "swish"], 7),
                            rng.normal(size=(80, 6)).astype(np.float32))
    zero = _mlp(keras, "zero_column", [7, 6, 2], ["relu", "linear"], 5)
    kernel, bias = zero.layers[0].get_weights()
    kernel[:, 2] = 0.0  # an all-zero column whose bias alone must come through
    bias[2] = 0.75
    zero.layers[0].set_weights([kernel, bias])
    models["zero_column"] = (zero, rng.normal(size=(50, 7)).astype(np.float32))
    constant = rng.normal(size=(40, 4)).astype(np.float32)
    constant[:, 1] = 2.5  # a feature that never changes
    models["constant_feature"] = (_mlp(keras, "constant_feature", [4, 8, 3], ["sigmoid", "linear"], 6), constant)
    return models


@pytest.fixture(scope="module")
def table(keras, tmp_path_factory):
    """name -> dict(paths by suffix, calibration rows, Keras model); digits from examples/digits.h5."""
    from exporter.export import export

    directory = tmp_path_factory.mktemp("integer")
    entries = {}
    x, _ = digits_rows()
    digits_calibration = np.concatenate([x] * 2)  # 200 rows
    sources = {"digits": (DIGITS, digits_calibration, None)}
    for name, (model, calibration) in _models(keras).items():
        path = directory / f"{name}.keras"
        model.save(path)
        sources[name] = (path, calibration, model)
    for name, (source, calibration, model) in sources.items():
        np.save(directory / f"{name}-cal.npy", calibration)
        paths = {s: directory / f"{name}{s}" for s in (".json", ".npz", ".h")}
        result = export(source, list(paths.values()), name=name, integer=True,
                        calibrate=directory / f"{name}-cal.npy")
        entries[name] = {"paths": paths, "calibration": calibration, "result": result}
    return entries


NAMES = ["digits", "relu_mlp", "relu6_mlp", "tanh_softmax", "smooth_mlp", "zero_column", "constant_feature"]


def _probe_rows(entry, model, count=64):
    """int8 rows to compare on: the calibration rows quantized, and random int8 rows over the whole range."""
    q = model.quantize(entry["calibration"][:count])
    noise = np.random.default_rng(11).integers(-128, 128, size=(count,) + q.shape[1:]).astype(np.int8)
    return np.concatenate([q, noise])


# ---- the C side ------------------------------------------------------------------------------

DRIVER = r"""
#include <stdio.h>
#include <string.h>
#include "{header}"
/* argv[1] "int8": int8 rows on stdin -> int8 outputs; "float": float32 rows -> float32 outputs; "selftest" */
int main(int argc, char **argv)
{{
    if (argc > 1 && strcmp(argv[1], "int8") == 0) {{
        int8_t in[{p}_INPUT_SIZE], out[{p}_OUTPUT_SIZE];
        while (fread(in, 1, sizeof in, stdin) == sizeof in) {{
            {p}_predict_int8(in, out);
            fwrite(out, 1, sizeof out, stdout);
        }}
        return 0;
    }}
#ifndef KL_INTEGER_ONLY
    if (argc > 1 && strcmp(argv[1], "float") == 0) {{
        float in[{p}_INPUT_SIZE], out[{p}_OUTPUT_SIZE];
        while (fread(in, sizeof(float), {p}_INPUT_SIZE, stdin) == {p}_INPUT_SIZE) {{
            {p}_predict(in, out);
            fwrite(out, sizeof(float), {p}_OUTPUT_SIZE, stdout);
        }}
        return 0;
    }}
#endif
    float err = -1.0f;
    const int failures = {p}_selftest(&err);
    printf("%d %d\n", failures, err == 0.0f);
    return failures != 0;
}}
"""


def host_driver(entry, name, directory: Path, cc="gcc", flags=()) -> Path:
    header = entry["paths"][".h"]
    suffix = ".cc" if cc.endswith("++") else ".c"
    source = directory / f"{name}-driver{suffix}"
    source.write_text(DRIVER.format(header=header.name, p=name))
    sanitize = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g"] if cc == "gcc" else []
    return build([source], directory / f"{name}-{cc}-driver", cc=cc, flags=[*sanitize, *flags],
                 include=[header.parent])


@pytest.mark.parametrize("name", NAMES)
def test_python_backends_and_c_give_the_same_int8_outputs(table, tmp_path, name):
    entry = table[name]
    python = runtime_py.load(entry["paths"][".json"], backend="python")
    numpy_model = runtime_py.load(entry["paths"][".npz"], backend="numpy")
    rows = _probe_rows(entry, numpy_model)
    expected = numpy_model.predict_int8(rows)
    assert expected.dtype == np.int8
    assert python.predict_int8(rows.tolist()) == expected.tolist()
    done = run(host_driver(entry, name, tmp_path), "int8", stdin=rows.tobytes())
    c = np.frombuffer(done.stdout, dtype=np.int8).reshape(expected.shape)
    np.testing.assert_array_equal(c, expected)
    assert run(host_driver(entry, name, tmp_path), "selftest").stdout.split() == [b"0", b"1"]


@pytest.mark.parametrize("name", NAMES)
def test_float_wrappers_agree_bit_for_bit(table, tmp_path, name):
    entry = table[name]
    model = runtime_py.load(entry["paths"][".json"], backend="numpy")
    python = runtime_py.load(entry["paths"][".json"], backend="python")
    x = entry["calibration"][:32].copy()
    x.reshape(len(x), -1)[0, :3] = [np.nan, 1e30, -1e30]  # NaN gives the zero point; huge values clamp
    ours = model.predict(x)
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(python.predict(x.tolist()), dtype=np.float32), ours)
    done = run(host_driver(entry, name, tmp_path), "float", stdin=np.ascontiguousarray(x, "<f4").tobytes())
    np.testing.assert_array_equal(np.frombuffer(done.stdout, dtype="<f4").reshape(ours.shape), ours)


@pytest.mark.parametrize("cc, flags", [("g++", ()), ("clang", ()), ("gcc", ("-DKL_INTEGER_ONLY",))])
def test_header_builds_strictly(table, tmp_path, cc, flags):
    entry = table["digits"]
    host_driver(entry, "digits", tmp_path, cc=cc, flags=flags)


def test_verify_reproduces_the_vectors_exactly(table):
    for name in NAMES:
        for suffix in (".json", ".npz"):
            for backend in ("python", "numpy"):
                model = runtime_py.load(table[name]["paths"][suffix], backend=backend)
                assert model.verify() == 0.0


# ---- the documented quantization, recomputed independently ------------------------------------

def _node_arrays(path: Path) -> list:
    document = json.loads(path.read_text())
    nodes = []
    for node in document["nodes"]:
        arrays = {}
        for key, desc in node["weights"].items():
            dtype = {"int8": "i1", "int32": "<i4"}[desc["dtype"]]
            arrays[key] = np.frombuffer(base64.b64decode(desc["data"]), dtype=dtype).reshape(desc["shape"])
        nodes.append((node, arrays))
    return document, nodes


def _tflite_params(low, high):
    """int8 scale and zero point of [low, high] as TensorFlow Lite's ChooseQuantizationParams computes them."""
    low, high = min(low, 0.0), max(high, 0.0)
    scale = np.float32((high - low) / 255.0)
    zp_min, zp_max = -128 - low / float(scale), 127 - high / float(scale)
    zero = zp_min if 128 + abs(low / float(scale)) < 127 + abs(high / float(scale)) else zp_max
    return float(scale), int(np.clip(np.floor(zero + 0.5) if zero >= 0 else -np.floor(-zero + 0.5), -128, 127))


@pytest.mark.parametrize("name", ["relu_mlp", "zero_column"])
def test_quantization_follows_the_documented_rules(table, keras, name):
    entry = table[name]
    document, nodes = _node_arrays(entry["paths"][".json"])
    model = keras.saving.load_model(entry["paths"][".h"].with_suffix(".keras"), compile=False)
    dense = [layer for layer in model.layers if layer.get_weights()]
    x = entry["calibration"].astype(np.float64)
    scale_in, zero_in = _tflite_params(float(x.min()), float(x.max()))
    assert (document["inputs"][0]["scale"], document["inputs"][0]["zero_point"]) == (scale_in, zero_in)
    for layer, (node, arrays) in zip(dense, nodes):
        w, b = (v.astype(np.float64) for v in layer.get_weights())
        s_w = np.max(np.abs(w.astype(np.float32)), axis=0) / np.float32(127)
        s_w = np.where(s_w > 0, s_w, 1).astype(np.float32).astype(np.float64)
        q = np.clip(np.sign(w / s_w) * np.floor(np.abs(w / s_w) + 0.5), -127, 127)
        np.testing.assert_array_equal(arrays["kernel"], q)
        q_bias = np.sign(b / (scale_in * s_w)) * np.floor(np.abs(b / (scale_in * s_w)) + 0.5)
        np.testing.assert_array_equal(arrays["bias"], q_bias - zero_in * q.sum(axis=0))
        x = x @ w + b
        if layer.get_config()["activation"] == "relu":
            x = np.maximum(x, 0)
        scale_out, zero_out = _tflite_params(float(x.min()), float(x.max()))
        real = scale_in * s_w / scale_out
        assert np.all(np.abs(arrays["multiplier"] * 2.0 ** (arrays["shift"].astype(np.float64) - 31) / real - 1)
                      < 2.0 ** -30)
        assert node["attrs"]["output_zero_point"] == zero_out
        assert node["attrs"]["low"] == (zero_out if layer.get_config()["activation"] == "relu" else -128)
        scale_in, zero_in = scale_out, zero_out


def test_requantization_is_one_exact_rounding():
    """requantize(acc, M, shift) is floor(acc * M * 2**(shift - 31) + 1/2), checked with fractions, both backends."""
    from fractions import Fraction
    import math

    from runtime_py import integer_kernels, integer_kernels_numpy

    rng = np.random.default_rng(0)
    accs = [int(a) for a in rng.integers(-2 ** 31 + 1, 2 ** 31, size=2000)] + [-5, -3, 3, 5, 0]
    for k, acc in enumerate(accs):
        multiplier = 2 ** 30 if k % 7 == 0 else int(rng.integers(2 ** 30, 2 ** 31))
        shift = int(rng.integers(-31, 1)) if k % 3 else int(rng.integers(-31, 31))
        exact = math.floor(Fraction(acc * multiplier, 2 ** (31 - shift)) + Fraction(1, 2))
        if not -2 ** 31 <= exact < 2 ** 31:
            continue
        assert integer_kernels.requantize(acc, multiplier, shift) == exact
        got = integer_kernels_numpy.requantize(np.array([acc]), np.array([multiplier]), np.array([shift]))
        assert int(got[0]) == exact


def test_digits_accuracy_is_kept(table, keras):
    """The integer digits model classifies the 100 held-back digits as well as Keras's float model."""
    x, y = digits_rows()
    model = runtime_py.load(table["digits"]["paths"][".npz"])
    ours = (model.predict(x).argmax(-1) == y).mean()
    theirs = (keras.saving.load_model(DIGITS, compile=False).predict(x, verbose=0).argmax(-1) == y).mean()
    assert ours >= theirs, (ours, theirs)


def test_summary_shows_the_cost(tmp_path):
    x, y = digits_rows()
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    done = export_model(DIGITS, "--integer", "--calibrate", tmp_path / "x.npy", "--check-data", tmp_path / "x.npy",
                        "--check-labels", tmp_path / "y.npy", "-o", tmp_path / "d.h")
    assert done.returncode == 0, done.stderr
    line = next(t for t in done.stdout.splitlines() if t.startswith("integer int8:"))
    assert "Keras's float model" in line and "argmax unchanged on" in line
    check = next(t for t in done.stdout.splitlines() if t.startswith("--check-data"))
    assert "accuracy" in check and float(check.split("argmax unchanged on ")[1].split("%")[0]) >= 99.0


# ---- options and layers that --integer refuses ------------------------------------------------

def export_model(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "exporter", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("bad")
    x, _ = digits_rows()
    np.save(directory / "good.npy", x)
    np.save(directory / "few.npy", x[:15])
    np.save(directory / "shape.npy", x.reshape(len(x), -1))
    bad = x.copy()
    bad[3, 2, 2] = np.inf
    np.save(directory / "inf.npy", bad)
    np.save(directory / "text.npy", np.array(["a"] * 20))
    (directory / "junk.npy").write_bytes(b"not a npy file")
    return directory


@pytest.mark.parametrize("args, message", [
    (["--integer"], "needs --calibrate"),
    (["--integer", "--calibrate", "{d}/few.npy"], "at least 16"),
    (["--integer", "--calibrate", "{d}/shape.npy"], "expected numbers shaped (rows, 8, 8)"),
    (["--integer", "--calibrate", "{d}/inf.npy"], "NaN or an infinity"),
    (["--integer", "--calibrate", "{d}/text.npy"], "expected numbers"),
    (["--integer", "--calibrate", "{d}/junk.npy"], "cannot read it"),
    (["--integer", "--calibrate", "{d}/missing.npy"], "cannot read it"),
    (["--integer", "--calibrate", "{d}/good.npy", "--weights", "int8"], "drop --weights"),
    (["--integer", "--calibrate", "{d}/good.npy", "--gradients"], "float header"),
    (["--calibrate", "{d}/good.npy"], "give --integer too"),
])
def test_bad_integer_options_are_one_error_line(tmp_path, bad_inputs, args, message):
    done = export_model(DIGITS, "-o", tmp_path / "d.h", "-o", tmp_path / "d.json",
                        *(a.format(d=bad_inputs) for a in args))
    assert done.returncode == 2 and done.stderr.startswith("error: ") and message in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and list(tmp_path.iterdir()) == []


def test_so_output_is_refused(tmp_path, bad_inputs):
    done = export_model(DIGITS, "-o", tmp_path / "d.so", "--integer", "--calibrate", bad_inputs / "good.npy")
    assert done.returncode == 2 and "not a compiled .so" in done.stderr


@pytest.mark.parametrize("layers, message", [
    ("log_softmax", "layer 'dense' (Dense) prevents --integer: activation 'log_softmax'"),
    ("norm", "layer 'layer_normalization' (LayerNormalization) prevents --integer"),
    ("skip", "prevents --integer: it does not read the previous layer's output alone"),
    ("leaky", "layer 'leaky' (LeakyReLU) prevents --integer: a leaky_relu that does not follow a Dense layer"),
])
def test_unsupported_layers_are_named(keras, tmp_path, layers, message):
    L = keras.layers
    inp = keras.Input((6,))
    if layers == "log_softmax":
        out = L.Dense(3, activation="log_softmax", name="dense")(inp)
    elif layers == "norm":
        out = L.Dense(3)(L.LayerNormalization(name="layer_normalization")(inp))
    elif layers == "skip":
        out = L.Add()([L.Dense(6)(inp), inp])
    else:
        out = L.Dense(3)(L.LeakyReLU(name="leaky")(inp))
    keras.Model(inp, out).save(tmp_path / "m.keras")
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(32, 6)).astype(np.float32))
    done = export_model(tmp_path / "m.keras", "--integer", "--calibrate", tmp_path / "x.npy", "-o", tmp_path / "m.h")
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "m.h").exists()


# ---- hostile and invalid integer model files ---------------------------------------------------

def _edit(path: Path, change) -> bytes:
    document = json.loads(path.read_text())
    change(document)
    return json.dumps(document).encode()


def _set_weight(document, node, key, values, dtype="<i4", kind="int32"):
    array = np.asarray(values, dtype=dtype)
    document["nodes"][node]["weights"][key] = {"dtype": kind, "shape": list(array.shape),
                                               "data": base64.b64encode(array.tobytes()).decode()}
    document.pop("weights_sha256")


def _dense0_units(document):
    return document["nodes"][0]["shape"][0]


HOSTILE = {
    "multiplier below Q31's range": (lambda d: _set_weight(d, 0, "multiplier", [5] * _dense0_units(d)),
                                     "is not 0 or in [2**30, 2**31 - 1]"),
    "shift out of range": (lambda d: _set_weight(d, 0, "shift", [40] * _dense0_units(d), "i1", "int8"),
                           "is not in [-31, 30]"),
    "overflowing bias": (lambda d: _set_weight(d, 0, "bias", [2 ** 31 - 1] * _dense0_units(d)), "overflow int32"),
    "kernel holding -128": (lambda d: _set_weight(d, 0, "kernel", np.full((64, _dense0_units(d)), -128), "i1", "int8"),
                            "-128 is not a symmetric int8 weight"),
    "kernel of the wrong shape": (lambda d: _set_weight(d, 0, "kernel", np.zeros((63, _dense0_units(d))), "i1", "int8"),
                                  "expected (64, 32)"),
    "float32 bias": (lambda d: d["nodes"][0]["weights"]["bias"].update(dtype="float32"), "dtype must be 'int32'"),
    "unknown op": (lambda d: d["nodes"][1].update(op="conv_int8"), "unknown op 'conv_int8'"),
    "a float op": (lambda d: d["nodes"][1].update(op="dense"), "unknown op 'dense' in an integer model"),
    "broken chain": (lambda d: d["nodes"][1].update(inputs=["pixels"]), "an integer model is a chain"),
    "low above high": (lambda d: d["nodes"][0]["attrs"].update(low=5, high=4), "low 5 is above high 4"),
    "zero point out of range": (lambda d: d["inputs"][0].update(zero_point=200), "zero_point: expected an integer"),
    "zero scale": (lambda d: d["inputs"][0].update(scale=0.0), "positive finite number"),
    "bad exp table": (lambda d: _set_weight(d, 3, "exp_table", [1] * 256), "exp_table must start at 2**15"),
    "two outputs": (lambda d: d["outputs"].append(dict(d["outputs"][0])), "exactly one"),
    "edited weights": (lambda d: d["nodes"][1]["weights"]["table"].update(
        data=base64.b64encode(bytes(256)).decode()), "do not match weights_sha256"),
    "wrong vector shape": (lambda d: d["test_vectors"][0]["outputs"][0].update(shape=[20, 9]), "is not (rows >= 1"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_integer_files_are_refused(table, case):
    change, message = HOSTILE[case]
    data = _edit(table["digits"]["paths"][".json"], change)
    for backend in ("python", "numpy"):
        with pytest.raises(ModelFormatError, match=None) as caught:
            runtime_py.loads(data, backend=backend, name="hostile.json")
        assert message in str(caught.value), str(caught.value)


def test_wrong_vector_outputs_fail_verification(table):
    def change(document):
        desc = document["test_vectors"][0]["outputs"][0]
        raw = bytearray(base64.b64decode(desc["data"]))
        raw[0] = (raw[0] + 1) % 256
        desc["data"] = base64.b64encode(bytes(raw)).decode()

    for backend in ("python", "numpy"):
        model = runtime_py.loads(_edit(table["digits"]["paths"][".json"], change), backend=backend)
        with pytest.raises(runtime_py.VerificationError, match="must match exactly"):
            model.verify()


def test_a_version_1_reader_refuses_integer_files_cleanly(table, monkeypatch):
    from runtime_py import model_file

    monkeypatch.setattr(model_file, "SUPPORTED_VERSIONS", (1,))
    with pytest.raises(ModelFormatError, match="format version 2 is not supported; this runtime reads version"):
        runtime_py.load(table["digits"]["paths"][".npz"])


# ---- the Cortex-M0: integers only, on the emulated chip ---------------------------------------

FLOAT_HELPERS = ("__aeabi_f", "__aeabi_d", "__aeabi_i2f", "__aeabi_ui2f", "__addsf3", "__mulsf3", "__adddf3")


@pytest.mark.parametrize("name", ["digits", "tanh_softmax"])
def test_cortex_m0_integer_path_links_no_float_helper_and_passes_selftest(table, tmp_path, name):
    target = mcu.TARGETS["m0"]
    missing = mcu.missing_tools(target)
    if missing:
        pytest.skip(missing)
    firmware = mcu.build(table[name]["paths"][".h"], name, target, "selftest", tmp_path, defines=("KL_INTEGER_ONLY",))
    symbols = subprocess.run(["arm-none-eabi-nm", str(firmware.path)], capture_output=True, text=True,
                             check=True).stdout.split()
    floats = sorted({s for s in symbols if s.startswith(FLOAT_HELPERS)})
    assert not floats, f"float helpers linked into the integer path: {floats}"
    assert "__aeabi_ldivmod" not in symbols and "__aeabi_uldivmod" not in symbols  # no 64-bit division
    assert mcu.run(firmware).selftest == (0, 0.0)
    # the check can fail: the float wrapper NAME_predict, compiled for the same core, needs the helpers
    header = table[name]["paths"][".h"]
    control = tmp_path / "control.c"
    control.write_text(f'#include "{header.name}"\nvoid call(const float *x, float *y) {{ {name}_predict(x, y); }}\n')
    subprocess.run([target.compiler, *target.cflags, "-std=c99", "-Os", "-c", str(control), f"-I{header.parent}",
                    "-o", str(tmp_path / "control.o")], check=True)
    undefined = subprocess.run(["arm-none-eabi-nm", "-u", str(tmp_path / "control.o")], capture_output=True,
                               text=True, check=True).stdout.split()
    assert any(s.startswith(FLOAT_HELPERS) for s in undefined), undefined


def test_format_doc_declares_every_integer_op():
    """docs/format.md's integer section names every op, attribute and weight runtime_py/integer_file.py checks."""
    from runtime_py.integer_file import INTEGER_SIGNATURES

    text = (ROOT / "docs" / "format.md").read_text(encoding="utf-8")
    section = text[text.index("## Integer models (format version 2)"):text.index("## Versioning")]
    for op, signature in INTEGER_SIGNATURES.items():
        assert f"`{op}`" in section, op
        for name in [*signature.attrs, *signature.weights]:
            assert f"`{name}`" in section, (op, name)


@pytest.mark.parametrize("target_name", ["m4f", "m7", "atmega328p", "atmega2560"])
def test_integer_selftest_on_other_targets(table, tmp_path, target_name):
    """The integer digits header, float wrapper compiled out, passes its selftest on the other emulated chips.

    On AVR its arrays stay in program memory (KERASLESS_WEIGHTS): the Uno's 2 KiB of SRAM is enough.
    """
    target = mcu.TARGETS[target_name]
    missing = mcu.missing_tools(target)
    if missing:
        pytest.skip(missing)
    firmware = mcu.build(table["digits"]["paths"][".h"], "digits", target, "selftest", tmp_path,
                         defines=("KL_INTEGER_ONLY",))
    assert mcu.run(firmware).selftest == (0, 0.0)
    if target.arch == "avr":
        assert firmware.data < 256, f"{firmware.data} B of static RAM: the arrays were copied out of flash"


def test_export_model_takes_a_live_model(keras, tmp_path):
    """exporter.export_model(live Keras model, ..., integer=True, calibrate=X.npy): the same integer files."""
    from exporter import export_model

    model = _mlp(keras, "live_relu", [4, 6, 2], ["relu", "linear"], 8)
    np.save(tmp_path / "x.npy", np.random.default_rng(1).normal(size=(30, 4)).astype(np.float32))
    result = export_model(model, [tmp_path / "live.json", tmp_path / "live.h"], integer=True,
                          calibrate=tmp_path / "x.npy")
    assert result.integer is not None and result.cost.rows == 30
    loaded = runtime_py.load(tmp_path / "live.json")
    assert loaded.verify() == 0.0 and "live_relu_predict_int8" in (tmp_path / "live.h").read_text()


def test_c_requantize_matches_python_on_every_shift(tmp_path):
    """kl_requantize (runtime_c/integer.h) == integer_kernels.requantize on random int32 sums, every shift."""
    from runtime_py.integer_kernels import requantize

    source = tmp_path / "requantize.c"
    source.write_text('#include <stdio.h>\n#include "integer.h"\nint main(void)\n{\n'
                      '    long acc, m;\n    int shift;\n'
                      '    while (scanf("%ld %ld %d", &acc, &m, &shift) == 3) {\n'
                      '        printf("%ld\\n", (long)kl_requantize((int32_t)acc, (int32_t)m, shift));\n    }\n'
                      '    return 0;\n}\n')
    program = build([source], tmp_path / "requantize", flags=["-fsanitize=address,undefined",
                                                              "-fno-sanitize-recover=all"],
                    include=[ROOT / "runtime_c"])
    rng = np.random.default_rng(4)
    cases = []
    for shift in range(-31, 31):
        for _ in range(40):
            multiplier = int(rng.integers(2 ** 30, 2 ** 31))
            limit = (2 ** 31 - 1) >> max(shift, 0)  # the reader's bound: the result fits int32
            cases.append((int(rng.integers(-limit, limit + 1)), multiplier, shift))
        cases += [(-1, 2 ** 30, shift), (1, 2 ** 30, shift), (0, 2 ** 31 - 1, shift)]
    text = "".join(f"{a} {m} {s}\n" for a, m, s in cases).encode()
    got = [int(v) for v in run(program, stdin=text).stdout.split()]
    assert got == [requantize(a, m, s) for a, m, s in cases]
