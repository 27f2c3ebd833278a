"""Plan NAME_input_gradient (export-model --gradients): a forward pass that keeps every tensor, then
one backward kernel call per node in reverse (runtime_c/backward/, docs/format.md "Backward rules").

Everything lives in one stack array `tape`: each node's output (and a dense node's sums before its
activation), then one gradient buffer per tensor. Backward kernels add into their input gradients,
so a tensor read by several nodes sums what they send back; all gradients start at 0. A reshape
shares its source's floats and its gradient. Nodes the chosen output does not depend on are
skipped, as tf.GradientTape skips them; which output that is is known only at run time, so each
backward step is guarded by the outputs it leads to.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from exporter.c.forward import Plan, _activation_args, broadcast_index, forward_calls, transpose_index
from exporter.c.literals import c_comment, c_list, float_literal, shape_text
from exporter.ir import Graph, size_of
from runtime_py.model import slice_index
from runtime_py.ops import REDUCE_FUNCTIONS


@dataclass
class GradientStep:
    comment: str
    condition: str | None  # C condition on `which` (the output holding the chosen value), None: always
    calls: list = field(default_factory=list)


@dataclass
class GradientPlan:
    floats: int  # NAME_GRADIENT_FLOATS: the tape
    uses_which: bool  # whether a backward step depends on which output holds the chosen value
    gradient_floats: int  # the tape's gradient part, zeroed at the start of each call
    gradient_offset: int
    declarations: list  # C lines: inputs, forward tensors, gradients
    forward: list  # Step-like dicts: comment, calls
    seeds: list  # dicts: output index k, first flat index, size, gradient variable
    backward: list  # GradientStep, in reverse node order
    kernels: list  # backward kernel names (<op>_backward, <activation>_backward)
    input_gradients: list  # C variables of the caller's gradient buffers, per input


def _ancestors(graph: Graph) -> dict:
    """node name -> set of output positions it leads to (through reshapes too)."""
    leads = {node.name: set() for node in graph.nodes}
    for k, spec in enumerate(graph.outputs):
        leads.setdefault(spec.name, set()).add(k)
    for node in reversed(graph.nodes):
        for source in node.inputs:
            leads.setdefault(source, set()).update(leads.get(node.name, set()))
    return leads


def _kept(node) -> int:
    """Tensors the tape keeps for a node: its output, and a dense node's sums before a non-linear activation."""
    if node.op == "reshape":
        return 0
    act = (node.attrs.get("activation") or {}).get("name", "linear")
    return 2 if node.op == "dense" and act != "linear" else 1


def gradient_floats(graph: Graph) -> int:
    """NAME_GRADIENT_FLOATS without laying out the calls: every kept tensor and its gradient."""
    needed = {name for name, outs in _ancestors(graph).items() if outs}
    return 2 * sum(_kept(node) * size_of(node.shape) for node in graph.nodes if node.name in needed)


