/* standardize.h: Keras's Normalization layer, with one mean and one std per value
 * (std = max(sqrt(variance), 1e-7), computed at export as Keras computes it):
 *
 *   invert == 0:  y = (x - mean) / std
 *   invert == 1:  y = mean + x * std
 *
 * out == inp is allowed: each value is read before it is overwritten.
 */
#ifndef KERASLESS_KERNEL_STANDARDIZE
#define KERASLESS_KERNEL_STANDARDIZE

/* Weight arrays are read through KL_LOAD_F32 (storage.h: program memory on AVR). */
#ifndef KL_LOAD_F32
#define KL_LOAD_F32(p) (*(p))
#endif

static inline void kl_standardize_forward(float *out,        /* (size,) */
                                          const float *inp,  /* (size,) */
                                          const float *mean, /* (size,) */
                                          const float *std,  /* (size,) */
                                          int size, int invert)
{
    for (int k = 0; k < size; k++) {
        if (invert) {
            const float scaled = inp[k] * KL_LOAD_F32(std + k);
            out[k] = KL_LOAD_F32(mean + k) + scaled;
        } else {
            const float centered = inp[k] - KL_LOAD_F32(mean + k);
            out[k] = centered / KL_LOAD_F32(std + k);
        }
    }
}

#endif /* KERASLESS_KERNEL_STANDARDIZE */
