/* backward/standardize.h: the gradient of standardize.h, added into the input gradients (docs/format.md, Backward rules).
 *
 * y = (x - mean) / std: grad_in += grad_out / std; inverted (y = mean + x * std): grad_out * std.
 */
#ifndef KERASLESS_KERNEL_STANDARDIZE_BACKWARD
#define KERASLESS_KERNEL_STANDARDIZE_BACKWARD

/* Weight arrays are read through KL_LOAD_F32 (storage.h: program memory on AVR). */
#ifndef KL_LOAD_F32
#define KL_LOAD_F32(p) (*(p))
#endif

static inline void kl_standardize_backward(float *grad_in,        /* (size,): added to */
                                           const float *grad_out, /* (size,) */
                                           const float *std,      /* (size,) */
                                           int size, int invert)
{
    for (int k = 0; k < size; k++) {
        grad_in[k] += invert ? grad_out[k] * KL_LOAD_F32(std + k) : grad_out[k] / KL_LOAD_F32(std + k);
    }
}

#endif /* KERASLESS_KERNEL_STANDARDIZE_BACKWARD */
