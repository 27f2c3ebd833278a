"""The registry is the single source of truth: every op has a Python kernel, a numpy kernel, a C kernel,
backward rules in all three, a validator and a test row, and docs/layers.md is generated from it."""

from __future__ import annotations

import json
import re

import pytest

from conftest import ROOT
from exporter import format_docs, layer_docs
from exporter.activations import ACTIVATIONS, PARAMETERS
from exporter.converters import OPS
from runtime_py import activations as runtime_activations
from runtime_py import (activations_backward_numpy, activations_backward_python, backward_numpy, backward_python,
                        kernels_numpy, kernels_python)
from runtime_py.ops import OPS as RUNTIME_OPS
from runtime_py.ops import SIGNATURES

KERNEL_OPS = sorted(set(OPS) - {"activation"})  # "activation" dispatches to the activation kernels


def test_layers_doc_is_current():
    committed = (ROOT / "docs" / "layers.md").read_text(encoding="utf-8")
    assert committed == layer_docs.render(), "docs/layers.md is stale: run python -m exporter.layer_docs docs/layers.md"


def test_exporter_and_runtime_know_the_same_ops():
    assert set(OPS) == set(RUNTIME_OPS)


# ---- docs/format.md: the specification another runtime is written from ---------------------------

FORMAT_DOC = ROOT / "docs" / "format.md"


def _section(text: str, heading: str) -> str:
    """The text under a markdown heading, up to the next heading of the same or a higher level."""
    level = heading.split()[0]
    start = text.index(f"\n{heading}\n") + len(heading) + 2
    stop = re.compile(rf"^#{{1,{len(level)}}} ", re.M).search(text, start)
    return text[start:stop.start() if stop else len(text)]


def test_every_op_is_declared():
    """runtime_py/ops.py SIGNATURES declares every registry op's inputs, attrs and weights (the validator applies it)."""
    assert list(SIGNATURES) == list(RUNTIME_OPS), "runtime_py/ops.py: SIGNATURES and OPS list different ops"
    assert set(SIGNATURES) == set(OPS), (f"ops without a declaration: {sorted(set(OPS) - set(SIGNATURES))}: add each to "
                                         "runtime_py/ops.py SIGNATURES (inputs, attrs with kinds and ranges, weights "
                                         "with shapes), then run python -m exporter.format_docs docs/format.md")


def test_format_doc_tables_are_current():
    text = FORMAT_DOC.read_text(encoding="utf-8")
    assert text == format_docs.render(text), \
        "docs/format.md's generated op tables are stale: run python -m exporter.format_docs docs/format.md"


@pytest.mark.parametrize("op", sorted(OPS))
def test_format_doc_lists_every_attr_and_weight(op):
    text = FORMAT_DOC.read_text(encoding="utf-8")
    block = text[text.index(format_docs.BEGIN):text.index(format_docs.END)]
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `(\w+)` \|.*$", block, re.M)}
    assert op in rows, f"docs/format.md has no table row for op {op!r}"
    for name in list(SIGNATURES[op].attrs) + list(SIGNATURES[op].weights):
        assert f"`{name}`" in rows[op], f"docs/format.md's row for {op!r} does not name {name!r}"


def test_every_op_has_prose_in_format_doc():
    """Each op has a hand-written '#### `op`' entry under 'Op semantics' (formula, rounding, NaN), and no other op does."""
    semantics = _section(FORMAT_DOC.read_text(encoding="utf-8"), "### Op semantics")
    entries = re.findall(r"^#### `(\w+)`$", semantics, re.M)
    assert sorted(set(OPS) - set(entries)) == [], ("ops without an entry under 'Op semantics' in docs/format.md: write "
                                                   "'#### `op`' with its exact float32 formula, rounding, NaN/inf, "
                                                   "broadcasting and axis conventions")
    assert sorted(set(entries) - set(OPS)) == [], "docs/format.md describes ops the registry does not have"
    assert len(entries) == len(set(entries)), "an op is described twice"


def test_every_activation_has_a_formula_in_format_doc():
    """Each activation has a row under 'Activations' with its parameters and its exact formula, and no other does."""
    section = _section(FORMAT_DOC.read_text(encoding="utf-8"), "### Activations")
    rows = {m.group(1): (m.group(2).strip(), m.group(3).strip())
            for m in re.finditer(r"^\| `(\w+)` \| ([^|]*) \| (.*) \|$", section, re.M)}
    assert sorted(set(ACTIVATIONS) - set(rows)) == [], "activations without a formula row in docs/format.md"
    assert sorted(set(rows) - set(ACTIVATIONS)) == [], "docs/format.md has formulas for unknown activations"
    for name, (params, formula) in rows.items():
        assert params == (", ".join(f"`{p}`" for p in PARAMETERS[name]) or "–"), f"{name}: parameters {params!r}"
        assert formula, f"{name}: no formula"


