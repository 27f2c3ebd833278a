"""Many generated headers in one C program: one compile, then rows of any model through it.

Each header is exported with its own --name prefix, so all of them can be included in one
translation unit (the kernels are shared through their include guards). The driver keeps a
dispatch table by model index: `driver INDEX` runs model INDEX on float32 rows from stdin
(every input of a sample, then the next sample) and writes every output of each row to
stdout; `driver INDEX selftest` prints "failures max_abs_err" of NAME_selftest; for a header
exported with --gradients, `driver INDEX gradient K` writes the gradient of output value K with
respect to every input of each row (NAME_input_gradient_multi).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


from cbuild import build, run, run_rows


@dataclass
class Entry:
    header: Path
    prefix: str
    n_inputs: int
    n_outputs: int
    gradients: bool = False


def _model_functions(k: int, e: Entry) -> str:
    P = e.prefix
    ins = ", ".join("in" + "".join(f" + {P}_INPUT_{j}_SIZE" for j in range(i)) for i in range(e.n_inputs))
    grads = ", ".join("grad" + "".join(f" + {P}_INPUT_{j}_SIZE" for j in range(i)) for i in range(e.n_inputs))
    outs = ", ".join("out" + "".join(f" + {P}_OUTPUT_{j}_SIZE" for j in range(i)) for i in range(e.n_outputs))
    if e.n_inputs == 1 and e.n_outputs == 1:  # the one-sample API where the model has it
        body = f"    {P}_predict(in, out);"
    else:
        body = (f"    const float *const inputs[{P}_NUM_INPUTS] = {{{ins}}};\n"
                f"    float *const outputs[{P}_NUM_OUTPUTS] = {{{outs}}};\n"
                f"    {P}_predict_multi(inputs, outputs);")
    return f"""
static void run_{k}(const float *in, float *out)
{{
{body}
}}

static int selftest_{k}(float *err)
{{
    return {P}_selftest(err);
}}
""" + (f"""
static void gradient_{k}(const float *in, int index, float *grad)
{{
    const float *const inputs[{P}_NUM_INPUTS] = {{{ins}}};
    float *const grads[{P}_NUM_INPUTS] = {{{grads}}};
    {P}_input_gradient_multi(inputs, index, grads);
}}
""" if e.gradients else "")


def driver_source(entries) -> str:
    """C source of a program holding every entry's header behind a dispatch table."""
    includes = "\n".join(f'#include "{e.header.name}"' for e in entries)
    functions = "".join(_model_functions(k, e) for k, e in enumerate(entries))
    rows = ",\n".join(
        f"    {{run_{k}, selftest_{k}, {f'gradient_{k}' if e.gradients else 'NULL'}, "
        + " + ".join(f"{e.prefix}_INPUT_{j}_SIZE" for j in range(e.n_inputs)) + ", "
        + " + ".join(f"{e.prefix}_OUTPUT_{j}_SIZE" for j in range(e.n_outputs)) + "}"
        for k, e in enumerate(entries))
    return f"""\
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
{includes}
{functions}
struct model {{
    void (*run)(const float *in, float *out);
    int (*selftest)(float *err);
    void (*gradient)(const float *in, int index, float *grad); /* NULL: exported without --gradients */
    int in_floats;  /* every input of one sample */
    int out_floats; /* every output of one sample */
}};

static const struct model models[] = {{
{rows}
}};

int main(int argc, char **argv)
{{
    const int count = (int)(sizeof models / sizeof models[0]);
    const int index = argc > 1 ? atoi(argv[1]) : -1;
    if (index < 0 || index >= count) {{
        fprintf(stderr, "usage: driver INDEX [selftest] (0 <= INDEX < %d)\\n", count);
        return 2;
    }}
    const struct model *m = &models[index];
    if (argc > 2 && strcmp(argv[2], "selftest") == 0) {{
        float err = -1.0f;
        const int failures = m->selftest(&err);
        printf("%d %.9g\\n", failures, (double)err);
        return 0;
    }}
    if (argc > 3 && strcmp(argv[2], "gradient") == 0 && m->gradient != NULL) {{
        float *x = (float *)malloc((size_t)m->in_floats * sizeof(float));
        float *grad = (float *)malloc((size_t)m->in_floats * sizeof(float));
        if (x == NULL || grad == NULL) {{
            return 3;
        }}
        while (fread(x, sizeof(float), (size_t)m->in_floats, stdin) == (size_t)m->in_floats) {{
            m->gradient(x, atoi(argv[3]), grad);
            fwrite(grad, sizeof(float), (size_t)m->in_floats, stdout);
        }}
        free(x);
        free(grad);
        return 0;
    }}
    float *in = (float *)malloc((size_t)m->in_floats * sizeof(float));
    float *out = (float *)malloc((size_t)m->out_floats * sizeof(float));
    if (in == NULL || out == NULL) {{
        return 3;
    }}
    while (fread(in, sizeof(float), (size_t)m->in_floats, stdin) == (size_t)m->in_floats) {{
        m->run(in, out);
        fwrite(out, sizeof(float), (size_t)m->out_floats, stdout);
    }}
    free(in);
    free(out);
    return 0;
}}
"""


