/* broadcast.h: repeat a tensor to a larger shape by numpy's broadcasting rule (merges of inputs of
 * different shapes, Multiply of (4, 3) and (1, 3) or (4, 1)).
 *
 *   y[k] = x[source_index[k]]
 *
 * The exporter resolves the broadcast into the flat source index of every output value (the header
 * holds it as a static const int table), so the kernel is a gather. out must not overlap inp.
 */
#ifndef KERASLESS_KERNEL_BROADCAST
#define KERASLESS_KERNEL_BROADCAST

/* Index tables are read through KL_LOAD_INT (storage.h: program memory on AVR). */
#ifndef KL_LOAD_INT
#define KL_LOAD_INT(p) (*(p))
#endif

static inline void kl_broadcast_forward(float *out,              /* (size,): the broadcast shape */
                                        const float *inp,        /* the input shape, fewer values */
                                        const int *source_index, /* (size,) */
                                        int size)
{
    for (int k = 0; k < size; k++) {
        out[k] = inp[KL_LOAD_INT(source_index + k)];
    }
}

#endif /* KERASLESS_KERNEL_BROADCAST */
