/* relu.h: Keras's relu(x, negative_slope, max_value, threshold) elementwise, branch for branch as
 * ReLU.static_call (keras/src/activations/activations.py) computes it:
 *
 *   if negative_slope != 0 and no max_value and threshold == 0:  y = leaky_relu(x, negative_slope)
 *   otherwise:  y = x > threshold ? x : 0          when threshold != 0
 *               y = relu6(x)  (and no further clip) when max_value == 6
 *               y = max(x, 0)                       else
 *               y = clip(y, 0, max_value)           when there is a max_value
 *               y = y - negative_slope * max(threshold - x, 0)   when negative_slope != 0
 *
 * has_max_value == 0 means Keras's max_value=None (max_value is then ignored). NaN stays NaN
 * except on the threshold branch, where it becomes 0 (minus negative_slope * NaN).
 * out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_RELU
#define KERASLESS_KERNEL_RELU

static inline void kl_relu_forward(float *out,       /* (rows, n) */
                                   const float *inp, /* (rows, n) */
                                   int rows, int n, float negative_slope, int has_max_value, float max_value,
                                   float threshold)
{
    const int leaky = negative_slope != 0.0f && !has_max_value && threshold == 0.0f;
    const int relu6 = threshold == 0.0f && has_max_value && max_value == 6.0f;
    const int clip = has_max_value && !relu6;
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        float y;
        if (leaky) {
            out[k] = x > 0.0f ? x : x * negative_slope;
            continue;
        }
        if (threshold != 0.0f) {
            y = x > threshold ? x : 0.0f;
        } else if (relu6) {
            y = x > 6.0f ? 6.0f : (x > 0.0f ? x : (x == x ? 0.0f : x));
        } else {
            y = x > 0.0f ? x : (x == x ? 0.0f : x); /* x != x only for NaN */
        }
        if (clip) { /* tf.clip_by_value: min with max_value, then max with 0; NaN kept */
            y = y > max_value ? max_value : y;
            y = y < 0.0f ? 0.0f : y;
        }
        if (negative_slope != 0.0f) {
            const float s = threshold - x;
            const float negative_part = s > 0.0f ? s : (s == s ? 0.0f : s);
            y = y - negative_slope * negative_part;
        }
        out[k] = y;
    }
}

#endif /* KERASLESS_KERNEL_RELU */
