"""Regenerate the op and activation tables of docs/format.md: `python -m exporter.format_docs docs/format.md`.

The tables come from the declarations the validator applies (runtime_py/ops.py SIGNATURES,
DIMENSIONS, ATTR_KINDS) and from the activation registry (exporter/activations.py); only the
text between the BEGIN/END markers is rewritten. The prose around them (each op's exact
formula, each activation's) is written by hand; tests/test_registry.py checks both.
"""

from __future__ import annotations

import sys

from exporter.activations import ACTIVATIONS, ALIASES, AXIS_WISE, FLAGS, PARAMETERS, RESHAPING
from runtime_py.ops import ATTR_KINDS, DIMENSIONS, SIGNATURES

BEGIN = "<!-- BEGIN GENERATED: python -m exporter.format_docs docs/format.md rewrites this block; do not edit -->"
END = "<!-- END GENERATED -->"


def _inputs(signature) -> str:
    low, high = signature.inputs
    if low == high:
        return str(low)
    return f"{low} or more" if high is None else f"{low} to {high}"


def _number(value) -> str:
    return f"{value:,}" if isinstance(value, int) else repr(value)


def _range(attr) -> str:
    parts = []
    if attr.choices:
        parts.append("one of " + ", ".join(f'`"{c}"`' for c in attr.choices))
    if attr.low is not None:
        parts.append(f"{'>' if attr.low_open else '>='} {_number(attr.low)}")
    if attr.high is not None:
        parts.append(f"<= {_number(attr.high)}")
    if attr.rule:
        parts.append(attr.rule)
    return "; ".join(parts)


def _attrs(signature) -> str:
    cells = []
    for key, attr in signature.attrs.items():
        bounds = _range(attr)
        cells.append(f"`{key}` ({attr.kind}{', ' + bounds if bounds else ''}): {attr.meaning}")
    return "<br>".join(cells) or "none"


def _weights(signature) -> str:
    cells = []
    for key, weight in signature.weights.items():
        dtypes = " or ".join(weight.dtypes)
        optional = ", optional" if weight.optional else ""
        cells.append(f"`{key}` `[{', '.join(weight.shape)}]` ({dtypes}{optional}): {weight.meaning}")
    return "<br>".join(cells) or "none"


def _applies(name: str) -> str:
    if name in RESHAPING:
        return "each row of the last axis; the output's last axis is half the input's"
    if name in AXIS_WISE:
        return "each row of the last axis"
    return "each value"


def _parameters(name: str) -> str:
    return ", ".join(f"`{p}` ({'bool' if p in FLAGS else 'number'})" for p in PARAMETERS[name]) or "none"


def render_block() -> str:
    """Return the generated block, markers included."""
    lines = [BEGIN, "", "| op | inputs | attrs | weights |", "|---|---|---|---|"]
    lines += [f"| `{op}` | {_inputs(s)} | {_cell(_attrs(s))} | {_cell(_weights(s))} |"
              for op, s in SIGNATURES.items()]
    lines += ["", "Weight shapes are written in these dimensions:", ""]
    lines += [f"* `{name}`: {meaning}" for name, (meaning, _) in DIMENSIONS.items()]
    lines += ["", "Attribute kinds:", ""]
    lines += [f"* {kind}: {meaning}" for kind, meaning in ATTR_KINDS.items()]
    lines += ["", "| activation | parameters | applies to |", "|---|---|---|"]
    lines += [f"| `{name}` | {_parameters(name)} | {_applies(name)} |" for name in sorted(ACTIVATIONS)]
    aliases = ", ".join(f"`{old}` is `{new}`" for old, new in sorted(ALIASES.items()))
    lines += ["", f"Keras names the exporter writes as these records (a file never holds them): {aliases}.", "", END]
    return "\n".join(lines)


def render(document: str) -> str:
    """Return docs/format.md with its generated block replaced."""
    start, end = document.find(BEGIN), document.find(END)
    if start < 0 or end < start:
        raise ValueError("docs/format.md has no generated block (BEGIN/END markers)")
    return document[:start] + render_block() + document[end + len(END):]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.stderr.write("usage: python -m exporter.format_docs docs/format.md\n")
        return 2
    with open(argv[0], encoding="utf-8") as stream:
        text = render(stream.read())
    with open(argv[0], "w", encoding="utf-8") as stream:
        stream.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
