"""Generated C identifiers are unique by construction: hostile names, several headers in one program.

Layer names never become identifiers (docs/c-api.md, Names): file-scope names are PREFIX_<suffix>
with suffixes that never end in `_` + another suffix, locals have no underscore. The graphs here
carry names chosen to collide under any name-derived scheme: equal to other symbols' suffixes,
C keywords, locals of the generated code, names that mangle alike.
"""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest

from cbuild import SANITIZE, STRICT_C, build, compiler, run
from exporter.c.identifiers import (KERNEL_NAMESPACES, SUFFIXES, array_name, c_identifier, check_prefix, is_suffix,
                                    suffix_rule_violations)
from exporter.errors import ExportError
from exporter.ir import Graph, Node, TensorSpec

HOSTILE = ["d", "d_kernel", "predict", "SCRATCH_FLOATS", "int", "t0", "in0", "scratch", "node0_kernel", "a-b", "a.b",
           "a b", "kl_dense_forward", "x*/y", "caf\u00e9", "b_x", "x", "BATCH_SCRATCH_FLOATS"]


def _dense(name, source, n_in, n_out, rng, act="tanh"):
    weights = {"kernel": rng.standard_normal((n_in, n_out)).astype(np.float32),
               "bias": rng.standard_normal(n_out).astype(np.float32)}
    return Node(name, "dense", [source], (n_out,), {"activation": {"name": act}}, weights, name, "Dense")


def chain_graph(prefix, names, seed=0, input_name="x"):
    """A chain of dense layers named `names` (it gets the batched NAME_predict_batch)."""
    rng = np.random.default_rng(seed)
    nodes, previous, width = [], input_name, 4
    for k, name in enumerate(names):
        out = 3 if k % 2 else 5
        nodes.append(_dense(name, previous, width, out, rng))
        previous, width = name, out
    return Graph(prefix, [TensorSpec(input_name, (4,))], [TensorSpec(previous, (width,))], nodes)


def merge_graph(prefix, names, seed=0):
    """Two inputs, merges, a transpose with its index table, two outputs: every kind of local and array."""
    n = iter(names)
    rng = np.random.default_rng(seed)
    a, b, add, cat, grid, turned, flat, out = (next(n) for _ in range(8))
    nodes = [
        _dense(a, "inputs", 4, 3, rng),
        _dense(b, a, 3, 3, rng),
        Node(add, "add", [a, b], (3,), {}, {}, add, "Add"),
        Node(cat, "concatenate", [a, add], (6,), {"axis": 0}, {}, cat, "Concatenate"),
        Node(grid, "reshape", [cat], (2, 3), {}, {}, grid, "Reshape"),
        Node(turned, "transpose", [grid], (3, 2), {"perm": [1, 0]}, {}, turned, "Permute"),
        Node(flat, "reshape", [turned], (6,), {}, {}, flat, "Flatten"),
        _dense(out, flat, 6, 2, rng, "linear"),
    ]
    return Graph(prefix, [TensorSpec("inputs", (4,)), TensorSpec("outputs", (2,))],
                 [TensorSpec(out, (2,)), TensorSpec(b, (3,))], nodes)


# Prefix -> graph: the issue's two collisions (t with layers d and d_kernel; a with b_x beside a_b with x),
# the tail collision of the old API (a and a_BATCH), and the hostile name set in merges and chains.
def hostile_graphs():
    return {
        "t": chain_graph("t", ["d", "d_kernel"]),
        "a": chain_graph("a", ["b_x", "d", "predict"], seed=1),
        "a_b": chain_graph("a_b", ["x", "kernel"], seed=2, input_name="b_x"),
        "a_BATCH": chain_graph("a_BATCH", ["SCRATCH_FLOATS", "BATCH_SCRATCH_FLOATS"], seed=3),
        "node0": merge_graph("node0", HOSTILE[:8], seed=4),
        "t0": merge_graph("t0", HOSTILE[8:16], seed=5),
    }


def render(graph) -> str:
    from exporter.c.render import to_header
    from exporter.frontend_files import reference_predict
    from exporter.test_vectors import make_test_vectors

    from exporter.gradient_vectors import kerasless_gradients, make_gradient_check

    vectors = make_test_vectors(graph, reference_predict(graph))
    check = make_gradient_check(graph, vectors, kerasless_gradients(graph), "kerasless")  # names of --gradients too
    return to_header(graph, vectors, {"source": "hostile"}, check).decode("ascii")


