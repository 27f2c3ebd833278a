/* backward/sparse_plus.h: the gradient of sparse_plus.h, added into grad_in (docs/format.md, Backward rules).
 *
 * where(x <= -1, 0, where(x < 1, 0.25 (x + 1)^2, x)): the pow branch's zero gradient is still
 * multiplied by 2 (x + 1), so +-inf and NaN give NaN, as in TensorFlow.
 * grad_in += that, value by value; grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_SPARSE_PLUS_BACKWARD
#define KERASLESS_KERNEL_SPARSE_PLUS_BACKWARD

static inline void kl_sparse_plus_backward(float *grad_in,        /* (rows, n): added to */
                                           const float *grad_out, /* (rows, n) */
                                           const float *inp,      /* (rows, n): the forward input */
                                           const float *out,      /* (rows, n): the forward output */
                                           int rows, int n)
{
    (void)out;
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        const float g = grad_out[k];
        const float inner = !(x <= -1.0f) ? g : 0.0f;
        const float d = ((x < 1.0f ? inner : 0.0f) * 0.25f) * 2.0f * (x + 1.0f) + (!(x < 1.0f) ? inner : 0.0f);
        grad_in[k] += d;
    }
}

#endif /* KERASLESS_KERNEL_SPARSE_PLUS_BACKWARD */