def plan_gradient(graph: Graph, plan: Plan) -> GradientPlan:
    """Lay out NAME_input_gradient_multi for the graph, reading the weight arrays the forward plan stored."""
    shapes = graph.tensor_shapes()
    leads = _ancestors(graph)
    needed = {name for name, outs in leads.items() if outs}
    model_inputs = {t.name: k for k, t in enumerate(graph.inputs)}
    arrays = plan.weights

    declarations, value, grad = [], {}, {}
    for name, k in model_inputs.items():
        value[name], grad[name] = f"in{k}", f"gin{k}"
        declarations.append(f"const float *const in{k} = inputs[{k}]; /* input {c_comment(name)}: "
                            f"{shape_text(shapes[name])} */")
        declarations.append(f"float *const gin{k} = grads[{k}]; /* its gradient */")

    offset = 0
    forward_lines, slots = [], []  # slots: (variable, size, shape, what)

    def slot(var, size, shape, what):
        nonlocal offset
        slots.append(f"float *const {var} = tape + {offset}; /* {shape_text(shape)}: {what} */")
        offset += size

    nodes = [(index, node) for index, node in enumerate(graph.nodes) if node.name in needed]
    for index, node in nodes:
        if node.op == "reshape":
            continue
        size = size_of(node.shape)
        act = (node.attrs.get("activation") or {}).get("name", "linear")
        value[node.name] = f"t{index}"
        if node.op == "dense" and act != "linear":
            slot(f"z{index}", size, node.shape, f"{c_comment(node.name)} before {act}")
        slot(f"t{index}", size, node.shape, c_comment(node.name))
    gradient_offset = offset
    for index, node in nodes:
        if node.op == "reshape":
            continue
        act = (node.attrs.get("activation") or {}).get("name", "linear")
        grad[node.name] = f"g{index}"
        if node.op == "dense" and act != "linear":
            slot(f"gz{index}", size_of(node.shape), node.shape, f"gradient of z{index}")
        slot(f"g{index}", size_of(node.shape), node.shape, f"gradient of t{index}")
    for index, node in nodes:  # a reshape shares its source's floats and gradient
        if node.op == "reshape":
            value[node.name], grad[node.name] = value[node.inputs[0]], grad[node.inputs[0]]
    declarations += slots

    for index, node in nodes:
        if node.op == "reshape":
            continue
        in_shapes = [shapes[t] for t in node.inputs]
        srcs = [value[t] for t in node.inputs]
        act = (node.attrs.get("activation") or {}).get("name", "linear")
        if node.op == "dense" and act != "linear":
            calls, note, _ = forward_calls(node, index, f"z{index}", srcs, in_shapes, arrays, f"t{index}")
        else:
            calls, note, _ = forward_calls(node, index, f"t{index}", srcs, in_shapes, arrays)
        forward_lines.append({"comment": _summary(node, in_shapes) + note, "calls": calls})

    seeds, start = [], 0
    for k, spec in enumerate(graph.outputs):
        size = size_of(spec.shape)
        seeds.append({"index": k, "start": start, "size": size, "grad": grad[spec.name]})
        start += size

    backward, kernels = [], []
    everything = set(range(len(graph.outputs)))
    for index, node in reversed(nodes):
        if node.op == "reshape":
            continue
        outs = leads[node.name]
        condition = None if outs == everything else " || ".join(f"which == {k}" for k in sorted(outs))
        calls, used = _backward_calls(node, index, value, grad, shapes, arrays)
        for name in used:
            if name not in kernels:
                kernels.append(name)
        backward.append(GradientStep(_summary(node, [shapes[t] for t in node.inputs]) + ": backward", condition,
                                     calls))
    return GradientPlan(offset, any(step.condition for step in backward), offset - gradient_offset, gradient_offset, declarations, forward_lines, seeds,
                        backward, sorted(kernels), [f"gin{k}" for k in range(len(graph.inputs))])


def _summary(node, in_shapes) -> str:
    act = (node.attrs.get("activation") or {}).get("name")
    return (f"{c_comment(node.layer)} ({c_comment(node.layer_class)}): {node.op} "
            f"{' + '.join(shape_text(s) for s in in_shapes)} -> {shape_text(node.shape)}" + (f", {act}" if act else ""))


