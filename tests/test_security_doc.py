"""SECURITY.md keeps its word: every test it names exists, and its limits table is runtime_py.limits."""

from __future__ import annotations

import re

from conftest import ROOT
from runtime_py.limits import LIMITS

TEXT = (ROOT / "SECURITY.md").read_text(encoding="utf-8")


def test_every_named_test_exists():
    defined = set()
    for path in (ROOT / "tests").glob("test_*.py"):
        defined |= set(re.findall(r"^def (test_\w+)", path.read_text(encoding="utf-8"), re.M))
    named = set(re.findall(r"\b(test_\w+)\b(?!\.py)", TEXT)) - {"test_security_doc"}
    assert named and not named - defined, sorted(named - defined)


def test_the_limits_table_is_the_registry():
    rows = dict((name, (int(value.replace(",", "")), what)) for name, value, what in
                re.findall(r"^\| `(MAX_\w+)` \| ([\d,]+) \| (.+?) \|$", TEXT, re.M))
    assert rows == LIMITS
