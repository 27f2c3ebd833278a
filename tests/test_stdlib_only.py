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
