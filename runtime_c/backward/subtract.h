/* backward/subtract.h: the gradient of subtract.h, added into the input gradients (docs/format.md, Backward rules).
 *
 * y = a - b: a gets grad_out, b gets -grad_out.
 */
#ifndef KERASLESS_KERNEL_SUBTRACT_BACKWARD
#define KERASLESS_KERNEL_SUBTRACT_BACKWARD

static inline void kl_subtract_backward(float *grad_a,         /* (size,): added to */
                                        float *grad_b,         /* (size,): added to */
                                        const float *grad_out, /* (size,) */
                                        int size)
{
    for (int k = 0; k < size; k++) {
        grad_a[k] += grad_out[k];
        grad_b[k] -= grad_out[k];
    }
}

#endif /* KERASLESS_KERNEL_SUBTRACT_BACKWARD */
