/* log_softmax.h: y = (x - max) - log(sum(exp(x - max))) over each group of n values (the last axis).
 *
 * Subtracting the row maximum keeps every expf argument <= 0, so large logits cannot overflow and
 * the sum is >= 1. A NaN or +inf in a row makes the whole row NaN; -inf entries give -inf.
 * out == inp is allowed: each value is read before it is overwritten.
 */
#ifndef KERASLESS_KERNEL_LOG_SOFTMAX
#define KERASLESS_KERNEL_LOG_SOFTMAX

#include <math.h>
#include <stddef.h>

static inline void kl_log_softmax_forward(float *out,       /* (rows, n) */
                                          const float *inp, /* (rows, n) */
                                          int rows, int n)
{
    for (int r = 0; r < rows; r++) {
        const float *x = inp + (size_t)r * (size_t)n; /* (n,) */
        float *y = out + (size_t)r * (size_t)n;       /* (n,) */
        float top = x[0];
        for (int k = 1; k < n; k++) {
            if (x[k] > top || x[k] != x[k]) { /* NaN wins, so the row becomes NaN */
                top = x[k];
            }
        }
        float sum = 0.0f;
        for (int k = 0; k < n; k++) {
            y[k] = x[k] - top;
            sum += expf(y[k]);
        }
        const float log_sum = logf(sum);
        for (int k = 0; k < n; k++) {
            y[k] = y[k] - log_sum;
        }
    }
}

#endif /* KERASLESS_KERNEL_LOG_SOFTMAX */
