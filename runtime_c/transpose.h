/* transpose.h: permute the axes of a tensor (Permute, Flatten of channels_first data, Softmax over
 * another axis than the last).
 *
 *   y[k] = x[source_index[k]]
 *
 * The exporter resolves the permutation into the flat source index of every output value (the
 * header holds it as a static const int table), so the kernel is a gather.
 * out must not overlap inp.
 */
#ifndef KERASLESS_KERNEL_TRANSPOSE
#define KERASLESS_KERNEL_TRANSPOSE

/* Index tables are read through KL_LOAD_INT (storage.h: program memory on AVR). */
#ifndef KL_LOAD_INT
#define KL_LOAD_INT(p) (*(p))
#endif

static inline void kl_transpose_forward(float *out,              /* (size,): the permuted shape */
                                        const float *inp,        /* (size,): the input shape */
                                        const int *source_index, /* (size,) */
                                        int size)
{
    for (int k = 0; k < size; k++) {
        out[k] = inp[KL_LOAD_INT(source_index + k)];
    }
}

#endif /* KERASLESS_KERNEL_TRANSPOSE */
