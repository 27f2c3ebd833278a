"""The C header writer, one job per module.

    identifiers  --name and the C identifiers derived from it
    literals     exact float literals, aligned rows, safe comments
    resources    runtime_c/ kernels and the templates/ template, in a checkout or the wheel
    buffers      where each tensor lives during one predict call (scratch planning)
    weights      the static const arrays, identical ones stored once
    forward      the steps of NAME_predict_multi: one kernel call list per node
    batch        NAME_predict_batch for chains of dense layers
    gradients    NAME_input_gradient (export-model --gradients): the forward pass kept, then backward kernels
    render       the header itself (to_header)
"""
