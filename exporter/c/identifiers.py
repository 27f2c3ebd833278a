"""C identifiers: validate --name, derive safe names from file, layer and model names."""

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

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def check_prefix(name: str) -> str:
    """Validate a user-given --name; raise ExportError saying what is wrong."""
    if not IDENTIFIER.match(name):
        raise ExportError(f"--name {name!r} is not a valid C identifier (letters, digits, _; not starting with a digit)")
    if name in RESERVED:
        raise ExportError(f"--name {name!r} is a C or C++ keyword; choose another name")
    if name.startswith("__") or re.match(r"_[A-Z]", name):
        raise ExportError(f"--name {name!r} is reserved for the C implementation (leading __ or _ and a capital)")
    return name


def c_identifier(text: str, fallback: str = "model") -> str:
    """Make any text into a valid, non-reserved C identifier (ASCII letters, digits, _)."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text)
    name = re.sub(r"_+", "_", name).strip("_") or fallback
    if name[0].isdigit():
        name = f"{fallback}_{name}"
    if name in RESERVED:
        name = f"{name}_"
    return name
