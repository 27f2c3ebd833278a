"""The generated C header: parity with model.predict, self test, builds, linking, exact literals, CLI.

Each model's header is compiled once (per container) into a driver that reads
float32 rows from stdin and writes the outputs, so many rows go through one run.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from cbuild import SANITIZE, build, run, run_rows
from parity import assert_parity

STRICT_BUILDS = {  # name -> (compiler, optimisation)
    "gcc-O0": ("gcc", "-O0"),
    "gcc-O2": ("gcc", "-O2"),
    "clang-O0": ("clang", "-O0"),
    "clang-O2": ("clang", "-O2"),
    "g++": ("g++", "-O2"),
    "clang++": ("clang++", "-O2"),
}


def model_arity(zoo, name):
    model = zoo.model(name)
    return len(model.inputs), len(model.outputs)


def driver_source(header, prefix, n_inputs, n_outputs) -> str:
    """A program that runs the header on float32 rows from stdin, or its self test with argument `selftest`."""
    ins = " + ".join(f"{prefix}_INPUT_{k}_SIZE" for k in range(n_inputs))
    outs = " + ".join(f"{prefix}_OUTPUT_{k}_SIZE" for k in range(n_outputs))

    input_pointers = ", ".join("in" + "".join(f" + {prefix}_INPUT_{j}_SIZE" for j in range(k)) for k in range(n_inputs))
    output_pointers = ", ".join("out" + "".join(f" + {prefix}_OUTPUT_{j}_SIZE" for j in range(k))
                                for k in range(n_outputs))
    single = n_inputs == 1 and n_outputs == 1
    call = f"{prefix}_predict(in, out);" if single else f"{prefix}_predict_multi(inputs, outputs);"
    return f"""\
#include <stdio.h>
#include <string.h>
#include "{header}"

