/* concatenate.h: join count tensors along one axis.
 *
 * For row-major tensors that agree on every axis but `axis`, input i contributes
 * chunks[i] = size of its shape[axis:] consecutive values per outer index
 * (outer = product of shape[:axis], the same for every input):
 *
 *   y = x0[chunk 0], x1[chunk 0], ..., x0[chunk 1], x1[chunk 1], ...
 *
 * Concatenating on the last axis of rank-1 inputs is one chunk each (outer = 1).
 * out must not overlap any input.
 */
#ifndef KERASLESS_KERNEL_CONCATENATE
#define KERASLESS_KERNEL_CONCATENATE

#include <stddef.h>

static inline void kl_concatenate_forward(float *out,                  /* (outer, sum of chunks) */
                                          const float *const inputs[], /* count pointers, input i: (outer, chunks[i]) */
                                          const int chunks[],          /* (count,) */
                                          int count, int outer)
{
    float *y = out;
    for (int o = 0; o < outer; o++) {
        for (int i = 0; i < count; i++) {
            const float *x = inputs[i] + (size_t)o * (size_t)chunks[i]; /* (chunks[i],) */
            for (int j = 0; j < chunks[i]; j++) {
                y[j] = x[j];
            }
            y += chunks[i];
        }
    }
}

#endif /* KERASLESS_KERNEL_CONCATENATE */
