"""C identifiers: the prefix (--name) and every name a header declares, unique by construction.

A header declares two kinds of names (docs/c-api.md, Names):

* file scope (functions, arrays, macros): `PREFIX_<suffix>`, the suffix taken from SUFFIXES or
  made by array_name from a node's index and a role. No suffix ends with `_` and another suffix
  (suffix_rule_violations), so `p_s == q_t` only when `p == q` and `s == t`: the headers of two
  models with different prefixes never declare the same name.
* inside functions: names without an underscore (`t3`, `in0`, `args5`, `scratch`), which no
  `PREFIX_<suffix>` can equal, so a local never hides a global or expands a macro of any header.

Layer names never become identifiers; they appear in comments only (exporter/c/literals.c_comment).
"""

from __future__ import annotations

import re

from exporter.errors import ExportError

# C11 + C++11/20 keywords and alternative tokens, plus names the C library reserves in practice.
RESERVED = frozenset("""
alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t char32_t
class co_await co_return co_yield compl concept const const_cast consteval constexpr constinit continue
decltype default delete do double dynamic_cast else enum explicit export extern false float for friend
goto if inline int long mutable namespace new noexcept not not_eq nullptr operator or or_eq private
protected public register reinterpret_cast requires restrict return short signed sizeof static
static_assert static_cast struct switch template this thread_local throw true try typedef typeid
typename union unsigned using virtual void volatile wchar_t while xor xor_eq
_Alignas _Alignof _Atomic _Bool _Complex _Generic _Imaginary _Noreturn _Static_assert _Thread_local
main errno assert offsetof NULL INFINITY NAN
""".split())

IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
# The shared kernels and their guards live in these namespaces (runtime_c/README.md).
KERNEL_NAMESPACES = ("kl", "KL", "KERASLESS")
# C99 guarantees 63 significant characters in an internal identifier or a macro name: a prefix of
# at most 40 leaves 22 for `_` and the suffix (the longest today, BATCH_STACK_FLOATS, has 18).
MAX_PREFIX = 40
MAX_SUFFIX = 22

# Every fixed suffix a header declares after `PREFIX_`, and the ones reserved for planned features,
# so that they already obey the rule. Patterned suffixes: INPUT_<k>_SIZE, OUTPUT_<k>_SIZE
# (k a model input's or output's position) and node<k>_<role> (array_name).
SUFFIXES = {
    "predict": "function: one sample, one input, one output",
    "predict_multi": "function: one sample, any number of inputs and outputs",
    "predict_batch": "function: n samples",
    "selftest": "function: run the embedded test vectors",
    "NUM_INPUTS": "macro: how many inputs",
    "NUM_OUTPUTS": "macro: how many outputs",
    "INPUT_SIZE": "macro: floats of input 0 (one-input models)",
    "OUTPUT_SIZE": "macro: floats of output 0 (one-output models)",
    "SCRATCH_FLOATS": "macro: stack floats of one predict call",
    "BATCH_STACK_FLOATS": "macro: stack floats of one predict_batch call",
    "BATCH_ROWS": "macro: samples one predict_batch chunk takes through each layer (a caller may define it)",
    "TEST_ROWS": "macro: rows of test vectors",
    "predict_scratch": "function: predict_multi with a caller-provided scratch buffer",
    "DECLARE_SCRATCH": "macro: declares a scratch buffer for predict_scratch",
    "SCRATCH_BYTES": "macro: bytes of scratch of one predict call",
    "WEIGHT_BYTES": "macro: bytes of the constant arrays but the test vectors",
    "MACS": "macro: multiply-adds of the dense layers per sample",
    "test_inputs": "array: the test vectors' inputs",
    "test_outputs": "array: the test vectors' expected outputs",
    "test_low": "array: the parity judge's lower bound per test output value",
    "test_high": "array: the parity judge's upper bound per test output value",
    "input_gradient": "function (--gradients): d output value / d input, one input",
    "input_gradient_multi": "function (--gradients): d output value / d inputs, any number of inputs",
    "GRADIENT_FLOATS": "macro (--gradients): stack floats of one input_gradient call",
    "GRADIENT_ROWS": "macro (--gradients): test rows whose input gradients selftest checks",
    "gradient_index": "array (--gradients): the output value checked on each gradient row",
    "test_gradients": "array (--gradients): the reference input gradients of those rows",
    # reserved for planned features (DESIGN.md): declared by no header yet
    "predict_int8": "reserved: integer-only predict",
    "INPUT_SCALE": "reserved: int8 input quantization scale",
    "INPUT_ZERO_POINT": "reserved: int8 input zero point",
    "OUTPUT_SCALE": "reserved: int8 output quantization scale",
    "OUTPUT_ZERO_POINT": "reserved: int8 output zero point",
}
PATTERNED_SUFFIXES = (re.compile(r"INPUT_(0|[1-9][0-9]*)_SIZE\Z"), re.compile(r"OUTPUT_(0|[1-9][0-9]*)_SIZE\Z"),
                      re.compile(r"node(0|[1-9][0-9]*)_[a-z][a-z0-9]*\Z"))
