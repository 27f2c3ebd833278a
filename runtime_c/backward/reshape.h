/* backward/reshape.h: the gradient of reshape.h, added into the input gradients (docs/format.md, Backward rules).
 *
 * A reshape moves no data: grad_in += grad_out. (Generated code shares the gradient buffer instead.)
 */
#ifndef KERASLESS_KERNEL_RESHAPE_BACKWARD
#define KERASLESS_KERNEL_RESHAPE_BACKWARD

static inline void kl_reshape_backward(float *grad_in,        /* (size,): added to */
                                       const float *grad_out, /* (size,) */
                                       int size)
{
    for (int k = 0; k < size; k++) {
        grad_in[k] += grad_out[k];
    }
}

#endif /* KERASLESS_KERNEL_RESHAPE_BACKWARD */
