"""runtime_py on a machine without numpy, TensorFlow or Keras: a subprocess where they cannot import."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT
from parity import assert_parity

SCRIPT = r"""
import json, sys
BLOCKED = {"numpy", "tensorflow", "keras", "h5py", "jax", "torch"}

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked in this test")

sys.meta_path.insert(0, Blocker())
sys.path.insert(0, sys.argv[1])
import runtime_py
model = runtime_py.load(sys.argv[2])
assert model.backend == "python", model.backend
model.verify()
result = model.predict(json.loads(sys.stdin.read()))
leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
print(json.dumps({"result": result, "leaked": leaked}))
"""


@pytest.mark.parametrize("suffix", [".json", ".npz"])
@pytest.mark.parametrize("name", ["digits", "mnist"])
def test_runtime_without_numpy(zoo, name, suffix, tmp_path):
    path = zoo.exported(name, "keras", suffix)
    inputs = zoo.inputs(name, rows=5)
    expected = zoo.keras_predict(name, inputs)[0]
    done = subprocess.run([sys.executable, "-I", "-c", SCRIPT, str(ROOT), str(path)], cwd=tmp_path,
                          input=json.dumps(inputs[0].tolist()), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["leaked"] == []
    assert_parity(answer["result"], expected, f"{name}{suffix} without numpy")


GRADIENT_SCRIPT = SCRIPT.replace(
    "result = model.predict(json.loads(sys.stdin.read()))",
    "x = json.loads(sys.stdin.read())\n"
    "result = {'gradient': model.gradient(x, output=3), 'jacobian': model.jacobian(x[:2])}\n"
    "try:\n"
    "    model.invert(model.predict(x))\n"
    "except runtime_py.NotInvertibleError as exc:\n"
    "    result['invert'] = [exc.node, str(exc)]")


def test_gradients_and_invert_without_numpy(zoo, tmp_path):
    """The pure-Python backend's gradients equal the numpy backend's (both are checked against TensorFlow)."""
    import runtime_py

    path = zoo.exported("digits", "keras", ".json")
    x = zoo.inputs("digits", rows=3)[0]
    done = subprocess.run([sys.executable, "-I", "-c", GRADIENT_SCRIPT, str(ROOT), str(path)], cwd=tmp_path,
                          input=json.dumps(x.tolist()), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["leaked"] == []
    reference = runtime_py.load(path, backend="numpy")
    assert_parity(answer["result"]["gradient"], reference.gradient(x, output=3), "gradient without numpy")
    assert_parity(answer["result"]["jacobian"], reference.jacobian(x[:2]), "jacobian without numpy")
    node, message = answer["result"]["invert"]
    assert "not square" in message and node == reference.spec["nodes"][1]["name"]
