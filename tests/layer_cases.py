"""One small Keras model per supported layer (and per config path): the layer parity table.

Every case is Input(s) -> the layer under test (-> nothing else), so no dense sum sits
between the inputs and the layer and large inputs reach it unchanged. Weights are
random (variances positive) so every weight matters.
"""

from __future__ import annotations

import numpy as np


def _randomize(model, seed):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        values = []
        for variable in layer.weights:
            name = variable.path if hasattr(variable, "path") else variable.name
            shape = tuple(variable.shape)
            if "count" in name:
                values.append(np.asarray(variable))
            elif "variance" in name:
                values.append(rng.uniform(0.5, 2.0, shape).astype(np.float32))
            else:
                values.append(rng.normal(0.0, 0.7, shape).astype(np.float32))
        if values:
            layer.set_weights(values)


def _one(keras, shape, layer, name):
    inputs = keras.Input(shape, name="x")
    return keras.Model(inputs, layer(inputs), name=name)


def _merge(keras, shape, layer, name, count=2):
    inputs = [keras.Input(shape, name=f"x{k}") for k in range(count)]
    return keras.Model(inputs, layer(inputs), name=name)


def _merge_shapes(keras, shapes, layer, name):
    """A merge of inputs of different shapes that broadcast together."""
    inputs = [keras.Input(shape, name=f"x{k}") for k, shape in enumerate(shapes)]
    return keras.Model(inputs, layer(inputs), name=name)


def _op(keras, shape, function, name):
    """Input -> a Keras operation called on the tensor (keras.activations.*, keras.ops.*): an operation node."""
    inputs = keras.Input(shape, name="x")
    return keras.Model(inputs, function(inputs), name=name)


def _op2(keras, shapes, function, name):
    """Two inputs -> a Keras operation called on both tensors."""
    inputs = [keras.Input(shape, name=f"x{k}") for k, shape in enumerate(shapes)]
    return keras.Model(inputs, function(*inputs), name=name)


