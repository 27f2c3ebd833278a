"""Find the files the header is assembled from: runtime_c/ kernels and the templates/ template.

Both live at the top of a source checkout and inside the wheel as exporter.runtime_c and
exporter.templates (pyproject.toml).
"""

from __future__ import annotations

import hashlib
import importlib.resources
from pathlib import Path

from exporter.errors import ExportError

TEMPLATE = "model.h.j2"


def _resource_dir(package: str, folder: str):
    """Return the folder as a Traversable: exporter.<folder> in the wheel, <repo>/<folder> in a checkout."""
    try:
        directory = importlib.resources.files(package)
        if directory.is_dir():
            return directory
    except (ModuleNotFoundError, TypeError):
        pass
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / folder, here.parent / folder):
        if candidate.is_dir():
            return candidate
    raise ExportError(f"kerasless is installed without its {folder}/ folder; reinstall kerasless")


BACKWARD = "_backward"  # kernel <name>_backward is runtime_c/backward/<name>.h (NAME_input_gradient's)


def kernel_path(name: str):
    """Return runtime_c/<name>.h, or runtime_c/backward/<op>.h for <op>_backward, as a Traversable (it may not exist)."""
    folder = _resource_dir("exporter.runtime_c", "runtime_c")
    if name.endswith(BACKWARD):
        return folder.joinpath("backward").joinpath(f"{name[:-len(BACKWARD)]}.h")  # one part per call (wheels)
    return folder.joinpath(f"{name}.h")


def kernel_source(name: str) -> str:
    """Return the text of runtime_c/<name>.h (runtime_c/backward/<op>.h for <op>_backward)."""
    path = kernel_path(name)
    if not path.is_file():
        where = f"backward/{name[:-len(BACKWARD)]}" if name.endswith(BACKWARD) else name
        raise ExportError(f"cannot write a C header: there is no C kernel runtime_c/{where}.h yet; "
                          "export to .json or .npz instead")
    return path.read_text(encoding="utf-8")


def template(name: str = TEMPLATE):
    """Return a compiled Jinja template of templates/ (default: the header's)."""
    import jinja2

    text = _resource_dir("exporter.templates", "templates").joinpath(name).read_text(encoding="utf-8")
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True, autoescape=False)
    return env.from_string(text)


def shared_kernel(name: str) -> str:
    """Return runtime_c/<name>.h with a digest of its text in its guard, and a check of that digest.

    Headers included together share each kernel through its guard; a header whose kernel text
    differs (another kerasless version) then stops the build with #error instead of silently
    running the other header's kernel.
    """
    text = kernel_source(name).rstrip("\n")
    guard = f"KERASLESS_KERNEL_{name.upper()}"
    digest = "0x" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    if f"\n#define {guard}\n" not in text:
        raise ExportError(f"runtime_c/{name}.h lacks its guard #define {guard}; reinstall kerasless")
    text = text.replace(f"\n#define {guard}\n", f"\n#define {guard} {digest} /* sha256 of this kernel's text */\n", 1)
    return (f"{text}\n#if {guard} != {digest}\n"
            f"#error \"kerasless: headers from different kerasless versions carry different {name} kernels; "
            f"re-export them with one version\"\n#endif")