int main(int argc, char **argv)
{{
    static float in[{ins}];
    static float out[{outs}];
    const float *const inputs[{prefix}_NUM_INPUTS] = {{{input_pointers}}};
    float *const outputs[{prefix}_NUM_OUTPUTS] = {{{output_pointers}}};
    (void)inputs;
    (void)outputs;
    if (argc > 1 && strcmp(argv[1], "selftest") == 0) {{
        float err = -1.0f;
        const int failures = {prefix}_selftest(&err);
        printf("%d %.9g\\n", failures, (double)err);
        return failures != 0;
    }}
    while (fread(in, sizeof in, 1, stdin) == 1) {{
        {call}
        fwrite(out, sizeof out, 1, stdout);
    }}
    return 0;
}}
"""


class Builds:
    """Compile each (model, container) driver once per session."""

    def __init__(self, zoo, directory):
        self.zoo = zoo
        self.directory = directory
        self.cache = {}

    def driver(self, name, container, variant="gcc-O2"):
        key = (name, container, variant)
        if key not in self.cache:
            header = self.zoo.exported(name, container, ".h")
            n_in, n_out = model_arity(self.zoo, name)
            source = self.directory / f"{name}-{container}-{variant}.c"
            source.write_text(driver_source(header.name, name, n_in, n_out))
            if variant == "sanitize":
                exe = build([source], source.with_suffix(""), flags=SANITIZE, include=[header.parent], opt="-O1")
            else:
                cc, opt = STRICT_BUILDS[variant]
                if cc.endswith("++"):
                    source = source.rename(source.with_suffix(".cpp"))
                exe = build([source], source.with_suffix(""), cc=cc, include=[header.parent], opt=opt)
            self.cache[key] = exe
        return self.cache[key]


@pytest.fixture(scope="session")
def builds(zoo, tmp_path_factory):
    return Builds(zoo, tmp_path_factory.mktemp("cbuild"))


def predict_c(exe, inputs, output_shapes):
    """Run a driver on input batches (one array per model input); return one array per output."""
    return run_rows(exe, [], inputs, output_shapes)


def output_shapes(zoo, name):
    return [tuple(o.shape[1:]) for o in zoo.model(name).outputs]


# ---- parity with model.predict -------------------------------------------------------------------


@pytest.mark.parametrize("container", ["h5", "keras"])
@pytest.mark.parametrize("scale", [1.0, 50.0])
def test_header_matches_keras(zoo, builds, zoo_name, container, scale):
    exe = builds.driver(zoo_name, container)
    inputs = zoo.inputs(zoo_name, rows=200, seed=11, scale=scale)
    ours = predict_c(exe, inputs, output_shapes(zoo, zoo_name))
    theirs = zoo.keras_predict(zoo_name, inputs)
    for k, (a, b) in enumerate(zip(ours, theirs)):
        assert_parity(a, b, f"{zoo_name} from .{container}, scale {scale}, output {k}")


@pytest.mark.parametrize("container", ["h5", "keras"])
def test_selftest_passes(builds, zoo_name, container):
    done = run(builds.driver(zoo_name, container), "selftest")
    failures, err = done.stdout.split()
    assert failures == b"0" and 0.0 <= float(err) <= 1e-5


def test_sanitizers_are_clean(zoo, builds, zoo_name):
    exe = builds.driver(zoo_name, "keras", "sanitize")
    run(exe, "selftest")
    inputs = zoo.inputs(zoo_name, rows=8, seed=3, scale=10.0)
    ours = predict_c(exe, inputs, output_shapes(zoo, zoo_name))
    for a, b in zip(ours, zoo.keras_predict(zoo_name, inputs)):
        assert_parity(a, b, f"{zoo_name} under ASan/UBSan")


def test_extreme_inputs_match_keras(zoo, builds):
    """Single +-1e4 entries, zeros, NaN and inf rows: activations saturate or propagate as in Keras."""
    exe = builds.driver("digits", "h5")
    x = np.zeros((6, 8, 8), dtype=np.float32)
    x[1, 2, 3], x[2, 5, 1], x[3, 0, 0] = 1e4, -1e4, 3e38
    x[4, 4, 4], x[5, 1, 1] = np.nan, np.inf
    ours = predict_c(exe, [x], output_shapes(zoo, "digits"))[0]
    assert_parity(ours, zoo.keras_predict("digits", [x])[0], "digits, extreme inputs")


# ---- builds: every compiler and flag set, a driver that calls only one function ---------------------

ONE_FUNCTION = {
    "predict": "float in[{P}_INPUT_SIZE] = {{0}};\n    float out[{P}_OUTPUT_SIZE];\n    {P}_predict(in, out);\n"
               "    return out[0] == out[0] ? 0 : 1;",
    "predict_multi": "float in[{P}_INPUT_0_SIZE] = {{0}};\n    float out[{P}_OUTPUT_0_SIZE];\n"
                     "    const float *const inputs[1] = {{in}};\n    float *const outputs[1] = {{out}};\n"
                     "    {P}_predict_multi(inputs, outputs);\n    return out[0] == out[0] ? 0 : 1;",
    "selftest": "return {P}_selftest(NULL);",
    "nothing": "return 0;",
}


@pytest.mark.parametrize("model", ["digits", "no_bias"])
@pytest.mark.parametrize("variant", sorted(STRICT_BUILDS))
@pytest.mark.parametrize("calls", sorted(ONE_FUNCTION))
def test_strict_builds_calling_one_function(zoo, tmp_path, model, variant, calls):
    cc, opt = STRICT_BUILDS[variant]
    header = zoo.exported(model, "h5", ".h")
    suffix = ".cpp" if cc.endswith("++") else ".c"
    source = tmp_path / f"main{suffix}"
    source.write_text(f'#include <stddef.h>\n#include "{header.name}"\n\nint main(void)\n{{\n    '
                      + ONE_FUNCTION[calls].format(P=model) + "\n}\n")
    run(build([source], tmp_path / "main", cc=cc, include=[header.parent], opt=opt))


@pytest.mark.parametrize("variant", ["gcc-O0", "clang-O2", "g++"])
def test_parity_under_other_builds(zoo, builds, variant):
    exe = builds.driver("chain_functional", "keras", variant)
    run(exe, "selftest")
    inputs = zoo.inputs("chain_functional", rows=100, seed=5, scale=5.0)
    ours = predict_c(exe, inputs, output_shapes(zoo, "chain_functional"))
    assert_parity(ours[0], zoo.keras_predict("chain_functional", inputs)[0], variant)


# ---- linking: two models in one program, one header in two translation units -----------------------


def test_two_models_in_one_translation_unit(zoo, tmp_path):
    a = zoo.exported("digits", "keras", ".h")
    b = zoo.exported("regressor", "keras", ".h")
    c = zoo.exported("no_bias", "h5", ".h")
    source = tmp_path / "two.c"
    source.write_text(f"""\
