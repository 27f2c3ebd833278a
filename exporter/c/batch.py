"""NAME_predict_batch: several samples at a time through a chain of dense and activation nodes."""

from __future__ import annotations

from exporter.c.forward import Plan
from exporter.ir import Graph, size_of

BATCH_ROWS = 8  # NAME_BATCH_ROWS off x86-64 (24 there, in the template): samples pushed through each layer together


def plan_batch(graph: Graph, plan: Plan) -> dict | None:
    """Lay out NAME_predict_batch for a one-input, one-output chain of dense and activation nodes.

    The calls are NAME_predict_multi's own, with rows multiplied by the samples in the chunk: every
    kernel involved works row by row, so the results are those of NAME_predict, bit for bit.
    Returns None for any other graph; the template then loops NAME_predict.
    """
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        return None
    previous = graph.inputs[0].name
    for node in graph.nodes:
        if list(node.inputs) != [previous] or node.op not in ("dense", "activation", "reshape"):
            return None
        previous = node.name
    if previous != graph.outputs[0].name:
        return None
    rows_arg = {"dense": 4, "dense_float16": 4, "dense_int8": 5}  # argument index of rows; activations: 2
    calls = [call for step in plan.steps for call in step.calls]
    if not calls or any(not call.startswith("kl_") or call.startswith("kl_reshape_forward") for call in calls):
        return None
    width = max([size_of(node.shape) for node in graph.nodes] or [1])
    lines, current, buffer, producing = [], "input", 0, None
    last_step = max(k for k, step in enumerate(plan.steps) if step.calls)
    for k, step in enumerate(plan.steps):
        for position, call in enumerate(step.calls):
            name, args = call[:-2].split("(", 1)
            args = args.split(", ")
            kernel = name[len("kl_"):-len("_forward")]
            if position == 0:  # the node's first call reads the previous tensor and writes the next one
                producing = "output" if k == last_step else f"buffers[{buffer}]"
                buffer = 1 - buffer if k != last_step else buffer
                args[0], args[1] = producing, current
            else:  # a fused activation, in place
                args[0] = args[1] = producing
            index = rows_arg.get(kernel, 2)
            args[index] = f"b * {args[index]}"
            lines.append(f"{name}({', '.join(args)});")
        if step.calls:
            current = producing
    # buffers only between two steps that compute: a reshape before the one computing step has no calls
    computing = sum(1 for step in plan.steps if step.calls)
    return {"rows": BATCH_ROWS, "width": width, "lines": lines, "buffers": computing > 1}
