/* backward/add.h: the gradient of add.h, added into the input gradients (docs/format.md, Backward rules).
 *
 * y = x0 + x1 + ...: every input gets grad_out.
 */
#ifndef KERASLESS_KERNEL_ADD_BACKWARD
#define KERASLESS_KERNEL_ADD_BACKWARD

static inline void kl_add_backward(float *const grads_in[], /* count pointers, each (size,), added to */
                                   const float *grad_out,   /* (size,) */
                                   int count, int size)
{
    for (int i = 0; i < count; i++) {
        for (int k = 0; k < size; k++) {
            grads_in[i][k] += grad_out[k];
        }
    }
}

#endif /* KERASLESS_KERNEL_ADD_BACKWARD */