#include <stdio.h>
#include "{a.name}"
#include "{b.name}"
#include "{c.name}"
#include "{a.name}" /* twice: the include guard holds */

int main(void)
{{
    float x[regressor_INPUT_SIZE] = {{0}}, y[regressor_OUTPUT_SIZE];
    regressor_predict(x, y);
    printf("%d %d %d\\n", digits_selftest(NULL), regressor_selftest(NULL), no_bias_selftest(NULL));
    return digits_selftest(NULL) || regressor_selftest(NULL) || no_bias_selftest(NULL);
}}
""")
    for cc in ("gcc", "clang"):
        done = run(build([source], tmp_path / f"two-{cc}", cc=cc, include=[a.parent, c.parent]))
        assert done.stdout == b"0 0 0\n"


def test_one_header_in_two_translation_units(zoo, tmp_path):
    header = zoo.exported("digits", "h5", ".h")
    (tmp_path / "other.c").write_text(f"""\
#include "{header.name}"

int other_selftest(void);
int other_selftest(void)
{{
    return digits_selftest(NULL);
}}
""")
    (tmp_path / "main.c").write_text(f"""\
#include <stdio.h>
#include "{header.name}"

int other_selftest(void);

int main(void)
{{
    float x[digits_INPUT_SIZE] = {{0}}, y[digits_OUTPUT_SIZE];
    digits_predict(x, y);
    return other_selftest() != 0 || digits_selftest(NULL) != 0;
}}
""")
    for cc in ("gcc", "clang", "g++"):
        sources = [tmp_path / "main.c", tmp_path / "other.c"]
        if cc == "g++":
            sources = [p.rename(p.with_suffix(".cpp")) for p in sources]
        run(build(sources, tmp_path / f"linked-{cc}", cc=cc, include=[header.parent]))


# ---- exact weight literals ---------------------------------------------------------------------------

SPECIAL = np.array([0.0, -0.0, 1e-45, -1e-45, 1.17e-38, 1.1754942e-38, 3.4028235e38, -3.4028235e38, np.inf, -np.inf,
                    np.nan, 0.1, -2.5, 1 / 3, 1e-4, 9.999999e-5, 1e16, 9.999999e15, 16777217.0], dtype=np.float32)
NAN_PAYLOADS = np.array([0x7FC12345, 0xFFC00001], dtype=np.uint32).view(np.float32)


def _special_kernel(shape, seed):
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(shape).astype(np.float32).ravel()
    special = np.concatenate([SPECIAL, NAN_PAYLOADS])
    count = min(len(special), values.size)
    values[:count] = special[:count]
    return values.reshape(shape)


@pytest.fixture(scope="module")
def special_graph(keras):
    """A regressor graph whose weights hold -0.0, subnormals, extremes, inf and NaN."""
    from exporter.frontend_keras import _collect_weights
    from exporter.graph import build_graph
    from zoo import build_model

    model = build_model(keras, "regressor")
    for k, layer in enumerate(model.layers):
        kernel, bias = layer.get_weights()
        layer.set_weights([_special_kernel(kernel.shape, k), _special_kernel(bias.shape, k + 10)])
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(model)))
    weights = {}
    _collect_weights(model, (), weights)
    return build_graph(config, lambda path: weights.get(path, []), "special")


def _same_float32(restored, original):
    """Bits equal, except that a NaN only has to stay a NaN of the same sign (C cannot spell payloads)."""
    restored = np.ascontiguousarray(restored, dtype=np.float32).ravel()
    original = np.ascontiguousarray(original, dtype=np.float32).ravel()
    nan = np.isnan(original)
    assert np.array_equal(np.isnan(restored), nan)
    assert np.array_equal(np.signbit(restored[nan]), np.signbit(original[nan]))
    assert restored[~nan].tobytes() == original[~nan].tobytes()


def _dump_program(header_name, arrays) -> str:
    writes = "\n".join(f"    fwrite({a}, sizeof {a}, 1, stdout);" for a in arrays)
    return f'#include <stdio.h>\n#include "{header_name}"\n\nint main(void)\n{{\n{writes}\n    return 0;\n}}\n'


def test_weight_literals_round_trip_through_the_compiler(special_graph, tmp_path):
    from exporter.c.forward import plan_forward
    from exporter.c.render import to_header

    header = tmp_path / "special.h"
    header.write_bytes(to_header(special_graph, [], {"keras_version": "test", "source": "special.keras"}))
    text = header.read_text()
    for token in ("-0.0f", "1e-45f", "-1e-45f", "3.4028235e+38f", "INFINITY", "-INFINITY", "NAN", "-NAN"):
        assert re.search(rf"(?<![\w.+-]){re.escape(token)}(?=[,\s])", text), token
    arrays = [a.name for a in plan_forward(special_graph).arrays]
    originals = [w for node in special_graph.nodes for w in node.weights.values()]
    assert len(arrays) == len(originals) == 6
    source = tmp_path / "dump.c"
    source.write_text(_dump_program(header.name, arrays))
    for cc in ("gcc", "clang"):
        done = run(build([source], tmp_path / f"dump-{cc}", cc=cc, include=[tmp_path]))
        dumped = np.frombuffer(done.stdout, dtype="<f4")
        sizes = np.cumsum([w.size for w in originals])[:-1]
        for restored, original in zip(np.split(dumped, sizes), originals):
            _same_float32(restored, original)


def test_weight_literals_parse_back_in_python(special_graph):
    """Read the literals back out of the header text (no compiler) and compare bits."""
    from exporter.c.forward import plan_forward
    from exporter.c.render import to_header

    text = to_header(special_graph, [], {}).decode("ascii")
    names = {"INFINITY": np.inf, "-INFINITY": -np.inf, "NAN": np.nan, "-NAN": -np.nan}
    for array, original in zip(plan_forward(special_graph).arrays,
                               [w for node in special_graph.nodes for w in node.weights.values()]):
        body = re.search(rf"static const float {array.name}\[[^\]]*\] KERASLESS_WEIGHTS = \{{(.*?)\}};", text, re.S).group(1)
        tokens = [t.strip() for t in body.split(",")]
        values = [names[t] if t in names else float(t.removesuffix("f")) for t in tokens]
        _same_float32(np.array(values, dtype=np.float32), original)


def test_random_bit_patterns_round_trip(tmp_path):
    """20,000 float32 bit patterns over every exponent (subnormals included) through the C compiler."""
    from exporter.c.literals import float_literal

    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2**32, 20000, dtype=np.uint64).astype(np.uint32)
    bits[:256] = np.arange(256, dtype=np.uint32)  # the smallest subnormals
    bits[256:512] = 0x7F7FFF00 + np.arange(256, dtype=np.uint32)  # up to FLT_MAX
    values = bits.view(np.float32)
    source = tmp_path / "bits.c"
    source.write_text("#include <math.h>\n#include <stdio.h>\n\nstatic const float values[] = {\n"
                      + ",\n".join(float_literal(v) for v in values)
                      + "\n};\n\nint main(void)\n{\n    fwrite(values, sizeof values, 1, stdout);\n    return 0;\n}\n")
    for cc in ("gcc", "clang"):
        done = run(build([source], tmp_path / f"bits-{cc}", cc=cc, opt="-O0"))
        _same_float32(np.frombuffer(done.stdout, dtype="<f4"), values)


# ---- names and comments -------------------------------------------------------------------------------


def test_keras_layer_names_become_valid_unique_identifiers(keras, tmp_path):
    """Layer names that are keywords, library functions, or collide once sanitized (TensorFlow allows [A-Za-z0-9_.>-])."""
    L = keras.layers
    inputs = keras.Input((3,), name="in.put")
    x = L.Dense(4, activation="relu", name="int")(inputs)
    x = L.Dense(4, activation="tanh", name="a-b")(x)
    x = L.Dense(4, name="a_b")(x)
    x = L.Dense(3, activation="sigmoid", name="x.y>z")(x)
    outputs = L.Activation("softmax", name="expf")(x)
    path = tmp_path / "hostile names.keras"
    keras.Model(inputs, outputs).save(path)
    from exporter.export import export

    out = tmp_path / "hostile.h"
    export(path, [out])
    text = out.read_text(encoding="ascii")
    assert "hostile_names_predict(" in text
    for k, layer in enumerate(("int", "a-b", "a_b", "x.y>z")):  # names in comments, node numbers in identifiers
        assert f"/* {layer} (Dense) kernel: " in text and f"static const float hostile_names_node{k}_kernel[" in text
    assert "hostile_names_int" not in text and "hostile_names_a_b" not in text
    _assert_comments_well_formed(text)
    source = tmp_path / "main.c"
    source.write_text(f'#include "{out.name}"\nint main(void)\n{{\n    return hostile_names_selftest(NULL);\n}}\n')
    run(build([source], tmp_path / "main", include=[tmp_path]))


def _assert_comments_well_formed(text):
    body = text.replace("/*", "\0").replace("*/", "\1")
    assert all(ch in "\0\1" or ord(ch) < 128 for ch in body)
    depth = 0
    for ch in body:  # comments never nest or end early
        depth += {"\0": 1, "\1": -1}.get(ch, 0)
        assert depth in (0, 1)
    for match in re.finditer("#define pwned", body):  # only ever inside a comment
        before = body[:match.start()]
        assert before.count("\0") - before.count("\1") == 1


def test_comment_terminators_in_names_cannot_escape(tmp_path):
    """Keras refuses '/' in layer names, but a hand-made file might not: build such IR directly."""
    from exporter.ir import Graph, Node, TensorSpec
    from exporter.c.render import to_header

    rng = np.random.default_rng(1)
    evil = "x*/ #define pwned 1 /* ??/\n\u00e9"
    node = Node(evil, "dense", ["in*/put"], (2,), {"activation": {"name": "tanh"}},
                {"kernel": rng.standard_normal((3, 2)).astype(np.float32),
                 "bias": rng.standard_normal(2).astype(np.float32)}, evil, "Dense*/")
    graph = Graph("evil", [TensorSpec("in*/put", (3,))], [TensorSpec(evil, (2,))], [node])
    header = tmp_path / "evil.h"
    header.write_bytes(to_header(graph, [], {"source": "a*/b.h5\n", "keras_version": "*/"}))
    text = header.read_text(encoding="ascii")
    _assert_comments_well_formed(text)
    assert "static const float evil_node0_kernel[3 * 2]" in text
    assert "\\xe9" in text and "??" not in text
    source = tmp_path / "main.c"
    source.write_text('#include "evil.h"\nint main(void)\n{\n    float x[3] = {1, 2, 3}, y[2];\n'
                      '    evil_predict(x, y);\n    return evil_selftest(NULL) != 0 || y[0] != y[0];\n}\n')
    run(build([source], tmp_path / "main", include=[tmp_path]))


def test_comment_escaping():
    from exporter.c.literals import c_comment

    assert c_comment("dense_1") == "dense_1"
    for nasty in ("*/", "/*", "a*/*/b", "*//*", "line\nbreak", "??/", "caf\u00e9", "\U0001f600", "back\\slash"):
        safe = c_comment(nasty)
        assert "*/" not in safe and "/*" not in safe and "??" not in safe
        assert "\n" not in safe and safe.isascii()


# ---- the command line ------------------------------------------------------------------------------------


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "exporter", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


def test_default_export_writes_json_and_header(zoo, tmp_path):
    model = tmp_path / "my digits.h5"
    model.write_bytes(zoo.saved("digits", "h5").read_bytes())
    done = run_cli(model)
    assert done.returncode == 0, done.stderr
    header = tmp_path / "my digits.h"
    assert (tmp_path / "my digits.json").exists() and header.exists()
    assert f"wrote {header}" in done.stdout and "my_digits_predict_scratch); check it with my_digits_selftest()" in done.stdout
    text = header.read_text()
    assert "void my_digits_predict(const float *input, float *output)" in text
    assert "generated by kerasless" in text and "my digits.h5" in text and "Do not edit" in text
    source = tmp_path / "main.c"
    source.write_text('#include "my digits.h"\nint main(void)\n{\n    return my_digits_selftest(NULL);\n}\n')
    run(build([source], tmp_path / "main", include=[tmp_path]))


def test_name_sets_the_prefix(zoo, tmp_path, capsys):
    from exporter.cli import main

    out = tmp_path / "net.h"
    assert main([str(zoo.saved("no_bias", "keras")), "-o", str(out), "--name", "Net2"]) == 0, capsys.readouterr().err
    text = out.read_text()
    assert "Net2_predict_multi(" in text and "#define Net2_INPUT_SIZE" in text
    assert re.search(r"static const float Net2_node\d+_kernel\[", text)


@pytest.mark.parametrize("name, message", [("9lives", "not a valid C identifier"), ("int", "keyword"),
                                           ("class", "keyword"), ("a-b", "not a valid C identifier"),
                                           ("__x", "reserved")])
def test_bad_name_for_header_exits_2(zoo, tmp_path, name, message):
    done = run_cli(zoo.saved("digits", "h5"), "-o", tmp_path / "x.h", "--name", name)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_header_documents_the_model(zoo, keras):
    text = zoo.exported("chain_functional", "keras", ".h").read_text()
    manifest = json.loads(zoo.exported("chain_functional", "keras", ".json").read_text())
    assert manifest["weights_sha256"] in text
    assert f"Keras {keras.__version__}" in text
    assert "#ifdef __cplusplus\nextern \"C\" {\n#endif" in text
    assert "probs (Dense): dense (16,) -> (4,), softmax" in text
    assert "#define chain_functional_INPUT_0_SIZE 20" in text and "#define chain_functional_SCRATCH_FLOATS" in text
    assert "kl_relu_forward" not in text  # only the kernels the model uses


def test_examples_classify_the_held_back_digits(keras, tmp_path):
    """examples/c: main.c and main.cpp build warning-free; C's probabilities match Keras's on the holdout."""
    from conftest import ROOT
    from exporter.export import export

    examples = ROOT / "examples"
    header = tmp_path / "digits.h"
    export(examples / "digits.h5", [header], name="digits")
    c_exe = build([examples / "c" / "main.c"], tmp_path / "digits_c", include=[tmp_path])
    cxx_exe = build([examples / "c" / "main.cpp"], tmp_path / "digits_cpp", cc="g++", include=[tmp_path])
    holdout = examples / "digits_holdout.csv"
    summary = run(c_exe, holdout).stdout.decode()
    assert "digits_selftest: ok" in summary and "C accuracy" in summary
    assert "C++ accuracy" in run(cxx_exe, holdout).stdout.decode()
    probs = np.loadtxt(run(c_exe, holdout, "--probs").stdout.decode().splitlines(), delimiter=",", dtype=np.float32)
    table = np.loadtxt(holdout, delimiter=",", skiprows=1, dtype=np.float32)
    model = keras.saving.load_model(examples / "digits.h5", compile=False)
    images = table[:, 1:].reshape((-1, *model.inputs[0].shape[1:]))
    assert_parity(probs, model.predict(images, verbose=0), "examples/c vs Keras")


def test_two_inputs_three_outputs_with_an_aliased_output(keras, tmp_path):
    """Separate towers per input; one output is a Flatten of an input, so predict_multi copies it."""
    from exporter.export import export

    L = keras.layers
    keras.utils.set_random_seed(4)
    a = keras.Input((5,), name="a")
    b = keras.Input((2, 4), name="b")
    flat_b = L.Flatten(name="flat_b")(b)
    out_a = L.Dense(3, activation="relu", name="out_a")(a)
    out_b = L.Dense(2, activation="softmax", name="out_b")(flat_b)
    model = keras.Model([a, b], [out_a, out_b, flat_b])
    path = tmp_path / "towers.keras"
    model.save(path)
    header = tmp_path / "towers.h"
    export(path, [header])
    text = header.read_text()
    assert "void towers_predict(" not in text and "#define towers_INPUT_SIZE" not in text
    assert "kl_reshape_forward(outputs[2]" in text
    source = tmp_path / "towers.c"
    source.write_text(driver_source(header.name, "towers", 2, 3))
    exe = build([source], tmp_path / "towers", include=[tmp_path])
    assert run(exe, "selftest").stdout.startswith(b"0 ")
    rng = np.random.default_rng(2)
    inputs = [rng.standard_normal((50, 5)).astype(np.float32), rng.standard_normal((50, 2, 4)).astype(np.float32)]
    ours = predict_c(exe, inputs, [(3,), (2,), (8,)])
    for k, (mine, theirs) in enumerate(zip(ours, model.predict(inputs, verbose=0))):
        assert_parity(mine, theirs, f"towers output {k}")
