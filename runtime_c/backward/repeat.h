/* backward/repeat.h: the gradient of repeat.h, added into the input gradients (docs/format.md, Backward rules).
 *
 * n copies of a vector: each input value gets the sum of its copies' gradients.
 */
#ifndef KERASLESS_KERNEL_REPEAT_BACKWARD
#define KERASLESS_KERNEL_REPEAT_BACKWARD

#include <stddef.h>

static inline void kl_repeat_backward(float *grad_in,        /* (size,): added to */
                                      const float *grad_out, /* (n, size) */
                                      int size, int n)
{
    for (int i = 0; i < size; i++) {
        float sum = 0.0f;
        for (int c = 0; c < n; c++) {
            sum += grad_out[(size_t)c * (size_t)size + (size_t)i];
        }
        grad_in[i] += sum;
    }
}

#endif /* KERASLESS_KERNEL_REPEAT_BACKWARD */
