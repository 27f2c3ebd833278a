/* backward/concatenate.h: the gradient of concatenate.h, added into the input gradients (docs/format.md, Backward rules).
 *
 * Each input gets its chunks of the gradient back (the layout of concatenate.h).
 */
#ifndef KERASLESS_KERNEL_CONCATENATE_BACKWARD
#define KERASLESS_KERNEL_CONCATENATE_BACKWARD

#include <stddef.h>

static inline void kl_concatenate_backward(float *const grads_in[], /* count pointers, input i: (outer, chunks[i]), added to */
                                           const float *grad_out,   /* (outer, sum of chunks) */
                                           const int chunks[],      /* (count,) */
                                           int count, int outer)
{
    const float *g = grad_out;
    for (int o = 0; o < outer; o++) {
        for (int i = 0; i < count; i++) {
            float *d = grads_in[i] + (size_t)o * (size_t)chunks[i]; /* (chunks[i],) */
            for (int j = 0; j < chunks[i]; j++) {
                d[j] += g[j];
            }
            g += chunks[i];
        }
    }
}

#endif /* KERASLESS_KERNEL_CONCATENATE_BACKWARD */
