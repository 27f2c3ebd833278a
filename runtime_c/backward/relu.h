/* backward/relu.h: the gradient of relu.h, added into grad_in (docs/format.md, Backward rules).
 *
 * Keras's relu(x, negative_slope, max_value, threshold) differentiated branch for branch as
 * TensorFlow does: the leaky form is LeakyReluGrad (the slope at 0); otherwise the kept part is
 * where(x > threshold) (threshold != 0), Relu6Grad (max_value 6, no threshold: 0 at 0 and 6) or
 * ReluGrad (0 at 0, a multiplication), a max_value clips it with clip_by_value (1 at max_value),
 * and negative_slope adds slope * ReluGrad at threshold - x.
 * grad_in += that, value by value; grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_RELU_BACKWARD
#define KERASLESS_KERNEL_RELU_BACKWARD

static inline void kl_relu_backward(float *grad_in,        /* (rows, n): added to */
                                    const float *grad_out, /* (rows, n) */
                                    const float *inp,      /* (rows, n): the forward input */
                                    const float *out,      /* (rows, n): the forward output */
                                    int rows, int n, float negative_slope, int has_max_value, float max_value,
                                    float threshold)
{
    const int leaky = negative_slope != 0.0f && !has_max_value && threshold == 0.0f;
    const int relu6 = threshold == 0.0f && has_max_value && max_value == 6.0f;
    const int clip = has_max_value && !relu6;
    (void)out;
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        const float g = grad_out[k];
        if (leaky) {
            grad_in[k] += x > 0.0f ? g : g * negative_slope;
            continue;
        }
        float d = g;
        if (clip) { /* the kept value: x or 0 (NaN kept) */
            const float kept = threshold != 0.0f ? (x > threshold ? x : 0.0f) : (x > 0.0f ? x : (x == x ? 0.0f : x));
            d = (kept <= max_value && kept >= 0.0f) ? d : 0.0f;
        }
        if (threshold != 0.0f) {
            d = x > threshold ? d : 0.0f;
        } else if (relu6) {
            d = d * ((x > 0.0f && x < 6.0f) ? 1.0f : 0.0f);
        } else {
            d = d * (x > 0.0f ? 1.0f : 0.0f);
        }
        if (negative_slope != 0.0f) {
            d -= -(g * negative_slope) * ((threshold - x) > 0.0f ? 1.0f : 0.0f);
        }
        grad_in[k] += d;
    }
}

#endif /* KERASLESS_KERNEL_RELU_BACKWARD */