@pytest.fixture(scope="module")
def headers(tmp_path_factory):
    directory = tmp_path_factory.mktemp("hostile")
    paths = {}
    for prefix, graph in hostile_graphs().items():
        paths[prefix] = directory / f"{prefix}.h"
        paths[prefix].write_text(render(graph))
    return paths


def one_program(headers) -> str:
    includes = "".join(f'#include "{path.name}"\n' for path in headers.values())
    checks = "".join(f'    failures += report("{p}", {p}_selftest(NULL));\n' for p in headers)
    return f"""\
#include <stdio.h>
{includes}
static int report(const char *name, int failures)
{{
    printf("%s %d\\n", name, failures);
    return failures;
}}

int main(void)
{{
    int failures = 0;
{checks}    return failures != 0;
}}
"""


@pytest.mark.parametrize("variant", ["gcc", "g++", "clang", "sanitize"])
def test_hostile_headers_build_together_and_pass_their_selftests(headers, tmp_path, variant):
    """Every hostile header in one translation unit: strict C99 and C++11, ASan/UBSan; every selftest passes."""
    cc = {"gcc": "gcc", "g++": "g++", "clang": "clang", "sanitize": "gcc"}[variant]
    source = tmp_path / ("main.cpp" if cc.endswith("++") else "main.c")
    source.write_text(one_program(headers))
    flags = SANITIZE if variant == "sanitize" else ()
    done = run(build([source], tmp_path / "main", cc=cc, flags=flags, include=[next(iter(headers.values())).parent],
                     opt="-O1"))
    assert done.stdout.decode().split() == [word for p in headers for word in (p, "0")]


# ---- the naming rule, checked on what the headers really declare ---------------------------------


def _code(text: str) -> str:
    """The header without comments (where layer names live)."""
    return re.sub(r"/\*.*?\*/", " ", text, flags=re.S)


def file_scope_names(text: str) -> set:
    code = _code(text)
    macros = re.findall(r"^\s*#\s*define\s+(\w+)", code, re.M)
    declared = re.findall(r"^static\s+(?:inline\s+|const\s+|KL_ALWAYS_INLINE\s+)*[\w\s\*]*?\b(\w+)\s*[\[(]", code, re.M)
    return set(macros) | set(declared)


def _in_kernel_namespace(name: str) -> bool:
    return name.split("_")[0] in KERNEL_NAMESPACES


def test_every_declared_name_is_prefix_and_a_suffix_that_obeys_the_rule(headers):
    suffixes = set()
    for prefix, path in headers.items():
        for name in file_scope_names(path.read_text()):
            if _in_kernel_namespace(name):
                continue
            assert name.startswith(prefix + "_"), (prefix, name)
            suffix = name[len(prefix) + 1:]
            assert is_suffix(suffix), (prefix, name)
            suffixes.add(suffix)
    assert {"predict", "predict_multi", "predict_batch", "selftest", "INPUT_SIZE", "OUTPUT_SIZE", "SCRATCH_FLOATS",
            "NUM_INPUTS", "BATCH_STACK_FLOATS", "node0_kernel", "node5_index", "INPUT_1_SIZE", "input_gradient",
            "input_gradient_multi", "GRADIENT_FLOATS", "GRADIENT_ROWS", "gradient_index", "test_gradients"} <= suffixes
    assert suffix_rule_violations(suffixes | set(SUFFIXES)) == []


def test_no_other_name_in_a_header_ends_with_a_suffix(headers):
    """Locals, parameters and kernel names: none can equal PREFIX_<suffix> for any prefix."""
    for prefix, path in headers.items():
        text = path.read_text()
        own = file_scope_names(text)
        for token in set(re.findall(r"\b[A-Za-z_]\w*", _code(text))) - own:
            parts = token.split("_")
            tails = ["_".join(parts[k:]) for k in range(1, len(parts))]
            assert not any(is_suffix(tail) for tail in tails), (prefix, token)


