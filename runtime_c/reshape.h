/* reshape.h: a reshape leaves row-major data unchanged, so the kernel is a copy.
 *
 * Generated headers alias a reshape's output to its input and call this kernel only
 * when the data must land in a caller's buffer (a model output). out == inp is allowed.
 */
#ifndef KERASLESS_KERNEL_RESHAPE
#define KERASLESS_KERNEL_RESHAPE

static inline void kl_reshape_forward(float *out,       /* (size,) */
                                      const float *inp, /* (size,) */
                                      int size)
{
    if (out == inp) {
        return;
    }
    for (int k = 0; k < size; k++) {
        out[k] = inp[k];
    }
}

#endif /* KERASLESS_KERNEL_RESHAPE */
