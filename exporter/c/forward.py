"""Plan NAME_predict_multi: C names, the weight arrays each node reads, and one step per node.

Python does the thinking here; templates/model.h.j2 only loops and lays out the plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from exporter import activations as _activations
from exporter.c.buffers import plan_buffers
from exporter.c.identifiers import check_prefix, input_local, merge_locals, tensor_local
from exporter.c.literals import c_comment, c_list, float_literal, param_literal, shape_text
from exporter.c.resources import kernel_path
from exporter.c.weights import WeightArrays
from exporter.converters import OPS
from exporter.errors import ExportError
from exporter.ir import Graph, size_of
from runtime_py.model import slice_index
from runtime_py.ops import REDUCE_FUNCTIONS

# Activation name -> its parameters in kernel argument order (exporter/activations.py).
ACTIVATION_PARAMS = getattr(_activations, "PARAMETERS", {})

# IR ops plan_forward lays out a call for; each also needs its kernel runtime_c/<op>.h (an
# activation node needs runtime_c/<activation>.h). An op missing from either keeps a model
# from getting a header, with the layer named (header_unsupported).
C_OPS = ("dense", "activation", "reshape", "scale_shift", "prelu", "layer_norm", "rms_norm", "unit_norm",
         "standardize", "transpose", "broadcast", "repeat", "concatenate", "add", "subtract", "divide", "multiply",
         "average", "maximum", "minimum", "dot", "matmul", "reduce", "slice")


def header_unsupported(graph: Graph) -> str | None:
    """Say why the header writer cannot express the graph yet, or return None when it can."""
    for node in graph.nodes:
        where = f"layer {node.layer!r} ({node.layer_class})"
        if node.op not in C_OPS or (node.op != "activation" and not kernel_path(node.op).is_file()):
            return f"{where}: op {node.op!r} has no C kernel yet"
        act = (node.attrs.get("activation") or {}).get("name", "linear")
        if act != "linear" and not kernel_path(act).is_file():
            return f"{where}: activation {act!r} has no C kernel yet"
    return None


@dataclass
class Step:
    """One node of the forward pass: a comment, an optional declaration, kernel calls."""

    comment: str
    declaration: str | None
    calls: list = field(default_factory=list)


@dataclass
class Plan:
    prefix: str
    arrays: list  # Array: the weights (identical arrays stored once), then index tables
    inputs: list  # dicts: index, name, shape, size
    outputs: list
    input_declarations: list  # C lines binding model inputs to names
    steps: list  # Step
    scratch: list  # dicts: var, offset, size, shape, node, in_place (for comments and tests)
    scratch_floats: int
    kernels: list  # kernel names: ops in the registry's order, then activations
    inputs_unused: bool
    weights: WeightArrays = None  # where the arrays' names come from (NAME_input_gradient reads them too)


# export-model --weights: the C type of a stored dense kernel, and what its values mean
STORED_CTYPES = {"int8": "signed char", "float16": "unsigned short"}
STORED_NOTES = {"int8": "int8, weight = q * kernel_scale[column]", "float16": "IEEE binary16 bits"}


def transpose_index(shape, perm) -> np.ndarray:
    """Flat source index of every output value of transposing `shape` by `perm` (row-major)."""
    return np.transpose(np.arange(size_of(shape)).reshape(shape), perm).ravel()


def broadcast_index(shape, target) -> np.ndarray:
    """Flat source index of every output value of broadcasting `shape` to `target` (numpy's rule, row-major)."""
    return np.broadcast_to(np.arange(size_of(shape)).reshape(shape), target).ravel()


def matmul_tables(node, index: int, in_shapes: list, arrays: WeightArrays) -> tuple:
    """The C arguments naming which matrix of each input every output matrix reads: an index table, or
    NULL where output matrix t reads matrix t (the input has the output's leading axes)."""
    lead = tuple(node.shape[:-2])
    tables = []
    for k, shape in enumerate(in_shapes):
        if tuple(shape[:-2]) == lead:
            tables.append("NULL")
            continue
        tables.append(arrays.add(node, index, f"index{k}", broadcast_index(shape[:-2], lead), "int",
                                 f"{c_comment(node.layer)} ({c_comment(node.layer_class)}): matrix of input {k} "
                                 f"{shape_text(shape)} read by each of the {size_of(lead)} output matrices",
                                 size_of(lead)))
    return tuple(tables)


def plan_forward(graph: Graph) -> Plan:
    """Decide names, weight arrays, stack buffers and kernel calls for the graph."""
    prefix = check_prefix(graph.name)
    reason = header_unsupported(graph)
    if reason:
        raise ExportError(f"cannot write a C header: {reason}; the .json and .npz formats support it")
    buffers = plan_buffers(graph)
    shapes = graph.tensor_shapes()
    arrays = WeightArrays(prefix)

    # Which tensors the code reads: inputs of the nodes it runs, and the sources of final copies.
    read = {t for node in graph.nodes if node.name in buffers.needed and node.op != "reshape" for t in node.inputs}
    read |= {t for _, t in buffers.copies}
    for node in reversed(graph.nodes):  # a reshape that is read makes its source read
        if node.op == "reshape" and node.name in read:
            read.add(node.inputs[0])

    variables = {}  # tensor name -> C variable
    input_declarations = []
    for k, spec in enumerate(graph.inputs):
        if spec.name in read:
            variables[spec.name] = var = input_local(k)
            input_declarations.append(
                f"const float *const {var} = inputs[{k}]; /* input {c_comment(spec.name)}: {shape_text(spec.shape)} */")

    steps, scratch, kernels = [], [], set()
    for index, node in enumerate(graph.nodes):
        in_shapes = [shapes[t] for t in node.inputs]
        record = node.attrs.get("activation") or {"name": "linear"}
        act = record["name"]
        summary = (f"{c_comment(node.layer)} ({c_comment(node.layer_class)}): {node.op} "
                   f"{' + '.join(shape_text(s) for s in in_shapes)} -> {shape_text(node.shape)}")
        if node.op in ("dense", "activation"):
            summary += f", {act}"
        if node.name not in buffers.needed:
            steps.append(Step(summary + ": no output depends on it, skipped", None))
            continue
        if node.op == "reshape":
            if node.name in read:
                var = variables[node.name] = tensor_local(index)
                steps.append(Step(summary + ": same data, no copy",
                                  f"const float *const {var} = {variables[node.inputs[0]]}; /* {shape_text(node.shape)} */"))
            continue
        var = variables[node.name] = tensor_local(index)
        srcs = [variables[t] for t in node.inputs]
        if node.name in buffers.output_home:
            k = buffers.output_home[node.name]
            declaration = f"float *const {var} = outputs[{k}]; /* {shape_text(node.shape)}: output {k} */"
        else:
            offset = buffers.offset[node.name]
            overwritten = buffers.in_place.get(node.name)
            note = f": in place of {variables[overwritten]}, not read after this" if overwritten else ""
            declaration = f"float *const {var} = scratch + {offset}; /* {shape_text(node.shape)}{note} */"
            scratch.append({"var": var, "offset": offset, "size": size_of(node.shape), "shape": shape_text(node.shape),
                            "node": c_comment(node.name), "in_place": overwritten})
        calls, note, used = forward_calls(node, index, var, srcs, in_shapes, arrays)
        step = Step(summary + note, declaration, calls)
        kernels |= used
        steps.append(step)

    for k, tensor in buffers.copies:  # a model input, or a tensor that is also an earlier output
        steps.append(Step(f"output {k} is {c_comment(tensor)}: copy it", None,
                          [f"kl_reshape_forward(outputs[{k}], {variables[tensor]}, {size_of(shapes[tensor])});"]))
        kernels.add("reshape")

    def tensors(specs):
        return [{"index": k, "name": c_comment(t.name), "shape": shape_text(t.shape), "size": size_of(t.shape)}
                for k, t in enumerate(specs)]

    order = [op for op in OPS if op in kernels]
    return Plan(prefix, arrays.arrays, tensors(graph.inputs), tensors(graph.outputs), input_declarations, steps,
                sorted(scratch, key=lambda s: s["offset"]), buffers.floats,
                order + sorted(kernels - set(order)), not input_declarations, arrays)


def forward_calls(node, index: int, var: str, srcs: list, in_shapes: list, arrays: WeightArrays,
                  activation_out: str | None = None) -> tuple:
    """The kernel calls that compute node `index` into var from srcs: (calls, comment note, kernels used).

    A dense node's activation runs in place on var unless activation_out names another buffer
    (NAME_input_gradient keeps the sums before the activation).
    """
    calls, note, used = [], "", set()
    record = node.attrs.get("activation") or {"name": "linear"}
    act = record["name"]

    def weight(key):
        if key not in node.weights:
            return "NULL"
        return arrays.add(node, index, key, node.weights[key])

    size = size_of(node.shape)
    n = node.shape[-1] if node.shape else 1
    rows = size // n
    op = node.op
    if op == "dense":
        n_in, n_out = node.weights["kernel"].shape
        stored = node.storage.get("kernel")
        if stored is None:
            calls.append(f"kl_dense_forward({var}, {srcs[0]}, {weight('kernel')}, {weight('bias')}, "
                         f"{size // n_out}, {n_in}, {n_out});")
        else:  # export-model --weights: the stored values, decoded inside the kernel
            kernel = arrays.add(node, index, "kernel", stored.values, ctype=STORED_CTYPES[stored.dtype],
                                comment=f"{c_comment(node.layer)} ({c_comment(node.layer_class)}) kernel: "
                                        f"{shape_text((n_in, n_out))}, {STORED_NOTES[stored.dtype]}")
            scale = (arrays.add(node, index, "scales", stored.scale) + ", ") if stored.scale is not None else ""
            calls.append(f"kl_dense_{stored.dtype}_forward({var}, {srcs[0]}, {kernel}, {scale}{weight('bias')}, "
                         f"{size // n_out}, {n_in}, {n_out});")
        if act != "linear":
            target = activation_out or var
            calls.append(f"kl_{act}_forward({target}, {var}, {rows}, {n}{_activation_args(node, record)});")
            used.add(act)
    elif op == "activation":  # rows and n describe the input (glu halves its last axis)
        n_in = in_shapes[0][-1] if in_shapes[0] else 1
        calls.append(f"kl_{act}_forward({var}, {srcs[0]}, {size_of(in_shapes[0]) // n_in}, {n_in}"
                     f"{_activation_args(node, record)});")
        used.add(act)
    elif op == "scale_shift":
        calls.append(f"kl_scale_shift_forward({var}, {srcs[0]}, {weight('scale')}, {weight('shift')}, "
                     f"{rows}, {n});")
    elif op == "prelu":
        calls.append(f"kl_prelu_forward({var}, {srcs[0]}, {weight('alpha')}, {size});")
    elif op == "layer_norm":
        note += " (rms_scaling)" if node.attrs["rms_scaling"] else ""
        calls.append(f"kl_layer_norm_forward({var}, {srcs[0]}, {weight('gamma')}, {weight('beta')}, {rows}, "
                     f"{n}, {float_literal(node.attrs['epsilon'])}, {int(node.attrs['rms_scaling'])});")
    elif op == "rms_norm":
        calls.append(f"kl_rms_norm_forward({var}, {srcs[0]}, {weight('scale')}, {rows}, {n}, "
                     f"{float_literal(node.attrs['epsilon'])});")
    elif op == "unit_norm":
        clamp = node.attrs["clamp"]
        note += f" (clamp {clamp})"
        calls.append(f"kl_unit_norm_forward({var}, {srcs[0]}, {rows}, {n}, "
                     f"{float_literal(node.attrs['epsilon'])}, {int(clamp == 'inverse')});")
    elif op == "standardize":
        note += " (inverted)" if node.attrs["invert"] else ""
        calls.append(f"kl_standardize_forward({var}, {srcs[0]}, {weight('mean')}, {weight('std')}, {size}, "
                     f"{int(node.attrs['invert'])});")
    elif op == "transpose":
        perm = node.attrs["perm"]
        table = arrays.add(node, index, "index", transpose_index(in_shapes[0], perm), "int",
                           f"{c_comment(node.layer)} ({c_comment(node.layer_class)}): source index of each value "
                           f"of {shape_text(in_shapes[0])} permuted by {shape_text(perm)}", size)
        calls.append(f"kl_transpose_forward({var}, {srcs[0]}, {table}, {size});")
    elif op == "broadcast":
        table = arrays.add(node, index, "index", broadcast_index(in_shapes[0], node.shape), "int",
                           f"{c_comment(node.layer)} ({c_comment(node.layer_class)}): source index of each value "
                           f"of {shape_text(in_shapes[0])} broadcast to {shape_text(node.shape)}", size)
        calls.append(f"kl_broadcast_forward({var}, {srcs[0]}, {table}, {size});")
    elif op == "slice":
        table = arrays.add(node, index, "index", slice_index(in_shapes[0], node.attrs["begin"], node.attrs["step"],
                                                             node.shape), "int",
                           f"{c_comment(node.layer)} ({c_comment(node.layer_class)}): source of each value "
                           f"of {shape_text(in_shapes[0])} sliced to {shape_text(node.shape)}", size)
        calls.append(f"kl_slice_forward({var}, {srcs[0]}, {table}, {size});")
    elif op == "repeat":
        calls.append(f"kl_repeat_forward({var}, {srcs[0]}, {size_of(in_shapes[0])}, {node.attrs['n']});")
    elif op == "concatenate":
        axis = node.attrs["axis"]
        parts, chunks = merge_locals(index)
        calls += [f"const float *const {parts}[{len(srcs)}] = {{{c_list(srcs)}}};",
                  f"const int {chunks}[{len(srcs)}] = {{{c_list(size_of(s[axis:]) for s in in_shapes)}}};",
                  f"kl_concatenate_forward({var}, {parts}, {chunks}, {len(srcs)}, "
                  f"{size_of(in_shapes[0][:axis])});"]
    elif op in ("add", "multiply", "average", "maximum", "minimum"):
        parts, _ = merge_locals(index)
        calls += [f"const float *const {parts}[{len(srcs)}] = {{{c_list(srcs)}}};",
                  f"kl_{op}_forward({var}, {parts}, {len(srcs)}, {size});"]
    elif op in ("subtract", "divide"):
        calls.append(f"kl_{op}_forward({var}, {srcs[0]}, {srcs[1]}, {size});")
    elif op == "dot":
        note += " (normalized)" if node.attrs["normalize"] else ""
        calls.append(f"kl_dot_forward({var}, {srcs[0]}, {srcs[1]}, {size_of(in_shapes[0])}, "
                     f"{int(node.attrs['normalize'])});")
    elif op == "matmul":
        a_index, b_index = matmul_tables(node, index, in_shapes, arrays)
        (a, b) = in_shapes
        calls.append(f"kl_matmul_forward({var}, {srcs[0]}, {srcs[1]}, {a_index}, {b_index}, "
                     f"{size_of(node.shape[:-2])}, {a[-2]}, {a[-1]}, {b[-1]});")
    elif op == "reduce":  # rows and n describe the input, whose last axis is reduced
        function = node.attrs["function"]
        note += f" ({function})"
        width = in_shapes[0][-1]
        calls.append(f"kl_reduce_forward({var}, {srcs[0]}, {size_of(in_shapes[0]) // width}, {width}, "
                     f"{REDUCE_FUNCTIONS.index(function)});")
    else:  # header_unsupported lets through only the ops above
        raise ExportError(f"node {node.name!r}: op {op!r} has no call in the header writer")
    if op != "activation":
        used.add(op)
    return calls, note, used


def _activation_args(node, record) -> str:
    """The activation's parameters as C arguments, in exporter/activations.py's order."""
    act = record["name"]
    missing = [p for p in ACTIVATION_PARAMS.get(act, ()) if p not in record]
    if missing:
        raise ExportError(f"node {node.name!r}: activation {act!r} lacks parameter(s) {', '.join(missing)}")
    return "".join(f", {param_literal(record[p])}" for p in ACTIVATION_PARAMS.get(act, ()))
