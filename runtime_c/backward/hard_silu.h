/* backward/hard_silu.h: the gradient of hard_silu.h, added into grad_in (docs/format.md, Backward rules).
 *
 * x * hard_sigmoid(x) by the product rule: 0 at -3, 1 at 3, NaN at +-inf.
 * grad_in += that, value by value; grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_HARD_SILU_BACKWARD
#define KERASLESS_KERNEL_HARD_SILU_BACKWARD

static inline void kl_hard_silu_backward(float *grad_in,        /* (rows, n): added to */
                                         const float *grad_out, /* (rows, n) */
                                         const float *inp,      /* (rows, n): the forward input */
                                         const float *out,      /* (rows, n): the forward output */
                                         int rows, int n)
{
    (void)out;
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        const float g = grad_out[k];
        const float s = x + 3.0f;
        const float r = s > 6.0f ? 6.0f : (s > 0.0f ? s : (s == s ? 0.0f : s)); /* relu6, NaN kept */
        const float d = g * (r / 6.0f) + ((g * x) / 6.0f) * ((s > 0.0f && s < 6.0f) ? 1.0f : 0.0f);
        grad_in[k] += d;
    }
}

#endif /* KERASLESS_KERNEL_HARD_SILU_BACKWARD */