class MultiModelProgram:
    """Collect exported headers, compile them into one driver, run any of them by key."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.entries = []
        self.index = {}  # key -> position in the dispatch table

    def add(self, key, header: Path, prefix: str, n_inputs: int, n_outputs: int, gradients: bool = False) -> None:
        self.index[key] = len(self.entries)
        self.entries.append(Entry(Path(header), prefix, n_inputs, n_outputs, gradients))

    def build(self, name="driver", cc="gcc", flags=(), opt="-O1") -> Path:
        """Compile every header into one program (strict flags; any warning fails the test)."""
        suffix = ".cpp" if cc.endswith("++") else ".c"
        source = self.directory / f"{name}{suffix}"
        source.write_text(driver_source(self.entries))
        folders = sorted({str(e.header.parent) for e in self.entries})
        return build([source], self.directory / name, cc=cc, flags=flags, include=folders, opt=opt)

    def predict(self, exe: Path, key, inputs, output_shapes) -> list:
        """Run the model on input batches (one array per model input); return one array per output."""
        return run_rows(exe, [self.index[key]], inputs, output_shapes)

    def selftest(self, exe: Path, key) -> tuple:
        """(failures, largest |error|) of the model's embedded test vectors."""
        failures, err = run(exe, self.index[key], "selftest").stdout.split()
        return int(failures), float(err)

    def gradient(self, exe: Path, key, inputs, output_index: int) -> list:
        """NAME_input_gradient_multi of output value output_index for each row: one array per model input."""
        return run_rows(exe, [self.index[key], "gradient", output_index], inputs, [x.shape[1:] for x in inputs])


# ---- finding generated names by the layer names in their comments (identifiers carry no layer names) ----


def local_of(text: str, layer: str) -> str:
    """The C local holding the output of the step commented with layer's name."""
    import re

    match = re.search(rf"/\* {re.escape(layer)} \([^\n]*\*/\n\s*(?:const )?float \*const (\w+) =", text)
    assert match, f"no step for layer {layer!r}"
    return match.group(1)


def input_local_of(text: str, name: str) -> str:
    """The C local bound to the model input called name."""
    import re

    match = re.search(rf"const float \*const (\w+) = inputs\[\d+\]; /\* input {re.escape(name)}:", text)
    assert match, f"no local for input {name!r}"
    return match.group(1)


def array_of(text: str, layer: str, role: str) -> str:
    """The static array holding layer's weight role (kernel, bias, ...)."""
    import re

    match = re.search(rf"/\* {re.escape(layer)} \(\w+\) {role}: [^\n]*\*/\nstatic const \w+ (\w+)\[", text)
    assert match, f"no {role} array for layer {layer!r}"
    return match.group(1)
