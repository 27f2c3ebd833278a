"""The gradient and inversion examples run, write only where they are told, and match their sources."""

from __future__ import annotations

import subprocess
import sys

import pytest

import runtime_py
from conftest import ROOT

EXAMPLES = ROOT / "examples"


def _tree_state() -> str:
    """What git sees changed or added in the checkout (empty outside a git checkout)."""
    done = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT, capture_output=True,
                          text=True)
    return done.stdout if done.returncode == 0 else ""


def _run(script, *args, cwd):
    before = _tree_state()
    done = subprocess.run([sys.executable, str(EXAMPLES / script), *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert _tree_state() == before, "the example wrote into the checkout"
    return done


def test_saliency_writes_the_picture_where_asked(tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib draws the picture: pip install 'kerasless[examples]'")
    out = tmp_path / "pictures" / "saliency.png"
    out.parent.mkdir()
    done = _run("saliency.py", "--out", out, cwd=tmp_path)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["saliency.png"]
    assert "10 held-back digits (10 classified right)" in done.stdout
    assert done.stdout.count("moves log(p/p2) most") == 10


def test_invert_recovers_the_inputs(tmp_path):
    done = _run("invert.py", "--rows", 200, cwd=tmp_path)
    assert list(tmp_path.iterdir()) == []
    line = next(line for line in done.stdout.splitlines() if "max |recovered - original|" in line)
    assert float(line.split("=")[1].split(",")[0]) < 1e-5, line
    assert "NotInvertibleError: node 'hidden_2'" in done.stdout and "outside the activation's range" in done.stdout


@pytest.mark.parametrize("stem", ["digits", "tanh_inverse"])
def test_shipped_model_files_are_the_exports_of_the_keras_files(stem, tmp_path):
    """examples/<stem>.json is what export-model makes of examples/<stem>.h5 (same graph, same weights)."""
    import json

    from exporter.export import export

    export(EXAMPLES / f"{stem}.h5", [tmp_path / f"{stem}.json"])
    shipped, fresh = (json.loads(p.read_text()) for p in (EXAMPLES / f"{stem}.json", tmp_path / f"{stem}.json"))
    assert shipped["weights_sha256"] == fresh["weights_sha256"]
    assert [(n["op"], n["shape"]) for n in shipped["nodes"]] == [(n["op"], n["shape"]) for n in fresh["nodes"]]
    runtime_py.load(EXAMPLES / f"{stem}.json").verify()
