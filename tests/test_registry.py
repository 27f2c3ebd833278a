"""The registry is the single source of truth: every op has a Python kernel, a numpy kernel, a C kernel,
a validator and a test row, and docs/layers.md is generated from it."""

from __future__ import annotations

import json
import re

import pytest

from conftest import ROOT
from exporter import layer_docs
from exporter.converters import OPS
from runtime_py import kernels_numpy, kernels_python
from runtime_py.ops import OPS as RUNTIME_OPS

KERNEL_OPS = sorted(set(OPS) - {"activation"})  # "activation" dispatches to the activation kernels


def test_layers_doc_is_current():
    committed = (ROOT / "docs" / "layers.md").read_text(encoding="utf-8")
    assert committed == layer_docs.render(), "docs/layers.md is stale: run python -m exporter.layer_docs docs/layers.md"


def test_exporter_and_runtime_know_the_same_ops():
    assert set(OPS) == set(RUNTIME_OPS)


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