def _backward_calls(node, index, value, grad, shapes, arrays) -> tuple:
    """The backward kernel calls of one node: (calls, kernel names)."""
    op, attrs = node.op, node.attrs
    in_shapes = [shapes[t] for t in node.inputs]
    srcs = [value[t] for t in node.inputs]
    dsrcs = [grad[t] for t in node.inputs]
    g, y = grad[node.name], value[node.name]
    size = size_of(node.shape)
    n = node.shape[-1] if node.shape else 1
    rows = size // n
    record = attrs.get("activation") or {"name": "linear"}
    act = record["name"]

    def weight(key):
        return arrays.find(node.weights[key]) if key in node.weights else "NULL"

    if op == "dense":
        n_in, n_out = node.weights["kernel"].shape
        calls, used = [], ["dense_backward"]
        upstream = g
        if act != "linear":
            calls.append(f"kl_{act}_backward(gz{index}, {g}, z{index}, {y}, {rows}, {n}"
                         f"{_activation_args(node, record)});")
            used.append(f"{act}_backward")
            upstream = f"gz{index}"
        calls.append(f"kl_dense_backward({dsrcs[0]}, {upstream}, {weight('kernel')}, {size // n_out}, {n_in}, {n_out});")
        return calls, used
    if op == "activation":
        n_in = in_shapes[0][-1] if in_shapes[0] else 1
        return ([f"kl_{act}_backward({dsrcs[0]}, {g}, {srcs[0]}, {y}, {size_of(in_shapes[0]) // n_in}, {n_in}"
                 f"{_activation_args(node, record)});"], [f"{act}_backward"])
    if op == "reduce":
        width = in_shapes[0][-1]
        return ([f"kl_reduce_backward({dsrcs[0]}, {g}, {srcs[0]}, {y}, {size_of(in_shapes[0]) // width}, {width}, "
                 f"{REDUCE_FUNCTIONS.index(attrs['function'])});"], ["reduce_backward"])
    one = {
        "scale_shift": lambda: f"{weight('scale')}, {rows}, {n}",
        "prelu": lambda: f"{srcs[0]}, {weight('alpha')}, {size}",
        "layer_norm": lambda: f"{srcs[0]}, {weight('gamma')}, {rows}, {n}, {float_literal(attrs['epsilon'])}, "
                              f"{int(attrs['rms_scaling'])}",
        "rms_norm": lambda: f"{srcs[0]}, {weight('scale')}, {rows}, {n}, {float_literal(attrs['epsilon'])}",
        "unit_norm": lambda: f"{srcs[0]}, {rows}, {n}, {float_literal(attrs['epsilon'])}, "
                             f"{int(attrs['clamp'] == 'inverse')}",
        "standardize": lambda: f"{weight('std')}, {size}, {int(attrs['invert'])}",
        "transpose": lambda: f"{arrays.find(transpose_index(in_shapes[0], attrs['perm']), 'int')}, {size}",
        "broadcast": lambda: f"{arrays.find(broadcast_index(in_shapes[0], node.shape), 'int')}, {size}",
        "slice": lambda: f"{arrays.find(slice_index(in_shapes[0], attrs['begin'], attrs['step'], node.shape), 'int')}, "
                         f"{size}",
        "repeat": lambda: f"{size_of(in_shapes[0])}, {attrs['n']}",
    }
    if op in one:
        return [f"kl_{op}_backward({dsrcs[0]}, {g}, {one[op]()});"], [f"{op}_backward"]
    if op == "matmul":
        lead = tuple(node.shape[:-2])
        a_index, b_index = (arrays.find(broadcast_index(s[:-2], lead), "int") if tuple(s[:-2]) != lead else "NULL"
                            for s in in_shapes)
        a, b = in_shapes
        return [f"kl_matmul_backward({dsrcs[0]}, {dsrcs[1]}, {g}, {srcs[0]}, {srcs[1]}, {a_index}, {b_index}, "
                f"{size_of(lead)}, {a[-2]}, {a[-1]}, {b[-1]});"], ["matmul_backward"]
    if op in ("subtract", "divide", "dot"):
        tail = (f"{size}" if op == "subtract" else f"{srcs[0]}, {srcs[1]}, {size}" if op == "divide"
                else f"{srcs[0]}, {srcs[1]}, {size_of(in_shapes[0])}, {int(attrs['normalize'])}")
        return [f"kl_{op}_backward({dsrcs[0]}, {dsrcs[1]}, {g}, {tail});"], [f"{op}_backward"]
    targets = f"dargs{index}"
    calls = [f"float *const {targets}[{len(dsrcs)}] = {{{c_list(dsrcs)}}};"]
    if op == "concatenate":
        axis = attrs["axis"]
        calls += [f"const int dchunks{index}[{len(srcs)}] = {{{c_list(size_of(s[axis:]) for s in in_shapes)}}};",
                  f"kl_concatenate_backward({targets}, {g}, dchunks{index}, {len(srcs)}, "
                  f"{size_of(in_shapes[0][:axis])});"]
    elif op in ("add", "average"):
        calls.append(f"kl_{op}_backward({targets}, {g}, {len(srcs)}, {size});")
    else:  # multiply, maximum, minimum: the forward pass's argument array args<index> holds the inputs
        calls.append(f"kl_{op}_backward({targets}, {g}, args{index}, {len(srcs)}, {size});")
    return calls, [f"{op}_backward"]
