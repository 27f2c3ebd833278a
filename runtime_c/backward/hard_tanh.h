/* backward/hard_tanh.h: the gradient of hard_tanh.h, added into grad_in (docs/format.md, Backward rules).
 *
 * tf.clip_by_value(x, -1, 1) = maximum(minimum(x, 1), -1): g where -1 <= x <= 1 (ties pass), 0 for NaN.
 * grad_in += that, value by value; grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_HARD_TANH_BACKWARD
#define KERASLESS_KERNEL_HARD_TANH_BACKWARD

static inline void kl_hard_tanh_backward(float *grad_in,        /* (rows, n): added to */
                                         const float *grad_out, /* (rows, n) */
                                         const float *inp,      /* (rows, n): the forward input */
                                         const float *out,      /* (rows, n): the forward output */
                                         int rows, int n)
{
    (void)out;
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        const float g = grad_out[k];
        const float d = (x <= 1.0f && x >= -1.0f) ? g : 0.0f;
        grad_in[k] += d;
    }
}

#endif /* KERASLESS_KERNEL_HARD_TANH_BACKWARD */
