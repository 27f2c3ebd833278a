"""The malformed files of the conformance suite: each breaks one MUST of docs/format.md.

write_malformed(base, directory) derives them from one valid model file (a dense layer with test
vectors) and from two small hand-written ones, writes them to directory and returns
{file name: why every conforming reader must refuse it}. tests/conformance/generate.py calls it.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import zipfile
from pathlib import Path

import numpy as np


def _f32(values, shape=None) -> dict:
    array = np.asarray(values, dtype="<f4")
    return {"dtype": "float32", "shape": list(array.shape if shape is None else shape),
            "data": base64.b64encode(array.tobytes()).decode("ascii")}


def _small(op: str, attrs: dict, shape_in, shape_out) -> dict:
    """A one-node model without weights or test vectors, for attribute ranges."""
    return {"format": "kerasless", "format_version": 1, "name": "m",
            "inputs": [{"name": "x", "shape": shape_in}], "outputs": [{"name": "y", "shape": shape_out}],
            "nodes": [{"name": "y", "op": op, "inputs": ["x"], "shape": shape_out, "attrs": attrs}]}


def _json_edits(valid: dict) -> dict:
    """name -> (edit of the valid manifest, reason)."""
    def node(m):
        return m["nodes"][0]

    def act(m):
        return node(m)["attrs"]["activation"]

    def set_(path, value):
        def change(m):
            target = m
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
        return change

    def pop(path):
        def change(m):
            target = m
            for key in path[:-1]:
                target = target[key]
            target.pop(path[-1])
        return change

    n_in, n_out = node(valid)["weights"]["kernel"]["shape"]
    return {
        "format_name": (set_(["format"], "keras"), "`format` is not \"kerasless\""),
        "format_version_3": (set_(["format_version"], 3), "a format version this reader does not know"),
        "format_version_float": (set_(["format_version"], 1.0), "`format_version` must be the integer 1, not 1.0"),
        "missing_nodes": (pop(["nodes"]), "a required key (`nodes`) is missing"),
        "missing_inputs": (pop(["inputs"]), "a required key (`inputs`) is missing"),
        "empty_shape": (set_(["inputs", 0, "shape"], []), "`shape: []`: a tensor shape has at least one axis"),
        "zero_dimension": (set_(["inputs", 0, "shape"], [0]), "shape entries are positive integers"),
        "float_dimension": (set_(["inputs", 0, "shape"], [float(n_in)]), "shape entries are integers, not 8.0"),
        "duplicate_tensor_name": (set_(["nodes", 0, "name"], valid["inputs"][0]["name"]),
                                  "a node defines a tensor name the model input already has"),
        "input_not_defined": (set_(["nodes", 0, "inputs"], ["later"]),
                              "a node reads a tensor no input or earlier node defines (topological order)"),
        "output_not_produced": (set_(["outputs", 0, "name"], "nowhere"), "an output names no tensor"),
        "output_shape": (set_(["outputs", 0, "shape"], [n_out + 1]), "an output declares another shape than its tensor"),
        "unknown_op": (set_(["nodes", 0, "op"], "conv2d"), "unknown op"),
        "unknown_activation": (set_(["nodes", 0, "attrs", "activation"], {"name": "swish"}),
                               "unknown activation (`swish` is a Keras name; files hold `silu`)"),
        "unknown_attribute": (set_(["nodes", 0, "attrs", "axis"], 0), "an attribute dense does not have"),
        "missing_attribute": (pop(["nodes", 0, "attrs", "activation"]), "dense's `activation` is missing (no defaults)"),
        "unknown_activation_parameter": (lambda m: act(m).update(alpha=1.0),
                                         "an activation parameter the activation does not have"),
        "missing_activation_parameter": (set_(["nodes", 0, "attrs", "activation"], {"name": "leaky_relu"}),
                                         "leaky_relu without `negative_slope` (no defaults)"),
        "activation_parameter_kind": (set_(["nodes", 0, "attrs", "activation"], {"name": "leaky_relu",
                                                                                 "negative_slope": "0.2"}),
                                      "a number parameter given as a string"),
        "activation_flag_kind": (set_(["nodes", 0, "attrs", "activation"], {"name": "gelu", "approximate": 0}),
                                 "a bool parameter given as a number"),
        "activation_glu_in_dense": (set_(["nodes", 0, "attrs", "activation"], {"name": "glu"}),
                                    "glu changes the shape: never in a dense node"),
        "huge_integer_attribute": (set_(["nodes", 0, "attrs", "activation"], {"name": "leaky_relu",
                                                                              "negative_slope": 2 ** 60}),
                                   "an integer beyond 2^53 in attrs"),
        "missing_weight": (pop(["nodes", 0, "weights", "kernel"]), "dense's `kernel` is missing"),
        "unknown_weight": (lambda m: node(m)["weights"].update(gamma=_f32(np.ones(n_out))),
                           "a weight dense does not have"),
        "weight_shape": (lambda m: node(m)["weights"].update(bias=_f32(np.ones(n_out + 1))),
                         "`bias` is not `[units]`"),
        "weight_dtype_float16": (lambda m: node(m)["weights"].update(bias={
            "dtype": "float16", "shape": [n_out], "data": base64.b64encode(bytes(2 * n_out)).decode()}),
            "only a dense `kernel` may be float16 or int8"),
        "weight_dtype_float64": (lambda m: node(m)["weights"].update(bias={
            "dtype": "float64", "shape": [n_out], "data": base64.b64encode(bytes(8 * n_out)).decode()}),
            "float64 appears only in outputs64"),
        "int8_kernel_without_scale": (lambda m: node(m)["weights"].update(kernel={
            "dtype": "int8", "shape": [n_in, n_out], "data": base64.b64encode(bytes(n_in * n_out)).decode()}),
            "an int8 kernel needs `kernel_scale`"),
        "base64_short": (lambda m: node(m)["weights"]["bias"].update(data=node(m)["weights"]["bias"]["data"][:-4]),
                         "the data decodes to fewer bytes than the shape needs"),
        "base64_invalid": (lambda m: node(m)["weights"]["bias"].update(
            data="!" + node(m)["weights"]["bias"]["data"][1:]), "the data is not base64"),
        "weights_hash": (lambda m: node(m)["weights"].update(bias=_f32(np.full(n_out, 0.125))),
                         "the weights do not hash to `weights_sha256`"),
        "node_shape": (set_(["nodes", 0, "shape"], [n_out + 1]), "the node's shape does not follow from the kernel"),
        "test_vector_no_rows": (lambda m: m["test_vectors"][0].update(
            inputs=[_f32(np.zeros((0, n_in)))], outputs=[_f32(np.zeros((0, n_out)))]),
            "a test-vector batch has at least one row"),
        "test_vector_count": (lambda m: m["test_vectors"][0].update(outputs=[]),
                              "a batch holds one array per model output"),
        "test_vector_shape": (lambda m: m["test_vectors"][0].update(inputs=[_f32(np.zeros((3, n_in + 1)))]),
                              "a test input's per-sample shape is not the model input's"),
        "test_vector_rows_differ": (lambda m: m["test_vectors"][0].update(inputs=[_f32(np.zeros((2, n_in)))]),
                                    "the arrays of a batch have different row counts"),
        "rank_9": (set_(["inputs", 0, "shape"], [1] * 8 + [n_in]), "more than 8 axes (the size limits)"),
        "missing_format": (pop(["format"]), "a required key (`format`) is missing"),
        "missing_outputs": (pop(["outputs"]), "a required key (`outputs`) is missing"),
        "empty_outputs": (set_(["outputs"], []), "a model has at least one output"),
        "unknown_dtype": (lambda m: node(m)["weights"].update(bias={
            "dtype": "bfloat16", "shape": [n_out], "data": base64.b64encode(bytes(2 * n_out)).decode()}),
            "an array dtype the format does not have"),
        "kernel_scale_on_float32": (lambda m: node(m)["weights"].update(kernel_scale=_f32(np.ones(n_out))),
                                    "`kernel_scale` belongs to an int8 kernel only"),
        "outputs64_count": (lambda m: m["test_vectors"][0].update(outputs64=[]),
                            "`outputs64` holds one array per model output"),
        "outputs64_dtype": (lambda m: m["test_vectors"][0].update(outputs64=[m["test_vectors"][0]["outputs"][0]]),
                            "`outputs64` arrays are float64"),
        "base64_line_break": (lambda m: node(m)["weights"]["kernel"].update(
            data=node(m)["weights"]["kernel"]["data"][:8] + "\n" + node(m)["weights"]["kernel"]["data"][8:]),
            "base64 data holds only the alphabet and `=` (no line breaks)"),
        "attribute_kind": (set_(["nodes", 0, "attrs", "activation"], "tanh"),
                           "an attribute of the wrong kind (an activation is an object, not a string)"),
    }


SMALL = {
    "transpose_not_permutation": (_small("transpose", {"perm": [0, 0]}, [2, 3], [2, 2]),
                                  "`perm` is not a permutation of the input's axes"),
    "concatenate_negative_axis": ({**_small("concatenate", {"axis": -1}, [2], [4]),
                                   "inputs": [{"name": "x", "shape": [2]}, {"name": "z", "shape": [2]}],
                                   "nodes": [{"name": "y", "op": "concatenate", "inputs": ["x", "z"], "shape": [4],
                                              "attrs": {"axis": -1}}]},
                                  "concatenate's `axis` counts in the per-sample shape and is never negative"),
    "repeat_zero": (_small("repeat", {"n": 0}, [3], [1, 3]), "`n` is at least 1"),
    "unit_norm_epsilon_zero": (_small("unit_norm", {"epsilon": 0, "clamp": "inverse"}, [3], [3]),
                               "unit_norm's `epsilon` is above 0"),
    "unit_norm_clamp": (_small("unit_norm", {"epsilon": 1e-12, "clamp": "both"}, [3], [3]),
                        "`clamp` is \"inverse\" or \"square_sum\""),
    "subtract_three_inputs": ({**_small("subtract", {}, [2], [2]),
                               "inputs": [{"name": "x", "shape": [2]}, {"name": "z", "shape": [2]},
                                          {"name": "w", "shape": [2]}],
                               "nodes": [{"name": "y", "op": "subtract", "inputs": ["x", "z", "w"], "shape": [2]}]},
                              "subtract takes exactly 2 inputs"),
    "reshape_size": (_small("reshape", {}, [6], [4]), "a reshape keeps the number of values"),
    "transpose_shape": (_small("transpose", {"perm": [1, 0]}, [2, 3], [2, 3]),
                        "the node's shape is not the permuted input shape"),
    "concatenate_shape": ({**_small("concatenate", {"axis": 0}, [2], [4]),
                           "inputs": [{"name": "x", "shape": [2]}, {"name": "z", "shape": [3]}],
                           "nodes": [{"name": "y", "op": "concatenate", "inputs": ["x", "z"], "shape": [4],
                                      "attrs": {"axis": 0}}]},
                          "the joined axis is the sum of the inputs' sizes (5, not 4)"),
    "matmul_shape": ({**_small("matmul", {}, [2, 3], [2, 5]),
                      "inputs": [{"name": "x", "shape": [2, 3]}, {"name": "z", "shape": [4, 5]}],
                      "nodes": [{"name": "y", "op": "matmul", "inputs": ["x", "z"], "shape": [2, 5]}]},
                     "matmul's inner sizes differ (3 and 4)"),
    "dot_rank_2": ({**_small("dot", {"normalize": False}, [2, 2], [1]),
                    "inputs": [{"name": "x", "shape": [2, 2]}, {"name": "z", "shape": [2, 2]}],
                    "nodes": [{"name": "y", "op": "dot", "inputs": ["x", "z"], "shape": [1],
                               "attrs": {"normalize": False}}]},
                   "dot takes two vectors (rank 1)"),
    "repeat_rank_2": (_small("repeat", {"n": 2}, [2, 3], [2, 2, 3]), "repeat takes a vector (rank 1)"),
    "glu_odd_axis": (_small("activation", {"activation": {"name": "glu"}}, [3], [1]),
                     "glu halves the last axis: its input's last axis is even"),
    "broadcast_shape": (_small("broadcast", {}, [1, 3], [4, 2]),
                        "the input does not broadcast to the node's shape"),
}


def _npz_cases(valid_npz: bytes) -> dict:
    """name -> (bytes, reason) for the NPZ encoding."""
    source = zipfile.ZipFile(io.BytesIO(valid_npz))
    members = {info.filename: source.read(info.filename) for info in source.infolist()}
    manifest = json.loads(np.load(io.BytesIO(members["manifest.npy"]), allow_pickle=False).tobytes())
    kernel_member = manifest["nodes"][0]["weights"]["kernel"]["member"] + ".npy"

    def rezip(replace: dict, drop=()) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            for name, data in members.items():
                if name not in drop:  # a fixed date: the same bytes on every run
                    archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), replace.get(name, data))
        return out.getvalue()

    manifest_array = np.load(io.BytesIO(members["manifest.npy"]), allow_pickle=False)

    def _npy(array) -> bytes:
        out = io.BytesIO()
        np.save(out, array)
        return out.getvalue()

    kernel = np.load(io.BytesIO(members[kernel_member]), allow_pickle=False)
    fortran = io.BytesIO()
    np.save(fortran, np.asfortranarray(kernel))  # the same values, stored column-major
    fortran_bytes = fortran.getvalue()
    assert b"'fortran_order': True" in fortran_bytes
    as_f8 = io.BytesIO()
    np.save(as_f8, kernel.astype("<f8"))
    return {
        "npz_missing_member.npz": (rezip({}, drop=(kernel_member,)), "an array's NPZ member is missing"),
        "npz_fortran_member.npz": (rezip({kernel_member: fortran_bytes}), "a member is Fortran-ordered"),
        "npz_member_dtype.npz": (rezip({kernel_member: as_f8.getvalue()}),
                                 "a member's dtype is not the one its array object declares"),
        "npz_no_manifest.npz": (rezip({}, drop=("manifest.npy",)), "an NPZ without `manifest.npy`"),
        "npz_manifest_2d.npz": (rezip({"manifest.npy": _npy(manifest_array.reshape(1, -1))}),
                                "`manifest.npy` is a 1-D uint8 array"),
        "npz_manifest_dtype.npz": (rezip({"manifest.npy": _npy(manifest_array.astype("<i2"))}),
                                   "`manifest.npy` is uint8"),
    }


def write_malformed(base: Path, base_npz: Path, directory: Path) -> dict:
    """Write every malformed file derived from the valid model files base (JSON) and base_npz; return {file: reason}."""
    directory.mkdir(exist_ok=True)
    for old in directory.iterdir():
        old.unlink()
    valid = json.loads(base.read_bytes())
    valid["test_vectors"] = valid["test_vectors"][:1]  # one batch is enough to break, and keeps the files small
    text = json.dumps(valid, indent=1).encode("utf-8")
    files = {}
    for name, (change, reason) in _json_edits(valid).items():
        edited = copy.deepcopy(valid)
        change(edited)
        files[f"{name}.json"] = (json.dumps(edited).encode("utf-8"), reason)
    for name, (manifest, reason) in SMALL.items():
        files[f"{name}.json"] = (json.dumps(manifest).encode("utf-8"), reason)
    files["not_json.json"] = (b"kerasless model\n", "not JSON")
    files["nan_token.json"] = (text.replace(b'"name": "tanh"', b'"name": "tanh", "x": NaN', 1),
                               "a NaN token (JSON has none; RFC 8259)")
    files["utf16.json"] = (text.decode("utf-8").encode("utf-16"), "UTF-16: a JSON model file is UTF-8")
    files["byte_order_mark.json"] = (b"\xef\xbb\xbf" + text, "a byte-order mark before the JSON")
    files["infinity_token.json"] = (text.replace(b'"name": "tanh"', b'"name": "tanh", "x": Infinity', 1),
                                    "an Infinity token (JSON has none; RFC 8259)")
    files["infinite_number.json"] = (text.replace(b'"name": "tanh"', b'"name": "leaky_relu", "negative_slope": 1e400', 1),
                                     "a number that is not finite (1e400) in attrs")
    files.update(_npz_cases(base_npz.read_bytes()))
    for name in ("nan_token.json", "infinity_token.json", "infinite_number.json"):
        assert files[name][0] != text, f"{name}: the edit did not apply"
    for name, (data, _) in files.items():
        (directory / name).write_bytes(data)
    return {name: reason for name, (_, reason) in sorted(files.items())}
