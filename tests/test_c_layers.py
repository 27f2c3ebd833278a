"""One parity row per layer case through the compiled C header, from .h5 and .keras, at scales 1 and 50.

Every case of tests/layer_cases.py is exported to a header with its own prefix; all of them
are compiled into ONE program (tests/cheader.py), which then runs any case by index. The
reference is Keras's model.predict (shared with tests/test_layers.py's CaseZoo).
"""

from __future__ import annotations

import re

import pytest

from cbuild import SANITIZE
from cheader import MultiModelProgram
from parity import assert_parity
from test_layers import NAMES, CaseZoo

CONTAINERS = ("h5", "keras")


def _prefix(name, container):
    return f"case_{name}_{container}".lower()


@pytest.fixture(scope="module")
def c_cases(keras, tmp_path_factory):
    """Export every case from both containers to a header and compile them all into one driver."""
    from exporter.export import export

    directory = tmp_path_factory.mktemp("c_layers")
    cases = CaseZoo(keras, directory)
    program = MultiModelProgram(directory)
    for name in NAMES:
        model = cases.model(name)
        for container in CONTAINERS:
            source = directory / f"{name}.{container}"
            model.save(source)
            header = directory / f"{_prefix(name, container)}.h"
            export(source, [header], name=_prefix(name, container))
            program.add((name, container), header, _prefix(name, container), len(model.inputs), len(model.outputs))
    return cases, program, program.build()


@pytest.mark.parametrize("container", CONTAINERS)
@pytest.mark.parametrize("name", NAMES)
def test_layer_parity_in_c(c_cases, name, container):
    cases, program, exe = c_cases
    failures, err = program.selftest(exe, (name, container))
    assert failures == 0, f"{name}.{container}: selftest misses {failures} values (largest error {err})"
    for scale in (1.0, 50.0):
        inputs, expected = cases.reference(name, scale)
        shapes = [e.shape[1:] for e in expected]  # Keras may leave an axis None in model.outputs
        got = program.predict(exe, (name, container), inputs, shapes)
        assert len(got) == len(expected)
        for k, (mine, theirs) in enumerate(zip(got, expected)):
            assert_parity(mine, theirs, f"{name}.{container} in C, scale {scale}, output {k}")


def test_every_op_reaches_the_header(c_cases):
    """The cases call every op's kernel from a generated forward pass, so each call above is checked."""
    from exporter.converters import OPS

    _, program, _ = c_cases
    text = "\n".join(e.header.read_text() for e in program.entries)
    called = set(re.findall(r"^    kl_(\w+)_forward\(", text, re.M))  # calls are indented, definitions are not
    missing = sorted(op for op in OPS if op != "activation" and op not in called)
    assert not missing, f"ops never called from a generated header: {missing}"


def test_layer_cases_under_other_builds(c_cases):
    """The same program under ASan/UBSan, clang and clang++ (scale 50): clean and still in parity."""
    cases, program, _ = c_cases
    for name, flags, cc in (("sanitized", SANITIZE, "gcc"), ("clang", (), "clang"), ("cxx", (), "clang++")):
        exe = program.build(name, cc=cc, flags=flags, opt="-O0")  # -O0: a tenth of the compile time
        for case in NAMES:
            inputs, expected = cases.reference(case, 50.0)
            got = program.predict(exe, (case, "keras"), inputs, [e.shape[1:] for e in expected])
            for mine, theirs in zip(got, expected):
                assert_parity(mine, theirs, f"{case} [{name}]")
