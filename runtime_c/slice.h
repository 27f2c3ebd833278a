/* slice.h: numpy basic slicing of a tensor (keras.ops GetItem, x[:, 2:5], and split): each axis read
 * from begin in steps of step (docs/format.md, slice).
 *
 *   y[k] = x[source_index[k]]
 *
 * The runtime resolves the slice into the flat source index of every output value (the header
 * holds it as a static const int table), so the kernel is a gather. out must not overlap inp.
 */
#ifndef KERASLESS_KERNEL_SLICE
#define KERASLESS_KERNEL_SLICE

/* Index tables are read through KL_LOAD_INT (storage.h: program memory on AVR). */
#ifndef KL_LOAD_INT
#define KL_LOAD_INT(p) (*(p))
#endif

static inline void kl_slice_forward(float *out,              /* (size,): the sliced shape */
                                    const float *inp,        /* the input shape */
                                    const int *source_index, /* (size,) */
                                    int size)
{
    for (int k = 0; k < size; k++) {
        out[k] = inp[KL_LOAD_INT(source_index + k)];
    }
}

#endif /* KERASLESS_KERNEL_SLICE */
