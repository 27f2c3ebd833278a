"""Generate docs/layers.md from the registries: `python -m exporter.layer_docs docs/layers.md`."""

from __future__ import annotations

import sys

from exporter.activations import ACTIVATIONS, ALIASES, PARAMETERS
from exporter.converters import LAYERS, OPS
from exporter.operations import OPERATIONS


def render() -> str:
    """Return docs/layers.md: every supported layer, operation, activation and IR op, with notes."""
    lines = [
        "# Supported layers and activations",
        "",
        "Generated from the converter registry by `python -m exporter.layer_docs docs/layers.md`;",
        "a test fails when this file is stale. Anything not listed is refused at export with the",
        "layer's name, its class and this list.",
        "",
        "## Layers",
        "",
        "| Keras layer | notes |",
        "|---|---|",
    ]
    for name in sorted(LAYERS):
        doc = (LAYERS[name].__doc__ or "").strip().splitlines()
        lines.append(f"| `{name}` | {_cell(doc[0] if doc else '')} |")
    lines += [
        "",
        "## Operations on tensors",
        "",
        "Keras operations a functional model calls on tensors (`keras.activations.celu(x)`,",
        "`keras.ops.exp(x)`, ...), read from the node Keras writes for each call in `.keras` and `.h5`",
        "files alike (exporter/operations.py).",
        "",
        "| Keras operation | notes |",
        "|---|---|",
    ]
    for name in sorted(OPERATIONS):
        doc = (OPERATIONS[name].__doc__ or "").strip().splitlines()
        lines.append(f"| `{name}` | {_cell(doc[0] if doc else '')} |")
    lines += [
        "",
        "Graphs: Sequential and functional models, several inputs and outputs (in Keras's order),",
        "a layer called at several places, and models nested in models (flattened at export).",
        "",
        "## Activations",
        "",
        "As a layer's `activation` (by name, as Keras writes it) or an `Activation` layer.",
        "",
        "| activation | parameters | computes |",
        "|---|---|---|",
    ]
    for name in sorted(ACTIVATIONS):
        params = ", ".join(PARAMETERS[name]) or "–"
        lines.append(f"| `{name}` | {params} | {_cell(ACTIVATIONS[name])} |")
    aliases = ", ".join(f"`{old}` → `{new}`" for old, new in sorted(ALIASES.items()))
    lines += ["", f"Also read under other names: {aliases}.", "", "## IR ops", "",
              "What the runtimes implement (docs/format.md has the exact semantics).", "",
              "| op | computes |", "|---|---|"]
    lines += [f"| `{op}` | {_cell(text)} |" for op, text in OPS.items()]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    text = render()
    if argv:
        with open(argv[0], "w", encoding="utf-8") as stream:
            stream.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
