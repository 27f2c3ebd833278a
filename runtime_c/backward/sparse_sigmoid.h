/* backward/sparse_sigmoid.h: the gradient of sparse_sigmoid.h, added into grad_in (docs/format.md, Backward rules).
 *
 * 0.5 g strictly between -1 and 1 (and for NaN), 0 at and beyond.
 * grad_in += that, value by value; grad_in may not overlap grad_out, inp or out.
 */
#ifndef KERASLESS_KERNEL_SPARSE_SIGMOID_BACKWARD
#define KERASLESS_KERNEL_SPARSE_SIGMOID_BACKWARD

static inline void kl_sparse_sigmoid_backward(float *grad_in,        /* (rows, n): added to */
                                              const float *grad_out, /* (rows, n) */
                                              const float *inp,      /* (rows, n): the forward input */
                                              const float *out,      /* (rows, n): the forward output */
                                              int rows, int n)
{
    (void)out;
    for (int k = 0; k < rows * n; k++) {
        const float x = inp[k];
        const float g = grad_out[k];
        const float d = (!(x <= -1.0f) && !(x >= 1.0f)) ? g * 0.5f : 0.0f;
        grad_in[k] += d;
    }
}

#endif /* KERASLESS_KERNEL_SPARSE_SIGMOID_BACKWARD */
