/* backward/transpose.h: the gradient of transpose.h, added into the input gradients (docs/format.md, Backward rules).
 *
 * Each output value's gradient goes back to the input position it was read from.
 */
#ifndef KERASLESS_KERNEL_TRANSPOSE_BACKWARD
#define KERASLESS_KERNEL_TRANSPOSE_BACKWARD

/* Index tables are read through KL_LOAD_INT (storage.h: program memory on AVR). */
#ifndef KL_LOAD_INT
#define KL_LOAD_INT(p) (*(p))
#endif

static inline void kl_transpose_backward(float *grad_in,          /* (size,): added to */
                                         const float *grad_out,   /* (size,) */
                                         const int *source_index, /* (size,) */
                                         int size)
{
    for (int k = 0; k < size; k++) {
        grad_in[KL_LOAD_INT(source_index + k)] += grad_out[k];
    }
}

#endif /* KERASLESS_KERNEL_TRANSPOSE_BACKWARD */