ROLE = re.compile(r"[a-z][a-z0-9]*\Z")


def check_prefix(name: str) -> str:
    """Validate a user-given --name; raise ExportError saying what is wrong."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ExportError(f"--name {name!r} is not a valid C identifier (letters, digits, _; not starting with a digit)")
    if name in RESERVED:
        raise ExportError(f"--name {name!r} is a C or C++ keyword; choose another name")
    if name.startswith("_"):
        raise ExportError(f"--name {name!r} is reserved for the C implementation (a leading _ at file scope)")
    if "__" in name or name.endswith("_"):
        raise ExportError(f"--name {name!r} would make identifiers with a double underscore (reserved in C++): "
                          "no __ and no trailing _")
    if name.split("_")[0] in KERNEL_NAMESPACES:
        raise ExportError(f"--name {name!r} is in the namespace of kerasless's shared kernels "
                          f"({', '.join(k + '_' for k in KERNEL_NAMESPACES)}); choose another name")
    if len(name) > MAX_PREFIX:
        raise ExportError(f"--name {name!r} has {len(name)} characters; at most {MAX_PREFIX} keep every identifier "
                          "within the 63 characters C99 guarantees")
    return name


def c_identifier(text: str, fallback: str = "model") -> str:
    """Make any text (a model file's stem) into a prefix that check_prefix accepts."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text)
    name = re.sub(r"_+", "_", name).strip("_") or fallback
    if name[0].isdigit() or name in RESERVED or name.split("_")[0] in KERNEL_NAMESPACES:
        name = f"{fallback}_{name}"
    return name[:MAX_PREFIX].rstrip("_")


def array_name(prefix: str, node_index: int, role: str) -> str:
    """The file-scope name of a node's array: PREFIX_node<index>_<role> (role: kernel, bias, index...)."""
    if not ROLE.match(role) or is_suffix(role):
        raise ExportError(f"node {node_index}: array role {role!r} is not a lower-case word other than a suffix "
                          "in SUFFIXES; it cannot name a C array")
    return f"{prefix}_node{node_index}_{role}"


def tensor_local(node_index: int) -> str:
    """The local pointer to node k's output tensor in NAME_predict_multi."""
    return f"t{node_index}"


def input_local(input_index: int) -> str:
    """The local pointer to model input k in NAME_predict_multi."""
    return f"in{input_index}"


def merge_locals(node_index: int) -> tuple:
    """The local arrays a merge node builds before its kernel call: its input pointers and chunk sizes."""
    return f"args{node_index}", f"chunks{node_index}"


def is_suffix(text: str) -> bool:
    """True when text is a suffix a header may declare after PREFIX_."""
    return text in SUFFIXES or any(p.match(text) for p in PATTERNED_SUFFIXES)


def suffix_rule_violations(suffixes=()) -> list:
    """Return (s, t) where suffix s ends with `_` + suffix t (so prefix p with s equals prefix p_X with t).

    Checks the given suffixes and SUFFIXES, each against every suffix is_suffix accepts (patterns too),
    and that each is short enough and has no leading, trailing or double underscore.
    """
    bad = []
    for s in sorted(set(suffixes) | set(SUFFIXES)):
        parts = s.split("_")
        bad += [(s, "_".join(parts[k:])) for k in range(1, len(parts)) if is_suffix("_".join(parts[k:]))]
        if len(s) > MAX_SUFFIX or not s or s.startswith("_") or s.endswith("_") or "__" in s:
            bad.append((s, s))
    return bad
