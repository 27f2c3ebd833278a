"""Plan where every tensor lives during one predict call: the caller's buffers or one scratch array.

docs/c-api.md (Stack) describes the rules this plan follows.
"""

from __future__ import annotations

from dataclasses import dataclass

from exporter.ir import Graph, size_of

# Ops whose kernel may write its output over an input of the same size (runtime_c/README.md):
# each output value is computed from the same position of the inputs, or a row is read in full
# before it is written. dense, transpose, broadcast, repeat, concatenate, dot and matmul never run in place.
IN_PLACE_OPS = frozenset({"activation", "scale_shift", "prelu", "layer_norm", "rms_norm", "unit_norm", "standardize",
                          "add", "subtract", "divide", "multiply", "average", "maximum", "minimum"})


@dataclass
class Buffers:
    """Where each tensor's floats live during one predict call.

    A reshape shares its source's floats; `root` maps every tensor to the tensor that owns
    them. An owner lives in a model input (read only), in outputs[k], or in one region of
    the scratch array from its node until its last reader (its own node if never read).
    """

    root: dict  # tensor -> the tensor owning its floats
    needed: set  # tensors some output depends on; other nodes are skipped
    output_home: dict  # owner -> k: written straight into outputs[k]
    copies: list  # (k, tensor): outputs filled by a copy at the end (inputs, repeated outputs)
    offset: dict  # owner in scratch -> its first float
    in_place: dict  # node -> the input it overwrites (the input's floats are dead afterwards)
    last_use: dict  # owner -> index of the last node reading it (len(nodes) for a final copy)
    floats: int  # NAME_SCRATCH_FLOATS: the highest scratch float used
    lower_bound: int  # the most floats live at once: no placement can use fewer


def plan_buffers(graph: Graph) -> Buffers:
    """Place every intermediate tensor: outputs in the caller's buffers, the rest in one scratch array.

    Scratch regions are reused once their tensor is dead, so the scratch array holds the peak
    of simultaneously live intermediates; docs/c-api.md (Stack) describes the rules.
    """
    sizes = {name: size_of(shape) for name, shape in graph.tensor_shapes().items()}
    root = {t.name: t.name for t in graph.inputs}
    for node in graph.nodes:
        root[node.name] = root[node.inputs[0]] if node.op == "reshape" else node.name
    model_inputs = {t.name for t in graph.inputs}

    needed = {t.name for t in graph.outputs}
    for node in reversed(graph.nodes):
        if node.name in needed:
            needed.update(node.inputs)
    steps = [(i, node) for i, node in enumerate(graph.nodes) if node.name in needed]

    output_home, copies = {}, []
    for k, spec in enumerate(graph.outputs):
        owner = root[spec.name]
        if owner in model_inputs or owner in output_home:
            copies.append((k, spec.name))
        else:
            output_home[owner] = k

    last_use = {}
    for i, node in steps:
        last_use.setdefault(node.name, i)  # never read: dead right after its own node
        for t in node.inputs:
            last_use[root[t]] = i
    for _, t in copies:
        last_use[root[t]] = len(graph.nodes)

    def in_scratch(owner):
        return owner not in model_inputs and owner not in output_home

    # Decide what each step does with the scratch array; placement comes after.
    # events: (node, floats in scratch (0: it lives elsewhere), the owner it overwrites in place or None,
    #          owners whose floats are free after this node)
    events, in_place = [], {}
    live, live_floats, lower_bound = set(), 0, 0
    for i, node in steps:
        if node.op == "reshape":
            continue
        dying = sorted({root[t] for t in node.inputs if in_scratch(root[t]) and last_use[root[t]] == i})
        dying_set = set(dying)
        if not in_scratch(node.name):
            events.append((node.name, 0, None, dying))
        else:
            size = sizes[node.name]
            reuse = None
            if node.op in IN_PLACE_OPS:
                reuse = next((t for t in node.inputs if root[t] in dying_set and sizes[root[t]] == size), None)
            if reuse is not None:
                in_place[node.name] = reuse
            lower_bound = max(lower_bound, live_floats + (0 if reuse else size))
            if last_use[node.name] == i:  # never read (only when a graph has a dead end): free at once
                dying.append(node.name)
            events.append((node.name, size, reuse and root[reuse], dying))
            live.add(node.name)
            live_floats += size
        for owner in dying:
            if owner in live:
                live.remove(owner)
                live_floats -= sizes[owner]

    inputs_of = {node.name: [root[t] for t in node.inputs] for _, node in steps}
    best = None
    for strategy in ("ends", "first_fit"):
        offset, floats = _place(events, inputs_of, lower_bound, strategy)
        if best is None or floats < best[1]:
            best = (offset, floats)
    return Buffers(root, needed, output_home, copies, best[0], in_place, last_use, best[1], lower_bound)


# Live regions beyond which a new tensor is placed above all of them instead of in a gap: searching
# the gaps costs time in the number of live regions, so a graph keeping thousands of tensors alive
# (one merge of every earlier layer) would take quadratic time. Chains and usual graphs stay far below.
CROWDED = 64


def _place(events, inputs_of, limit, strategy):
    """Give each scratch tensor an offset; return (offsets, floats used).

    first_fit: the lowest gap that holds the tensor. ends: within `limit` floats, the end of a
    gap farthest from the node's own inputs, so a chain of layers alternates between the two
    ends of the array and needs only its widest pair of neighbours; it falls back to
    first_fit when nothing fits below the limit.
    """
    offset, regions, floats = {}, {}, 0  # regions: live owner -> (start, end)
    for name, size, overwritten, dying in events:
        if size and overwritten is not None:
            offset[name] = offset[overwritten]
            regions[name] = regions.pop(overwritten)
        elif size and len(regions) > CROWDED:  # above everything used so far: linear time for any graph
            offset[name] = floats
            regions[name] = (floats, floats + size)
            floats += size
        elif size:
            taken = sorted(regions.values())
            gaps, start = [], 0
            for begin, end in taken:
                if begin > start:
                    gaps.append((start, begin))
                start = max(start, end)
            gaps.append((start, None))  # everything above the last live region
            spot = None
            if strategy == "ends":
                near = [regions[o] for o in inputs_of[name] if o in regions]
                candidates = []
                for begin, end in gaps:
                    end = limit if end is None else min(end, limit)
                    if end - begin >= size:
                        candidates += [begin, end - size]
                if candidates:
                    def distance(at):
                        return min((max(b - (at + size), at - e, 0) for b, e in near), default=0)
                    spot = max(candidates, key=lambda at: (distance(at), -at))
            if spot is None:
                spot = next((begin for begin, end in gaps if end is None or end - begin >= size))
            offset[name] = spot
            regions[name] = (spot, spot + size)
            floats = max(floats, spot + size)
        for owner in dying:
            regions.pop(owner, None)
    return offset, floats


def scratch_floats(graph: Graph) -> int:
    """Floats of stack scratch one NAME_predict_multi call uses (NAME_SCRATCH_FLOATS)."""
    return plan_buffers(graph).floats  # the buffer plan alone: no weight literals to format
