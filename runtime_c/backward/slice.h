/* backward/slice.h: the gradient of slice.h, added into the input gradient (docs/format.md, Backward rules).
 *
 * Each output value's gradient is added into the input position it was read from, in output order,
 * so the values the slice skips get none.
 */
#ifndef KERASLESS_KERNEL_SLICE_BACKWARD
#define KERASLESS_KERNEL_SLICE_BACKWARD

/* Index tables are read through KL_LOAD_INT (storage.h: program memory on AVR). */
#ifndef KL_LOAD_INT
#define KL_LOAD_INT(p) (*(p))
#endif

static inline void kl_slice_backward(float *grad_in,          /* the input shape: added to */
                                     const float *grad_out,   /* (size,): the sliced shape */
                                     const int *source_index, /* (size,) */
                                     int size)
{
    for (int k = 0; k < size; k++) {
        grad_in[KL_LOAD_INT(source_index + k)] += grad_out[k];
    }
}

#endif /* KERASLESS_KERNEL_SLICE_BACKWARD */
