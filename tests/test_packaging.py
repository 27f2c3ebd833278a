"""A non-editable install works from any directory: templates and C sources ship inside the wheel."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

from conftest import ROOT


def test_wheel_installs_and_exports_from_elsewhere(zoo, tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(wheels), str(ROOT)], check=True, capture_output=True, timeout=600)
    (wheel,) = wheels.glob("kerasless-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder, package in (("templates", "exporter/templates"), ("runtime_c", "exporter/runtime_c")):
        for source in (ROOT / folder).rglob("*"):
            if source.suffix in (".j2", ".h"):
                relative = source.relative_to(ROOT / folder).as_posix()
                assert f"{package}/{relative}" in names, f"{folder}/{relative} missing from the wheel"
    assert "runtime_py/__init__.py" in names and "exporter/cli.py" in names and "exporter/c/render.py" in names

    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site),
                    str(wheel)], check=True, capture_output=True, timeout=600)
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    model = zoo.saved("digits", "keras")
    env = dict(os.environ, PYTHONPATH=str(site))
    code = (
        "import sys, exporter, runtime_py\n"
        f"assert exporter.__file__.startswith({str(site)!r}), exporter.__file__\n"
        f"assert runtime_py.__file__.startswith({str(site)!r}), runtime_py.__file__\n"
        "from exporter.cli import main\n"
        f"sys.exit(main([{str(model)!r}, '-o', 'out/m.json', '-o', 'out/m.h', '--gradients'] + sys.argv[1:]))\n"
    )
    (workdir / "out").mkdir()
    done = subprocess.run([sys.executable, "-c", code], cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    check = subprocess.run([sys.executable, "-c", "import runtime_py; runtime_py.load('out/m.json').verify()"],
                           cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
    assert check.returncode == 0, check.stderr
    header = (workdir / "out" / "m.h").read_text()  # rendered from the templates and kernels in the wheel
    assert "digits_predict(" in header and "kl_dense_forward" in header
    assert "kl_dense_backward" in header  # runtime_c/backward/ ships too