@pytest.mark.parametrize("op", KERNEL_OPS)
def test_op_has_a_kernel_in_every_runtime(op):
    assert callable(getattr(kernels_python, f"{op}_forward", None)), f"kernels_python.{op}_forward missing"
    assert callable(getattr(kernels_numpy, f"{op}_forward", None)), f"kernels_numpy.{op}_forward missing"
    header = ROOT / "runtime_c" / f"{op}.h"
    assert header.exists(), f"runtime_c/{op}.h missing"
    assert re.search(rf"\bkl_{op}_forward\s*\(", header.read_text()), f"runtime_c/{op}.h defines no kl_{op}_forward"


def test_no_kernel_without_an_op():
    for module in (kernels_python, kernels_numpy):
        extra = {name[:-len("_forward")] for name in dir(module) if name.endswith("_forward")} - set(OPS)
        assert not extra, f"{module.__name__} has kernels for unknown ops {extra}"


@pytest.mark.parametrize("op", KERNEL_OPS)
def test_op_has_a_backward_rule_in_every_runtime(op):
    for module in (backward_python, backward_numpy):
        assert callable(getattr(module, f"{op}_backward", None)), f"{module.__name__}.{op}_backward missing"


@pytest.mark.parametrize("name", sorted(runtime_activations.ACTIVATIONS))
def test_activation_has_a_backward_rule_in_every_runtime(name):
    import inspect

    params = runtime_activations.ACTIVATIONS[name]
    for module in (activations_backward_python, activations_backward_numpy):
        rule = getattr(module, f"{name}_backward", None)
        assert callable(rule), f"{module.__name__}.{name}_backward missing"
        got = tuple(inspect.signature(rule).parameters)
        assert got == ("grad", "x", "y", "rows", "n") + params, f"{module.__name__}.{name}_backward{got}"


@pytest.mark.parametrize("name", KERNEL_OPS + sorted(runtime_activations.ACTIVATIONS))
def test_backward_rule_has_a_c_kernel(name):
    """runtime_c/backward/<name>.h defines kl_<name>_backward in its own guard; activations take their parameters."""
    header = ROOT / "runtime_c" / "backward" / f"{name}.h"
    assert header.exists(), f"runtime_c/backward/{name}.h missing"
    text = header.read_text()
    assert f"#ifndef KERASLESS_KERNEL_{name.upper()}_BACKWARD\n#define KERASLESS_KERNEL_{name.upper()}_BACKWARD\n" in text
    match = re.search(rf"static inline void kl_{name}_backward\((.*?)\)\s*{{", text, re.S)
    assert match, f"runtime_c/backward/{name}.h defines no kl_{name}_backward"
    if name in runtime_activations.ACTIVATIONS:
        args = [arg.split()[-1].lstrip("*") for arg in re.sub(r"/\*.*?\*/", "", match.group(1)).split(",")]
        assert args == ["grad_in", "grad_out", "inp", "out", "rows", "n", *runtime_activations.ACTIVATIONS[name]]


def test_no_c_backward_kernel_without_an_op_or_activation():
    names = {path.stem for path in (ROOT / "runtime_c" / "backward").glob("*.h")}
    assert names <= set(OPS) | set(runtime_activations.ACTIVATIONS), names - set(OPS) - set(runtime_activations.ACTIVATIONS)


def test_no_backward_rule_without_an_op_or_activation():
    for module, known in ((backward_python, OPS), (backward_numpy, OPS),
                          (activations_backward_python, runtime_activations.ACTIVATIONS),
                          (activations_backward_numpy, runtime_activations.ACTIVATIONS)):
        extra = {name[:-len("_backward")] for name in dir(module) if name.endswith("_backward")} - set(known)
        assert not extra, f"{module.__name__} has backward rules for unknown names {extra}"


def test_every_op_has_a_test_row(keras):
    """Every op appears in the graphs of the layer table, the graph cases or the zoo."""
    from exporter.frontend_keras import _collect_weights
    from exporter.graph import build_graph
    from graph_cases import GRAPHS, build_graph_case
    from layer_cases import build_case, cases
    from zoo import MODELS, build_model

    models = [build_case(keras, name) for name in cases(keras)]
    models += [build_graph_case(keras, name) for name in GRAPHS] + [build_model(keras, name) for name in MODELS]
    seen = set()
    for model in models:
        weights = {}
        _collect_weights(model, (), weights)
        config = json.loads(json.dumps(keras.saving.serialize_keras_object(model)))
        graph = build_graph(config, lambda path, w=weights: w.get(path, []), "m")
        seen.update(node.op for node in graph.nodes)
    assert set(OPS) - seen == set(), f"ops without a test row: {sorted(set(OPS) - seen)}"