def test_locals_have_no_underscore(headers):
    text = headers["node0"].read_text()
    body = _code(text).split("node0_predict_scratch(float *scratch, const float *const inputs[], float *const outputs[])\n{")[1]
    body = body.split("\n}\n")[0]
    declared = re.findall(r"(?:float|int)\s*\*?\s*(?:const\s+)?(\w+)\s*(?:\[|=)", body)
    assert declared and all("_" not in name for name in declared), declared
    assert {"t0", "t1", "in0", "args2", "args3", "chunks3"} <= set(declared)


def test_layer_names_stay_in_comments(headers):
    text = headers["t"].read_text()
    assert "d_kernel (Dense)" in text and "t_d_kernel" not in text
    assert "static const float t_node1_kernel[5 * 3]" in text


def test_the_rule_catches_the_old_tail_collision():
    assert suffix_rule_violations({"BATCH_SCRATCH_FLOATS"}) == [("BATCH_SCRATCH_FLOATS", "SCRATCH_FLOATS")]
    assert suffix_rule_violations({"X_node3_bias"}) == [("X_node3_bias", "node3_bias")]
    assert suffix_rule_violations({"node3_kernel_scale"}) == []  # a future per-node array
    assert suffix_rule_violations() == []


@pytest.mark.parametrize("role", ["predict", "selftest", "MACS", "Kernel", "kernel_2", ""])
def test_array_roles_that_could_break_the_rule_are_refused(role):
    with pytest.raises(ExportError, match="cannot name a C array"):
        array_name("m", 3, role)


# ---- kernels of different kerasless versions -------------------------------------------------------


def test_two_headers_with_different_kernel_text_refuse_to_build(tmp_path, monkeypatch):
    """A kernel is shared between headers only when its text is the same; otherwise #error, never silence."""
    from exporter.c import resources

    (tmp_path / "older.h").write_text(render(chain_graph("older", ["d"])))
    original = resources.kernel_source
    monkeypatch.setattr(resources, "kernel_source",
                        lambda name: original(name) + "/* another version */\n")
    (tmp_path / "newer.h").write_text(render(chain_graph("newer", ["d"])))
    source = tmp_path / "main.c"
    source.write_text('#include "older.h"\n#include "newer.h"\nint main(void)\n{\n'
                      '    return older_selftest(NULL) + newer_selftest(NULL);\n}\n')
    done = subprocess.run([compiler("gcc"), *STRICT_C, f"-I{tmp_path}", str(source), "-o", str(tmp_path / "main"),
                           "-lm"], capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "different kerasless versions" in done.stderr, done.stderr


# ---- prefixes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, message", [
    ("a_", "double underscore"), ("a__b", "double underscore"), ("_a", "reserved"), ("kl", "kernels"),
    ("kl_dense", "kernels"), ("KERASLESS_MODEL", "kernels"), ("KL_x", "kernels"), ("x" * 41, "at most 40"),
    ("for", "keyword"), ("9a", "not a valid C identifier"), ("a-b", "not a valid C identifier"),
])
def test_prefixes_that_could_collide_or_are_reserved_are_refused(name, message):
    with pytest.raises(ExportError, match=message):
        check_prefix(name)


@pytest.mark.parametrize("stem", ["int", "kl_model", "9lives", "a__b_", "__x", "KERASLESS", "x" * 80, "caf\u00e9 2",
                                  "", "_"])
def test_default_prefixes_from_file_names_are_always_valid(stem):
    assert check_prefix(c_identifier(stem)) == c_identifier(stem)


def test_keras_model_with_the_issue_names_exports_a_working_header(keras, tmp_path):
    """The issue's file: t.keras with layers d and d_kernel (the local t_d_kernel used to hide t_d_kernel)."""
    from exporter.cli import main

    L = keras.layers
    inputs = keras.Input((2,), name="x")
    hidden = L.Dense(3, activation="tanh", name="d")(inputs)
    outputs = L.Dense(3, name="d_kernel")(hidden)
    path = tmp_path / "t.keras"
    keras.Model(inputs, outputs).save(path)
    assert main([str(path), "-o", str(tmp_path / "t.h")]) == 0
    source = tmp_path / "main.c"
    source.write_text('#include <stdio.h>\n#include "t.h"\nint main(void)\n{\n    return t_selftest(NULL);\n}\n')
    run(build([source], tmp_path / "main", flags=SANITIZE, include=[tmp_path], opt="-O1"))