def operation_cases(keras):
    """Rows "Op<class>[_variant]" for exporter/operations.py: one per Keras operation class.

    Names differ in more than case (OpReLU_params, OpRelu): the C tests make prefixes of them in lower case.
    """
    A, ops = keras.activations, keras.ops
    return {
        "OpCelu": lambda: _op(keras, (7,), lambda x: A.celu(x, alpha=0.7), "op_celu"),
        "OpElu": lambda: _op(keras, (7,), lambda x: A.elu(x, alpha=0.5), "op_elu"),
        "OpExp": lambda: _op(keras, (7,), ops.exp, "op_exp"),
        "OpGelu": lambda: _op(keras, (7,), A.gelu, "op_gelu"),
        "OpGelu_approximate": lambda: _op(keras, (7,), ops.gelu, "op_gelu_tanh"),
        "OpGlu": lambda: _op(keras, (3, 6), ops.glu, "op_glu"),
        "OpHardShrink": lambda: _op(keras, (7,), lambda x: A.hard_shrink(x, threshold=0.3), "op_hard_shrink"),
        "OpHardSigmoid": lambda: _op(keras, (7,), A.hard_sigmoid, "op_hard_sigmoid"),
        "OpHardSilu": lambda: _op(keras, (7,), ops.hard_silu, "op_hard_silu"),
        "OpHardTanh": lambda: _op(keras, (7,), A.hard_tanh, "op_hard_tanh"),
        "OpLeakyRelu": lambda: _op(keras, (7,), lambda x: A.leaky_relu(x, negative_slope=0.3), "op_leaky"),
        "OpLogSigmoid": lambda: _op(keras, (7,), A.log_sigmoid, "op_log_sigmoid"),
        "OpLogSoftmax": lambda: _op(keras, (7,), A.log_softmax, "op_log_softmax"),
        "OpReLU_params": lambda: _op(keras, (7,), lambda x: A.relu(x, negative_slope=0.1, max_value=2.5,
                                                                    threshold=0.3), "op_relu_params"),
        "OpRelu": lambda: _op(keras, (7,), ops.relu, "op_relu"),
        "OpRelu6": lambda: _op(keras, (7,), A.relu6, "op_relu6"),
        "OpSelu": lambda: _op(keras, (7,), A.selu, "op_selu"),
        "OpSigmoid": lambda: _op(keras, (7,), A.sigmoid, "op_sigmoid"),
        "OpSilu": lambda: _op(keras, (7,), A.silu, "op_silu"),
        "OpSoftShrink": lambda: _op(keras, (7,), lambda x: A.soft_shrink(x, threshold=0.4), "op_soft_shrink"),
        "OpSoftmax": lambda: _op(keras, (7,), A.softmax, "op_softmax"),
        "OpSoftmax_axis": lambda: _op(keras, (3, 4), lambda x: ops.softmax(x, axis=1), "op_softmax_axis"),
        "OpSoftplus": lambda: _op(keras, (7,), A.softplus, "op_softplus"),
        "OpSoftsign": lambda: _op(keras, (7,), A.softsign, "op_softsign"),
        "OpSparsePlus": lambda: _op(keras, (7,), A.sparse_plus, "op_sparse_plus"),
        "OpSparseSigmoid": lambda: _op(keras, (7,), A.sparse_sigmoid, "op_sparse_sigmoid"),
        "OpSparsemax": lambda: _op(keras, (7,), ops.sparsemax, "op_sparsemax"),
        "OpSquareplus": lambda: _op(keras, (7,), lambda x: A.squareplus(x, b=2.0), "op_squareplus"),
        "OpTanh": lambda: _op(keras, (7,), A.tanh, "op_tanh"),
        "OpTanhShrink": lambda: _op(keras, (7,), A.tanh_shrink, "op_tanh_shrink"),
        "OpThreshold": lambda: _op(keras, (7,), lambda x: A.threshold(x, 0.5, -1.0), "op_threshold"),
        # arithmetic and elementwise math (keras.src.ops.numpy)
        "OpAbsolute": lambda: _op(keras, (7,), ops.abs, "op_abs"),
        "OpAdd": lambda: _op2(keras, [(3, 4), (3, 4)], ops.add, "op_add"),
        "OpAdd_broadcast": lambda: _op2(keras, [(3, 4), (1, 4)], lambda x, y: x + y, "op_add_bc"),
        "OpAdd_constant": lambda: _op(keras, (7,), lambda x: x + 0.1, "op_add_c"),
        "OpAdd_left": lambda: _op(keras, (3, 4), lambda x: ops.add(-2.5, x), "op_add_left"),
        "OpAdd_channels": lambda: _op(keras, (3, 4), lambda x: x + np.array([0.5, -1.0, 0.1, 3.0], np.float32),
                                      "op_add_ch"),
        "OpAdd_integers": lambda: _op(keras, (3, 4), lambda x: x + np.arange(4), "op_add_int"),
        "OpSubtract": lambda: _op2(keras, [(5,), (5,)], lambda x, y: x - y, "op_sub"),
        "OpSubtract_constant": lambda: _op(keras, (7,), lambda x: x - 0.3, "op_sub_c"),
        "OpSubtract_left": lambda: _op(keras, (7,), lambda x: 0.7 - x, "op_sub_left"),
        "OpMultiply": lambda: _op2(keras, [(4, 1), (4, 3)], ops.multiply, "op_mul_bc"),
        "OpMultiply_constant": lambda: _op(keras, (7,), lambda x: x * 0.1, "op_mul_c"),
        "OpMultiply_channels": lambda: _op(keras, (2, 3), lambda x: ops.multiply(
            np.array([[2.0, -0.5, 1e-3]], np.float32), x), "op_mul_ch"),
        "OpDivide": lambda: _op2(keras, [(2, 5), (2, 5)], ops.divide, "op_div"),
        "OpDivide_broadcast": lambda: _op2(keras, [(1, 5), (3, 1)], lambda x, y: x / y, "op_div_bc"),
        "OpDivide_constant": lambda: _op(keras, (7,), lambda x: ops.divide(x, 3.0), "op_div_c"),
        "OpTrueDivide": lambda: _op(keras, (7,), lambda x: x / 0.7, "op_truediv"),
        "OpTrueDivide_left": lambda: _op(keras, (7,), lambda x: 3.0 / x, "op_truediv_left"),
        "OpNegative": lambda: _op(keras, (7,), lambda x: -x, "op_neg"),
        "OpSquare": lambda: _op(keras, (7,), ops.square, "op_square"),
        "OpSqrt": lambda: _op(keras, (7,), lambda x: ops.sqrt(ops.abs(x)), "op_sqrt"),
        "OpSqrt_negative": lambda: _op(keras, (7,), ops.sqrt, "op_sqrt_neg"),
        "OpLog": lambda: _op(keras, (7,), lambda x: ops.log(ops.square(x)), "op_log"),
        "OpClip": lambda: _op(keras, (7,), lambda x: ops.clip(x, -0.5, 0.8), "op_clip"),
        "OpMaximum": lambda: _op2(keras, [(6,), (6,)], ops.maximum, "op_max"),
        "OpMaximum_constant": lambda: _op(keras, (7,), lambda x: ops.maximum(x, 0.2), "op_max_c"),
        "OpMinimum": lambda: _op2(keras, [(2, 3), (2, 1)], ops.minimum, "op_min_bc"),
        "OpMinimum_constant": lambda: _op(keras, (7,), lambda x: ops.minimum(-0.4, x), "op_min_c"),
        # shape operations (the batch axis is written in their configs)
        "OpReshape": lambda: _op(keras, (3, 4), lambda x: ops.reshape(x, (-1, 2, 6)), "op_reshape"),
        "OpReshape_infer": lambda: _op(keras, (3, 4), lambda x: ops.reshape(x, (-1, 12)), "op_reshape_infer"),
        "OpTranspose": lambda: _op(keras, (2, 3, 4), lambda x: ops.transpose(x, (0, 3, 1, 2)), "op_transpose"),
        "OpExpandDims": lambda: _op(keras, (3, 4), lambda x: ops.expand_dims(x, 1), "op_expand"),
        "OpExpandDims_negative": lambda: _op(keras, (3, 4), lambda x: ops.expand_dims(x, -1), "op_expand_last"),
        "OpSqueeze": lambda: _op(keras, (3, 1, 4), lambda x: ops.squeeze(x, axis=2), "op_squeeze"),
        "OpConcatenate": lambda: _op2(keras, [(3, 4), (2, 4)], lambda x, y: ops.concatenate([x, y], axis=1),
                                      "op_concat"),
        "OpConcatenate_last": lambda: _op2(keras, [(3, 4), (3, 2)], lambda x, y: ops.concatenate([x, y], axis=-1),
                                           "op_concat_last"),
        "OpStack": lambda: _op2(keras, [(3, 4), (3, 4)], lambda x, y: ops.stack([x, y], axis=1), "op_stack"),
        "OpStack_last": lambda: _op2(keras, [(3, 4), (3, 4)], lambda x, y: ops.stack([x, y], axis=-1),
                                     "op_stack_last"),
        "OpMatmul": lambda: _op2(keras, [(3, 4), (4, 5)], ops.matmul, "op_matmul"),
        "OpMatmul_broadcast": lambda: _op2(keras, [(2, 3, 4), (1, 4, 2)], lambda x, y: x @ y, "op_matmul_bc"),
        "OpMatmul_constant": lambda: _op(keras, (3, 4), lambda x: x @ np.linspace(-1, 1, 8).reshape(4, 2).astype(
            np.float32), "op_matmul_c"),
        "OpGetItem": lambda: _op(keras, (7,), lambda x: x[:, 2:5], "op_slice"),
        "OpGetItem_steps": lambda: _op(keras, (4, 6), lambda x: x[:, ::-1, 1::2], "op_slice_steps"),
        "OpGetItem_index": lambda: _op(keras, (3, 4, 5), lambda x: x[:, 1, -3:], "op_slice_index"),
        "OpGetItem_ellipsis": lambda: _op(keras, (3, 4), lambda x: x[..., -1:], "op_slice_ellipsis"),
        "OpSplit": lambda: _op(keras, (3, 6), lambda x: ops.split(x, 3, axis=-1), "op_split"),
        "OpSplit_indices": lambda: _op(keras, (5, 2), lambda x: ops.split(x, [1, 4], axis=1), "op_split_at"),
        "OpSplit_used": lambda: _op(keras, (6,), lambda x: [a * b for a, b in [ops.split(x, 2, axis=1)]][0],
                                    "op_split_used"),
        # reductions over sample axes (keras.src.ops.numpy Sum, Mean, Max, Min)
        "OpSum": lambda: _op(keras, (3, 4), lambda x: ops.sum(x, axis=-1), "op_sum"),
        "OpSum_axes_keepdims": lambda: _op(keras, (3, 4, 5), lambda x: ops.sum(x, axis=[1, 3], keepdims=True),
                                           "op_sum_axes"),
        "OpSum_all": lambda: _op(keras, (3, 4), lambda x: ops.sum(x, axis=(1, 2), keepdims=True), "op_sum_all"),
        "OpSum_wide": lambda: _op(keras, (300,), lambda x: ops.sum(x, axis=1, keepdims=True), "op_sum_wide"),
        "OpMean": lambda: _op(keras, (3, 4), lambda x: ops.mean(x, axis=1), "op_mean"),
        "OpMean_keepdims": lambda: _op(keras, (3, 4, 2), lambda x: ops.mean(x, axis=-2, keepdims=True),
                                       "op_mean_keep"),
        "OpMax": lambda: _op(keras, (3, 4), lambda x: ops.max(x, axis=2), "op_max"),
        "OpMax_axes": lambda: _op(keras, (2, 3, 4), lambda x: ops.max(x, axis=(1, 2), keepdims=True), "op_max_axes"),
        "OpMin": lambda: _op(keras, (3, 4), lambda x: ops.min(x, axis=1, keepdims=True), "op_min"),
        "OpMin_all": lambda: _op(keras, (6,), lambda x: ops.min(x, axis=-1, keepdims=True), "op_min_all"),
    }


def keras_reads_h5(name) -> bool:
    """Whether Keras 3 loads the case's legacy .h5 file.

    It cannot load operation nodes there ("Unknown layer: 'Celu'": the file records no module), so the
    files front-end reads them, but for the operations named like a layer with the same config and
    call (ReLU, Softmax, Concatenate of a list), which it loads as that layer. Add, Multiply,
    Maximum, Reshape ... are layer names too, but Keras fails to rebuild or call those layers from
    the operation's config and arguments.
    """
    return not name.startswith("Op") or name.split("_")[0][len("Op"):] in ("ReLU", "Softmax", "Concatenate")


def cases(keras):
    """name -> zero-argument builder of a Keras model."""
    L = keras.layers
    table = {
        "Activation": lambda: _one(keras, (7,), L.Activation("tanh"), "activation"),
        "ReLU": lambda: _one(keras, (7,), L.ReLU(), "relu"),
        "ReLU_params": lambda: _one(keras, (7,), L.ReLU(max_value=2.5, negative_slope=0.1, threshold=0.3), "relu_p"),
        "ReLU_max6": lambda: _one(keras, (7,), L.ReLU(max_value=6.0), "relu6"),
        "ReLU_leaky": lambda: _one(keras, (7,), L.ReLU(negative_slope=0.2), "relu_leaky"),
        "LeakyReLU": lambda: _one(keras, (7,), L.LeakyReLU(negative_slope=0.25), "leaky"),
        "LeakyReLU_default": lambda: _one(keras, (7,), L.LeakyReLU(), "leaky_default"),
        "PReLU": lambda: _one(keras, (7,), L.PReLU(), "prelu"),
        "PReLU_shared": lambda: _one(keras, (3, 4), L.PReLU(shared_axes=[1]), "prelu_shared"),
        "ELU": lambda: _one(keras, (7,), L.ELU(alpha=0.7), "elu"),
        "Softmax": lambda: _one(keras, (7,), L.Softmax(), "softmax"),
        "Softmax_axis": lambda: _one(keras, (3, 4), L.Softmax(axis=1), "softmax_axis"),
        "BatchNormalization": lambda: _one(keras, (6,), L.BatchNormalization(), "bn"),
        "BatchNormalization_noscale": lambda: _one(keras, (6,), L.BatchNormalization(scale=False), "bn_ns"),
        "BatchNormalization_nocenter": lambda: _one(keras, (6,), L.BatchNormalization(center=False), "bn_nc"),
        "BatchNormalization_neither": lambda: _one(keras, (6,), L.BatchNormalization(center=False, scale=False,
                                                                                   epsilon=0.01), "bn_nn"),
        "BatchNormalization_rank3": lambda: _one(keras, (3, 4), L.BatchNormalization(), "bn3"),
        "BatchNormalization_axis1": lambda: _one(keras, (3, 4), L.BatchNormalization(axis=1), "bn_axis1"),
        "BatchNormalization_axis2": lambda: _one(keras, (2, 3, 4), L.BatchNormalization(axis=2, center=False),
                                                       "bn_axis2"),
        "LayerNormalization": lambda: _one(keras, (6,), L.LayerNormalization(), "ln"),
        "LayerNormalization_plain": lambda: _one(keras, (6,), L.LayerNormalization(center=False, scale=False,
                                                                                   epsilon=1e-5), "ln_plain"),
        "LayerNormalization_rms": lambda: _one(keras, (6,), L.LayerNormalization(rms_scaling=True), "ln_rms"),
        "LayerNormalization_rank3": lambda: _one(keras, (3, 4), L.LayerNormalization(), "ln3"),
        "LayerNormalization_axis1": lambda: _one(keras, (3, 4), L.LayerNormalization(axis=1), "ln_axis1"),
        "LayerNormalization_axes": lambda: _one(keras, (3, 4), L.LayerNormalization(axis=[1, 2]), "ln_axes"),
        "LayerNormalization_axes235": lambda: _one(keras, (2, 3, 2, 3, 2), L.LayerNormalization(axis=[2, 3, 5]),
                                                   "ln_axes235"),
        "LayerNormalization_negative": lambda: _one(keras, (2, 3, 4), L.LayerNormalization(axis=[-1, 1],
                                                                                              center=False),
                                                         "ln_axes_neg"),
        "LayerNormalization_rms_axes": lambda: _one(keras, (3, 4), L.LayerNormalization(axis=[1, 2], rms_scaling=True),
                                                    "ln_rms_axes"),
        "RMSNormalization_axes": lambda: _one(keras, (3, 4), L.RMSNormalization(axis=[1, 2]), "rmsn_axes"),
        "RMSNormalization_axis1_square": lambda: _one(keras, (4, 4), L.RMSNormalization(axis=1), "rmsn_axis1"),
        "UnitNormalization_axis1": lambda: _one(keras, (3, 4), L.UnitNormalization(axis=1), "unitn_axis1"),
        "UnitNormalization_axes": lambda: _one(keras, (3, 4), L.UnitNormalization(axis=[1, 2]), "unitn_axes"),
        "Softmax_axes": lambda: _one(keras, (2, 3, 4), L.Softmax(axis=[1, 3]), "softmax_axes"),
        "RMSNormalization": lambda: _one(keras, (6,), L.RMSNormalization(), "rmsn"),
        "UnitNormalization": lambda: _one(keras, (6,), L.UnitNormalization(), "unitn"),
        "Normalization": lambda: _one(keras, (5,), L.Normalization(mean=[0.5, -1.0, 2.0, 0.0, 3.0],
                                                                  variance=[1.0, 4.0, 0.25, 2.0, 9.0]), "norm"),
        "Normalization_adapted": lambda: _one(keras, (5,), L.Normalization(), "norm_adapted"),
        "Normalization_invert": lambda: _one(keras, (5,), L.Normalization(mean=1.5, variance=4.0, invert=True),
                                             "norm_invert"),
        "Rescaling": lambda: _one(keras, (6,), L.Rescaling(scale=1.0 / 255, offset=-0.5), "rescale"),
        "Identity": lambda: _one(keras, (6,), L.Identity(), "identity"),
        "Dropout": lambda: _one(keras, (6,), L.Dropout(0.5), "dropout"),
        "SpatialDropout1D": lambda: _one(keras, (3, 4), L.SpatialDropout1D(0.5), "sd1"),
        "SpatialDropout2D": lambda: _one(keras, (2, 3, 4), L.SpatialDropout2D(0.5), "sd2"),
        "SpatialDropout3D": lambda: _one(keras, (2, 2, 3, 4), L.SpatialDropout3D(0.5), "sd3"),
        "GaussianNoise": lambda: _one(keras, (6,), L.GaussianNoise(1.0), "gnoise"),
        "GaussianDropout": lambda: _one(keras, (6,), L.GaussianDropout(0.5), "gdrop"),
        "AlphaDropout": lambda: _one(keras, (6,), L.AlphaDropout(0.5), "adrop"),
        "ActivityRegularization": lambda: _one(keras, (6,), L.ActivityRegularization(l1=0.1), "actreg"),
        "Flatten": lambda: _one(keras, (3, 4), L.Flatten(), "flatten"),
        "Flatten_channels_first": lambda: _one(keras, (3, 2, 4), L.Flatten(data_format="channels_first"), "flat_cf"),
        "Reshape": lambda: _one(keras, (12,), L.Reshape((3, 4)), "reshape"),
        "Reshape_infer": lambda: _one(keras, (3, 4), L.Reshape((2, -1)), "reshape_infer"),
        "RepeatVector": lambda: _one(keras, (5,), L.RepeatVector(3), "repeat"),
        "Permute": lambda: _one(keras, (2, 3, 4), L.Permute((3, 1, 2)), "permute"),
        "Dense_rank3": lambda: _one(keras, (3, 4), L.Dense(5, activation="tanh"), "dense3"),
        "EinsumDense": lambda: _one(keras, (6,), L.EinsumDense("ab,bc->ac", output_shape=5, bias_axes="c",
                                                               activation="sigmoid"), "einsum"),
        "EinsumDense_rank3": lambda: _one(keras, (3, 4), L.EinsumDense("abc,cd->abd", output_shape=(None, 5)),
                                          "einsum3"),
        "EinsumDense_abc_cde": lambda: _one(keras, (3, 4), L.EinsumDense("abc,cde->abde", output_shape=(None, 2, 5),
                                                                         bias_axes="de", activation="relu"),
                                            "einsum_abc_cde"),
        "EinsumDense_bias_rows": lambda: _one(keras, (3, 4), L.EinsumDense("abc,cd->abd", output_shape=(3, 5),
                                                                           bias_axes="b"), "einsum_bias_rows"),
        "EinsumDense_bias_both": lambda: _one(keras, (3, 4), L.EinsumDense("abc,cd->abd", output_shape=(3, 5),
                                                                           bias_axes="bd", activation="tanh"),
                                              "einsum_bias_both"),
        "EinsumDense_abcd_cde": lambda: _one(keras, (2, 3, 4), L.EinsumDense("abcd,cde->abe", output_shape=(2, 5),
                                                                             bias_axes="e"), "einsum_abcd_cde"),
        "EinsumDense_reordered_softmax": lambda: _one(keras, (3, 4), L.EinsumDense(
            "abc,cd->adb", output_shape=(5, 3), bias_axes="d", activation="softmax"), "einsum_reordered"),
        "EinsumDense_contract_middle": lambda: _one(keras, (4, 3), L.EinsumDense("abc,bd->adc", output_shape=(5, 3),
                                                                                 bias_axes="d"), "einsum_middle"),
        "EinsumDense_ellipsis_summed": lambda: _one(keras, (2, 3, 4), L.EinsumDense(
            "...bc,cde->...de", output_shape=(2, 5), bias_axes="e"), "einsum_ellipsis_summed"),
        "Add": lambda: _merge(keras, (6,), L.Add(), "add", 3),
        "Subtract": lambda: _merge(keras, (6,), L.Subtract(), "subtract"),
        "Multiply": lambda: _merge(keras, (6,), L.Multiply(), "multiply", 3),
        "Average": lambda: _merge(keras, (6,), L.Average(), "average", 3),
        "Maximum": lambda: _merge(keras, (6,), L.Maximum(), "maximum", 3),
        "Minimum": lambda: _merge(keras, (6,), L.Minimum(), "minimum", 3),
        "Add_broadcast": lambda: _merge_shapes(keras, [(4, 3), (1, 3), (4, 1)], L.Add(), "add_bc"),
        "Subtract_broadcast": lambda: _merge_shapes(keras, [(3,), (4, 3)], L.Subtract(), "subtract_bc"),
        "Multiply_broadcast_rows": lambda: _merge_shapes(keras, [(4, 3), (1, 3)], L.Multiply(), "multiply_bc_rows"),
        "Multiply_broadcast_columns": lambda: _merge_shapes(keras, [(4, 3), (4, 1)], L.Multiply(), "multiply_bc_cols"),
        "Average_broadcast": lambda: _merge_shapes(keras, [(2, 4, 3), (4, 1)], L.Average(), "average_bc"),
        "Maximum_broadcast": lambda: _merge_shapes(keras, [(4, 1), (1, 3)], L.Maximum(), "maximum_bc"),
        "Minimum_broadcast": lambda: _merge_shapes(keras, [(4, 3), (1,)], L.Minimum(), "minimum_bc"),
        "Concatenate": lambda: _merge(keras, (6,), L.Concatenate(), "concat", 3),
        "Concatenate_axis1": lambda: _merge(keras, (3, 4), L.Concatenate(axis=1), "concat_axis1"),
        "Dot": lambda: _merge(keras, (6,), L.Dot(axes=1), "dot"),
        "Dot_normalize": lambda: _merge(keras, (6,), L.Dot(axes=-1, normalize=True), "dot_norm"),
        "Dot_matmul": lambda: _merge_shapes(keras, [(3, 4), (4, 5)], L.Dot(axes=(2, 1)), "dot_matmul"),
        "Dot_negative_pair": lambda: _merge_shapes(keras, [(3, 4), (4, 5)], L.Dot(axes=(-1, -2)), "dot_neg_pair"),
        "Dot_axes1": lambda: _merge_shapes(keras, [(4, 3), (4, 5)], L.Dot(axes=1), "dot_axes1"),
        "Dot_negative_normalize": lambda: _merge_shapes(keras, [(3, 4), (5, 4)], L.Dot(axes=-1, normalize=True),
                                                        "dot_neg_norm"),
        "Dot_vector_matrix": lambda: _merge_shapes(keras, [(4,), (4, 5)], L.Dot(axes=(1, 1)), "dot_vec_mat"),
        "Dot_rank3_normalize": lambda: _merge_shapes(keras, [(2, 3, 4), (5, 3)], L.Dot(axes=(2, 2), normalize=True),
                                                     "dot_rank3_norm"),
    }
    table.update(operation_cases(keras))
    return table


def build_case(keras, name, seed=3):
    keras.utils.set_random_seed(seed)
    model = cases(keras)[name]()
    if name == "Normalization_adapted":
        layer = model.layers[-1]
        layer.adapt(np.random.default_rng(seed).normal(2.0, 3.0, (64, 5)).astype(np.float32))
    else:
        _randomize(model, seed)
    return model


